import {mkdtemp, readFile, writeFile, mkdir} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {UserError} from '../../src/core/errors.js'
import type {Runner} from '../../src/lib/runner.js'
import {manifestSchema} from '../../src/core/snapshot-schema.js'
import {RecordingRunner, ReplayRunner, wellFormedManifest, writeSnapshot} from '../../src/core/snapshot.js'

/** A runner with canned answers, to test recording without touching the host. */
function cannedRunner(): Runner {
  return {
    capturedAt: new Date('2026-11-28T10:00:00Z'),
    run: async (argv) =>
      argv[0] === 'missing'
        ? {kind: 'command', argv, output: '', stderr: '', exitCode: null, durationMs: 1, timedOut: false, truncated: false, error: 'missing: command not found', errorCode: 'not-found'}
        : {kind: 'command', argv, output: `out of ${argv.join(' ')}\n`, stderr: 'warn', exitCode: 0, durationMs: 12, startMs: 40, timedOut: false, truncated: argv.includes('--big')},
    readFile: async (path) => ({kind: 'file', path, output: `content of ${path}`, durationMs: 0, truncated: false}),
    listDir: async (path) => ({kind: 'dir', path, output: 'a.status\nb.status', durationMs: 0, truncated: false}),
  }
}

const tmp = () => mkdtemp(join(tmpdir(), 'kd-snap-'))

