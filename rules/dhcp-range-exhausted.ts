import type {NetworkView} from '../src/derive/index.js'
import {dhcpNetwork} from './applies.js'
import {leaseText, widenRange} from './dhcp-pool.js'
import {defineRule, line, probes, text} from './kit.js'

export default defineRule<NetworkView>({
  id: 'dhcp-range-exhausted',
  kind: 'network',
  severity: 'high',
  needs: [probes.libvirt, probes.leases],
  appliesTo: dhcpNetwork,
  conditions: (c) => c.all(c.gt('dhcpRangeSize', 0), c.gte('leasesInRange', c.field('dhcpRangeSize'))),
  title: (n) => text`DHCP range of network ${n.name} is exhausted (${n.leasesInRange} leases for ${n.dhcpRangeSize} addresses)`,
  summary: (n) => text`Every address of ${n.dhcpRanges} is leased (unexpired at capture time); the next guest gets no answer ("no address available" in the dnsmasq log) and falls back to 169.254.x.x.`,
  evidence: (n, h) => [
    line`range ${n.dhcpRanges}: ${n.dhcpRangeSize} addresses, ${n.leasesInRange} unexpired leases`,
    line`leases of MACs no domain has: ${n.staleLeases.map(leaseText)}`,
    line`log: ${h.logNoAddressAvailable}`,
  ],
  fix: widenRange,
  note: (n) => [
    line`widens ${n.dhcpRanges} to twice its size (libvirt cannot modify a range in place: the wider one is added, then the old one deleted)`,
    "or shorten the lease time (<lease expiry='...'/> in the range) and free the stale leases of deleted guests",
  ],
  explains: [
    {rule: 'apipa-address', via: 'network'},
    {rule: 'dhcp-lease-stale', via: 'network'},
    {rule: 'dhcp-no-offer', via: 'network'},
  ],
  // A full pool is why the datapath's DHCP request gets no offer.
  owns: [{kind: 'listener', where: (el) => el.pool === true, covers: (n, el) => el.network === n.name, undo: () => []}],
})
