import {describe, expect, it} from 'vitest'
import type {ArpScanFacts} from '../../probes/arpscan.js'
import type {LeaseFacts} from '../../probes/leases.js'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import type {Neighbour} from '../../probes/neighbours.js'
import rule from '../../rules/macvtap-rx-filter-untrusted.js'
import {type Facts, alter, factsOf, fire} from '../helpers.js'

const CONFIGURED = '52:54:00:6b:64:01'
const CHANGED = '02:00:5e:10:00:01'

/**
 * The lab's guests sit on a libvirt bridge, not macvtap (a macvtap guest cannot be reached from the
 * host that runs the lab). These tests keep the healthy recording and change the facts a macvtap
 * guest would show: its interface type direct, and its address answered by another MAC.
 */
async function macvtapGuest(options: {trust: boolean; macChanged: boolean}): Promise<Facts> {
  let facts = alter<LibvirtFacts>(await factsOf('healthy'), 'libvirt', (l) => {
    const iface = l.domains.find((d) => d.name === 'kdlab-web01')!.interfaces[0]
    Object.assign(iface, {type: 'direct', source: 'eth0', bridge: undefined, target: 'macvtap0', trustGuestRxFilters: options.trust})
  })
  if (options.macChanged) facts = alter<Neighbour[]>(facts, 'neighbours', (n) => n.filter((x) => x.mac === CONFIGURED).forEach((x) => (x.mac = CHANGED)))
  return facts
}

describe('macvtap-rx-filter-untrusted', () => {
  it("fires when the guest's leased address is answered by a MAC it was not given, on macvtap without trustGuestRxFilters", async () => {
    const {evaluation} = await fire(rule, await macvtapGuest({trust: false, macChanged: true}))
    expect(evaluation.findings.map((f) => f.entity.name)).toEqual(['kdlab-web01/macvtap0'])
    expect(evaluation.findings[0].evidence[0]).toBe(`192.168.122.190 answered by ${CHANGED} (neighbour table (virbr0)), not by the configured ${CONFIGURED}`)
  })
  it('stays silent with trustGuestRxFilters set, and when the guest keeps its MAC', async () => {
    expect((await fire(rule, await macvtapGuest({trust: true, macChanged: true}))).names).toEqual([])
    expect((await fire(rule, await macvtapGuest({trust: false, macChanged: false}))).names).toEqual([])
  })
  it('stays silent when only an expired lease ties the address to the guest: the address has moved on, the guest did not change its MAC', async () => {
    let facts = await macvtapGuest({trust: false, macChanged: true})
    facts = alter<LeaseFacts>(facts, 'leases', (l) => l.leases.filter((x) => x.mac === CONFIGURED).forEach((x) => (x.expired = true)))
    if (facts.results['arp-scan']?.ok) facts = alter<ArpScanFacts>(facts, 'arp-scan', (a) => void (a.replies = a.replies.filter((r) => r.mac !== CONFIGURED)))
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('stays silent on the healthy host (no macvtap interface)', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
})
