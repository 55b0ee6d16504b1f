import {natNetwork} from './applies.js'
import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'nat-masquerade-missing',
  severity: 'critical',
  scope: 'network',
  appliesTo: natNetwork,
  title: 'No MASQUERADE/SNAT for the NAT network {name} ({subnet})',
  requires: ['libvirt', 'netfilter'],
  needs: ['masquerade', 'subnet'],
  conditions: {
    all: [
      {fact: 'entity', path: 'active', operator: 'equal', value: true},
      {fact: 'entity', path: 'forwardMode', operator: 'equal', value: 'nat'},
      {fact: 'entity', path: 'masquerade', operator: 'equal', value: false},
    ],
  },
  summary: 'Network {name} forwards with NAT, but neither iptables nor nftables source-NATs {subnet}: guests reach the host, but their packets leave with private source addresses and no reply comes back.',
  evidence: ['network {name}: forward mode nat, subnet {subnet}, bridge {bridge}', 'no MASQUERADE or SNAT rule reachable from nat POSTROUTING (iptables) or in any nft table covers {subnet}'],
  fix: ['systemctl restart libvirtd', 'virsh net-destroy {name} && virsh net-start {name}'],
  note: ['restarting libvirtd (or virtnetworkd) re-applies the network firewall rules; restart the network if that is not enough'],
  claims: ['nat:{name}'],
}
