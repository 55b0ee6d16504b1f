/** An Open vSwitch rule on an OVS host (bridged-healthy's LAN guest on a real OVS state: ./ovs-host.ts). */
import {describe, expect, it} from 'vitest'
import flowDrop from '../../rules/ovs-flow-drop.js'
import {parseFlows} from '../../probes/ovs.js'
import {fire, fireAll} from '../helpers.js'
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
})
