import {bundleReports} from '../../reports/bundle-files.js'
/**
 * Item 2: no write goes astray. Links and special files at a target are refused with exit 2
 * and left untouched; writes are atomic (a failed one leaves the old file and no temporary);
 * the redaction map is 0600 whatever was there; a --redact-map that is a link, not a regular
 * file or not 0600 is refused before probing; two runs never write one path at once.
 */
import {execFileSync} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {chmod, chown, mkdir, readFile, readdir, rm, stat, symlink, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {createBundle, openBundle} from '../../src/core/bundle.js'
import {UserError} from '../../src/core/errors.js'
import {checkTarget, withLock, writeFileAtomic} from '../../src/core/safe-write.js'
import {ReplayRunner, writeSnapshot} from '../../src/core/snapshot.js'
import {fixtureDir, replayOptions} from '../helpers.js'
import {cli, entries, fakeBin, scratch} from './helpers.js'

const mkfifo = (path: string) => execFileSync('mkfifo', [path])

async function victim(): Promise<{dir: string; file: string}> {
  const dir = await scratch()
  const file = join(dir, 'victim.txt')
  await writeFile(file, 'precious\n')
  return {dir, file}
}

const refusal = async (promise: Promise<unknown>) => {
  const error = await promise.then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(UserError)
  return (error as Error).message
}

describe('targets that are links or special files', () => {
  it('bundle -o LINK: exit 2 before probing, the link target untouched', async () => {
    const {dir, file} = await victim()
    await symlink(file, join(dir, 'ticket.tar.gz'))
    const r = await cli(['bundle', '-o', join(dir, 'ticket.tar.gz')], {bin: await fakeBin({}, '/bin/sleep 30')})
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/^kvmdoctor: cannot write the bundle to .*ticket\.tar\.gz: it is a symbolic link/)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(await readFile(file, 'utf8')).toBe('precious\n')
  })

  it('diagnose --output LINK: exit 2, the link target untouched', async () => {
    const {dir, file} = await victim()
    await symlink(file, join(dir, 'report.sarif'))
    const r = await cli(['diagnose', '--from', fixtureDir('healthy'), '--format', 'sarif', '--output', join(dir, 'report.sarif')])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/cannot write the report to .*report\.sarif: it is a symbolic link/)
    expect(await readFile(file, 'utf8')).toBe('precious\n')
  })

  it('--record DIR whose manifest.json is a link: exit 2, nothing written through it', async () => {
    const {dir, file} = await victim()
    await mkdir(join(dir, 'snap'))
    await symlink(file, join(dir, 'snap', 'manifest.json'))
    const r = await cli(['diagnose', '--record', join(dir, 'snap')], {bin: await fakeBin({}, '/bin/sleep 30')})
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/cannot write the snapshot to .*snap: it exists and is not a kvmdoctor snapshot/)
    expect(await readFile(file, 'utf8')).toBe('precious\n')
  })

  it('--record into an old snapshot whose outputs/ is a link: refused, the link target untouched', async () => {
    const {dir, file} = await victim()
    const outside = join(dir, 'outside')
    await mkdir(outside)
    await writeFile(join(outside, '0001-command-ip.txt'), 'precious\n')
    const snap = join(dir, 'snap')
    await mkdir(snap)
    await writeFile(join(snap, 'manifest.json'), JSON.stringify({format: 'kvmdoctor-snapshot', captures: [{file: 'outputs/0001-command-ip.txt'}]}))
    await symlink(outside, join(snap, 'outputs'))
    const source = await ReplayRunner.open(fixtureDir('healthy'))
    const captures = await Promise.all([source.run(['ip', '-j', '-d', 'addr', 'show']), source.readFile('/proc/sys/net/ipv4/ip_forward')])
    expect(await refusal(writeSnapshot(snap, captures, {kvmdoctorVersion: 'test', capturedAt: source.capturedAt}))).toMatch(/snap: it exists and is not a kvmdoctor snapshot \(its outputs is not a directory\): refusing to replace it/)
    expect(await readdir(outside)).toEqual(['0001-command-ip.txt'])
    expect(await readFile(join(outside, '0001-command-ip.txt'), 'utf8')).toBe('precious\n')
    expect(await readFile(file, 'utf8')).toBe('precious\n')
    expect(await entries(dir)).toEqual(['outside', 'snap', 'victim.txt'])
  })

  it('--record DIR that merely holds some manifest.json (a web extension): refused, every file kept', async () => {
    const dir = await scratch()
    const project = join(dir, 'extension')
    await mkdir(join(project, 'src'), {recursive: true})
    await writeFile(join(project, 'manifest.json'), JSON.stringify({manifest_version: 3, name: 'my extension', version: '1.0'}))
    await writeFile(join(project, 'src', 'background.js'), 'precious\n')
    const live = await cli(['diagnose', '--record', project, '--timeout', '5'], {bin: await fakeBin({})})
    expect(live.exitCode).toBe(2)
    expect(live.stderr).toMatch(/cannot write the snapshot to .*extension: it exists and is not a kvmdoctor snapshot \(its manifest\.json has no format "kvmdoctor-snapshot"\): refusing to replace it/)
    expect(await readFile(join(project, 'src', 'background.js'), 'utf8')).toBe('precious\n')
    expect(await entries(project)).toEqual(['manifest.json', 'src'])
    // A real snapshot with a file the user added beside it is the user's too.
    const snap = join(dir, 'snap')
    const source = await ReplayRunner.open(fixtureDir('healthy'))
    const captures = [await source.readFile('/proc/sys/net/ipv4/ip_forward')]
    await writeSnapshot(snap, captures, {kvmdoctorVersion: 'test', capturedAt: source.capturedAt})
    await writeFile(join(snap, 'notes.txt'), 'precious\n')
    expect(await refusal(writeSnapshot(snap, captures, {kvmdoctorVersion: 'test', capturedAt: source.capturedAt}))).toMatch(/it holds notes\.txt, which is no part of a snapshot/)
    await writeFile(join(snap, 'outputs', 'mine.txt'), 'precious\n')
    await rm(join(snap, 'notes.txt'))
    expect(await refusal(writeSnapshot(snap, captures, {kvmdoctorVersion: 'test', capturedAt: source.capturedAt}))).toMatch(/it holds outputs\/mine\.txt, which its manifest does not list/)
    // The snapshot as kvmdoctor wrote it is replaced.
    await rm(join(snap, 'outputs', 'mine.txt'))
    await writeSnapshot(snap, captures, {kvmdoctorVersion: 'test', capturedAt: source.capturedAt})
    expect((await ReplayRunner.open(snap)).manifest.captures).toHaveLength(1)
  })

  it('--record over an earlier snapshot replaces it and says so; into an empty directory, silently', async () => {
    const dir = await scratch()
    const snap = join(dir, 'snap')
    await mkdir(snap)
    const bin = await fakeBin({})
    const first = await cli(['diagnose', '--record', snap, '--timeout', '5'], {bin})
    expect(first.exitCode).not.toBe(2)
    expect(first.stderr).not.toMatch(/replaced/)
    const second = await cli(['diagnose', '--record', snap, '--timeout', '5'], {bin})
    expect(second.exitCode).not.toBe(2)
    expect(second.stderr).toMatch(/^kvmdoctor: warning: --record .*snap: replaced the snapshot that was there$/m)
    expect((await stat(snap)).mode & 0o777).toBe(0o700)
  })

  it('a FIFO, a device or a directory as the target is refused without opening it', async () => {
    const dir = await scratch()
    mkfifo(join(dir, 'fifo'))
    expect(await refusal(checkTarget(join(dir, 'fifo'), 'the report'))).toMatch(/fifo: it exists and is not a regular file/)
    expect(await refusal(checkTarget('/dev/null', 'the report'))).toMatch(/not a regular file/)
    expect(await refusal(checkTarget(dir, 'the report'))).toMatch(/not a regular file/)
    expect(await refusal(checkTarget(join(dir, 'no', 'such', 'dir', 'x'), 'the report'))).toMatch(/is not a directory/)
    expect(await refusal(checkTarget('', 'the report'))).toMatch(/path is empty/)
  })
  it('the CLI refuses a FIFO as --output with exit 2', async () => {
    const dir = await scratch()
    mkfifo(join(dir, 'fifo'))
    const r = await cli(['diagnose', '--from', fixtureDir('healthy'), '--output', join(dir, 'fifo')])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/cannot write the report to .*fifo: it exists and is not a regular file/)
  })
})

