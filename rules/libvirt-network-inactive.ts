import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'libvirt-network-inactive',
  severity: 'critical',
  scope: 'network',
  appliesTo: (e) => e.autostart === true || Number(e.definedGuestCount) > 0,
  title: 'libvirt network {name} is not running',
  requires: ['libvirt'],
  conditions: {
    all: [
      {fact: 'entity', path: 'active', operator: 'equal', value: false},
      {
        any: [
          {fact: 'entity', path: 'autostart', operator: 'equal', value: true},
          {fact: 'entity', path: 'definedGuestCount', operator: 'greaterThan', value: 0},
        ],
      },
    ],
  },
  summary: 'Network {name} is inactive, so it has no bridge, no DHCP/DNS (dnsmasq) and no firewall rules; guests using it ({definedGuests}) get no address and cannot start.',
  evidence: ['virsh net-list --all: {name} inactive (autostart: {autostart})', 'guests referencing it: {definedGuests}'],
  fix: ['virsh net-start {name}', 'virsh net-autostart {name}'],
  explains: [
    {rule: 'dhcp-server-not-running', via: 'network'},
    {rule: 'nat-masquerade-missing', via: 'network'},
    {rule: 'link-down', via: 'network'},
    {rule: 'tap-not-attached', via: 'network'},
    {rule: 'apipa-address', via: 'network'},
    {rule: 'dhcp-no-offer', via: 'network'},
  ],
  claims: ['link:{bridge}', 'listener:{name}:dhcp', 'listener:{name}:dns'],
}
