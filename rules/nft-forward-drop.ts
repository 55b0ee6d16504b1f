import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'nft-forward-drop',
  severity: 'critical',
  scope: 'network',
  title: 'Another nftables forward chain drops the traffic libvirt accepts for {name}',
  requires: ['nftables', 'libvirt'],
  conditions: {
    all: [
      {fact: 'entity', path: 'active', operator: 'equal', value: true},
      {fact: 'entity', path: 'nftDroppingChainCount', operator: 'greaterThan', value: 0},
    ],
  },
  summary: "Every nftables base chain on the forward hook must accept a packet: whatever libvirt's rules accept for {bridge}, {nftDroppingChains} drops it by policy. Guests reach the host, not beyond.",
  evidence: ['forward-hook chains dropping by policy without an accept for {bridge}: {nftDroppingChains}'],
  fix: [
    'nft insert rule FAMILY TABLE CHAIN iifname "{bridge}" accept; nft insert rule FAMILY TABLE CHAIN oifname "{bridge}" ct state related,established accept',
    'or set firewall_backend = "iptables" in /etc/libvirt/network.conf and restart libvirtd',
  ],
  explains: [{rule: 'apipa-address', via: 'network'}],
}
