import {describe, expect, it} from 'vitest'
import type {ArpScanFacts} from '../../probes/arpscan.js'
import type {LeaseFacts} from '../../probes/leases.js'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import type {Neighbour} from '../../probes/neighbours.js'
import rule from '../../rules/guest-unaddressed-network.js'
import {type Facts, alter, factsOf, fire} from '../helpers.js'

const MAC = '52:54:00:6b:64:01'
const noRange = (facts: Facts) => alter<LibvirtFacts>(facts, 'libvirt', (l) => (l.networks.find((n) => n.name === 'default')!.ips[0].dhcpRanges = []))
/** No lease, no neighbour entry, no arp-scan reply for the guest's MAC (the recording ran with --active). */
const unseen = (facts: Facts) =>
  alter<ArpScanFacts>(
    alter<Neighbour[]>(
      alter<LeaseFacts>(facts, 'leases', (l) => (l.leases = l.leases.filter((x) => x.mac !== MAC))),
      'neighbours',
      (n) => n.splice(0, n.length, ...n.filter((x) => x.mac !== MAC)),
    ),
    'arp-scan',
    (a) => (a.replies = a.replies.filter((r) => r.mac !== MAC)),
  )

describe('guest-unaddressed-network', () => {
  it('fires for a running guest no source sees an address for, on a network with no DHCP range', async () => {
    const {evaluation} = await fire(rule, unseen(noRange(await factsOf('healthy'))))
    expect(evaluation.findings.map((f) => f.entity.name)).toEqual([expect.stringMatching(/^kdlab-web01\//)])
    expect(evaluation.findings[0].evidence[0]).toContain('192.168.122.0/24')
  })
  it('stays silent when the network has a DHCP range (the guest would be served), or the guest is seen using an address', async () => {
    expect((await fire(rule, unseen(await factsOf('healthy')))).names).toEqual([])
    expect((await fire(rule, noRange(await factsOf('healthy')))).names).toEqual([])
  })
})
