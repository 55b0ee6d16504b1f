import type {RuleDefinition} from './types.js'
import {widenRange} from './dhcp-range-exhausted.js'

export const rule: RuleDefinition = {
  id: 'dhcp-pool-nearly-full',
  severity: 'medium',
  scope: 'network',
  title: 'DHCP range of network {name} is {dhcpUsagePercent}% used',
  requires: ['libvirt', 'leases'],
  conditions: {
    all: [
      {fact: 'entity', path: 'active', operator: 'equal', value: true},
      {fact: 'entity', path: 'dhcpNearlyFull', operator: 'equal', value: true},
    ],
  },
  summary: '{leasesInRange} of {dhcpRangeSize} addresses in {dhcpRanges} are leased: a few more guests and new ones get no address.',
  evidence: ['range {dhcpRanges}: {leasesInRange}/{dhcpRangeSize} leased', 'leases of MACs no domain has: {staleLeases}'],
  fix: ['virsh net-update {name} delete ip-dhcp-range "{dhcpRangeWidened.from}" --live --config', 'virsh net-update {name} add ip-dhcp-range "{dhcpRangeWidened.to}" --live --config'],
  fixLines: widenRange,
  note: ['widens {dhcpRanges} to twice its size before it runs out (libvirt cannot modify a range in place: it is deleted and added again)'],
  explains: [{rule: 'dhcp-lease-stale', via: 'network'}],
}
