import {DATAPATH_REQUIRES, bridgesOf, undoOf} from './datapath.js'
import {nftForward} from './applies.js'
import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'nft-forward-drop',
  severity: 'critical',
  scope: 'element',
  appliesTo: nftForward,
  title: 'An nftables table drops the guest traffic libvirt accepts: {name}',
  requires: DATAPATH_REQUIRES,
  conditions: {
    all: [
      {fact: 'entity', path: 'verdict', operator: 'equal', value: 'fail'},
      {fact: 'entity', path: 'hook', operator: 'equal', value: 'forward'},
      {fact: 'entity', path: 'backend', operator: 'equal', value: 'nft'},
      {fact: 'entity', path: 'libvirtOwned', operator: 'equal', value: false},
      // A drop of IPv6 alone is ipv6-forward-drop's.
      {fact: 'entity', path: 'ipv6Only', operator: 'equal', value: false},
    ],
  },
  summary: 'Every nftables base chain on the forward hook must accept a packet: whatever libvirt accepts for {bridges}, {nfFamily} {nfTable} chain {chain} drops it ({detail}). {affectedGuests} guest(s) reach the host, not beyond.',
  evidence: ['decided by: {name}', '{flows}'],
  fix: ['{undo}'],
  fixLines(e) {
    if (e.elementKind !== 'nf-policy') return undoOf(e)
    return [
      ...bridgesOf(e).flatMap((br) => [`nft insert rule ${e.nfFamily} ${e.nfTable} ${e.baseChain} iifname "${br}" accept`, `nft insert rule ${e.nfFamily} ${e.nfTable} ${e.baseChain} oifname "${br}" ct state related,established accept`]),
    ]
  },
  explains: [
    {rule: 'apipa-address', via: 'bridge'},
    {rule: 'dhcp-no-offer', via: 'bridge'},
  ],
}
