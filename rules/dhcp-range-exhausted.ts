import type {EntityView} from '../src/derive/index.js'
import {dhcpNetwork} from './applies.js'
import type {RuleDefinition} from './types.js'

/**
 * Widening a DHCP range: libvirt cannot modify a range in place ("dhcp ranges
 * cannot be modified, only added or deleted"), so the old one is deleted and
 * the wider one added. No command when the subnet leaves no room to grow.
 */
export function widenRange(e: EntityView): string[] {
  const w = e.dhcpRangeWidened as {from: string; to: string} | null
  if (!w) return []
  return [`virsh net-update ${e.name} delete ip-dhcp-range "${w.from}" --live --config`, `virsh net-update ${e.name} add ip-dhcp-range "${w.to}" --live --config`]
}

export const rule: RuleDefinition = {
  id: 'dhcp-range-exhausted',
  severity: 'high',
  scope: 'network',
  appliesTo: dhcpNetwork,
  title: 'DHCP range of network {name} is exhausted ({leasesInRange} leases for {dhcpRangeSize} addresses)',
  requires: ['libvirt', 'leases'],
  conditions: {
    all: [
      {fact: 'entity', path: 'active', operator: 'equal', value: true},
      {fact: 'entity', path: 'dhcpRangeSize', operator: 'greaterThan', value: 0},
      {fact: 'entity', path: 'leasesInRange', operator: 'greaterThanInclusive', value: {fact: 'entity', path: 'dhcpRangeSize'}},
    ],
  },
  summary: 'Every address of {dhcpRanges} is leased (unexpired at capture time); the next guest gets no answer ("no address available" in the dnsmasq log) and falls back to 169.254.x.x.',
  evidence: ['range {dhcpRanges}: {dhcpRangeSize} addresses, {leasesInRange} unexpired leases', 'leases of MACs no domain has: {staleLeases}', 'log: {host.logNoAddressAvailable}'],
  fix: ['virsh net-update {name} delete ip-dhcp-range "{dhcpRangeWidened.from}" --live --config', 'virsh net-update {name} add ip-dhcp-range "{dhcpRangeWidened.to}" --live --config'],
  fixLines: widenRange,
  note: [
    'widens {dhcpRanges} to twice its size (libvirt cannot modify a range in place: it is deleted and added again)',
    "or shorten the lease time (<lease expiry='...'/> in the range) and free the stale leases of deleted guests",
  ],
  explains: [
    {rule: 'apipa-address', via: 'network'},
    {rule: 'dhcp-lease-stale', via: 'network'},
    {rule: 'dhcp-no-offer', via: 'network'},
  ],
  claims: ['pool:{name}'],
}
