/**
 * Item 1: no secret leaves. Every credential form, planted in every channel kvmdoctor writes
 * (command output, stderr, the error field, log lines, domain XML, dhcpd.conf), must be absent
 * from every byte of a bundle (plain and --redact), a --record snapshot and every report format.
 */
import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import * as tar from 'tar'
import {describe, expect, it} from 'vitest'
import {FORMATS, type Format, render} from '../../reports/index.js'
import {bundleReports} from '../../reports/bundle-files.js'
import {createBundle, openBundle} from '../../src/core/bundle.js'
import {diagnose} from '../../src/core/diagnose.js'
import {gateDecision} from '../../src/core/gate.js'
import {reportableJson, reportableJsonLines, reportableJsonText} from '../../reports/json.js'
import {reportable} from '../../src/core/output.js'
import {renderJson} from '../../reports/json.js'
import {RecordingRunner, writeSnapshot} from '../../src/core/snapshot.js'
import {CREDENTIAL_FORMS, SCRUBBED, isCredentialName, mapStringsDeep, scrubDeep, scrubText} from '../../src/lib/scrub.js'
import {ROOT} from '../helpers.js'
import {ALL_LINE_FORMS, ALL_SECRETS, DHCPD_KEYS, PEM_LINES, PEM_SECRETS, XML_FORMS, leaked} from './corpus.js'
import {alteredFixture, cli, fakeBin, renamedRecording, scratch} from './helpers.js'

function allFiles(dir: string): {path: string; text: string}[] {
  const out: {path: string; text: string}[] = []
  for (const e of readdirSync(dir, {withFileTypes: true, recursive: true})) {
    if (e.isFile()) out.push({path: join(e.parentPath, e.name), text: readFileSync(join(e.parentPath, e.name), 'utf8')})
  }
  return out
}

const expectNoLeak = (files: {path: string; text: string}[]) => {
  for (const f of files) expect(leaked(f.text), f.path).toEqual([])
}

/** The healthy lab host with every form planted in every channel a run reads. */
const planted = () =>
  alteredFixture('healthy', {
    run: (c) => {
      if (c.argv[0] === 'ps') return {...c, output: c.output + ALL_LINE_FORMS.map((f, i) => ` ${30000 + i} ${f.text}\n`).join('')}
      if (c.argv[0] === 'journalctl') {
        const lines = [...ALL_LINE_FORMS.map((f) => `2026-11-28T10:00:00+0000 vm dnsmasq-dhcp[9]: DHCPDISCOVER(virbr0) no address available ${f.text}`), ...PEM_LINES]
        return {...c, error: undefined, errorCode: undefined, output: `${lines.join('\n')}\n`}
      }
      // A failing command: its stderr, and so the error field (its first line), carry every one-line form.
      if (c.argv[0] === 'firewall-cmd') {
        const stderr = `ERROR: ${ALL_LINE_FORMS.map((f) => f.text).join(' ; ')}\n`
        return {...c, output: '', stderr, exitCode: 1, error: `firewall-cmd --state: exit 1: ${stderr.trim()}`, errorCode: 'exit-status' as const}
      }
      if (c.argv.includes('dumpxml')) return {...c, output: c.output.replace('</devices>', `${XML_FORMS.map((f) => f.text).join('')}</devices>`)}
      return c
    },
    readFile: (c) => {
      if (c.path.startsWith('/run/libvirt/qemu/')) return {...c, output: c.output.replace('</devices>', `${XML_FORMS.map((f) => f.text).join('')}</devices>`)}
      if (c.path === '/etc/dhcp/dhcpd.conf') return {...c, error: undefined, errorCode: undefined, output: `${DHCPD_KEYS}subnet 10.77.0.0 netmask 255.255.255.0 {}\n`}
      if (c.path.endsWith('libvirtd.log')) return {...c, error: undefined, errorCode: undefined, output: `${ALL_LINE_FORMS.map((f) => `2026-11-28 10:00:00.000+0000: 811: error : ${f.text}`).join('\n')}\n${PEM_LINES.join('\n')}\n`}
      return c
    },
  })

