/**
 * Item 4: bounded memory and time. Snapshots and bundles are read within per-output and total
 * budgets, each output once, regular files inside the snapshot only; FIFOs never block; lease
 * parsers are linear; hung guest agents and a whole run are bounded by timeouts and --deadline.
 */
import {execFileSync} from 'node:child_process'
import {link, rm, symlink, truncate, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import * as tar from 'tar'
import {describe, expect, it} from 'vitest'
import {parseDhcpdLeases, parseLibvirtStatus} from '../../probes/leases.js'
import {loadIgnoreFile} from '../../src/core/ignore.js'
import {UserError} from '../../src/core/errors.js'
import {ipInventory} from '../../src/core/ip-service.js'
import {LiveRunner} from '../../src/core/live-runner.js'
import type {Runner} from '../../src/lib/runner.js'
import {ReplayRunner} from '../../src/core/snapshot.js'
import {fixtureDir} from '../helpers.js'
import {cli, craftSnapshot, entries, fakeBin, scratch} from './helpers.js'

const MiB = 1024 * 1024
const mkfifo = (path: string) => execFileSync('mkfifo', [path])
const refusal = async (promise: Promise<unknown>) => {
  const error = await promise.then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(UserError)
  return (error as Error).message
}
const captures = (n: number, file: string) => Array.from({length: n}, (_, i) => ({kind: 'file' as const, path: `/proc/sys/kernel/x${i}`, file}))

describe('snapshot and bundle budgets', () => {
  it('a small bundle naming one 100 MB output 80 times: refused at once, nothing left in TMPDIR', async () => {
    const dir = await scratch()
    const top = join(dir, 'b')
    await craftSnapshot(top, captures(80, 'outputs/big.txt'))
    // Sparse: 100 MB of zeros that compress to almost nothing.
    await writeFile(join(top, 'outputs', 'big.txt'), '')
    await truncate(join(top, 'outputs', 'big.txt'), 100 * MiB)
    await tar.c({gzip: true, file: join(dir, 'bomb.tar.gz'), cwd: dir}, ['b'])
    const tmp = await scratch('kd-tmp-')
    const started = performance.now()
    const r = await cli(['diagnose', '--from', join(dir, 'bomb.tar.gz')], {tmp})
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/^kvmdoctor: .*bomb\.tar\.gz: too large to be a kvmdoctor bundle: entry b\/outputs\/big\.txt is 100 MiB, over the 64 MiB limit for one output$/)
    expect(performance.now() - started).toBeLessThan(30_000)
    expect(await entries(tmp)).toEqual([])
  })

  it('one output listed many times is read once; the totals are enforced', async () => {
    const dir = await craftSnapshot(await scratch(), captures(80, 'outputs/same.txt'), {'outputs/same.txt': 'x'.repeat(2 * MiB)})
    const runner = await ReplayRunner.open(dir, {snapshotBytes: 3 * MiB})
    expect((await runner.readFile('/proc/sys/kernel/x79')).output).toHaveLength(2 * MiB)
    const many = await craftSnapshot(await scratch(), [...captures(1, 'outputs/a.txt'), {kind: 'file', path: '/b', file: 'outputs/b.txt'}], {'outputs/a.txt': 'a'.repeat(2 * MiB), 'outputs/b.txt': 'b'.repeat(2 * MiB)})
    expect(await refusal(ReplayRunner.open(many, {snapshotBytes: 3 * MiB}))).toMatch(/its outputs exceed 3\.0 MiB in total/)
    expect(await refusal(ReplayRunner.open(many, {captureBytes: 1 * MiB}))).toMatch(/outputs\/a\.txt: is 2\.0 MiB, over the 1\.0 MiB limit/)
    expect(await refusal(ReplayRunner.open(many, {entries: 1}))).toMatch(/lists 2 captures, over the limit of 1/)
  })

  it('a directory snapshot with an oversized output: exit 2 naming it, before reading it', async () => {
    const dir = await craftSnapshot(await scratch(), captures(1, 'outputs/huge.txt'))
    await writeFile(join(dir, 'outputs', 'huge.txt'), '')
    await truncate(join(dir, 'outputs', 'huge.txt'), 65 * MiB)
    const r = await cli(['diagnose', '--from', dir])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/outputs\/huge\.txt: is 65 MiB, over the 64 MiB limit$/)
  })

  it('a capture linked to /etc/shadow: refused, its content never printed', async () => {
    const dir = await craftSnapshot(await scratch(), [{kind: 'file', path: '/proc/sys/kernel/hostname', file: 'outputs/host.txt'}])
    await symlink('/etc/shadow', join(dir, 'outputs', 'host.txt'))
    const r = await cli(['diagnose', '--from', dir])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/outputs\/host\.txt: is a symbolic link \(not followed inside a snapshot\)$/)
    expect(r.stdout + r.stderr).not.toMatch(/root:/)
  })

  it('a capture hard-linked to a file outside the snapshot: refused, its content never printed', async () => {
    const outside = join(await scratch(), 'secret.txt')
    await writeFile(outside, 'root:S3cHardZq:19000:0:99999:7:::\n')
    const dir = await craftSnapshot(await scratch(), [{kind: 'file', path: '/proc/sys/kernel/hostname', file: 'outputs/host.txt'}])
    await link(outside, join(dir, 'outputs', 'host.txt'))
    const r = await cli(['diagnose', '--from', dir])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/outputs\/host\.txt: is a hard link \(2 names; a snapshot's files have one\)$/)
    expect(r.stdout + r.stderr).not.toContain('S3cHardZq')
    // The manifest too.
    const manifest = await craftSnapshot(await scratch(), [])
    await rm(join(manifest, 'manifest.json'))
    await link(join(dir, 'manifest.json'), join(manifest, 'manifest.json'))
    expect(await refusal(ReplayRunner.open(manifest))).toMatch(/manifest\.json: is a hard link/)
  })

  it('links to /dev/zero, directories linked out of the snapshot, FIFOs and devices: refused without reading', async () => {
    const zero = await craftSnapshot(await scratch(), captures(1, 'outputs/z.txt'))
    await symlink('/dev/zero', join(zero, 'outputs', 'z.txt'))
    expect(await refusal(ReplayRunner.open(zero))).toMatch(/z\.txt: is a symbolic link/)
    const out = await scratch()
    await writeFile(join(out, 'passwd'), 'root:x:0:0\n')
    const linkedDir = await craftSnapshot(await scratch(), [{kind: 'file', path: '/etc/passwd', file: 'etc/passwd'}])
    await symlink(out, join(linkedDir, 'etc'))
    expect(await refusal(ReplayRunner.open(linkedDir))).toMatch(/etc\/passwd leads outside the snapshot through a symbolic link/)
    const fifo = await craftSnapshot(await scratch(), captures(1, 'outputs/f.txt'))
    mkfifo(join(fifo, 'outputs', 'f.txt'))
    expect(await refusal(ReplayRunner.open(fifo))).toMatch(/f\.txt: is a FIFO, not a regular file/)
    const fifoManifest = await scratch()
    mkfifo(join(fifoManifest, 'manifest.json'))
    expect(await refusal(ReplayRunner.open(fifoManifest))).toMatch(/manifest\.json: is a FIFO, not a regular file/)
    const fifoIgnore = join(await scratch(), 'ignore.yaml')
    mkfifo(fifoIgnore)
    expect(await refusal(loadIgnoreFile(fifoIgnore, new Set()))).toMatch(/ignore\.yaml: is a FIFO, not a regular file/)
    expect(await refusal(loadIgnoreFile('/dev/zero', new Set()))).toMatch(/dev\/zero: is a device, not a regular file/)
  })

  it('a FIFO as --from: exit 2 at once', async () => {
    const fifo = join(await scratch(), 'bundle.tar.gz')
    mkfifo(fifo)
    const r = await cli(['diagnose', '--from', fifo])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/bundle\.tar\.gz: not a snapshot directory or a bundle file \(it is a FIFO\)$/)
  })
})

