import {execFileSync} from 'node:child_process'
import {bundleReports} from '../reports/bundle-files.js'
import {existsSync} from 'node:fs'
import {chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {gzipSync} from 'node:zlib'
import * as tar from 'tar'
import {describe, expect, it} from 'vitest'
import {createBundle, openBundle, replayChange} from '../src/core/bundle.js'
import {diagnose} from '../src/core/diagnose.js'
import {UserError} from '../src/core/errors.js'
import type {RedactionMap} from '../src/core/redact.js'
import type {CommandCapture, FileCapture, Runner} from '../src/lib/runner.js'
import {ReplayRunner} from '../src/core/snapshot.js'
import {fixtureDir, kvmdoctorCli, replayOptions} from './helpers.js'
import {SCENARIOS} from './scenarios.js'

const tmp = () => mkdtemp(join(tmpdir(), 'kd-bundle-'))
const KEY = Buffer.alloc(32, 7)

async function filesOf(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  const walk = async (d: string) => {
    for (const e of await readdir(d, {withFileTypes: true})) {
      const p = join(d, e.name)
      if (e.isDirectory()) await walk(p)
      else out.set(p, await readFile(p, 'utf8'))
    }
  }
  await walk(dir)
  return out
}

async function extract(bundle: string): Promise<Map<string, string>> {
  const dir = await tmp()
  await tar.x({file: bundle, cwd: dir})
  return filesOf(dir)
}

/** The bundle's files by path inside its top-level directory. */
async function contentOf(bundle: string): Promise<Map<string, string>> {
  const files = await extract(bundle)
  return new Map([...files].map(([p, text]) => [p.split('/kvmdoctor-bundle-')[1].replace(/^[^/]+\//, ''), text]))
}

/** Extracts a bundle, lets `change` alter its top-level directory, packs it again. */
async function repacked(bundle: string, change: (top: string) => Promise<void>): Promise<string> {
  const dir = await tmp()
  await tar.x({file: bundle, cwd: dir})
  const [top] = await readdir(dir)
  await change(join(dir, top))
  const out = join(dir, 'repacked.tar.gz')
  await tar.c({gzip: true, file: out, cwd: dir, portable: true}, [top])
  return out
}

const summary = (d: {findings: {id: string; rank: number; entity: {kind: string; name: string}; evidence: string[]; severity: string; explainedBy?: string}[]}) =>
  d.findings.map((f) => ({id: f.id, rank: f.rank, severity: f.severity, kind: f.entity.kind, name: f.entity.name, evidence: f.evidence, explainedBy: f.explainedBy}))

describe('support bundles', () => {
  it('diagnose --from the bundle gives the same findings, ranks and evidence as the run that made it', async () => {
    const dir = await tmp()
    for (const name of ['dnsmasq-killed', 'flushed-and-forward-off', 'dhcp-range-exhausted']) {
      const source = await ReplayRunner.open(fixtureDir(name))
      const made = await createBundle({runner: source, options: replayOptions(source), version: 'test', output: join(dir, `${name}.tar.gz`), redact: false, reports: bundleReports})
      const {runner, cleanup} = await openBundle(made.path)
      const again = await diagnose({runner, options: replayOptions(runner), version: 'test'})
      await cleanup()
      expect(summary(again)).toEqual(summary(made.diagnosis))
      expect(made.replayChanged).toBeUndefined()
      expect(again.capturedAt).toBe(made.diagnosis.capturedAt)
    }
  })

  it('holds report.html, self-contained, beside report.md', async () => {
    const source = await ReplayRunner.open(fixtureDir('flushed-and-forward-off'))
    const made = await createBundle({runner: source, options: replayOptions(source), version: 'test', output: join(await tmp(), 'b.tar.gz'), redact: false, reports: bundleReports})
    const page = (await contentOf(made.path)).get('report.html')!
    expect(page).toMatch(/^<!doctype html>/)
    expect(page).toContain('Content-Security-Policy')
    // The findings of this bundle, not an empty shell.
    for (const f of made.diagnosis.findings.filter((x) => x.severity === 'critical')) expect(page).toContain(f.id)
    // Nothing fetched from elsewhere: no http(s) URL in any src or href.
    expect(page).toMatch(/\b(?:src|href)\s*=/)
    expect(page).not.toMatch(/\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//i)
  })

  describe('SHA256SUMS', () => {
    it('lists every other file of the bundle with its sha256, as sha256sum -c reads it', async () => {
      const source = await ReplayRunner.open(fixtureDir('healthy'))
      const made = await createBundle({runner: source, options: replayOptions(source), version: 'test', output: join(await tmp(), 'b.tar.gz'), redact: true, redactionKey: KEY, reports: bundleReports})
      const files = await contentOf(made.path)
      const sums = files.get('SHA256SUMS')!
      const listed = sums.trimEnd().split('\n').map((l) => /^([0-9a-f]{64}) {2}(\S+)$/.exec(l)!)
      expect(listed.every(Boolean)).toBe(true)
      expect(listed.map((m) => m[2]).sort()).toEqual([...files.keys()].filter((f) => f !== 'SHA256SUMS').sort())
      expect(listed.map((m) => m[2])).toEqual(expect.arrayContaining(['manifest.json', 'facts.json', 'findings.json', 'report.md', 'report.html']))
      expect(listed.filter((m) => m[2].startsWith('outputs/')).length).toBe(files.size - 6)
      expect(files.size).toBeGreaterThan(20)
      // The checksums hold for what the archive carries, checked by coreutils itself.
      const dir = await tmp()
      await tar.x({file: made.path, cwd: dir})
      const [top] = await readdir(dir)
      expect(execFileSync('sha256sum', ['--check', '--strict', '--quiet', 'SHA256SUMS'], {cwd: join(dir, top), encoding: 'utf8'})).toBe('')
    })

    const expectRefused = async (file: string, message: RegExp) => {
      const error = await openBundle(file).then(() => undefined, (e: unknown) => e)
      expect(error).toBeInstanceOf(UserError)
      expect((error as Error).message).toMatch(message)
    }

    it('diagnose --from refuses a bundle with a changed, added or missing file, naming it', async () => {
      const source = await ReplayRunner.open(fixtureDir('dnsmasq-killed'))
      const made = await createBundle({runner: source, options: replayOptions(source), version: 'test', output: join(await tmp(), 'b.tar.gz'), redact: false, reports: bundleReports})
      // One output edited (an iptables rule dropped): replaying it would give other findings.
      const [output, rules] = [...(await contentOf(made.path))].find(([f, text]) => f.startsWith('outputs/') && /^(\[\d+:\d+\] )?-A /m.test(text))!
      const edited = await repacked(made.path, (top) => writeFile(join(top, output), rules.replace(/^(\[\d+:\d+\] )?-A .*\n/m, '')))
      await expectRefused(edited, new RegExp(`files do not match its SHA256SUMS: ${output.replace(/[.]/g, '\\.')} does not match its checksum`))
      await expectRefused(await repacked(made.path, (top) => writeFile(join(top, 'outputs', 'extra.txt'), 'x')), /outputs\/extra\.txt is not listed/)
      await expectRefused(await repacked(made.path, (top) => rm(join(top, 'report.md'))), /report\.md is listed but missing/)
      await expectRefused(await repacked(made.path, async (top) => writeFile(join(top, 'SHA256SUMS'), `${'0'.repeat(64)}  ../../etc/passwd\n`)), /line 1 of SHA256SUMS is malformed/)
      const r = await kvmdoctorCli(['diagnose', '--from', edited])
      expect(r.exitCode).toBe(2)
      expect(r.stderr).toMatch(new RegExp(`^kvmdoctor: .*repacked\\.tar\\.gz: refusing a bundle whose files do not match its SHA256SUMS: ${output.replace(/[.]/g, '\\.')}`))
      expect(r.stdout).toBe('')
    })

    it('a bundle without SHA256SUMS (written before it existed) still opens, to the same findings', async () => {
      const source = await ReplayRunner.open(fixtureDir('dnsmasq-killed'))
      const made = await createBundle({runner: source, options: replayOptions(source), version: 'test', output: join(await tmp(), 'b.tar.gz'), redact: false, reports: bundleReports})
      const old = await repacked(made.path, (top) => rm(join(top, 'SHA256SUMS')))
      const {runner, cleanup, unverified} = await openBundle(old)
      expect(unverified).toBe('SHA256SUMS')
      const again = await diagnose({runner, options: replayOptions(runner), version: 'test'})
      await cleanup()
      expect(summary(again)).toEqual(summary(made.diagnosis))
      const verified = await openBundle(made.path)
      expect(verified.unverified).toBeUndefined()
      await verified.cleanup()
    })

    it('a bundle without SHA256SUMS opens only with a warning that its files are unverified, in every command and mode', async () => {
      const source = await ReplayRunner.open(fixtureDir('dnsmasq-killed'))
      const made = await createBundle({runner: source, options: replayOptions(source), version: 'test', output: join(await tmp(), 'b.tar.gz'), redact: false, reports: bundleReports})
      const old = await repacked(made.path, (top) => rm(join(top, 'SHA256SUMS')))
      const warning = /^kvmdoctor: warning: .*repacked\.tar\.gz has no SHA256SUMS: its files are unverified/m
      for (const args of [['diagnose', '--from', old], ['diagnose', '--from', old, '--json'], ['ip', '--from', old], ['topology', '--from', old], ['trace', 'kdlab-web01', '--from', old]]) {
        const r = await kvmdoctorCli(args)
        expect(r.stderr, args.join(' ')).toMatch(warning)
        expect(r.exitCode, args.join(' ')).not.toBe(2)
      }
      expect((await kvmdoctorCli(['diagnose', '--from', made.path])).stderr).not.toMatch(/unverified/)
    })
  })

  it('holds manifest, raw outputs, facts.json, findings.json and report.md; stays small', async () => {
    const source = await ReplayRunner.open(fixtureDir('healthy'))
    const made = await createBundle({runner: source, options: replayOptions(source), version: '1.2.3', output: join(await tmp(), 'b.tar.gz'), redact: false, reports: bundleReports})
    expect(made.bytes).toBeLessThan(200 * 1024)
    const files = await extract(made.path)
    const names = [...files.keys()].map((p) => p.split('/').slice(-2).join('/'))
    for (const f of ['facts.json', 'findings.json', 'report.md', 'manifest.json']) expect(names.some((n) => n.endsWith(`/${f}`))).toBe(true)
    const manifest = JSON.parse([...files].find(([p]) => p.endsWith('manifest.json'))![1])
    expect(manifest).toMatchObject({kvmdoctorVersion: '1.2.3', host: 'vm', kernel: expect.any(String), libvirtVersion: expect.stringMatching(/^\d+\.\d+/)})
    const cmd = manifest.captures.find((c: {argv?: string[]}) => c.argv?.[0] === 'iptables-save')
    expect(cmd).toMatchObject({exitCode: 0, timedOut: false, truncated: false, bytes: expect.any(Number), durationMs: expect.any(Number)})
    expect(manifest.captures.find((c: {path?: string}) => c.path === '/proc/sys/net/ipv4/ip_forward')).toMatchObject({kind: 'file', bytes: 2})
  })

  it('never lets planted secrets out, with or without --redact', async () => {
    const planted = {
      vnc: 'vncS3cretPw',
      ceph: '9f3c1e44-ceph-uuid-secret',
      cephUser: 'cephadmin-user',
      dhcpdKey: 'c2VjcmV0LWtleS1ub3Qtc2hhcmVk',
      cli: 'Hunter2cmdline',
      log: 'LogTok3n',
    }
    const inner = await ReplayRunner.open(fixtureDir('healthy'))
    const plantInDomain = (xml: string) =>
      xml.replace('</devices>', `<graphics type='vnc' port='5900' passwd='${planted.vnc}'/><graphics type='spice' passwd="${planted.vnc}"/><disk type='network'><source protocol='rbd' name='pool/img'><auth username='${planted.cephUser}'><secret type='ceph' usage='client.${planted.ceph}' uuid='${planted.ceph}'/></auth></source></disk></devices>`)
    // The healthy lab host, with credentials planted in every place a bundle reads.
    const runner: Runner = {
      capturedAt: inner.capturedAt,
      async run(argv): Promise<CommandCapture> {
        const c = await inner.run(argv)
        if (argv.includes('dumpxml') && argv.some((a) => a.startsWith('kdlab-'))) return {...c, output: plantInDomain(c.output)}
        if (argv[0] === 'ps') return {...c, output: `${c.output}  999 /usr/bin/agent --password=${planted.cli} --token ${planted.cli}\n 1000 curl https://x/?api_key=${planted.cli}\n`}
        if (argv[0] === 'journalctl') return {...c, error: undefined, errorCode: undefined, output: `2026-11-28 libvirtd: connecting with password=${planted.log}\n`}
        return c
      },
      async readFile(path): Promise<FileCapture> {
        // libvirt's live status file holds the full XML, passwords included
        if (path.startsWith('/run/libvirt/qemu/')) {
          const c = await inner.readFile(path)
          return {...c, output: plantInDomain(c.output)}
        }
        if (path === '/etc/dhcp/dhcpd.conf') return {kind: 'file', path, durationMs: 0, truncated: false, output: `key "omapi" {\n  algorithm hmac-md5;\n  secret "${planted.dhcpdKey}";\n};\nkey ddns { algorithm hmac-sha256; secret ${planted.dhcpdKey}; }\nsubnet 10.77.0.0 netmask 255.255.255.0 {}\n`}
        return inner.readFile(path)
      },
      listDir: (path) => inner.listDir(path),
    }
    for (const redact of [false, true]) {
      const made = await createBundle({runner, options: replayOptions(inner), version: 'test', output: join(await tmp(), 'b.tar.gz'), redact, redactionKey: KEY, reports: bundleReports})
      const files = await extract(made.path)
      const all = [...files.values()].join('\n')
      for (const secret of Object.values(planted)) expect(all, `${secret} leaked (redact=${redact})`).not.toContain(secret)
      expect(all).toContain("passwd='SCRUBBED'")
      expect(all).toContain("<auth username='SCRUBBED'><secret type='ceph' usage='SCRUBBED' uuid='SCRUBBED'/>")
      expect(all).toContain('secret "SCRUBBED";')
      // The dhcpd.conf still proves dhcpd is configured after scrubbing.
      expect(all).toMatch(/subnet \d+\.\d+\.\d+\.\d+ netmask 255\.255\.255\.0/)
    }
  })

  describe('--redact', () => {
    // One test per lab scenario (there are too many for one test's timeout).
    describe('yields the same rule ids, ranks and entity kinds as the original, on every lab scenario', () => {
      for (const scenario of SCENARIOS) {
        it(scenario.name, async () => {
          const source = await ReplayRunner.open(fixtureDir(scenario.name))
          const plain = await diagnose({runner: source, options: replayOptions(source), version: 'test'})
          const made = await createBundle({runner: source, options: replayOptions(source), version: 'test', output: join(await tmp(), 'r.tar.gz'), redact: true, redactionKey: KEY, reports: bundleReports})
          const shape = (d: typeof plain) => d.findings.map((f) => `${f.rank}:${f.id}:${f.severity}:${f.entity.kind}:${f.explainedBy?.split('@')[0] ?? ''}`)
          expect(shape(made.diagnosis), scenario.name).toEqual(shape(plain))
          const {runner, cleanup} = await openBundle(made.path)
          const replayed = await diagnose({runner, options: replayOptions(runner), version: 'test'})
          await cleanup()
          expect(shape(replayed), `${scenario.name} replayed`).toEqual(shape(plain))
        })
      }
    })

    it('maps consistently, keeps special addresses and vendor prefixes, and writes the map beside the bundle only', async () => {
      const source = await ReplayRunner.open(fixtureDir('static-ip-collision'))
      const dir = await tmp()
      const made = await createBundle({runner: source, options: replayOptions(source), version: 'test', output: join(dir, 'r.tar.gz'), redact: true, redactionKey: KEY, reports: bundleReports})
      expect(made.mapPath).toBe(join(dir, 'r.tar.gz.redaction-map.json'))
      const map = JSON.parse(await readFile(made.mapPath!, 'utf8'))
      const files = await extract(made.path)
      expect([...files.keys()].some((p) => p.includes('redaction-map'))).toBe(false)
      const all = [...files.values()].join('\n')
      // Nothing original remains: addresses, MACs, guest and host names.
      for (const original of [...Object.keys(map.ipv4), ...Object.keys(map.mac), ...Object.keys(map.names)]) expect(all, original).not.toMatch(new RegExp(`(?<![\\w.:-])${original.replace(/[.]/g, '\\.')}(?![\\w:-]|\\.\\d)`))
      // Structure kept: the gateway stays .1 of a /24 whose guests stay inside it; loopback and APIPA untouched.
      const gw = map.ipv4['192.168.122.1']
      expect(gw).toMatch(/\.1$/)
      const mappedNet = gw.split('.').slice(0, 3).join('.')
      for (const [orig, mapped] of Object.entries(map.ipv4 as Record<string, string>)) if (orig.startsWith('192.168.122.')) expect(mapped.startsWith(`${mappedNet}.`)).toBe(true)
      expect(map.ipv4['127.0.0.1']).toBeUndefined()
      expect(all).toContain('127.0.0.1')
      for (const [orig, mapped] of Object.entries(map.mac as Record<string, string>)) expect(mapped.slice(0, 8)).toBe(orig.slice(0, 8))
      expect(map.mac['52:54:00:6b:64:01']).toMatch(/^52:54:00:/)
      expect(map.names['kdlab-web01']).toMatch(/^guest-\d+$/)
      expect(Object.values(map.names)).toContain('host-1')
      // One original, one pseudonym, everywhere.
      expect(new Set(Object.values(map.ipv4)).size).toBe(Object.keys(map.ipv4).length)
      expect(new Set(Object.values(map.mac)).size).toBe(Object.keys(map.mac).length)
    })
  })

  describe('--redact-map', () => {
    const bundleOf = async (fixture: string, dir: string, name: string, redactMap?: string) => {
      const source = await ReplayRunner.open(fixtureDir(fixture))
      return createBundle({runner: source, options: replayOptions(source), version: 'test', output: join(dir, name), redact: true, redactMap, reports: bundleReports})
    }
    const readMap = async (path: string): Promise<RedactionMap> => JSON.parse(await readFile(path, 'utf8'))

    it('two redacted bundles of one host with one map are the same, pseudonyms and all; without it they differ', async () => {
      const dir = await tmp()
      const mapFile = join(dir, 'host.map.json')
      const first = await bundleOf('static-ip-collision', dir, 'a.tar.gz', mapFile)
      expect(first.mapPath).toBe(mapFile)
      expect(existsSync(join(dir, 'a.tar.gz.redaction-map.json'))).toBe(false)
      const map = await readMap(mapFile)
      const second = await bundleOf('static-ip-collision', dir, 'b.tar.gz', mapFile)
      const [a, b] = [await contentOf(first.path), await contentOf(second.path)]
      expect([...b.keys()]).toEqual([...a.keys()])
      for (const [file, text] of a) expect(b.get(file), file).toBe(text)
      expect(await readMap(mapFile)).toEqual(map)
      expect(a.get('facts.json')).toContain(`"${map.ipv4['192.168.122.1']}"`)
      // Without a map each bundle has its own key: the same host gets other pseudonyms.
      const [c, d] = [await bundleOf('static-ip-collision', dir, 'c.tar.gz'), await bundleOf('static-ip-collision', dir, 'd.tar.gz')]
      const [mapC, mapD] = [await readMap(c.mapPath!), await readMap(d.mapPath!)]
      expect(mapC.key).not.toBe(mapD.key)
      expect(Object.keys(mapC.ipv4).some((ip) => mapC.ipv4[ip] !== mapD.ipv4[ip])).toBe(true)
      expect((await contentOf(c.path)).get('facts.json')).not.toBe((await contentOf(d.path)).get('facts.json'))
    })

    it('a second host extends the map: what both hold maps alike, old entries stay, new names never reuse a number', async () => {
      const dir = await tmp()
      const mapFile = join(dir, 'fleet.map.json')
      await bundleOf('healthy', dir, 'a.tar.gz', mapFile)
      const before = await readMap(mapFile)
      const made = await bundleOf('dhcp-range-exhausted', dir, 'b.tar.gz', mapFile)
      const after = await readMap(mapFile)
      expect(after.key).toBe(before.key)
      for (const sectionName of ['ipv4', 'ipv6', 'mac', 'uuid', 'names', 'domains', 'users'] as const) expect(after[sectionName]).toMatchObject(before[sectionName])
      expect(after.subnets).toEqual(expect.arrayContaining(before.subnets))
      // This host adds guests, a network and its subnet: they join the map, numbered on from the first host's.
      expect(after.subnets.length).toBeGreaterThan(before.subnets.length)
      const lastGuest = Math.max(...Object.values(before.names).filter((n) => n.startsWith('guest-')).map((n) => Number(n.slice(6))))
      const added = Object.keys(after.names).filter((n) => !(n in before.names))
      expect(added).toEqual(expect.arrayContaining(['kdlab-tiny01', 'kdlab-tiny']))
      expect(Number(after.names['kdlab-tiny01'].slice(6))).toBeGreaterThan(lastGuest)
      for (const values of [Object.values(after.names), Object.values(after.mac)]) expect(new Set(values).size).toBe(values.length)
      // The address both hosts have (libvirt's default gateway) has one pseudonym in both bundles.
      expect(after.ipv4['192.168.122.1']).toBe(before.ipv4['192.168.122.1'])
      const second = await contentOf(made.path)
      expect(second.get('facts.json')).toContain(`"${before.ipv4['192.168.122.1']}"`)
      expect(made.replayChanged).toBeUndefined()
      expect((await stat(mapFile)).mode & 0o777).toBe(0o600)
    })

    it('a map whose pseudonyms break this host\'s subnets is reported: the findings changed', async () => {
      const dir = await tmp()
      const mapFile = join(dir, 'host.map.json')
      const first = await bundleOf('static-ip-collision', dir, 'a.tar.gz', mapFile)
      expect(first.replayChanged).toBeUndefined()
      // As if another host had mapped this host's guest address, into another subnet than its gateway's.
      const map = await readMap(mapFile)
      const guest = Object.keys(map.ipv4).find((ip) => ip.startsWith('192.168.122.') && !ip.endsWith('.1') && !ip.endsWith('.255'))!
      map.ipv4[guest] = '10.99.98.97'
      await writeFile(mapFile, JSON.stringify(map), {mode: 0o600})
      const second = await bundleOf('static-ip-collision', dir, 'b.tar.gz', mapFile)
      expect(second.replayChanged).toBeDefined()
      expect([...second.replayChanged!.missing, ...second.replayChanged!.extra].length).toBeGreaterThan(0)
    })

    it('refuses a map that is not one, before probing', async () => {
      const dir = await tmp()
      const mapFile = join(dir, 'm.json')
      for (const [text, message] of [
        ['not json', /not a kvmdoctor redaction map \(not valid JSON/],
        ['{"ipv4": {}}', /not a usable kvmdoctor redaction map: format: .*start a new one/],
        [JSON.stringify({format: 'kvmdoctor-redaction-map', formatVersion: 1, key: 'ab'.repeat(32), names: {web01: '<script>'}}), /names\.web01: /],
      ] as const) {
        await writeFile(mapFile, text)
        await chmod(mapFile, 0o600)
        let probed = false
        const runner: Runner = {capturedAt: new Date(), run: async () => ((probed = true), Promise.reject(new Error('probed'))), readFile: async () => Promise.reject(new Error('probed')), listDir: async () => Promise.reject(new Error('probed'))}
        const error = await createBundle({runner, options: {active: false, libvirtUri: 'qemu:///system'}, version: 'test', output: join(dir, 'b.tar.gz'), redact: true, redactMap: mapFile, reports: bundleReports}).then(() => undefined, (e: unknown) => e)
        expect(error).toBeInstanceOf(UserError)
        expect((error as Error).message).toMatch(message)
        expect(probed).toBe(false)
      }
    })
  })

  it("compares what each probe could read, not only the findings: a probe that read at capture and fails in the bundle is named", async () => {
    const inner = await ReplayRunner.open(fixtureDir('healthy'))
    const atCapture = await diagnose({runner: inner, options: replayOptions(inner), version: 'test'})
    // The same host, its ipsets unreadable: the packet filter is read partially, and no finding moves.
    const noIpsets: Runner = {capturedAt: inner.capturedAt, run: async (argv) => (argv[0] === 'ipset' ? {...(await inner.run(argv)), output: '', error: 'ipset: exited 1', errorCode: 'exit-status'} : inner.run(argv)), readFile: (p) => inner.readFile(p), listDir: (p) => inner.listDir(p)}
    const replayed = await diagnose({runner: noIpsets, options: replayOptions(inner), version: 'test'})
    expect(summary(replayed)).toEqual(summary(atCapture))
    expect(replayChange(atCapture, replayed)).toEqual({missing: [], extra: [], probes: [{id: 'netfilter', atCapture: 'ok', inBundle: 'degraded'}]})
    expect(replayChange(replayed, atCapture)!.probes).toEqual([{id: 'netfilter', atCapture: 'degraded', inBundle: 'ok'}])
    expect(replayChange(atCapture, atCapture)).toBeUndefined()
  })

  describe('bad bundles: a clear error, nothing written outside', () => {
    const expectRefused = async (file: string, message: RegExp) => {
      const error = await openBundle(file).then(() => undefined, (e: unknown) => e)
      expect(error).toBeInstanceOf(UserError)
      expect((error as Error).message).toMatch(message)
    }

    it('rejects corrupt, truncated and empty archives', async () => {
      const dir = await tmp()
      await writeFile(join(dir, 'garbage.tar.gz'), 'this is not gzip at all')
      await expectRefused(join(dir, 'garbage.tar.gz'), /not a readable \.tar\.gz bundle/)
      const source = await ReplayRunner.open(fixtureDir('healthy'))
      const made = await createBundle({runner: source, options: replayOptions(source), version: 'test', output: join(dir, 'ok.tar.gz'), redact: false, reports: bundleReports})
      const whole = await readFile(made.path)
      await writeFile(join(dir, 'cut.tar.gz'), whole.subarray(0, Math.floor(whole.length / 2)))
      await expectRefused(join(dir, 'cut.tar.gz'), /not a readable \.tar\.gz bundle/)
      await writeFile(join(dir, 'empty.tar.gz'), gzipSync(Buffer.alloc(1024)))
      await expectRefused(join(dir, 'empty.tar.gz'), /empty|not a readable/)
    })

    it('rejects a bundle without a manifest, or with a malformed one', async () => {
      const dir = await tmp()
      await mkdir(join(dir, 'b'))
      await writeFile(join(dir, 'b', 'report.md'), '# hi')
      await tar.c({gzip: true, file: join(dir, 'nomanifest.tar.gz'), cwd: dir}, ['b'])
      await expectRefused(join(dir, 'nomanifest.tar.gz'), /no manifest\.json/)
      await writeFile(join(dir, 'b', 'manifest.json'), '{"format": "kvmdoctor-snapshot", "formatVersion": 99}')
      await tar.c({gzip: true, file: join(dir, 'badmanifest.tar.gz'), cwd: dir}, ['b'])
      await expectRefused(join(dir, 'badmanifest.tar.gz'), /manifest\.json is malformed at formatVersion/)
    })

    it('rejects ".." entries, absolute paths and links before extracting anything', async () => {
      const dir = await tmp()
      const work = join(dir, 'work', 'inner')
      await mkdir(work, {recursive: true})
      await writeFile(join(dir, 'work', 'evil.txt'), 'outside')
      await tar.c({gzip: true, file: join(dir, 'dotdot.tar.gz'), cwd: work, preservePaths: true}, ['../evil.txt'])
      await expectRefused(join(dir, 'dotdot.tar.gz'), /escapes the bundle/)
      await tar.c({gzip: true, file: join(dir, 'abs.tar.gz'), cwd: work, preservePaths: true}, [join(dir, 'work', 'evil.txt')])
      await expectRefused(join(dir, 'abs.tar.gz'), /absolute path/)
      await symlink('/etc/passwd', join(work, 'link'))
      await tar.c({gzip: true, file: join(dir, 'link.tar.gz'), cwd: join(dir, 'work')}, ['inner'])
      await expectRefused(join(dir, 'link.tar.gz'), /SymbolicLink entry inner\/link/)
      expect(existsSync(join(tmpdir(), 'evil.txt'))).toBe(false)
    })

    it('the CLI says so and exits 2, without a stack trace', async () => {
      const dir = await tmp()
      await writeFile(join(dir, 'x.tar.gz'), Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]))
      const r = await kvmdoctorCli(['diagnose', '--from', join(dir, 'x.tar.gz')])
      expect(r.exitCode).toBe(2)
      expect(r.stderr).toMatch(/^kvmdoctor: .*x\.tar\.gz: not a readable \.tar\.gz bundle/)
      expect(r.stderr).not.toMatch(/\n\s+at /)
    })
  })
})
