/** An Open vSwitch rule on an OVS host (bridged-healthy's LAN guest on a real OVS state: ./ovs-host.ts). */
import {describe, expect, it} from 'vitest'
import portMissing from '../../rules/ovs-port-missing.js'
import {factsOf, fire, fireAll, unavailable} from '../helpers.js'
import {ovsHost} from './ovs-host.js'

describe('ovs-port-missing', () => {
  it('fires when the tap is not a port of its bridge, with the add-port that puts it back (ids included)', async () => {
    const facts = await ovsHost((ovs) => {
      const br = ovs.bridges.find((b) => b.name === 'kdlab-br0')!
      br.ports = br.ports.filter((p) => p.name !== 'vnet2')
    })
    const {names, evaluation} = await fire(portMissing, facts)
    expect(names).toEqual(['kdlab-lan02/vnet2'])
    expect(evaluation.findings[0].fix[0]).toBe("ovs-vsctl --if-exists del-port vnet2 -- add-port kdlab-br0 vnet2 -- set Interface vnet2 external-ids:iface-id=5a1f0c2e-8d8e-4b3f-9a3c-0e8b1b2c3d4e external-ids:attached-mac=52:54:00:6b:64:11")
    // The datapath's OVS hop stops there, and this finding stands for it: no general finding beside it.
    const {ids} = await fireAll(facts)
    expect(ids).toContain('ovs-port-missing')
    expect(ids).not.toContain('guest-flow-blocked')
  })
  it("on the lab's recording, re-plugs the port in the VLAN libvirt's <vlan> names: an untagged port leaves the guest cut off", async () => {
    // Found by the live fix proof: the port came back untagged (in no VLAN) and the guest's DHCP still went unanswered.
    const {names, evaluation} = await fire(portMissing, await factsOf('ovs-port-missing'))
    expect(names).toEqual(['kdlab-ovs03/vnet25'])
    expect(evaluation.findings[0].fix).toEqual([
      'ovs-vsctl --if-exists del-port vnet25 -- add-port kdlab-ovs0 vnet25 -- set Port vnet25 tag=10 -- set Interface vnet25 external-ids:iface-id=4e477b2c-d64f-48e5-9a79-c3139c3c8baf external-ids:attached-mac=52:54:00:6b:64:73',
    ])
  })
  it('fires when Open vSwitch is not running, with the start that brings it back', async () => {
    const facts = await ovsHost((ovs) => Object.assign(ovs, {running: false, reason: 'database connection failed (No such file or directory)', bridges: []}))
    const {names, evaluation} = await fire(portMissing, facts)
    expect(names).toEqual(['kdlab-lan02/vnet2'])
    expect(evaluation.findings[0].summary).toMatch(/not running \(database connection failed/)
    expect(evaluation.findings[0].fix[0]).toMatch(/^(systemctl start openvswitch-switch|\/usr\/share\/openvswitch\/scripts\/ovs-ctl start)$/)
  })
  it('stays silent on the healthy OVS host, on Linux-bridge recordings, and is not checked when OVS could not be read', async () => {
    expect((await fire(portMissing, await ovsHost())).names).toEqual([])
    expect((await fire(portMissing, await factsOf('bridged-healthy'))).names).toEqual([])
    const {names, evaluation} = await fire(portMissing, unavailable(await ovsHost(), 'ovs'))
    expect(names).toEqual([])
    expect(evaluation.notChecked.map((n) => n.ruleId)).toContain('ovs-port-missing')
  })
})
