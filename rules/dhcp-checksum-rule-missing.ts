import {dhcpNetwork} from './applies.js'
import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'dhcp-checksum-rule-missing',
  severity: 'low',
  scope: 'network',
  appliesTo: (e) => dhcpNetwork(e) && e.firewallBackend === 'iptables',
  title: 'No CHECKSUM --checksum-fill for DHCP replies on {bridge}',
  requires: ['netfilter', 'libvirt'],
  needs: ['checksumFill'],
  conditions: {
    all: [
      {fact: 'entity', path: 'active', operator: 'equal', value: true},
      {fact: 'entity', path: 'firewallBackend', operator: 'equal', value: 'iptables'},
      {fact: 'entity', path: 'dhcpEnabled', operator: 'equal', value: true},
      {fact: 'entity', path: 'checksumFill', operator: 'equal', value: false},
    ],
  },
  summary: 'DHCP replies to guests on {bridge} leave with an offloaded (unfilled) UDP checksum; old DHCP clients that verify it (dhclient before 4.x, some PXE ROMs) drop them.',
  evidence: ['iptables -t mangle: no CHECKSUM --checksum-fill for -o {bridge} udp dport 68 (backend {firewallBackend})'],
  fix: ['iptables -t mangle -A POSTROUTING -o {bridge} -p udp --dport 68 -j CHECKSUM --checksum-fill'],
}