describe('linear lease parsers', () => {
  const now = new Date('2026-11-28T10:00:00Z')
  const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
  const timed = <T>(fn: () => T): [T, number] => {
    const started = performance.now()
    const result = fn()
    return [result, performance.now() - started]
  }

  it('100k dhcpd.leases blocks, terminated or not, and 100k libvirt status entries', () => {
    const block = (i: number) => `lease ${ip(i)} {\n  starts 6 2026/11/28 09:00:00;\n  ends 6 2026/11/28 21:00:00;\n  binding state active;\n  hardware ethernet 52:54:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')};\n`
    const whole = Array.from({length: 100_000}, (_, i) => `${block(i)}}\n`).join('')
    const [leases, wholeMs] = timed(() => parseDhcpdLeases(whole, '/var/lib/dhcp/dhcpd.leases', now))
    expect(leases).toHaveLength(100_000)
    // Unterminated blocks (a file cut mid-write, or crafted): the regex-per-block parser took 72 s on 40k.
    const open = Array.from({length: 100_000}, (_, i) => block(i)).join('')
    const [none, openMs] = timed(() => parseDhcpdLeases(open, '/var/lib/dhcp/dhcpd.leases', now))
    expect(none).toEqual([])
    const status = JSON.stringify(Array.from({length: 100_000}, (_, i) => ({'ip-address': ip(i), 'mac-address': '52:54:00:00:00:01', 'expiry-time': 1795866235})))
    const [rows, statusMs] = timed(() => parseLibvirtStatus(status, '/var/lib/libvirt/dnsmasq/virbr0.status', now))
    expect(rows).toHaveLength(100_000)
    // Linear: well under a second each here; generous bounds for a loaded machine.
    expect(wholeMs).toBeLessThan(10_000)
    expect(openMs).toBeLessThan(10_000)
    expect(statusMs).toBeLessThan(10_000)
  })
})

