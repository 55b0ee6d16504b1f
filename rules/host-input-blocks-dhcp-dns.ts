import {DATAPATH_REQUIRES, bridgesOf, iptablesTool, undoOf} from './datapath.js'
import {hostInput} from './applies.js'
import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'host-input-blocks-dhcp-dns',
  severity: 'critical',
  scope: 'element',
  appliesTo: hostInput,
  title: "The host's input path drops guests' DHCP/DNS: {name}",
  requires: DATAPATH_REQUIRES,
  conditions: {
    all: [
      {fact: 'entity', path: 'verdict', operator: 'equal', value: 'fail'},
      {fact: 'entity', path: 'hook', operator: 'in', value: ['input', 'prerouting']},
      {fact: 'entity', path: 'elementKind', operator: 'in', value: ['nf-rule', 'nf-policy']},
      {
        any: [
          {fact: 'entity', path: 'flowKinds', operator: 'contains', value: 'dhcp'},
          {fact: 'entity', path: 'flowKinds', operator: 'contains', value: 'dns'},
        ],
      },
    ],
  },
  summary: "dnsmasq may run and listen, but {affectedGuests} guest(s) on {bridges} never reach it: {detail}. An accept in libvirt's own table does not save a packet another base chain on the hook drops.",
  evidence: ['decided by: {name}', '{flows}'],
  fix: ['{undo}'],
  fixLines(e) {
    if (e.elementKind !== 'nf-policy') return undoOf(e)
    if (e.backend === 'nft') {
      return bridgesOf(e).flatMap((br) => [`nft insert rule ${e.nfFamily} ${e.nfTable} ${e.baseChain} iifname "${br}" udp dport { 53, 67 } accept`, `nft insert rule ${e.nfFamily} ${e.nfTable} ${e.baseChain} iifname "${br}" tcp dport 53 accept`])
    }
    const tool = iptablesTool(e)
    return bridgesOf(e).flatMap((br) => [`${tool} -I ${e.baseChain} -i ${br} -p udp -m multiport --dports 53,67 -j ACCEPT`, `${tool} -I ${e.baseChain} -i ${br} -p tcp --dport 53 -j ACCEPT`])
  },
  explains: [
    {rule: 'apipa-address', via: 'bridge'},
    {rule: 'dhcp-no-offer', via: 'bridge'},
  ],
}
