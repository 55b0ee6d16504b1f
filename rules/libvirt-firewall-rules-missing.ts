import {activeNetwork} from './applies.js'
import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'libvirt-firewall-rules-missing',
  severity: 'critical',
  scope: 'network',
  appliesTo: (e) => activeNetwork(e) && e.routed === true,
  title: "libvirt's firewall rules for {name} ({bridge}) are gone",
  requires: ['libvirt', 'netfilter'],
  needs: ['libvirtRulesPresent'],
  conditions: {
    all: [
      {fact: 'entity', path: 'active', operator: 'equal', value: true},
      {fact: 'entity', path: 'routed', operator: 'equal', value: true},
      {fact: 'entity', path: 'libvirtRulesPresent', operator: 'equal', value: false},
    ],
  },
  summary: 'Network {name} is active but no LIBVIRT_* iptables chain and no nft table libvirt_network mentions {bridge}: the NAT, forward accepts and DHCP/DNS input accepts libvirt installs are missing (firewall flushed or reloaded after libvirt started).',
  evidence: ['libvirt firewall backend seen: {firewallBackend}', 'no libvirt rule references {bridge}'],
  fix: ['systemctl restart libvirtd'],
  note: ['restarting libvirtd (or virtnetworkd on modular daemons) re-creates the rules', 'to keep them: start firewalld before libvirtd, and stop scripts that run iptables -F'],
  explains: [
    {rule: 'nat-masquerade-missing', via: 'network'},
    {rule: 'forward-policy-drop', via: 'network'},
    {rule: 'dhcp-checksum-rule-missing', via: 'network'},
    {rule: 'apipa-address', via: 'network'},
  ],
  claims: ['nat:{name}'],
}
