/** Open vSwitch's own output (test/data/ovs/capture.sh): the OVSDB listings joined, flows, and the probe's degraded states. */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {type OvsFacts, ovsProbe, parseFlows, parseOvsTables, splitTopLevel} from '../../probes/ovs.js'
import type {Probe} from '../../probes/types.js'
import {runProbes} from '../../src/core/probe-runner.js'
import type {CommandCapture, Runner} from '../../src/lib/runner.js'
import {ROOT} from '../helpers.js'

const data = (f: string) => readFileSync(join(ROOT, 'test/data/ovs', f), 'utf8')
const tables = () => parseOvsTables({bridge: data('bridge.json'), port: data('port.json'), iface: data('interface.json'), controller: data('controller.json')})

/** A host whose commands answer from the captured files. */
function ovsHost(answer: (argv: string[]) => Partial<CommandCapture>): Runner {
  return {
    capturedAt: new Date('2026-12-05T11:23:00Z'),
    run: async (argv) => ({kind: 'command', argv, output: '', stderr: '', exitCode: 0, durationMs: 0, timedOut: false, truncated: false, ...answer(argv)}),
    readFile: async (path) => ({kind: 'file', path, output: '', durationMs: 0, truncated: false, error: 'absent', errorCode: 'not-found'}),
    listDir: async (path) => ({kind: 'dir', path, output: '', durationMs: 0, truncated: false, error: 'absent', errorCode: 'not-found'}),
  }
}
const recorded = (argv: string[]): Partial<CommandCapture> => {
  if (argv[0] === 'ovs-vsctl') return {output: data(`${{Bridge: 'bridge', Port: 'port', Interface: 'interface', Controller: 'controller'}[argv.at(-1)!]}.json`)}
  if (argv.includes('br-sec') && !argv.includes('OpenFlow13')) return {exitCode: 1, error: 'ovs-ofctl: exit 1', errorCode: 'exit-status', stderr: data('flows-br-sec-of10.stderr')}
  return {output: data(argv.includes('br-sec') ? 'flows-br-sec.txt' : 'flows-br-ovs2.txt')}
}
const options = {active: false, libvirtUri: 'qemu:///system'}

describe('ovs parsers on real output', () => {
  it('bridges with fail mode, controllers, ports (tag, trunks) and interfaces (ofport, error, external ids)', () => {
    const bridges = tables()
    const std = bridges.find((b) => b.name === 'br-ovs2')!
    const sec = bridges.find((b) => b.name === 'br-sec')!
    expect(std).toMatchObject({name: 'br-ovs2', failMode: null, datapathType: 'netdev', controllers: []})
    expect(std.ports.map((p) => `${p.name} tag=${p.tag} trunks=${p.trunks.join(':')}`)).toEqual(['br-ovs2 tag=null trunks=', 'eth-up tag=null trunks=10:30', 'vnet70 tag=10 trunks=', 'vnet71 tag=20 trunks=', 'vnet99 tag=null trunks='])
    const vnet70 = std.ports.find((p) => p.name === 'vnet70')!.interfaces[0]
    expect(vnet70).toMatchObject({ofport: 1, error: null, adminState: 'up', externalIds: {'iface-id': '5a1f0c2e-8d8e-4b3f-9a3c-0e8b1b2c3d4e', 'attached-mac': '52:54:00:aa:bb:01', 'vm-uuid': '0f4c7a3e-6b21-4f7e-a2a9-1d2c3b4a5f60'}})
    expect(std.ports.find((p) => p.name === 'vnet99')!.interfaces[0]).toMatchObject({ofport: -1, error: 'could not open network device vnet99 (No such device)', linkState: null})
    expect(std.ports.find((p) => p.name === 'br-ovs2')!.interfaces[0]).toMatchObject({type: 'internal', ofport: 65534})
    expect(sec).toMatchObject({name: 'br-sec', failMode: 'secure', controllers: [{target: 'tcp:192.0.2.10:6653', connected: false, state: 'BACKOFF', lastError: 'Network is unreachable'}]})
  })
  it('flows: table, priority, match fields in order, actions; OpenFlow 1.3 replies too', () => {
    const flows = parseFlows(data('flows-br-ovs2.txt'))
    expect(flows.map((f) => [f.priority, f.match.map((m) => (m.value ? `${m.field}=${m.value}` : m.field)).join(','), f.actions.join(',')])).toEqual([
      [200, 'ip,in_port=2,nw_dst=10.0.0.0/8', ''],
      [100, 'udp,tp_dst=53', 'NORMAL'],
      [50, 'arp', 'NORMAL'],
      [0, '', 'NORMAL'],
    ])
    expect(flows[0]).toMatchObject({table: 0, packets: 0})
    expect(parseFlows(data('flows-br-sec.txt'))).toEqual([expect.objectContaining({priority: 10, match: [{field: 'in_port', value: 'LOCAL'}], actions: []})])
  })
  it('actions split at top-level commas only', () => {
    expect(splitTopLevel('ct(commit,table=1),mod_vlan_vid:10,output:3')).toEqual(['ct(commit,table=1)', 'mod_vlan_vid:10', 'output:3'])
    expect(parseFlows(' cookie=0x0, table=1, priority=5,in_port=1 actions=resubmit(,2),NORMAL')[0]).toMatchObject({table: 1, actions: ['resubmit(,2)', 'NORMAL']})
  })
  it('garbage is a parse error', () => {
    expect(() => parseOvsTables({bridge: '{"rows":[]}', port: '{"data":[],"headings":[]}', iface: '{"data":[],"headings":[]}', controller: '{"data":[],"headings":[]}'})).toThrow(/no headings and data/)
    expect(() => parseFlows(' cookie=0x0, priority=1,ip')).toThrow(/without actions/)
  })
})

