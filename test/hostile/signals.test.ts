/**
 * Item 5: signals. SIGINT/SIGTERM to kvmdoctor alone (not its process group, as a CI runner or
 * `kill` sends it) stops every command it started, even ones ignoring SIGTERM, and leaves no
 * partial bundle, no temporary file or directory and no lock behind.
 */
import {existsSync} from 'node:fs'
import {readFile, readdir} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {privateTempDir} from '../../src/core/lifecycle.js'
import {runCleanups} from '../../src/core/lifecycle.js'
import {writeFileAtomic} from '../../src/core/safe-write.js'
import {cli, entries, fakeBin, scratch} from './helpers.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function waitFor(check: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  for (const until = Date.now() + ms; Date.now() < until; await sleep(20)) if (await check()) return
  throw new Error(`timed out waiting for ${what}`)
}

/** Running, as opposed to gone or a zombie (this container's init may not reap orphans). */
const running = async (pid: number) => {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
  return stat !== '' && !/^\d+ \(.*\) Z/.test(stat)
}

describe('interrupting kvmdoctor', () => {
  it('SIGINT to kvmdoctor alone: children that ignore SIGTERM and SIGINT are stopped, exit 130', async () => {
    const dir = await scratch()
    const pids = join(dir, 'pids')
    // Every command records its pid and then ignores the polite signals for ten minutes.
    const bin = await fakeBin({}, `trap '' TERM INT HUP; echo $$ >> ${pids}; exec /bin/sleep 600`)
    const run = cli(['diagnose', '--timeout', '600', '--deadline', '900'], {bin})
    await waitFor(async () => (await readFile(pids, 'utf8').catch(() => '')).split('\n').filter(Boolean).length >= 6, 'six hung commands')
    run.kill('SIGINT')
    const r = await run
    expect(r.exitCode).toBe(130)
    expect(r.stderr).toMatch(/kvmdoctor: interrupted by SIGINT; child processes stopped/)
    const started = (await readFile(pids, 'utf8')).split('\n').filter(Boolean).map(Number)
    await sleep(300)
    for (const pid of started) expect(await running(pid), `pid ${pid}`).toBe(false)
  })

  it('Ctrl-C while a bundle is being written: no partial .tar.gz, no temporary directory, no lock', async () => {
    const out = await scratch()
    const tmp = await scratch('kd-tmp-')
    // Enough output (7 MiB from each of four commands) that writing the bundle takes a while.
    const big = (line: string) => `/usr/bin/yes '${line}' | /usr/bin/head -c 7000000`
    const bin = await fakeBin({
      ps: big('  1 /usr/bin/worker --flag'),
      journalctl: big('2026-11-28T10:00:00+0000 vm kernel: a log line'),
      'iptables-save': big('# a comment line of iptables-save'),
      'iptables-legacy-save': big('# a comment line of iptables-legacy-save'),
    })
    const run = cli(['bundle', '-o', join(out, 'ticket.tar.gz')], {bin, tmp})
    await waitFor(async () => (await readdir(tmp)).some((n) => n.startsWith('kvmdoctor-bundle-')), 'the bundle work directory')
    run.kill('SIGINT')
    const r = await run
    expect(r.exitCode).toBe(130)
    expect(await entries(tmp)).toEqual([])
    expect(await entries(out)).toEqual([])
    expect(existsSync(join(out, 'ticket.tar.gz'))).toBe(false)
  })

  it('cleanups registered by writes and temporary directories run on an interrupt', async () => {
    const dir = await scratch()
    const work = await privateTempDir('kd-cleanup-')
    let release: () => void = () => undefined
    async function* endless() {
      yield Buffer.from('part of a report')
      await new Promise<void>((r) => (release = r))
    }
    const writing = writeFileAtomic(join(dir, 'report.txt'), endless(), {what: 'the report'}).catch((e: Error) => e)
    await waitFor(async () => (await readdir(dir)).length > 0, 'the temporary file')
    expect((await readdir(dir))[0]).toMatch(/^\.report\.txt\.kvmdoctor-tmp-[0-9a-f]+$/)
    // What the SIGINT/SIGTERM handler does before exiting.
    runCleanups()
    expect(await entries(dir)).toEqual([])
    expect(existsSync(work.dir)).toBe(false)
    release()
    await writing
    expect(existsSync(join(dir, 'report.txt'))).toBe(false)
  })
})