describe('snapshots', () => {
  it('replays exactly what was recorded, errors and flags included', async () => {
    const recorder = new RecordingRunner(cannedRunner())
    await recorder.run(['ip', '-j', 'addr'])
    await recorder.run(['ip', '--big'])
    await recorder.run(['missing'])
    await recorder.readFile('/proc/sys/net/ipv4/ip_forward')
    await recorder.listDir('/var/lib/libvirt/dnsmasq')
    const dir = await tmp()
    const manifest = await writeSnapshot(dir, recorder.all(), {kvmdoctorVersion: '9.9.9', capturedAt: recorder.capturedAt, host: 'h1', kernel: '6.1', options: {active: false, libvirtUri: 'qemu:///system'}})
    expect(manifest.captures).toHaveLength(5)
    const replay = await ReplayRunner.open(dir)
    expect(replay.capturedAt.toISOString()).toBe('2026-11-28T10:00:00.000Z')
    expect(replay.manifest).toMatchObject({host: 'h1', kernel: '6.1', kvmdoctorVersion: '9.9.9'})
    expect(await replay.run(['ip', '-j', 'addr'])).toMatchObject({output: 'out of ip -j addr\n', exitCode: 0, stderr: 'warn', durationMs: 12})
    expect((await replay.run(['ip', '--big'])).truncated).toBe(true)
    expect(await replay.run(['missing'])).toMatchObject({errorCode: 'not-found', error: 'missing: command not found'})
    expect((await replay.readFile('/proc/sys/net/ipv4/ip_forward')).output).toBe('content of /proc/sys/net/ipv4/ip_forward')
    expect((await replay.listDir('/var/lib/libvirt/dnsmasq')).output).toBe('a.status\nb.status')
    const entry = manifest.captures.find((c) => c.argv?.[0] === 'ip' && c.argv[1] === '-j')!
    expect(await readFile(join(dir, entry.file), 'utf8')).toBe('out of ip -j addr\n')
    expect(entry.bytes).toBe(18)
    // When a read started is kept where the runner said it (live runs), and left out where it did not.
    expect(entry.startMs).toBe(40)
    expect(manifest.captures.find((c) => c.argv?.[0] === 'missing')).not.toHaveProperty('startMs')
  })

  it('a capture that was never recorded replays as not-recorded', async () => {
    const dir = await tmp()
    await writeSnapshot(dir, [], {kvmdoctorVersion: '1', capturedAt: new Date()})
    const replay = await ReplayRunner.open(dir)
    expect(await replay.run(['nft', '-j', 'list', 'ruleset'])).toMatchObject({errorCode: 'not-recorded'})
    expect((await replay.readFile('/etc/x')).error).toMatch(/not recorded/)
  })

  const bad = async (manifest: string, files: Record<string, string> = {}) => {
    const dir = await tmp()
    await writeFile(join(dir, 'manifest.json'), manifest)
    await mkdir(join(dir, 'outputs'))
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text)
    return ReplayRunner.open(dir)
  }
  const ok = {format: 'kvmdoctor-snapshot', formatVersion: 1, kvmdoctorVersion: '1', capturedAt: '2026-11-28T10:00:00.000Z'}
  const entry = {kind: 'file', path: '/x', file: 'outputs/x.txt', bytes: 1, durationMs: 0, truncated: false}

  it('rejects a directory without a manifest, and malformed manifests, with a clear UserError', async () => {
    await expect(ReplayRunner.open(await tmp())).rejects.toThrow(/not a kvmdoctor snapshot/)
    await expect(bad('{not json')).rejects.toThrow(UserError)
    await expect(bad('{"format": "other"}')).rejects.toThrow(/malformed at format/)
    await expect(bad(JSON.stringify({...ok, captures: [{...entry, kind: 'socket'}]}))).rejects.toThrow(/captures.0.kind/)
    await expect(bad(JSON.stringify({...ok, capturedAt: 'yesterday', captures: []}))).rejects.toThrow(/capturedAt/)
    await expect(bad(JSON.stringify({...ok, captures: [{...entry, path: undefined}]}))).rejects.toThrow(/has no path/)
  })

  it('reads manifests as written without the schema, and gets from the schema what it gets for anything else', async () => {
    const recorder = new RecordingRunner(cannedRunner())
    await recorder.run(['ip', '-j', 'addr'])
    await recorder.run(['missing'])
    await recorder.readFile('/etc/x')
    const dir = await tmp()
    await writeSnapshot(dir, recorder.all(), {kvmdoctorVersion: '1', capturedAt: recorder.capturedAt, host: 'h', options: {active: false, libvirtUri: 'qemu:///system', internet: '192.0.2.1'}})
    const written = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'))
    expect(wellFormedManifest(written)).toEqual(manifestSchema.parse(written))
    // Fields in another order come back in the schema's order, as the schema returns them.
    const reordered = {captures: written.captures.map((c: object) => Object.fromEntries(Object.entries(c).reverse())), ...written}
    expect(JSON.stringify(wellFormedManifest(reordered))).toBe(JSON.stringify(manifestSchema.parse(reordered)))
    // Whatever the plain checks do not vouch for is the schema's to judge: never accepted here when the schema refuses it.
    const variants: unknown[] = [
      {...written, extra: 1},
      {...written, capturedAt: '2026-11-28T10:00:00Z'},
      {...written, capturedAt: '2026-02-30T10:00:00.000Z'},
      {...written, capturedAt: '+012026-11-28T10:00:00.000Z'},
      {...written, formatVersion: 2},
      {...written, options: {active: 'no', libvirtUri: 'x'}},
      {...written, captures: [{...written.captures[0], argv: []}]},
      {...written, captures: [{...written.captures[0], bytes: 1.5}]},
      {...written, captures: [{...written.captures[0], exitCode: null}]},
      {...written, captures: [{...written.captures[0], errorCode: 'bogus'}]},
      {...written, captures: [{...written.captures[0], file: ''}]},
      {...written, captures: [{...written.captures[0], startMs: -1}]},
      {...written, captures: [{...written.captures[0], startMs: '40'}]},
    ]
    for (const v of variants) {
      const quick = wellFormedManifest(v)
      const schema = manifestSchema.safeParse(v)
      if (quick !== undefined) expect(schema.success && JSON.stringify(quick) === JSON.stringify(schema.data), JSON.stringify(v)).toBe(true)
    }
    expect(wellFormedManifest({...written, extra: 1})).toBeUndefined()
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({...written, extra: 1}))
    expect((await ReplayRunner.open(dir)).manifest).toEqual(manifestSchema.parse(written))
  })

  it('rejects entries that point outside the snapshot or at missing files', async () => {
    await expect(bad(JSON.stringify({...ok, captures: [{...entry, file: '../../etc/passwd'}]}))).rejects.toThrow(/outside the snapshot/)
    await expect(bad(JSON.stringify({...ok, captures: [{...entry, file: '/etc/passwd'}]}))).rejects.toThrow(/outside the snapshot/)
    for (const file of ['outputs/../..', 'outputs/./../../etc/passwd', '..', 'outputs//../../x']) {
      await expect(bad(JSON.stringify({...ok, captures: [{...entry, file}]})), file).rejects.toThrow(/outside the snapshot/)
    }
    // Any spelling of a file inside reads that file.
    for (const file of ['outputs/../outputs/x.txt', './outputs/x.txt', 'outputs//x.txt', 'outputs/./x.txt']) {
      const runner = await bad(JSON.stringify({...ok, captures: [{...entry, file}]}), {'outputs/x.txt': '1'})
      expect((await runner.readFile('/x')).output, file).toBe('1')
    }
    await expect(bad(JSON.stringify({...ok, captures: [entry]}))).rejects.toThrow(/missing/)
    await expect(bad(JSON.stringify({...ok, captures: [entry]}), {'outputs/x.txt': '1'})).resolves.toBeInstanceOf(ReplayRunner)
  })
})