describe('--redact-map FILE', () => {
  /** The bundle command with fake commands that would hang: a refusal must come before any probing. */
  const bundleWithMap = (dir: string, map: string, extra: string[] = ['--redact']) => cli(['bundle', '-o', join(dir, 'b.tar.gz'), ...extra, '--redact-map', map], {bin: hangingBin})
  let hangingBin: string
  // Every command the fake bin runs is named here first: a refusal "before probing" leaves it absent.
  let ranLog: string
  beforeAll(async () => {
    ranLog = join(await scratch(), 'ran.log')
    hangingBin = await fakeBin({}, `echo "$0" >> '${ranLog}'; /bin/sleep 30`)
  })

  it('refuses a link, a FIFO, a directory and a map others can read, before probing; each left as it was', async () => {
    const {dir, file} = await victim()
    await symlink(file, join(dir, 'link.json'))
    mkfifo(join(dir, 'fifo.json'))
    await mkdir(join(dir, 'dir.json'))
    await writeFile(join(dir, 'open.json'), '{}', {mode: 0o644})
    await chmod(join(dir, 'open.json'), 0o644)
    await writeFile(join(dir, 'readonly.json'), '{}')
    await chmod(join(dir, 'readonly.json'), 0o400)
    const cases: [string, RegExp][] = [
      ['link.json', /^kvmdoctor: cannot write the redaction map to .*link\.json: it is a symbolic link/],
      ['fifo.json', /^kvmdoctor: cannot write the redaction map to .*fifo\.json: it exists and is not a regular file/],
      ['dir.json', /^kvmdoctor: cannot write the redaction map to .*dir\.json: it exists and is not a regular file/],
      ['open.json', /^kvmdoctor: cannot use the redaction map .*open\.json: its mode is 0644: others can read or change it, so the mapping may have leaked; check it, then chmod 600 /],
      ['readonly.json', /^kvmdoctor: cannot use the redaction map .*readonly\.json: its mode is 0400, not 0600/],
    ]
    for (const [name, message] of cases) {
      const r = await bundleWithMap(dir, join(dir, name))
      expect(r.exitCode, name).toBe(2)
      expect(r.stderr, name).toMatch(message)
      expect(r.stderr.trim().split('\n'), name).toHaveLength(1)
      expect(existsSync(ranLog), `${name}: no probe command ran`).toBe(false)
    }
    expect(await readFile(file, 'utf8')).toBe('precious\n')
    expect((await stat(join(dir, 'open.json'))).mode & 0o777).toBe(0o644)
    expect(await readFile(join(dir, 'open.json'), 'utf8')).toBe('{}')
    expect(await entries(dir)).toEqual(['dir.json', 'fifo.json', 'link.json', 'open.json', 'readonly.json', 'victim.txt'])
  })

  it('needs --redact', async () => {
    const dir = await scratch()
    const r = await bundleWithMap(dir, join(dir, 'm.json'), [])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/^kvmdoctor: --redact-map needs --redact\b/)
    expect(await entries(dir)).toEqual([])
  })

  it('is written back atomically, 0600, extended, with nothing left beside it', async () => {
    const dir = await scratch()
    const mapFile = join(dir, 'fleet.json')
    const source = await ReplayRunner.open(fixtureDir('healthy'))
    await createBundle({runner: source, options: replayOptions(source), version: 'test', output: join(dir, 'a.tar.gz'), redact: true, redactMap: mapFile, reports: bundleReports})
    const first = JSON.parse(await readFile(mapFile, 'utf8'))
    // A host with three more guests (and their taps) than the first.
    const other = await ReplayRunner.open(fixtureDir('dhcp-range-exhausted'))
    await createBundle({runner: other, options: replayOptions(other), version: 'test', output: join(dir, 'b.tar.gz'), redact: true, redactMap: mapFile, reports: bundleReports})
    const second = JSON.parse(await readFile(mapFile, 'utf8'))
    expect((await stat(mapFile)).mode & 0o777).toBe(0o600)
    expect(Object.keys(second.mac).length).toBeGreaterThan(Object.keys(first.mac).length)
    expect(second.mac).toMatchObject(first.mac)
    expect(await entries(dir)).toEqual(['a.tar.gz', 'b.tar.gz', 'fleet.json'])
  })

  // sudo kvmdoctor bundle --redact-map ~/fleet.json: the map stays its user's.
  it.skipIf(process.getuid?.() !== 0)('run as root, a map written back keeps its owner', async () => {
    const dir = await scratch()
    const mapFile = join(dir, 'fleet.json')
    const source = await ReplayRunner.open(fixtureDir('healthy'))
    await createBundle({runner: source, options: replayOptions(source), version: 'test', output: join(dir, 'a.tar.gz'), redact: true, redactMap: mapFile, reports: bundleReports})
    await chown(mapFile, 65534, 65534)
    const other = await ReplayRunner.open(fixtureDir('mac-duplicate'))
    await createBundle({runner: other, options: replayOptions(other), version: 'test', output: join(dir, 'b.tar.gz'), redact: true, redactMap: mapFile, reports: bundleReports})
    const s = await stat(mapFile)
    expect([s.uid, s.gid, s.mode & 0o777]).toEqual([65534, 65534, 0o600])
  })
})

