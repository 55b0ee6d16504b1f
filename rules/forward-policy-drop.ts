import {DATAPATH_REQUIRES, bridgesOf, iptablesTool, undoOf} from './datapath.js'
import {iptablesForward} from './applies.js'
import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'forward-policy-drop',
  severity: 'critical',
  scope: 'element',
  appliesTo: iptablesForward,
  title: 'The iptables FORWARD path drops guest traffic: {name}',
  requires: DATAPATH_REQUIRES,
  // Whatever form it takes (a DROP policy, an explicit DROP or REJECT, a drop in a chain jumped to), on the forward hook of iptables.
  conditions: {
    all: [
      {fact: 'entity', path: 'verdict', operator: 'equal', value: 'fail'},
      {fact: 'entity', path: 'hook', operator: 'equal', value: 'forward'},
      {fact: 'entity', path: 'backend', operator: 'in', value: ['iptables-nft', 'iptables-legacy']},
      {fact: 'entity', path: 'nfFamily', operator: 'equal', value: 'ip'},
    ],
  },
  summary: '{affectedGuests} guest(s) on {bridges} cannot get traffic through the host: the iptables forward path drops it ({detail}). Docker sets the FORWARD policy to DROP when it enables forwarding; an explicit DROP or REJECT has the same effect.',
  evidence: ['decided by: {name}', '{flows}', 'bridge-nf-call-iptables = {host.bridgeNfCallIptables}', 'DOCKER-USER chain present: {host.dockerUserChain}'],
  fix: ['{undo}'],
  fixLines(e, host) {
    if (e.elementKind !== 'nf-policy') return undoOf(e)
    // An accept must come before Docker's jump; DOCKER-USER is the chain Docker leaves to the admin.
    const chain = host.dockerUserChain ? 'DOCKER-USER' : 'FORWARD'
    const tool = iptablesTool(e)
    return bridgesOf(e).flatMap((br) => [`${tool} -I ${chain} -i ${br} -j ACCEPT`, `${tool} -I ${chain} -o ${br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`])
  },
  explains: [
    {rule: 'apipa-address', via: 'bridge'},
    {rule: 'dhcp-no-offer', via: 'bridge'},
  ],
}
