/**
 * Denial of service from small inputs: each case the red team found (trailing zeros inside a
 * bundle's gzip stream, 1 GiB of them in 1 MB; one iptables rule with 40k `-m comment`; 20k leases
 * sharing one address) runs in a spawned kvmdoctor under 5 s of CPU time (wall time on a loaded
 * machine says little) and a 256 MiB bound: V8's heap is capped there, and the peak resident
 * memory of the whole process is measured.
 */
import {cp, readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {gzipSync} from 'node:zlib'
import {execa} from 'execa'
import * as tar from 'tar'
import {describe, expect, it} from 'vitest'
import {NO_CONFIG_DIR, ROOT, fixtureDir} from '../helpers.js'
import {rewrittenRecording, scratch} from './helpers.js'

const MiB = 1024 * 1024
const BOUND = {cpuMs: 5000, memoryBytes: 256 * MiB}

/** kvmdoctor with its CPU time and peak memory, V8's heap capped at the memory bound. */
async function measured(args: string[]) {
  const usage = join(await scratch(), 'usage.json')
  const r = await execa(process.execPath, [`--max-old-space-size=${BOUND.memoryBytes / MiB}`, '--import', join(ROOT, 'test/hostile/measure.mjs'), join(ROOT, 'bin/run.js'), ...args], {
    reject: false,
    stdin: 'ignore',
    env: {NO_COLOR: '1', PATH: '/nonexistent', XDG_CONFIG_HOME: NO_CONFIG_DIR, KVMDOCTOR_TEST_USAGE: usage},
  })
  const {cpuMs, maxRssBytes} = JSON.parse(await readFile(usage, 'utf8')) as {cpuMs: number; maxRssBytes: number}
  return {...r, cpuMs, maxRssBytes}
}

const withinBounds = (r: {cpuMs: number; maxRssBytes: number; stderr: string}) => {
  expect(r.stderr).not.toMatch(/heap out of memory|internal error/i)
  expect(r.cpuMs, 'CPU time').toBeLessThan(BOUND.cpuMs)
  expect(r.maxRssBytes, 'peak memory').toBeLessThan(BOUND.memoryBytes)
}

/**
 * A recording (a snapshot, or a sosreport directory) as a tar with `zeros` zero bytes after its end,
 * all in one gzip stream: the first 16 MiB compressed with the archive, the rest as further gzip
 * members (one decompressed stream all the same), so the red team's 1 GiB fits in 1 MB.
 */
async function archiveWithTrailer(zeros: number, fixture = 'healthy', top = 'b'): Promise<string> {
  const dir = await scratch()
  await cp(fixtureDir(fixture), join(dir, top), {recursive: true})
  await tar.c({file: join(dir, 'b.tar'), cwd: dir, portable: true}, [top])
  const first = Math.min(zeros, 16 * MiB)
  const member = gzipSync(Buffer.alloc(16 * MiB), {level: 9})
  const members = Array.from({length: Math.ceil((zeros - first) / (16 * MiB))}, () => member)
  const file = join(dir, 'trailer.tar.gz')
  await writeFile(file, Buffer.concat([gzipSync(Buffer.concat([await readFile(join(dir, 'b.tar')), Buffer.alloc(first)]), {level: 9}), ...members]))
  return file
}

describe('small inputs, bounded costs', () => {
  it.each([
    ['16 MiB of zeros after the end of the archive (a 39 KB bundle)', 16 * MiB],
    ['1 GiB of zeros after the end of the archive (a 1 MB bundle)', 1024 * MiB],
  ])('%s: refused at once', async (_what, zeros) => {
    const bundle = await archiveWithTrailer(zeros)
    expect((await readFile(bundle)).length).toBeLessThan(2 * MiB)
    const r = await measured(['diagnose', '--from', bundle])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/trailer\.tar\.gz: refusing the bundle: more than 1\.0 MiB follow the end of its archive$/)
    withinBounds(r)
  })

  it('zero padding after the archive, as GNU tar writes it, is accepted', async () => {
    const r = await measured(['diagnose', '--from', await archiveWithTrailer(10 * 1024)])
    expect(r.exitCode).toBe(0)
    withinBounds(r)
  })

  it('a sosreport .tar.gz: 16 MiB of zeros after its end refused at once, padding accepted', async () => {
    const refused = await measured(['diagnose', '--from', await archiveWithTrailer(16 * MiB, 'sos-dnsmasq-killed', 'sosreport-vm-2026-11-28')])
    expect(refused.exitCode).toBe(2)
    expect(refused.stderr).toMatch(/trailer\.tar\.gz: refusing the sosreport: more than 1\.0 MiB follow the end of its archive$/)
    withinBounds(refused)
    const padded = await measured(['diagnose', '--from', await archiveWithTrailer(10 * 1024, 'sos-dnsmasq-killed', 'sosreport-vm-2026-11-28')])
    expect(padded.stderr).not.toMatch(/refusing/)
    expect(padded.exitCode).not.toBe(2)
    withinBounds(padded)
  })

  it('one iptables rule with 40k -m comment', async () => {
    const rule = `[0:0] -A FORWARD -s 10.9.9.9/32${' -m comment --comment "a comment that is not short"'.repeat(40_000)} -j DROP`
    const snap = await rewrittenRecording('healthy', 'command-iptables-save--c.txt', (t) => t.replace(/^(\*filter\n(?:[:#].*\n)*)/m, `$1${rule}\n`))
    const r = await measured(['diagnose', '--from', snap, '--format', 'json'])
    expect(r.exitCode).toBe(0)
    withinBounds(r)
  })

  it('20k leases sharing one address', async () => {
    const mac = (i: number) => `52:54:01:${[(i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}`
    // Far in the future: leases that expired before the recording's capture time are not held (no conflict).
    const leases = Array.from({length: 20_000}, (_, i) => ({'ip-address': '192.168.122.190', 'mac-address': mac(i), hostname: `h${i}`, 'expiry-time': 4102444800}))
    const snap = await rewrittenRecording('healthy', 'virbr0.status.txt', () => JSON.stringify(leases))
    const r = await measured(['diagnose', '--from', snap])
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(/ip-address-conflict/)
    withinBounds(r)
  })
})
