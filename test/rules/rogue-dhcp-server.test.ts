import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import {rule} from '../../rules/rogue-dhcp-server.js'
import {alter, factsOf, fire} from '../helpers.js'

describe('rogue-dhcp-server', () => {
  it("fires when a second server answers guests on virbr0 (lab: udhcpd in a namespace, --listen)", async () => {
    const {names, evaluation} = await fire(rule, await factsOf('wire-rogue-dhcp'))
    expect(names.some((n) => n.startsWith('kdlab-web01/'))).toBe(true)
    const web = evaluation.findings.find((f) => f.entity.name.startsWith('kdlab-web01/'))!
    expect(web.title).toContain('172.31.99.1 (52:54:00:6b:64:66)')
    expect(web.fix).toEqual(['bridge fdb show | grep -i 52:54:00:6b:64:66'])
  })
  it("stays silent where only the network's own dnsmasq answers (lab: DHCP exchanges heard, --listen)", async () => {
    expect((await fire(rule, await factsOf('wire-silent'))).names).toEqual([])
  })
  it('does not judge servers on a network without DHCP ranges (any server there is someone\'s choice)', async () => {
    const facts = alter<LibvirtFacts>(await factsOf('wire-rogue-dhcp'), 'libvirt', (l) => {
      for (const n of l.networks) for (const ip of n.ips) ip.dhcpRanges = []
    })
    // One server per guest at most here: with two answering, a LAN's rogue would still show.
    const {names} = await fire(rule, facts)
    expect(names).toEqual([])
  })
})
