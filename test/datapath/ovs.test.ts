/** The Open vSwitch hop on the recorded state (test/data/ovs): ports, interfaces, flows in priority order, table miss, VLANs. */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {type OvsBridge, parseFlows, parseOvsTables} from '../../probes/ovs.js'
import {type OvsPacket, ovsVerdict} from '../../src/datapath/ovs.js'
import {ROOT} from '../helpers.js'

const data = (f: string) => readFileSync(join(ROOT, 'test/data/ovs', f), 'utf8')
function bridges(): Record<string, OvsBridge> {
  const all = parseOvsTables({bridge: data('bridge.json'), port: data('port.json'), iface: data('interface.json'), controller: data('controller.json')})
  const std = all.find((b) => b.name === 'br-ovs2')!
  const sec = all.find((b) => b.name === 'br-sec')!
  std.flows = parseFlows(data('flows-br-ovs2.txt'))
  sec.flows = parseFlows(data('flows-br-sec.txt'))
  return {std, sec}
}
const egress: OvsPacket = {family: 4, l4proto: 'tcp', src: '10.1.1.5', dst: '9.9.9.9', sport: 40000, dport: 443}

describe('the OVS hop, offline from the recorded flows', () => {
  it('the highest-priority matching flow decides: a drop flow for vnet71 to 10/8, NORMAL for the rest', () => {
    const {std} = bridges()
    const drop = ovsVerdict(std, undefined, 'br-ovs2', 'vnet71', {...egress, dst: '10.1.1.1'})
    expect(drop).toMatchObject({verdict: 'fail', element: {kind: 'ovs-flow', ovsFlow: {bridge: 'br-ovs2', match: 'table=0,priority=200,ip,in_port=2,nw_dst=10.0.0.0/8', drops: true}}})
    // The same flow from the other port, and vnet71 elsewhere: the priority-0 NORMAL flow.
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet70', {...egress, dst: '10.1.1.1'}).verdict).toBe('pass')
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet71', egress)).toMatchObject({verdict: 'pass', detail: expect.stringContaining('priority=0')})
  })
  it('NORMAL: the port the frame must leave by must carry the entering port\'s VLAN', () => {
    const {std} = bridges()
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet70', egress, {port: 'eth-up'}).verdict).toBe('pass') // tag 10, trunks 10,30
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet71', egress, {port: 'eth-up'})).toMatchObject({verdict: 'fail', element: {kind: 'ovs-vlan', id: 'ovs-vlan:br-ovs2 vnet71'}}) // tag 20
  })
  it('VLAN modes: an explicit trunk ignores a tag; a native port puts untagged frames in its native VLAN and carries its list too', () => {
    const {std} = bridges()
    const up = std.ports.find((p) => p.name === 'eth-up')!
    const guest = std.ports.find((p) => p.name === 'vnet71')! // tag 20
    // VLAN 20 in the native port's list (its native VLAN is 30), then in neither.
    Object.assign(up, {vlanMode: 'native-untagged', tag: 30, trunks: [10, 20]})
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet71', egress, {port: 'eth-up'}).verdict).toBe('pass')
    Object.assign(up, {vlanMode: 'native-tagged', tag: 30, trunks: [10]})
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet71', egress, {port: 'eth-up'})).toMatchObject({verdict: 'fail', detail: expect.stringContaining('native-tagged port: native VLAN 30, trunk of VLANs 10')})
    // A trunk with a stray tag (ovs-vsctl allows it) trunks its list only.
    Object.assign(up, {vlanMode: 'trunk', tag: 10, trunks: [20]})
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet71', egress, {port: 'eth-up'}).verdict).toBe('pass')
    // The guest's own port as a native one: its untagged frames are in its native VLAN (30, which eth-up lacks now).
    Object.assign(guest, {vlanMode: 'native-untagged', tag: 30, trunks: [20]})
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet71', egress, {port: 'eth-up'}).verdict).toBe('fail')
  })
  it('a port missing from the bridge, and an interface in error, fail before any flow', () => {
    const {std} = bridges()
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet5', egress)).toMatchObject({verdict: 'fail', element: {kind: 'ovs-port', device: 'vnet5', master: 'br-ovs2'}})
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet99', egress)).toMatchObject({verdict: 'fail', element: {kind: 'ovs-interface', device: 'vnet99'}, detail: expect.stringContaining('No such device')})
  })
  it('secure fail mode, controller not connected, no flow for the guest: dropped by the table miss', () => {
    const {sec} = bridges()
    expect(ovsVerdict(sec, undefined, 'br-sec', 'vnet72', egress)).toMatchObject({verdict: 'fail', element: {kind: 'ovs-controller', id: 'ovs-controller:br-sec'}})
    // Connected, the controller decides: not a pass, not a fail.
    sec.controllers[0].connected = true
    expect(ovsVerdict(sec, undefined, 'br-sec', 'vnet72', egress).verdict).toBe('indeterminate')
    // Standalone with its controller gone: a learning switch.
    sec.controllers[0].connected = false
    sec.failMode = 'standalone'
    expect(ovsVerdict(sec, undefined, 'br-sec', 'vnet72', egress).verdict).toBe('pass')
  })
  it('a field or action not evaluated is indeterminate when it decides, never a pass', () => {
    const {std} = bridges()
    std.flows = parseFlows(' priority=300,ip,ct_state=+trk actions=drop\n priority=0 actions=NORMAL\n')
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet70', egress)).toMatchObject({verdict: 'indeterminate', element: {kind: 'ovs-flow', ovsFlow: {drops: false}}})
    std.flows = parseFlows(' priority=300,ip actions=ct(commit,table=1)\n')
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet70', egress).verdict).toBe('indeterminate')
    // An undecidable match whose both outcomes forward does not stop the frame.
    std.flows = parseFlows(' priority=300,ip,ct_state=+trk actions=NORMAL\n priority=0 actions=NORMAL\n')
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet70', egress).verdict).toBe('pass')
    // resubmit follows the table; a drop there leaves the flow's later actions to decide.
    std.flows = parseFlows(' priority=10 actions=resubmit(,1)\n table=1, priority=5,ip actions=drop\n')
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet70', egress)).toMatchObject({verdict: 'fail', detail: expect.stringContaining('table=1')})
    std.flows = parseFlows(' priority=10 actions=resubmit(,1),NORMAL\n table=1, priority=5,ip actions=drop\n')
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet70', egress).verdict).toBe('pass')
  })
  it("a unicast IPv4 frame needs its sender's ARP through the same port: a flow dropping ARP fails it (ARP only), never a pass", () => {
    const {std} = bridges()
    // The recorded flows forward ARP (priority 50, NORMAL).
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet70', egress, {port: 'eth-up'})).toMatchObject({verdict: 'pass'})
    std.flows = parseFlows(' priority=100,arp actions=drop\n priority=0 actions=NORMAL\n')
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet70', egress, {port: 'eth-up'})).toMatchObject({verdict: 'fail', arpOnly: true, detail: expect.stringContaining('ARP entering by vnet70'), element: {kind: 'ovs-flow', ovsFlow: {match: 'table=0,priority=100,arp', drops: true}}})
    // By EtherType, and scoped to another port: only that port's ARP.
    std.flows = parseFlows(' priority=100,in_port=2,dl_type=0x0806 actions=drop\n priority=0 actions=NORMAL\n')
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet71', egress)).toMatchObject({verdict: 'fail', arpOnly: true})
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet70', egress).verdict).toBe('pass')
    // An ARP flow on addresses kdlab does not know for the ARP (its target is the next hop): not decided.
    std.flows = parseFlows(' priority=100,arp,arp_tpa=10.1.1.1 actions=drop\n priority=0 actions=NORMAL\n')
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet70', egress).verdict).toBe('indeterminate')
    // Broadcasts (a DHCP discover) ask no ARP; nor does IPv6 (neighbour discovery is ICMPv6, matched as IP).
    std.flows = parseFlows(' priority=100,arp actions=drop\n priority=0 actions=NORMAL\n')
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet70', {family: 4, l4proto: 'udp', src: '0.0.0.0', dst: '255.255.255.255', sport: 68, dport: 67, broadcast: true}).verdict).toBe('pass')
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet70', {...egress, family: 6, src: 'fd00::5', dst: '2001:db8::1'}).verdict).toBe('pass')
    // ARP kept, IP dropped: the IP drop decides (a fail, not an ARP-only one).
    std.flows = parseFlows(' priority=100,ip actions=drop\n priority=50,arp actions=NORMAL\n')
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet70', egress)).toMatchObject({verdict: 'fail', element: {ovsFlow: {match: 'table=0,priority=100,ip'}}})
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet70', egress).arpOnly).toBeUndefined()
  })
  it('OVS not read, or its flows not dumped: indeterminate with the reason', () => {
    const {std} = bridges()
    expect(ovsVerdict(undefined, 'ovs: not recorded', 'br-ovs2', 'vnet70', egress)).toMatchObject({verdict: 'indeterminate', detail: expect.stringContaining('not recorded')})
    std.flows = null
    std.flowsUnread = 'ovs-ofctl: exit 1'
    expect(ovsVerdict(std, undefined, 'br-ovs2', 'vnet70', egress)).toMatchObject({verdict: 'indeterminate', detail: expect.stringContaining('exit 1')})
  })
})
