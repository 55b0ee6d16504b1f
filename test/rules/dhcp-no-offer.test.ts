import {describe, expect, it} from 'vitest'
import type {WireFacts} from '../../probes/wire.js'
import rule from '../../rules/dhcp-no-offer.js'
import {alter, factsOf, fire, fireAll} from '../helpers.js'

describe('dhcp-no-offer', () => {
  it("fires for guests whose DISCOVERs get no OFFER, under the dead server (lab: dnsmasq killed, --listen)", async () => {
    const facts = await factsOf('wire-dhcp-unanswered')
    const {names} = await fire(rule, facts)
    expect(names.map((n) => n.split('/')[0]).sort()).toEqual(['kdlab-noreply01', 'kdlab-web01'])
    const all = (await fireAll(facts)).evaluation.findings
    for (const f of all.filter((x) => x.id === rule.id)) expect(f.explainedBy?.split('@')[0]).toBe('dhcp-server-not-running')
  })
  it("a bridged guest (no libvirt network): under the stopped LAN server, its evidence and fix name no network it does not have (lab: dhcpd stopped, --listen)", async () => {
    const all = (await fireAll(await factsOf('dhcpd-stopped'))).evaluation.findings
    const lan = all.find((f) => f.id === rule.id && f.entity.name.startsWith('kdlab-lan03/'))!
    expect(lan.explainedBy?.split('@')[0]).toBe('dhcp-server-not-running')
    expect(lan.evidence).toContain('bridge kdlab-br0 (a bridged LAN: no libvirt network)')
    expect(lan.summary).toContain("the bridged LAN's DHCP server is down")
    expect(lan.summary).not.toMatch(/its network's/)
    expect([...lan.evidence, ...lan.fix].join('\n')).not.toMatch(/\bnone\b/)
    // No lease list to read on this host: the note's capture on the bridge is the way to look.
    expect(lan.fix).toEqual([])
    expect(lan.note).toEqual([expect.stringContaining('tcpdump -n -i kdlab-br0 port 67 or port 68')])
    const web = (await fire(rule, await factsOf('wire-dhcp-unanswered'))).evaluation.findings.find((f) => f.entity.name.startsWith('kdlab-web01/'))!
    expect(web.evidence).toContain('network: default, bridge virbr0')
    expect(web.fix).toEqual([])
    expect(web.check).toEqual(['virsh net-dhcp-leases default'])
    expect(web.summary).toContain("network default's DHCP server (libvirt's dnsmasq) is down")
  })
  it('stays silent where the server answers (lab: rogue DHCP server beside dnsmasq, --listen)', async () => {
    expect((await fire(rule, await factsOf('wire-rogue-dhcp'))).names).toEqual([])
  })
  it('ignores a single DISCOVER (its OFFER may come after the listening time)', async () => {
    const facts = alter<WireFacts>(await factsOf('wire-dhcp-unanswered'), 'wire', (w) => {
      for (const i of w.interfaces) i.dhcp.discovers = Math.min(i.dhcp.discovers, 1)
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })
})
