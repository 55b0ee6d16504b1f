import {dhcpNetwork} from './applies.js'
import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'dhcp-server-not-running',
  severity: 'critical',
  // libvirt networks (their dnsmasq) and an external ISC dhcpd (the seed article's dhcpd.conf)
  scope: ['network', 'dhcp-service'],
  appliesTo: dhcpNetwork,
  title: 'No DHCP server runs for {name}',
  requires: ['processes'],
  needs: ['dhcpServerRunning'],
  conditions: {
    all: [
      {fact: 'entity', path: 'active', operator: 'equal', value: true},
      {fact: 'entity', path: 'dhcpEnabled', operator: 'equal', value: true},
      {fact: 'entity', path: 'dhcpServerRunning', operator: 'equal', value: false},
    ],
  },
  summary: '{name} should serve DHCP ({dhcpRanges}), but {dhcpServerEvidence}: guests that boot or renew now get no address (and fall back to 169.254.x.x).',
  evidence: ['{name} active, DHCP {dhcpRanges}', '{dhcpServerEvidence}'],
  fix: ['{dhcpServerFix}'],
  note: ['{dhcpServerNote}'],
  explains: [
    {rule: 'apipa-address', via: 'network'},
    {rule: 'apipa-address', via: 'bridge'},
    {rule: 'dhcp-no-offer', via: 'network'},
    {rule: 'dhcp-no-offer', via: 'bridge'},
  ],
  claims: ['listener:{name}:dhcp', 'listener:{name}:dns'],
}
