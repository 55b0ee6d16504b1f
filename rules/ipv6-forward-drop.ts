import {DATAPATH_REQUIRES, bridgesOf, iptablesTool, undoOf} from './datapath.js'
import {forwardElement} from './applies.js'
import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'ipv6-forward-drop',
  severity: 'high',
  scope: 'element',
  appliesTo: forwardElement,
  title: "The host's IPv6 forward path drops guest traffic: {name}",
  requires: [...DATAPATH_REQUIRES, 'routes6'],
  conditions: {
    all: [
      {fact: 'entity', path: 'verdict', operator: 'equal', value: 'fail'},
      {fact: 'entity', path: 'hook', operator: 'equal', value: 'forward'},
      {fact: 'entity', path: 'elementKind', operator: 'in', value: ['nf-rule', 'nf-policy']},
      {fact: 'entity', path: 'ipv6Only', operator: 'equal', value: true},
    ],
  },
  summary: "IPv4 gets through, IPv6 does not: {affectedGuests} guest(s) on {bridges} have IPv6 ({networks}), and the host's IPv6 forward path drops it ({detail}). Docker with ip6tables enabled sets the ip6tables FORWARD policy to DROP (moby#48365).",
  evidence: ['decided by: {name}', '{flows}'],
  fix: ['{undo}'],
  fixLines(e) {
    if (e.elementKind !== 'nf-policy') return undoOf(e)
    if (e.backend === 'nft') return bridgesOf(e).flatMap((br) => [`nft insert rule ${e.nfFamily} ${e.nfTable} ${e.baseChain} iifname "${br}" accept`, `nft insert rule ${e.nfFamily} ${e.nfTable} ${e.baseChain} oifname "${br}" ct state related,established accept`])
    const tool = iptablesTool(e)
    return bridgesOf(e).flatMap((br) => [`${tool} -I ${e.baseChain} -i ${br} -j ACCEPT`, `${tool} -I ${e.baseChain} -o ${br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`])
  },
}