describe('the scrub table', () => {
  it.each(ALL_LINE_FORMS.map((f) => [f.form, f] as const))('removes %s', (_form, f) => {
    const out = scrubText(f.text)
    expect(leaked(out)).toEqual([])
    expect(out).toContain(SCRUBBED)
    expect(scrubText(out)).toBe(out)
  })

  it.each(XML_FORMS.map((f) => [f.form, f] as const))('removes %s (domain XML)', (_form, f) => {
    const out = scrubText(f.text)
    expect(leaked(out)).toEqual([])
    expect(out).toContain(SCRUBBED)
    expect(scrubText(out)).toBe(out)
  })

  it('the corpus holds over 100 credential forms, each with its own values', () => {
    const forms = [...ALL_LINE_FORMS, ...XML_FORMS]
    expect(forms.length + 2).toBeGreaterThanOrEqual(150)
    expect(new Set(forms.map((f) => f.form)).size).toBe(forms.length)
    expect(new Set(ALL_SECRETS).size).toBe(ALL_SECRETS.length)
  })

  it('removes PEM private keys, XML credentials and dhcpd key secrets', () => {
    const text = [...PEM_LINES, ...XML_FORMS.map((f) => f.text), DHCPD_KEYS].join('\n')
    const out = scrubText(text)
    expect(leaked(out)).toEqual([])
    expect(out).toContain("passwd='SCRUBBED'")
    expect(out).toContain('<cookie name=\'session\'>SCRUBBED</cookie>')
    expect(out).toContain('-----BEGIN OPENSSH PRIVATE KEY-----\nSCRUBBED\n-----END OPENSSH PRIVATE KEY-----')
    // A key cut by a log tail (no END line) is scrubbed to the end of the text.
    expect(leaked(scrubText(PEM_LINES.slice(0, 2).join('\n')))).toEqual([])
  })

  it('leaves what is not a credential alone', () => {
    const benign = [
      'dnsmasq --conf-file=/var/lib/libvirt/dnsmasq/default.conf --leasefile-ro --dhcp-script=/usr/libexec/libvirt_leaseshelper',
      'qemu-system-x86_64 -vnc 127.0.0.1:0,password=on -device vfio-pci,host=0000:01:00.0,x-passthrough=on',
      'ssh -p 2222 root@hv2',
      'sshd[1]: Accepted publickey for root from 192.168.122.1 port 50522 ssh2',
      '-A LIBVIRT_FWO -i virbr0 -s 192.168.122.0/24 -j ACCEPT',
      // Options that look like credentials elsewhere, names that point at one, words of other formats.
      'docker run -p 8080:80 nginx',
      '-A FORWARD -m comment --comment "password reset" -j ACCEPT',
      'token_type=bearer --password-file=/etc/app/pw keyring = /etc/ceph/ceph.client.admin.keyring secret_id=abc --key-file /x',
      '{"match": {"left": {"meta": {"key": "iifname"}}, "right": "virbr0"}}',
      '-object secret,id=sec0,file=/etc/pki/qemu/secret.txt -vnc :0,password-secret=',
      'Environment=LANG=C PWD=/root OLDPWD=/home a==b x => y',
      'sshd[1]: Failed password for root from 10.0.0.1 port 22 ssh2',
      'wpa_supplicant key_mgmt=WPA-PSK auth=none',
      // An OpenFlow flow's cookie (ovs-ofctl dump-flows): a number, not a credential.
      ' cookie=0x0, duration=3.633s, table=0, n_packets=0, n_bytes=0, idle_age=3, priority=0 actions=NORMAL',
      ' cookie=0x1a2b/0xffff, table=0, priority=200,in_port=vnet3,ip actions=drop',
    ]
    for (const line of benign) expect(scrubText(line)).toBe(line)
    // Every recording of the lab is left byte for byte as it was: the rules see the same data.
    for (const fixture of readdirSync(join(ROOT, 'fixtures')).filter((n) => existsSync(join(ROOT, 'fixtures', n, 'manifest.json')))) {
      for (const f of allFiles(join(ROOT, 'fixtures', fixture, 'outputs'))) expect(scrubText(f.text) === f.text, f.path).toBe(true)
    }
  })

  it('stays linear on hostile 8 MiB inputs', () => {
    const N = 8 * 1024 * 1024
    const hostile = ['password=a,'.repeat(N / 11), 'a=b,'.repeat(N / 4), '"DB_PASSWORD='.repeat(N / 13), 'x: '.repeat(N / 3), 'error : password: '.repeat(N / 18), '<password>'.repeat(N / 10), '<a name="password" value="'.repeat(N / 26), 'login x password '.repeat(N / 17), '$6$'.repeat(N / 3), '-u '.repeat(N / 3), 'mysql -p'.repeat(N / 8), 'a='.repeat(N / 2), '--password '.repeat(N / 11), 'password="'.repeat(N / 10), 'http://a:'.repeat(N / 9), 'secret,'.repeat(N / 7), '"qom-type":"secret",'.repeat(N / 20), 'mysql -p'.repeat(N / 8), '-----BEGIN PRIVATE KEY-----\n'.repeat(N / 28)]
    const took = (text: string) => {
      const started = performance.now()
      scrubText(text)
      return performance.now() - started
    }
    for (const text of hostile) {
      // Growth, not speed (a loaded machine slows both alike): eight times the input takes about eight times as long
      // when the pass is linear, sixty-four times when it is quadratic (the 8 MiB pass then takes minutes).
      const eighth = took(text.slice(0, text.length / 8))
      expect(took(text), text.slice(0, 20)).toBeLessThan(24 * Math.max(eighth, 25))
    }
    expect(CREDENTIAL_FORMS.length).toBeGreaterThan(15)
  })

  it('JSON: a string under a key named like a credential goes whole, in facts and reports alike', () => {
    const value = {user: 'app', dbPassword: 'S3cJ1Zq', nested: [{apiToken: 'S3cJ2Zq', key: 'iifname', passwordFile: '/etc/pw', password: 'on'}]}
    const scrubbed = scrubDeep(value)
    expect(scrubbed).toEqual({user: 'app', dbPassword: SCRUBBED, nested: [{apiToken: SCRUBBED, key: 'iifname', passwordFile: '/etc/pw', password: 'on'}]})
    expect(mapStringsDeep(value, (t) => t, {scrubKeys: true})).toEqual(scrubbed)
    expect(value.dbPassword).toBe('S3cJ1Zq')
  })
})