describe('time bounds', () => {
  it('kvmdoctor ip with 60 hung guest agents: each asked with a short timeout, the whole bounded by the deadline', async () => {
    const hung = join(await fakeBin({virsh: '/bin/sleep 60'}), 'virsh')
    const inner = await ReplayRunner.open(fixtureDir('healthy'))
    const live = new LiveRunner({timeoutMs: 5000, deadlineMs: 6000})
    const names = Array.from({length: 60}, (_, i) => `agent${String(i).padStart(2, '0')}`)
    const xml = (await inner.readFile('/run/libvirt/qemu/kdlab-web01.xml')).output
    const withAgent = (name: string) => {
      const at = xml.lastIndexOf('</devices>')
      return `${xml.slice(0, at)}<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>${xml.slice(at)}`.replaceAll('kdlab-web01', name)
    }
    // The healthy lab host with 60 running guests whose agents never answer.
    const runner: Runner = {
      capturedAt: inner.capturedAt,
      run: async (argv, options) => {
        if (argv.includes('domifaddr')) return {...(await live.run([hung, ...argv.slice(1)], options)), argv}
        if (argv.at(-1) === '--all' && argv.includes('list')) {
          return {...(await inner.run(argv)), output: ` Id   Name      State\n------------------------\n${names.map((n, i) => ` ${i + 1}   ${n}   running\n`).join('')}\n`}
        }
        return inner.run(argv)
      },
      readFile: async (path) => {
        const name = /^\/run\/libvirt\/qemu\/(agent\d+)\.xml$/.exec(path)?.[1]
        return name ? {kind: 'file', path, output: withAgent(name), durationMs: 0, truncated: false} : inner.readFile(path)
      },
      listDir: (path) => inner.listDir(path),
    }
    const started = performance.now()
    const inventory = await ipInventory(runner, {active: false, libvirtUri: 'qemu:///system'})
    const took = performance.now() - started
    expect(inventory.rows).toHaveLength(60)
    // 60 agents, 6 at a time, 2 s each would be 20 s; the 6 s deadline stops the rest (the old way: 51 s).
    expect(took).toBeLessThan(12_000)
    expect(inventory.probes.find((p) => p.id === 'guest-agent')?.ok).toBe(true)
  })

  it('--deadline: every command hanging, a 600 s timeout, done at the deadline with exit 4', async () => {
    const bin = await fakeBin({}, '/bin/sleep 600')
    const started = performance.now()
    const r = await cli(['diagnose', '--timeout', '600', '--deadline', '3'], {bin})
    expect(performance.now() - started).toBeLessThan(30_000)
    expect(r.exitCode).toBe(4)
    expect(r.stdout).toMatch(/stopped at the run's deadline after \d+ ms|not run, the run's deadline had passed/)
  })
})
