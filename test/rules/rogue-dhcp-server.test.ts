import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import type {WireFacts} from '../../probes/wire.js'
import rule from '../../rules/rogue-dhcp-server.js'
import {alter, factsOf, fire} from '../helpers.js'

describe('rogue-dhcp-server', () => {
  it("fires when a second server answers guests on virbr0 (lab: udhcpd in a namespace, --listen)", async () => {
    const {names, evaluation} = await fire(rule, await factsOf('wire-rogue-dhcp'))
    expect(names.some((n) => n.startsWith('kdlab-web01/'))).toBe(true)
    const web = evaluation.findings.find((f) => f.entity.name.startsWith('kdlab-web01/'))!
    expect(web.title).toContain('172.31.99.1 (52:54:00:6b:64:66)')
    expect(web.fix).toEqual([])
    expect(web.check).toEqual(['bridge fdb show | grep -i 52:54:00:6b:64:66'])
  })
  it("on a bridged LAN, whose own server this host cannot know, names every server that answered and hunts them all (lab: a second server beside the LAN's dhcpd, --listen)", async () => {
    const {names, evaluation} = await fire(rule, await factsOf('wire-bridged-rogue-dhcp'))
    expect(names).toEqual([expect.stringMatching(/^kdlab-lan04\//)])
    const lan = evaluation.findings[0]
    expect(lan.title).toMatch(/10\.77\.0\.1 \(.*10\.77\.0\.250 \(52:54:00:6b:64:66\)/)
    // Neither "none's own" (no libvirt network) nor a guess at which one is the stranger.
    expect(lan.summary).not.toMatch(/\bnone\b/)
    expect(lan.summary).toMatch(/^More than one DHCP server answered kdlab-lan04/)
    const dhcpdMac = /10\.77\.0\.1 \(([^)]+)\)/.exec(lan.title)![1]
    expect(lan.check).toEqual([`bridge fdb show | grep -i -e ${dhcpdMac} -e 52:54:00:6b:64:66`])
  })
  it("stays silent where only the network's own dnsmasq answers (lab: DHCP exchanges heard, --listen)", async () => {
    expect((await fire(rule, await factsOf('wire-silent'))).names).toEqual([])
  })
  it('does not judge a lone server on a network without DHCP ranges (any server there is someone\'s choice)', async () => {
    const facts = alter<LibvirtFacts>(await factsOf('wire-rogue-dhcp'), 'libvirt', (l) => {
      for (const n of l.networks) for (const ip of n.ips) Object.assign(ip, {dhcpRanges: [], dhcpHosts: []})
    })
    const lone = alter<WireFacts>(facts, 'wire', (w) => {
      for (const i of w.interfaces) i.dhcp.answers = i.dhcp.answers.filter((a) => a.server === '172.31.99.1')
    })
    expect((await fire(rule, lone)).names).toEqual([])
    // Two servers answering one guest stay a finding: one of them is not meant to be there.
    const {evaluation} = await fire(rule, facts)
    expect(evaluation.findings.map((f) => f.title)).toEqual([expect.stringMatching(/^Guest kdlab-web01 got DHCP answers from .*192\.168\.122\.1 .*172\.31\.99\.1|^Guest kdlab-web01 got DHCP answers from .*172\.31\.99\.1 .*192\.168\.122\.1/)])
  })
})
