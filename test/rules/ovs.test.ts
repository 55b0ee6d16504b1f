/** Section G's Open vSwitch rules on an OVS host (bridged-healthy's LAN guest on a real OVS state: ./ovs-host.ts). */
import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import flowDrop from '../../rules/ovs-flow-drop.js'
import interfaceError from '../../rules/ovs-interface-error.js'
import portMissing from '../../rules/ovs-port-missing.js'
import secureNoController from '../../rules/ovs-secure-no-controller.js'
import vlanMismatch from '../../rules/ovs-vlan-mismatch.js'
import {parseFlows} from '../../probes/ovs.js'
import {alter, factsOf, fire, fireAll, model, unavailable} from '../helpers.js'
import {guestPort, ovsHost} from './ovs-host.js'

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

describe('ovs-interface-error', () => {
  it('fires for an interface in error (the recorded "could not open network device"), and the OVS hop fails there', async () => {
    const facts = await ovsHost((ovs) => Object.assign(guestPort(ovs).interfaces[0], {error: 'could not open network device vnet2 (No such device)', ofport: -1}))
    const {names, evaluation} = await fire(interfaceError, facts)
    expect(names).toEqual(['kdlab-lan02/vnet2'])
    expect(evaluation.findings[0].summary).toContain('could not open network device vnet2')
    const {ids} = await fireAll(facts)
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
  it('stays silent on the recorded flows (their drop is for another port) and leaves an unevaluated flow to guest-flow-indeterminate', async () => {
    expect((await fire(flowDrop, await ovsHost())).names).toEqual([])
    const {ids} = await fireAll(await withFlows(' priority=300,ip,ct_state=+trk actions=drop\n priority=0 actions=NORMAL\n'))
    expect(ids).not.toContain('ovs-flow-drop')
    expect(ids).toContain('guest-flow-indeterminate')
  })
})

describe('ovs-secure-no-controller', () => {
  const secure = (flows: string) =>
    ovsHost((ovs) => {
      const br = ovs.bridges.find((b) => b.name === 'kdlab-br0')!
      const sec = ovs.bridges.find((b) => b.name === 'br-sec')!
      Object.assign(br, {failMode: 'secure', controllers: sec.controllers, flows: parseFlows(flows)})
    })
  it('fires for a secure bridge with guests, its controller not connected and only the drop flow left (br-sec\'s recorded state)', async () => {
    const facts = await secure(' cookie=0x0, duration=17.093s, table=0, n_packets=0, n_bytes=0, reset_counts priority=10,in_port=LOCAL actions=drop\n')
    const {names, evaluation} = await fire(secureNoController, facts)
    expect(names).toEqual(['kdlab-br0'])
    expect(evaluation.findings[0].evidence.join('\n')).toContain('tcp:192.0.2.10:6653: BACKOFF (Network is unreachable)')
    // The table miss in every guest flow is this finding's, not a general one.
    const {ids} = await fireAll(facts)
    expect(ids).not.toContain('guest-flow-blocked')
    expect(ids).not.toContain('ovs-flow-drop')
  })
  it('stays silent in standalone mode, with flows that forward, and for a secure bridge without guests', async () => {
    expect((await fire(secureNoController, await ovsHost())).names).toEqual([])
    expect((await fire(secureNoController, await secure(' priority=0 actions=NORMAL\n'))).names).toEqual([])
    // br-sec itself is secure and controller-less, but no running guest is on it.
    expect((await fire(secureNoController, await ovsHost())).evaluation.findings).toEqual([])
  })
})