describe('the ovs probe', () => {
  it('reads every bridge and its flows, retrying with OpenFlow 1.3 where 1.0 is refused', async () => {
    const argvs: string[][] = []
    const r = await runProbes([ovsProbe], ovsHost((argv) => (argvs.push(argv), recorded(argv))), options)
    expect(r.ovs.ok).toBe(true)
    const facts = (r.ovs as {data: OvsFacts}).data
    expect(facts).toMatchObject({installed: true, running: true})
    expect(facts.bridges.find((b) => b.name === 'br-sec')!.flows).toHaveLength(1)
    expect(facts.bridges.find((b) => b.name === 'br-ovs2')!.flows).toHaveLength(4)
    expect(argvs).toContainEqual(['ovs-ofctl', '--timeout=5', '-O', 'OpenFlow13', 'dump-flows', 'br-sec'])
    expect(argvs.every((a) => a[0] !== 'ovs-vsctl' || a[a.length - 2] === 'list')).toBe(true)
  })
  it('no ovs-vsctl: not an OVS host (facts, not a failure)', async () => {
    const r = await runProbes([ovsProbe], ovsHost(() => ({exitCode: null, error: 'ovs-vsctl: command not found', errorCode: 'not-found'})), options)
    expect(r.ovs).toMatchObject({ok: true, data: {installed: false, running: false, bridges: []}})
  })
  it('installed, database not running: not running with the reason', async () => {
    const stderr = 'ovs-vsctl: unix:/var/run/openvswitch/db.sock: database connection failed (No such file or directory)\n'
    const argvs: string[][] = []
    const r = await runProbes([ovsProbe], ovsHost((argv) => (argvs.push(argv), {exitCode: 1, error: 'ovs-vsctl: exit 1', errorCode: 'exit-status', stderr})), options)
    expect(r.ovs).toMatchObject({ok: true, data: {installed: true, running: false, reason: expect.stringContaining('database connection failed')}})
    // The first listing says the database is down: the other three are not run.
    expect(argvs.map((a) => a.at(-1))).toEqual(['Bridge'])
  })
  it('any other failure is a failed probe; a bridge whose flows cannot be dumped keeps the reason', async () => {
    const r = await runProbes([ovsProbe], ovsHost(() => ({exitCode: 1, error: 'ovs-vsctl: exit 1', errorCode: 'exit-status', stderr: 'permission denied'})), options)
    expect(r.ovs.ok).toBe(false)
    const partial = await runProbes([ovsProbe], ovsHost((argv) => (argv[0] === 'ovs-ofctl' ? {exitCode: 1, error: 'ovs-ofctl: exit 1', errorCode: 'exit-status', stderr: 'failed to connect'} : recorded(argv))), options)
    const bridges = (partial.ovs as {data: OvsFacts}).data.bridges
    expect(bridges.every((b) => b.flows === null && b.flowsUnread === 'ovs-ofctl: exit 1')).toBe(true)
  })
})

