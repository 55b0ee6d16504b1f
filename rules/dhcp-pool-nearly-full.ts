import type {RuleDefinition} from './types.js'

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
  fix: ["virsh net-update {name} modify ip-dhcp-range \"<range start='START' end='END'/>\" --live --config   # widen the range before it runs out"],
  explains: [{rule: 'dhcp-lease-stale', via: 'network'}],
}
