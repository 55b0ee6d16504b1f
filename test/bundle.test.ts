import {existsSync} from 'node:fs'
import {mkdir, mkdtemp, readFile, readdir, symlink, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {gzipSync} from 'node:zlib'
import * as tar from 'tar'
import {describe, expect, it} from 'vitest'
import {createBundle, openBundle} from '../src/core/bundle.js'
import {diagnose} from '../src/core/diagnose.js'
import {UserError} from '../src/core/errors.js'
import type {CommandCapture, FileCapture, Runner} from '../src/core/runner.js'
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

const summary = (d: {findings: {id: string; rank: number; entity: {kind: string; name: string}; evidence: string[]; severity: string; explainedBy?: string}[]}) =>
  d.findings.map((f) => ({id: f.id, rank: f.rank, severity: f.severity, kind: f.entity.kind, name: f.entity.name, evidence: f.evidence, explainedBy: f.explainedBy}))

describe('support bundles', () => {
  it('diagnose --from the bundle gives the same findings, ranks and evidence as the run that made it', async () => {
    const dir = await tmp()
    for (const name of ['dnsmasq-killed', 'flushed-and-forward-off', 'dhcp-range-exhausted']) {
      const source = await ReplayRunner.open(fixtureDir(name))
      const made = await createBundle({runner: source, options: replayOptions(source), version: 'test', output: join(dir, `${name}.tar.gz`), redact: false})
      const {runner, cleanup} = await openBundle(made.path)
      const again = await diagnose({runner, options: replayOptions(runner), version: 'test'})
      await cleanup()
      expect(summary(again)).toEqual(summary(made.diagnosis))
      expect(again.capturedAt).toBe(made.diagnosis.capturedAt)
    }
  })

  it('holds manifest, raw outputs, facts.json, findings.json and report.md; stays small', async () => {
    const source = await ReplayRunner.open(fixtureDir('healthy'))
    const made = await createBundle({runner: source, options: replayOptions(source), version: '1.2.3', output: join(await tmp(), 'b.tar.gz'), redact: false})
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
      const made = await createBundle({runner, options: replayOptions(inner), version: 'test', output: join(await tmp(), 'b.tar.gz'), redact, redactionKey: KEY})
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
          const made = await createBundle({runner: source, options: replayOptions(source), version: 'test', output: join(await tmp(), 'r.tar.gz'), redact: true, redactionKey: KEY})
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
      const made = await createBundle({runner: source, options: replayOptions(source), version: 'test', output: join(dir, 'r.tar.gz'), redact: true, redactionKey: KEY})
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
      const made = await createBundle({runner: source, options: replayOptions(source), version: 'test', output: join(dir, 'ok.tar.gz'), redact: false})
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
