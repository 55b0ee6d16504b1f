import {dhcpNetwork} from './applies.js'
import {widenRange} from './dhcp-range-exhausted.js'
import type {RuleDefinition} from './types.js'

/** Share of the range leased that warns before it runs out. */
const NEARLY_FULL = 0.9

export const rule: RuleDefinition = {
  id: 'dhcp-pool-nearly-full',
  severity: 'medium',
  scope: 'network',
  appliesTo: dhcpNetwork,
  title: 'DHCP range of network {name} is {dhcpUsagePercent}% used',
  requires: ['libvirt', 'leases'],
  derive: (e) => ({dhcpUsageRatio: Number(e.dhcpRangeSize) > 0 ? Number(e.leasesInRange) / Number(e.dhcpRangeSize) : 0}),
  conditions: {
    all: [
      {fact: 'entity', path: 'active', operator: 'equal', value: true},
      {fact: 'entity', path: 'leasesInRange', operator: 'lessThan', value: {fact: 'entity', path: 'dhcpRangeSize'}},
      {fact: 'entity', path: 'dhcpUsageRatio', operator: 'greaterThanInclusive', value: NEARLY_FULL},
    ],
  },
  summary: '{leasesInRange} of {dhcpRangeSize} addresses in {dhcpRanges} are leased: a few more guests and new ones get no address.',
  evidence: ['range {dhcpRanges}: {leasesInRange}/{dhcpRangeSize} leased', 'leases of MACs no domain has: {staleLeases}'],
  fix: ['virsh net-update {name} delete ip-dhcp-range "{dhcpRangeWidened.from}" --live --config', 'virsh net-update {name} add ip-dhcp-range "{dhcpRangeWidened.to}" --live --config'],
  fixLines: widenRange,
  note: ['widens {dhcpRanges} to twice its size before it runs out (libvirt cannot modify a range in place: it is deleted and added again)'],
  explains: [{rule: 'dhcp-lease-stale', via: 'network'}],
}
