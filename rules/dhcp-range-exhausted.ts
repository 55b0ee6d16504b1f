import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'dhcp-range-exhausted',
  severity: 'high',
  scope: 'network',
  title: 'DHCP range of network {name} is exhausted ({leasesInRange} leases for {dhcpRangeSize} addresses)',
  requires: ['libvirt', 'leases'],
  conditions: {
    all: [
      {fact: 'entity', path: 'active', operator: 'equal', value: true},
      {fact: 'entity', path: 'dhcpExhausted', operator: 'equal', value: true},
    ],
  },
  summary: 'Every address of {dhcpRanges} is leased (unexpired at capture time); the next guest gets no answer ("no address available" in the dnsmasq log) and falls back to 169.254.x.x.',
  evidence: ['range {dhcpRanges}: {dhcpRangeSize} addresses, {leasesInRange} unexpired leases', 'leases of MACs no domain has: {staleLeases}', 'log: {host.logNoAddressAvailable}'],
  fix: [
    "virsh net-update {name} modify ip-dhcp-range \"<range start='START' end='END'/>\" --live --config   # widen the range",
    'shorten <dhcp><range><lease expiry=.../> or remove stale leases of deleted guests',
  ],
  explains: [
    {rule: 'apipa-address', via: 'network'},
    {rule: 'dhcp-lease-stale', via: 'network'},
  ],
}
