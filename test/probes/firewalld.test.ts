import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {ROOT} from '../helpers.js'
import {firewalldProbe} from '../../probes/firewalld.js'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import type {ProcessFacts} from '../../probes/processes.js'
import type {CommandCapture, Runner} from '../../src/lib/runner.js'
import type {ProbeResult} from '../../probes/types.js'

const libvirt: ProbeResult<LibvirtFacts> = {id: 'libvirt', ok: true, durationMs: 0, data: {networks: [{name: 'default', active: true, autostart: true, persistent: true, forwardMode: 'nat', bridge: 'virbr0', ips: [], dnsEnabled: true}], domains: []}}

/** firewall-cmd as it answers on a host running firewalld: `--state` says running, the zone query as given. */
function runner(zone: Partial<CommandCapture>): Runner {
  const capture = (argv: string[], c: Partial<CommandCapture>): CommandCapture => ({kind: 'command', argv, output: '', stderr: '', durationMs: 1, truncated: false, exitCode: 0, timedOut: false, ...c})
  return {
    capturedAt: new Date(0),
    run: async (argv) => (argv[1] === '--state' ? capture(argv, {output: 'running\n'}) : capture(argv, zone)),
    readFile: async () => ({kind: 'file', path: '', output: '', durationMs: 0, truncated: false}),
    listDir: async () => ({kind: 'dir', path: '', output: '', durationMs: 0, truncated: false}),
  }
}
const FIREWALLD_PS = '812 /usr/bin/python3 -s /usr/sbin/firewalld --nofork --nopid'
const processesOf = (...args: string[]): ProbeResult<ProcessFacts> => ({id: 'processes', ok: true, durationMs: 0, data: {processes: args.map((a) => ({pid: Number(a.split(' ')[0]), args: a.slice(a.indexOf(' ') + 1)})), dnsmasq: [], dhcpdRunning: false, libvirtdRunning: true}})
const collect = (r: Runner, processes = processesOf('1 /sbin/init', FIREWALLD_PS)) =>
  firewalldProbe.collect({runner: r, options: {active: false, libvirtUri: 'qemu:///system'}, get: async <T>(id: string) => (id === 'processes' ? processes : libvirt) as unknown as ProbeResult<T>})

/** Real firewall-cmd outputs (test/data/firewalld, see capture.sh there): NAME.stdout.txt, .stderr.txt, .exit.txt. */
const real = (name: string): Partial<CommandCapture> => {
  const dir = join(ROOT, 'test/data/firewalld')
  const exitCode = Number(readFileSync(join(dir, `${name}.exit.txt`), 'utf8').trim())
  return {output: readFileSync(join(dir, `${name}.stdout.txt`), 'utf8'), stderr: readFileSync(join(dir, `${name}.stderr.txt`), 'utf8'), exitCode, ...(exitCode !== 0 ? {error: `firewall-cmd: exit ${exitCode}`, errorCode: 'exit-status' as const} : {})}
}
/** firewall-cmd answering every query with the given real captures. */
function realRunner(state: string, zone: string): Runner {
  const capture = (argv: string[], c: Partial<CommandCapture>): CommandCapture => ({kind: 'command', argv, output: '', stderr: '', durationMs: 1, truncated: false, exitCode: 0, timedOut: false, ...c})
  return {...runner({}), run: async (argv) => capture(argv, real(argv[1] === '--state' ? state : zone))}
}

describe('firewalld probe', () => {
  it('no firewalld process: not running, and firewall-cmd is not asked', async () => {
    const asked: string[][] = []
    const r = runner({output: 'libvirt\n'})
    expect(await collect({...r, run: (argv) => (asked.push(argv), r.run(argv))}, processesOf('1 /sbin/init', '640 /usr/sbin/libvirtd'))).toEqual({running: false, zones: {}})
    expect(asked).toEqual([])
  })
  it('the process listing unavailable: firewall-cmd is asked', async () => {
    expect(await collect(runner({output: 'libvirt\n'}), {id: 'processes', ok: false, error: 'ps: command not found', durationMs: 0})).toEqual({running: true, zones: {virbr0: 'libvirt'}})
  })
  it('firewalld installed on a host without a system bus (real firewall-cmd, Debian 12): not running, not a failure', async () => {
    expect(await collect(realRunner('state-no-system-bus', 'state-no-system-bus'))).toEqual({running: false, zones: {}})
  })
  it('a running firewalld (real firewall-cmd 1.3.3): the bridge in zone libvirt, or in no zone (exit 2)', async () => {
    expect(await collect(realRunner('state-running', 'zone-libvirt'))).toEqual({running: true, zones: {virbr0: 'libvirt'}})
    expect(await collect(realRunner('state-running', 'zone-none'))).toEqual({running: true, zones: {virbr0: null}})
  })
  it('reads the zone of each active libvirt bridge', async () => {
    expect(await collect(runner({output: 'libvirt\n'}))).toEqual({running: true, zones: {virbr0: 'libvirt'}})
  })
  it('"no zone" (exit 2) is a fact: the bridge is in no zone', async () => {
    expect(await collect(runner({output: 'no zone\n', exitCode: 2, error: 'firewall-cmd: exit 2', errorCode: 'exit-status'}))).toEqual({running: true, zones: {virbr0: null}})
  })
  it('a query that times out or is refused is no fact about the zone: the probe is unavailable', async () => {
    await expect(collect(runner({exitCode: null, timedOut: true, error: 'firewall-cmd: timed out after 5000 ms', errorCode: 'timeout'}))).rejects.toThrow(/timed out/)
    await expect(collect(runner({exitCode: 13, error: 'firewall-cmd: exit 13: Authorization failed', errorCode: 'exit-status'}))).rejects.toThrow(/Authorization failed/)
  })
})
