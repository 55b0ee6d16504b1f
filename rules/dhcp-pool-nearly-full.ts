import type {NetworkView} from '../src/derive/index.js'
import {dhcpNetwork} from './applies.js'
import {leaseText, widenRange} from './dhcp-pool.js'
import {defineRule, line, probes, text} from './kit.js'

/** Share of the range leased that warns before it runs out. */
const NEARLY_FULL = 0.9

interface Usage {
  dhcpUsageRatio: number
}

export default defineRule<NetworkView, Usage>({
  id: 'dhcp-pool-nearly-full',
  kind: 'network',
  severity: 'medium',
  needs: [probes.libvirt, probes.leases],
  appliesTo: dhcpNetwork,
  derive: (n) => ({dhcpUsageRatio: n.dhcpRangeSize > 0 ? n.leasesInRange / n.dhcpRangeSize : 0}),
  conditions: (c) => c.all(c.lt('leasesInRange', c.field('dhcpRangeSize')), c.gte('dhcpUsageRatio', NEARLY_FULL)),
  title: (n) => text`DHCP range of network ${n.name} is ${n.dhcpRangeSize > 0 ? Math.round((n.leasesInRange / n.dhcpRangeSize) * 100) : null}% used`,
  summary: (n) => text`${n.leasesInRange} of ${n.dhcpRangeSize} addresses in ${n.dhcpRanges} are leased: a few more guests and new ones get no address.`,
  evidence: (n) => [line`range ${n.dhcpRanges}: ${n.leasesInRange}/${n.dhcpRangeSize} leased`, line`leases of MACs no domain has: ${n.staleLeases.map(leaseText)}`],
  fix: widenRange,
  note: (n) => [line`widens ${n.dhcpRanges} to twice its size before it runs out (libvirt cannot modify a range in place: the wider one is added, then the old one deleted)`],
  explains: [{rule: 'dhcp-lease-stale', via: 'network'}],
})
