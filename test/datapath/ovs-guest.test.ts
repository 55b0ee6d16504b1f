/** A guest on an Open vSwitch bridge, end to end: bridged-healthy's LAN guest moved onto the recorded OVS state (test/rules/ovs-host.ts). */
import {describe, expect, it} from 'vitest'
import {fireAll, model} from '../helpers.js'
import {ovsHost} from '../rules/ovs-host.js'

const OVS_RULES = ['ovs-secure-no-controller', 'ovs-port-missing', 'ovs-vlan-mismatch', 'ovs-flow-drop', 'ovs-interface-error']
describe('an OVS guest on a healthy OVS bridge', () => {
  it('its flows cross the OVS hop (not the Linux bridge hooks) and pass; no rule fires, tap-not-attached included', async () => {
    const facts = await ovsHost()
    const flows = model(facts).datapath
    expect(flows.ok).toBe(true)
    const lan = flows.ok ? flows.datapath.flows.filter((f) => f.guest === 'kdlab-lan02') : []
    expect(lan.map((f) => f.kind)).toEqual(['dhcp', 'dhcp-reply', 'egress', 'egress-reply'])
    for (const f of lan) {
      expect(f.hops.map((h) => h.name)).toContain('ovs kdlab-br0')
      expect(f.hops.some((h) => h.name.startsWith('bridge '))).toBe(false)
      expect(f.hops.filter((h) => h.verdict === 'fail')).toEqual([])
    }
    const {ids} = await fireAll(facts)
    expect(ids.filter((id) => OVS_RULES.includes(id) || id === 'tap-not-attached' || id === 'guest-flow-blocked')).toEqual([])
  })
})