describe('every channel a bundle, a snapshot or a report is made of', () => {
  it('topology, text and JSON: a guest named with a credential in it is shown scrubbed', async () => {
    const dir = await renamedRecording('healthy', {'kdlab-web01': 'kdlab-web01,password=S3cT1Zq'})
    const json = await cli(['topology', '--from', dir, '--json'])
    expect(json.exitCode).toBe(0)
    expect(json.stdout).toContain('kdlab-web01,password=SCRUBBED')
    const text = await cli(['topology', '--from', dir])
    expect(text.stdout).toContain('kdlab-web01,password=SCRUBBED')
    for (const r of [json, text]) expect(r.stdout + r.stderr).not.toContain('S3cT1Zq')
  })

  it('a bundle holds none of the planted values, with or without --redact', async () => {
    const {runner, options} = await planted()
    for (const redact of [false, true]) {
      const dir = await scratch()
      const made = await createBundle({runner, options, version: 'test', output: join(dir, 'b.tar.gz'), redact, redactionKey: Buffer.alloc(32, 7), reports: bundleReports})
      await tar.x({file: made.path, cwd: dir})
      const files = allFiles(dir).filter((f) => !f.path.endsWith('.tar.gz'))
      expect(files.map((f) => f.path.split('/').pop())).toEqual(expect.arrayContaining(['manifest.json', 'facts.json', 'findings.json', 'report.md']))
      expectNoLeak(files)
      // The channels were live: the error field and the log lines reached the written files, scrubbed.
      const manifest = files.find((f) => f.path.endsWith('manifest.json'))!.text
      expect(manifest).toMatch(/"error": "firewall-cmd --state: exit 1: ERROR: mysql -uroot -pSCRUBBED/)
      expect(files.find((f) => f.path.endsWith('facts.json'))!.text).toContain('SCRUBBED')
      expect(files.find((f) => f.path.endsWith('report.md'))!.text).toMatch(/firewall-cmd --state: exit 1: ERROR: mysql -uroot -pSCRUBBED/)
    }
  })

  it('a libvirt URI with a password: scrubbed from argv and options alike, so the bundle still replays (redacted too, its user as well)', async () => {
    const uri = 'qemu+ssh://alice:S3cUriZq@hv9/system'
    const {runner: inner, options} = await alteredFixture('dnsmasq-killed', {})
    // The recorded host, reached through a URI that carries a password (not the system instance:
    // domain XML then comes from virsh dumpxml, answered from the recorded status files).
    const runner = {
      ...inner,
      capturedAt: inner.capturedAt,
      run: async (argv: string[]) => {
        if (argv.includes('dumpxml')) return {kind: 'command' as const, argv, output: (await inner.readFile(`/run/libvirt/qemu/${argv.at(-1)}.xml`)).output, stderr: '', exitCode: 0, durationMs: 0, timedOut: false, truncated: false}
        return {...(await inner.run(argv.map((a) => (a === uri ? options.libvirtUri : a)))), argv}
      },
    }
    for (const redact of [false, true]) {
      const dir = await scratch()
      const made = await createBundle({runner, options: {...options, libvirtUri: uri}, version: 'test', output: join(dir, 'b.tar.gz'), redact, reports: bundleReports})
      await tar.x({file: made.path, cwd: dir})
      // The bundle's files (the map beside it holds the originals by design).
      for (const f of allFiles(dir).filter((x) => !/\.tar\.gz$|\.redaction-map\.json$/.test(x.path))) expect(f.text, f.path).not.toMatch(redact ? /S3cUriZq|alice/ : /S3cUriZq/)
      expect(made.diagnosis.probes.find((p) => p.id === 'libvirt')?.ok).toBe(true)
      const {runner: replay, cleanup} = await openBundle(made.path)
      expect(replay.manifest.options!.libvirtUri).toMatch(redact ? /^qemu\+ssh:\/\/user-1:\S+@hv9\/system$/ : /^qemu\+ssh:\/\/alice:\S+@hv9\/system$/)
      expect((await diagnose({runner: replay, options: replay.manifest.options!, version: 'test'})).findings.map((f) => f.id)).toEqual(made.diagnosis.findings.map((f) => f.id))
      await cleanup()
    }
  })

  it('a recorded snapshot and every report format hold none of them', async () => {
    const {runner, options} = await planted()
    const recorder = new RecordingRunner(runner)
    const d = await diagnose({runner: recorder, options, version: 'test'})
    const dir = join(await scratch(), 'snap')
    await writeSnapshot(dir, recorder.all(), {kvmdoctorVersion: 'test', capturedAt: recorder.capturedAt, options})
    expectNoLeak(allFiles(dir))
    for (const format of FORMATS) {
      // Without the output layer the report would carry them (the error field reaches "not checked");
      // Prometheus has no free text.
      if (format !== 'prometheus') expect(leaked(await render(d, format as Format, {showSuppressed: false})).length, format).toBeGreaterThan(0)
      expect(leaked(await render(reportable(d, format), format as Format, {showSuppressed: false})), format).toEqual([])
    }
    // diagnose --format json and --json write their own projection, gate included, scrubbed as it is written.
    const gate = gateDecision(d, 'info')
    expect(leaked(renderJson(d, gate)).length).toBeGreaterThan(0)
    expect(leaked(reportableJsonText(d, gate))).toEqual([])
    expect(leaked(JSON.stringify(reportableJson(d, gate)))).toEqual([])
    // As --format json writes it: each element scrubbed on its own, the same text.
    expect([...reportableJsonLines(d, gate)].join('\n') + '\n').toBe(reportableJsonText(d, gate))
  })

  it('the CLI: --record, --output, stdout and stderr of a live run hold none of them', async () => {
    const data = await scratch()
    const write = async (name: string, text: string) => {
      await writeFile(join(data, name), text)
      return join(data, name)
    }
    const stderr = await write('stderr', `error: failed to connect to the hypervisor\nerror: ${ALL_LINE_FORMS.map((f) => f.text).join(' ; ')}\n`)
    const bin = await fakeBin({
      ps: `/bin/cat ${await write('ps', `    1 /sbin/init\n${ALL_LINE_FORMS.map((f, i) => `  ${100 + i} ${f.text}\n`).join('')}`)}`,
      journalctl: `/bin/cat ${await write('journal', `${[...ALL_LINE_FORMS.map((f) => `2026-11-28 vm app[1]: ${f.text}`), ...PEM_LINES].join('\n')}\n`)}`,
      virsh: `/bin/cat ${stderr} >&2; exit 1`,
      'firewall-cmd': `/bin/cat ${stderr} >&2; exit 3`,
    })
    const dir = await scratch()
    const r = await cli(['diagnose', '--record', join(dir, 'snap'), '--output', join(dir, 'report.md'), '--format', 'md', '--timeout', '5'], {bin})
    expect(r.stderr).not.toMatch(/internal error/)
    expect(leaked(r.stdout + r.stderr)).toEqual([])
    const files = allFiles(dir)
    expect(files.some((f) => f.path.endsWith('manifest.json'))).toBe(true)
    expectNoLeak(files)
    // The planted stderr did reach the report, scrubbed: the channel was exercised.
    expect(await readFile(join(dir, 'report.md'), 'utf8')).toMatch(/SCRUBBED/)
    expect(ALL_SECRETS.length).toBeGreaterThan(40)
    expect(PEM_SECRETS.every((s) => PEM_LINES.join('').includes(s))).toBe(true)
  })
})

describe('credential names', () => {
  it('judges a name alone and as a JSON key apart, whichever comes first (each reading remembered on its own)', () => {
    // A lone `key` is ceph's --key; a JSON key named key is data. Judged in both orders, twice (the second answer is remembered).
    for (let round = 0; round < 2; round++) {
      expect(isCredentialName('key', {loneKey: false})).toBe(false)
      expect(isCredentialName('key')).toBe(true)
      expect(isCredentialName('kd-test-key')).toBe(false)
      expect(isCredentialName('kd-test-key', {loneKey: false})).toBe(false)
    }
    expect(mapStringsDeep({key: 'abc', argv: '--key abc'}, scrubText, {scrubKeys: true})).toEqual({key: 'abc', argv: `--key ${SCRUBBED}`})
  })
})

describe('tool option forms', () => {
  /** Every form of the table applied in order, none skipped: what scrubText must equal. */
  const everyForm = (text: string) =>
    CREDENTIAL_FORMS.reduce((out, form) => {
      if ('scan' in form) return form.scan(out)
      form.pattern.lastIndex = 0
      return out.replace(form.pattern, form.replace as (substring: string, ...args: unknown[]) => string)
    }, text)

  it('are skipped together only where the text names none of their tools, with the same result', () => {
    const texts = [
      ...ALL_LINE_FORMS.map((f) => f.text),
      ...XML_FORMS.map((f) => f.text),
      ...PEM_LINES,
      DHCPD_KEYS,
      '/usr/bin/qemu-system-x86_64 -name guest=web01,debug-threads=on -m 2048',
      'sshpass -p S3cT1Zq ssh root@db01; mysql -pS3cT2Zq; redis-cli -a S3cT3Zq --user=x',
      'deploy.sh --token=abc login docker -p S3cT4Zq',
    ]
    for (const text of texts) expect(scrubText(text), text).toBe(everyForm(text))
    expect(scrubText('sshpass -p S3cT1Zq ssh root@db01; mysql -pS3cT2Zq')).not.toMatch(/S3cT\dZq/)
    expect(CREDENTIAL_FORMS.filter((f) => f.group !== undefined).length).toBeGreaterThan(10)
  })
})
