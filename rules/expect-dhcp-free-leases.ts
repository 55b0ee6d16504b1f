import type {ExpectedNetworkView} from '../src/derive/index.js'
import {widenRange} from './dhcp-pool.js'
import {defineRule, line, probes, text} from './kit.js'

export default defineRule<ExpectedNetworkView>({
  id: 'expect-dhcp-free-leases',
  kind: 'expected-network',
  severity: 'high',
  needs: [probes.libvirt, probes.leases],
  askedFor: (n) => n.minFreeLeases !== null && n.defined,
  conditions: (c) => c.all(c.lt('freeLeases', c.field('minFreeLeases'))),
  title: (n) => text`Network ${n.name} has ${n.freeLeases} free DHCP addresses, ${n.minFreeLeases} expected`,
  summary: (n) =>
    text`kvmdoctor.yaml requires at least ${n.minFreeLeases} free addresses in the DHCP range of ${n.name} (${n.network?.dhcpRanges ?? []}); ${n.network?.leasesInRange} of ${n.network?.dhcpRangeSize} are leased.`,
  evidence: (n) => [line`range ${n.network?.dhcpRanges ?? []}: ${n.network?.dhcpRangeSize} addresses, ${n.network?.leasesInRange} unexpired leases`],
  fix: (n) => (n.network ? widenRange(n.network) : []),
  note: (n) => [line`widens ${n.network?.dhcpRanges ?? []} to twice its size (libvirt cannot modify a range in place: the wider one is added, then the old one deleted)`],
})