describe('the ovs probe where no Open vSwitch can answer', () => {
  const down = {exitCode: 1, error: 'ovs-vsctl: exit 1', errorCode: 'exit-status' as const, stderr: 'ovs-vsctl: unix:/var/run/openvswitch/db.sock: database connection failed (No such file or directory)\n'}
  const fake = <T,>(id: string, data: T): Probe => ({id, title: id, reads: [], collect: async () => data})
  const host = (pidFile: boolean, argvs: string[][]): Runner => ({
    ...ovsHost((argv) => (argvs.push(argv), down)),
    readFile: async (path) => ({kind: 'file', path, output: pidFile ? '812\n' : '', durationMs: 0, truncated: false, ...(pidFile ? {} : {error: 'absent', errorCode: 'not-found' as const})}),
  })
  const ovsOn = async (state: {pidFile?: boolean; ovsdbServer?: boolean; ovsLink?: boolean}) => {
    const argvs: string[][] = []
    const processes = fake('processes', {processes: [{pid: 1, args: '/sbin/init'}, ...(state.ovsdbServer ? [{pid: 812, args: 'ovsdb-server /etc/openvswitch/conf.db -vconsole:emer'}] : [])], dnsmasq: [], dhcpdRunning: false, libvirtdRunning: true})
    const libvirt = fake('libvirt', {domains: [{name: 'web01', interfaces: [{type: 'network', source: 'default'}]}], networks: [{name: 'default'}]})
    const links = fake('links', [{name: 'virbr0', kind: 'bridge'}, ...(state.ovsLink ? [{name: 'ovs-system', kind: 'openvswitch'}] : [])])
    const r = await runProbes([ovsProbe], host(state.pidFile ?? false, argvs), options, [processes, libvirt, links])
    return {ovs: r.ovs, asked: argvs.filter((a) => a[0] === 'ovs-vsctl').length}
  }

  it('no ovsdb-server pid file or process, no OVS device or guest port: ovs-vsctl is not asked', async () => {
    const {ovs, asked} = await ovsOn({})
    expect(ovs).toMatchObject({ok: true, data: {running: false, bridges: [], reason: expect.stringContaining('ovs-vsctl not asked')}})
    expect(ovs.ok && ovs.degraded).toBeFalsy()
    expect(asked).toBe(0)
  })
  it('a pid file, an ovsdb-server process or an OVS device: ovs-vsctl is asked, as before', async () => {
    for (const state of [{pidFile: true}, {ovsdbServer: true}, {ovsLink: true}]) {
      const {ovs, asked} = await ovsOn(state)
      expect(ovs, JSON.stringify(state)).toMatchObject({ok: true, data: {installed: true, running: false, reason: expect.stringContaining('database connection failed')}})
      expect(asked).toBe(1)
    }
  })
})

describe('the ovs probe on a recording made before it existed', () => {
  it('no OVS device or guest port recorded: not an OVS host (the Linux-bridge lab recordings)', async () => {
    const {factsOf} = await import('../helpers.js')
    const facts = await factsOf('bridged-healthy')
    expect(facts.results.ovs).toMatchObject({ok: true, data: {installed: false, running: false, bridges: [], reason: expect.stringContaining('that predates the ovs probe')}})
  })
  it('libvirt unreadable: unknown whether OVS matters, so the probe is unavailable', async () => {
    const notRecorded = {exitCode: null, error: 'not recorded in this snapshot', errorCode: 'not-recorded' as const}
    const r = await runProbes([ovsProbe], ovsHost(() => notRecorded), options)
    expect(r.ovs).toMatchObject({ok: false, error: expect.stringContaining('predates this probe')})
  })
})
