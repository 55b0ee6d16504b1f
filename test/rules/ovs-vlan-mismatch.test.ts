/** An Open vSwitch rule on an OVS host (bridged-healthy's LAN guest on a real OVS state: ./ovs-host.ts). */
import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import vlanMismatch from '../../rules/ovs-vlan-mismatch.js'
import {alter, fire, fireAll} from '../helpers.js'
import {guestPort, ovsHost} from './ovs-host.js'

describe('ovs-vlan-mismatch', () => {
  it('fires when the uplink trunk lacks the port\'s VLAN, adding it to the trunk list', async () => {
    const facts = await ovsHost((ovs) => (guestPort(ovs).tag = 20))
    const {names, evaluation} = await fire(vlanMismatch, facts)
    expect(names).toEqual(['kdlab-lan02/vnet2'])
    expect(evaluation.findings[0].fix).toEqual(['ovs-vsctl add Port kdlab-lanp trunks 20'])
    // The egress flow's OVS hop fails on the VLAN, and the finding stands for it.
    const {ids} = await fireAll(facts)
    expect(ids).not.toContain('guest-flow-blocked')
  })
  it('fires when the tag differs from the VLAN libvirt names, setting it back', async () => {
    const facts = alter<LibvirtFacts>(await ovsHost(), 'libvirt', (l) => (l.domains.find((d) => d.name === 'kdlab-lan02')!.interfaces[0].vlanTags = [30]))
    const {evaluation} = await fire(vlanMismatch, facts)
    expect(evaluation.findings[0].fix).toEqual(['ovs-vsctl set Port vnet2 tag=30'])
  })
  it("a native-untagged uplink carries its native VLAN and its trunk list (ovs-vswitchd.conf.db(5)): silent for either, and a VLAN in neither joins the list", async () => {
    const nativeUplink = (guestTag: number) =>
      ovsHost((ovs) => {
        guestPort(ovs).tag = guestTag
        Object.assign(ovs.bridges.find((b) => b.name === 'kdlab-br0')!.ports.find((p) => p.name === 'kdlab-lanp')!, {vlanMode: 'native-untagged', tag: 30, trunks: [10, 20]})
      })
    for (const carried of [10, 20, 30]) {
      const {ids} = await fireAll(await nativeUplink(carried))
      expect(ids.filter((id) => id.startsWith('ovs-') || id.startsWith('guest-flow'))).toEqual([])
    }
    const {names, evaluation} = await fire(vlanMismatch, await nativeUplink(40))
    expect(names).toEqual(['kdlab-lan02/vnet2'])
    expect(evaluation.findings[0].fix).toEqual(['ovs-vsctl add Port kdlab-lanp trunks 40'])
    expect(evaluation.findings[0].summary).toContain('kdlab-lanp native-untagged port: native VLAN 30, trunk of VLANs 10,20')
  })
  it('stays silent when the trunk carries it, when the trunk carries all VLANs, and when the XML agrees', async () => {
    expect((await fire(vlanMismatch, await ovsHost())).names).toEqual([])
    const allVlans = await ovsHost((ovs) => {
      guestPort(ovs).tag = 20
      ovs.bridges.find((b) => b.name === 'kdlab-br0')!.ports.find((p) => p.name === 'kdlab-lanp')!.trunks = []
    })
    expect((await fire(vlanMismatch, allVlans)).names).toEqual([])
    const agrees = alter<LibvirtFacts>(await ovsHost(), 'libvirt', (l) => (l.domains.find((d) => d.name === 'kdlab-lan02')!.interfaces[0].vlanTags = [10]))
    expect((await fire(vlanMismatch, agrees)).names).toEqual([])
  })
})
