/** An Open vSwitch rule on an OVS host (bridged-healthy's LAN guest on a real OVS state: ./ovs-host.ts). */
import {describe, expect, it} from 'vitest'
import flowDrop from '../../rules/ovs-flow-drop.js'
import {parseFlows} from '../../probes/ovs.js'
import {factsOf, fire, fireAll, model} from '../helpers.js'
import {ALL_RULES} from '../../rules/index.js'
import {ownershipOf} from '../../rules/kit.js'
import {ovsHost} from './ovs-host.js'

describe('ovs-flow-drop', () => {
  const withFlows = (text: string) => ovsHost((ovs) => (ovs.bridges.find((b) => b.name === 'kdlab-br0')!.flows = parseFlows(text)))
  it('fires on the drop flow that matches the guest\'s port, removed by a strict del-flows', async () => {
    const facts = await withFlows(' cookie=0x0, duration=1.0s, table=0, n_packets=3, n_bytes=180, priority=300,ip,in_port=1 actions=drop\n cookie=0x0, duration=5.0s, table=0, n_packets=0, n_bytes=0, priority=0 actions=NORMAL\n')
    const {names, evaluation} = await fire(flowDrop, facts)
    expect(names).toHaveLength(1)
    expect(evaluation.findings[0].fix).toEqual(['ovs-ofctl --strict del-flows kdlab-br0 table=0,priority=300,ip,in_port=1'])
    const {ids} = await fireAll(facts)
    expect(ids.filter((id) => id === 'guest-flow-blocked' || id === 'ovs-flow-drop')).toEqual(['ovs-flow-drop'])
  })
  it("a flow dropping only ARP: the guest's traffic passes while the ARP caches last, said as intermittent, never OK and never a deletion of an unscoped flow", async () => {
    const {ids, evaluation} = await fireAll(await withFlows(' priority=100,arp actions=drop\n priority=0 actions=NORMAL\n'))
    expect(ids).not.toContain('ovs-flow-drop')
    const finding = evaluation.findings.find((f) => f.id === 'guest-flow-indeterminate')
    expect(finding).toMatchObject({severity: 'high', title: expect.stringContaining('priority=100,arp actions=drop')})
    expect(finding?.fix ?? []).toEqual([])
  })
  it('stays silent on the recorded flows (their drop is for another port) and leaves an unevaluated flow to guest-flow-indeterminate', async () => {
    expect((await fire(flowDrop, await ovsHost())).names).toEqual([])
    const {ids} = await fireAll(await withFlows(' priority=300,ip,ct_state=+trk actions=drop\n priority=0 actions=NORMAL\n'))
    expect(ids).not.toContain('ovs-flow-drop')
    expect(ids).toContain('guest-flow-indeterminate')
  })
  it("a drop flow scoped to the uplink's port (in_port of the LAN, what reaches every port of the bridge) is named, never deleted: its undo is empty too; one scoped to the guest's own port keeps its del-flows", async () => {
    // The lab's ovs-flow-drop recording with its drop flow moved to the uplink: tcp from 203.0.113.0/24 entering by kdlab-lanp (ofport 1).
    const facts = await factsOf('ovs-uplink-flow-drop')
    const {names, evaluation} = await fire(flowDrop, facts)
    expect(names).toEqual(['ovs-ofctl dump-flows kdlab-ovs0: table=0, priority=200,tcp,in_port=1,nw_src=203.0.113.0/24 actions=drop'])
    const [finding] = evaluation.findings
    expect(finding.fix).toEqual([])
    expect((finding.note ?? []).join('\n')).toContain('every port of kdlab-ovs0')
    const element = model(facts).entities.element.find((e) => e.elementKind === 'ovs-flow')!.element
    expect(ownershipOf(ALL_RULES, element)[0].ownership.undo(element)).toEqual([])
    const guestScoped = (await fire(flowDrop, await factsOf('ovs-flow-drop'))).evaluation.findings[0]
    expect(guestScoped.fix).toEqual(['ovs-ofctl --strict del-flows kdlab-ovs0 table=0,priority=200,ip,in_port=2'])
  })
  it("VLAN matches read the frame's tag as it enters: the reply to the guest (access VLAN 10) enters by the trunk uplink tagged 10, the guest's own frames untagged", async () => {
    const NORMAL = ' priority=0 actions=NORMAL\n'
    const judged = async (flow: string) => {
      const {ids, evaluation} = await fireAll(await withFlows(` ${flow}\n${NORMAL}`))
      return {dropped: ids.includes('ovs-flow-drop'), undecided: ids.includes('guest-flow-indeterminate'), evaluation}
    }
    // Untagged frames dropped from the uplink (a trunk's hardening): the tagged reply passes.
    expect(await judged('priority=300,in_port=3,vlan_tci=0x0000 actions=drop')).toMatchObject({dropped: false, undecided: false})
    // Priority-tagged frames (VID 0) dropped: the guest sends untagged, the reply is tagged 10.
    expect(await judged('priority=300,dl_vlan=0 actions=drop')).toMatchObject({dropped: false, undecided: false})
    // VLAN 10 dropped as it enters by the uplink: the reply to the guest is.
    const vlan10 = await judged('priority=300,in_port=3,dl_vlan=10 actions=drop')
    expect(vlan10.dropped).toBe(true)
    expect(vlan10.evaluation.findings.find((f) => f.id === 'ovs-flow-drop')?.evidence.join('\n')).toContain('egress-reply')
    // The same by its tag control word (VID 10 with the CFI bit, priority bits masked out).
    expect((await judged('priority=300,in_port=3,vlan_tci=0x100a/0x1fff actions=drop')).dropped).toBe(true)
    // A mask that reads the priority bits of a tagged frame: not known, never a pass or a drop.
    expect(await judged('priority=300,in_port=3,vlan_tci=0x100a actions=drop')).toMatchObject({dropped: false, undecided: true})
  })
})
