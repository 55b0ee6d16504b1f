/** An Open vSwitch rule on an OVS host (bridged-healthy's LAN guest on a real OVS state: ./ovs-host.ts). */
import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import interfaceError from '../../rules/ovs-interface-error.js'
import {alter, factsOf, fire, fireAll} from '../helpers.js'
import {guestPort, ovsHost} from './ovs-host.js'

describe('ovs-interface-error', () => {
  it('fires for an interface in error (the recorded "could not open network device"), and the OVS hop fails there', async () => {
    const facts = await ovsHost((ovs) => Object.assign(guestPort(ovs).interfaces[0], {error: 'could not open network device vnet2 (No such device)', ofport: -1}))
    const {names, evaluation} = await fire(interfaceError, facts)
    expect(names).toEqual(['kdlab-lan02/vnet2'])
    expect(evaluation.findings[0].summary).toContain('could not open network device vnet2')
    const {ids} = await fireAll(facts)
    expect(ids).not.toContain('guest-flow-blocked')
  })
  it('stands for the tap gone missing on the lab\'s recording (tap deleted, ovs-vswitchd restarted): the datapath stops at the missing device, no guest-flow-blocked of its own', async () => {
    const facts = await factsOf('ovs-interface-error')
    const {names, evaluation} = await fire(interfaceError, facts)
    expect(names).toEqual([expect.stringMatching(/^kdlab-ovs06\/vnet\d+$/)])
    expect(evaluation.findings[0].summary).toMatch(/could not open network device vnet\d+ \(No such device\)/)
    const {ids} = await fireAll(facts)
    expect(ids).toContain('ovs-interface-error')
    expect(ids).not.toContain('guest-flow-blocked')
  })
  it('fires for link_state down with the tap set down, fixed by setting it up', async () => {
    const facts = await ovsHost((ovs) => Object.assign(guestPort(ovs).interfaces[0], {linkState: 'down', adminState: 'down'}))
    const {evaluation} = await fire(interfaceError, facts)
    expect(evaluation.findings[0].fix).toEqual(['ip link set vnet2 up'])
  })
  it('stays silent on the healthy OVS host and when libvirt holds the link down (the guest\'s own choice)', async () => {
    expect((await fire(interfaceError, await ovsHost())).names).toEqual([])
    const held = alter<LibvirtFacts>(await ovsHost((ovs) => (guestPort(ovs).interfaces[0].linkState = 'down')), 'libvirt', (l) => (l.domains.find((d) => d.name === 'kdlab-lan02')!.interfaces[0].linkState = 'down'))
    expect((await fire(interfaceError, held)).names).toEqual([])
  })
})