describe('atomic writes and locks', () => {
  it('a write that fails half-way leaves the old file and no temporary file', async () => {
    const {dir, file} = await victim()
    async function* failing() {
      yield Buffer.from('half of a bundle')
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), {code: 'ENOSPC'})
    }
    expect(await refusal(writeFileAtomic(file, failing(), {what: 'the bundle'}))).toMatch(/cannot write the bundle to .*victim\.txt: ENOSPC: no space left on device/)
    expect(await readFile(file, 'utf8')).toBe('precious\n')
    expect(await entries(dir)).toEqual(['victim.txt'])
  })

  it('the redaction map is 0600 even where a 0644 one was', async () => {
    const dir = await scratch()
    const output = join(dir, 'b.tar.gz')
    await writeFile(`${output}.redaction-map.json`, '{}', {mode: 0o644})
    const source = await ReplayRunner.open(fixtureDir('healthy'))
    const made = await createBundle({runner: source, options: replayOptions(source), version: 'test', output, redact: true, reports: bundleReports})
    expect((await stat(made.mapPath!)).mode & 0o777).toBe(0o600)
    expect(JSON.parse(await readFile(made.mapPath!, 'utf8')).names).toBeTruthy()
  })

  it('bundles, reports and snapshots are private (0600, directories 0700), also where a 0644 file was; the Prometheus textfile stays readable', async () => {
    const dir = await scratch()
    const output = join(dir, 'b.tar.gz')
    await writeFile(output, 'old', {mode: 0o644})
    const source = await ReplayRunner.open(fixtureDir('healthy'))
    await createBundle({runner: source, options: replayOptions(source), version: 'test', output, redact: false, reports: bundleReports})
    expect((await stat(output)).mode & 0o777).toBe(0o600)
    for (const format of ['text', 'md', 'html', 'json', 'sarif', 'junit']) {
      const report = join(dir, `report.${format}`)
      await writeFile(report, 'old', {mode: 0o644})
      const r = await cli(['diagnose', '--from', fixtureDir('healthy'), '--format', format, '--output', report, '--allow-unchecked'])
      expect(r.exitCode, r.stderr).toBe(0)
      expect((await stat(report)).mode & 0o777, format).toBe(0o600)
    }
    // node_exporter's textfile collector reads it as another user: documented, and 0644.
    const prom = join(dir, 'kvmdoctor.prom')
    await cli(['diagnose', '--from', fixtureDir('healthy'), '--format', 'prometheus', '--output', prom])
    expect((await stat(prom)).mode & 0o777).toBe(0o644)
    const snap = join(dir, 'snap')
    await writeSnapshot(snap, [await source.readFile('/proc/sys/net/ipv4/ip_forward')], {kvmdoctorVersion: 'test', capturedAt: source.capturedAt})
    expect((await stat(snap)).mode & 0o777).toBe(0o700)
    expect((await stat(join(snap, 'outputs'))).mode & 0o777).toBe(0o700)
    expect((await stat(join(snap, 'manifest.json'))).mode & 0o777).toBe(0o600)
    for (const f of await readdir(join(snap, 'outputs'))) expect((await stat(join(snap, 'outputs', f))).mode & 0o777).toBe(0o600)
  })

  it('two bundles to one path: the second is refused, the first is a whole archive', async () => {
    const dir = await scratch()
    const output = join(dir, 'b.tar.gz')
    const open = async () => {
      const source = await ReplayRunner.open(fixtureDir('dnsmasq-killed'))
      return createBundle({runner: source, options: replayOptions(source), version: 'test', output, redact: false, reports: bundleReports})
    }
    const [a, b] = await Promise.allSettled([open(), open()])
    const outcomes = [a, b].map((r) => r.status)
    expect(outcomes.sort()).toEqual(['fulfilled', 'rejected'])
    const rejected = [a, b].find((r) => r.status === 'rejected') as PromiseRejectedResult
    expect(rejected.reason).toBeInstanceOf(UserError)
    expect(rejected.reason.message).toMatch(/another kvmdoctor \(pid \d+\) is writing it/)
    const {runner, cleanup} = await openBundle(output)
    expect(runner.manifest.captures.length).toBeGreaterThan(10)
    await cleanup()
    expect(existsSync(`${output}.lock`)).toBe(false)
  })

  it('a lock left by a process that is gone is taken over', async () => {
    const dir = await scratch()
    const target = join(dir, 'report.txt')
    await writeFile(`${target}.lock`, '999999999\n')
    expect(await withLock(target, 'the report', async () => 'written')).toBe('written')
    expect(existsSync(`${target}.lock`)).toBe(false)
  })

  it('a stale lock is told by pid and start time: one naming pid 1, or a pid now another process, blocks nothing', async () => {
    const dir = await scratch()
    const target = join(dir, 'report.txt')
    const started = (pid: number) => {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
    }
    // Planted (init is no kvmdoctor), or left by a kvmdoctor whose pid another process has since.
    for (const stale of ['1\n', `1 ${Number(started(1)) + 1}\n`, `${process.pid} ${Number(started(process.pid)) + 1}\n`]) {
      await writeFile(`${target}.lock`, stale)
      expect(await withLock(target, 'the report', async () => 'written'), stale).toBe('written')
    }
    // The CLI too: a lock naming pid 1 no longer stops --output.
    await writeFile(`${target}.lock`, '1\n')
    const r = await cli(['diagnose', '--from', fixtureDir('healthy'), '--output', target, '--allow-unchecked'])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(existsSync(`${target}.lock`)).toBe(false)
    // A live holder, as it wrote its lock, still holds it.
    await writeFile(`${target}.lock`, `${process.pid} ${started(process.pid)}\n`)
    expect(await refusal(withLock(target, 'the report', async () => 'written'))).toMatch(new RegExp(`another kvmdoctor \\(pid ${process.pid}\\) is writing it`))
    await rm(`${target}.lock`)
  })
})
