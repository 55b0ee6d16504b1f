import type {ElementView} from '../src/derive/index.js'
import {DATAPATH, narrowAccept, netfilterElement, nwfilterElement} from './datapath.js'
import {defineRule, line, text} from './kit.js'

export default defineRule<ElementView>({
  id: 'iptables-forward-drop',
  // Its catalogue id: the rule once judged only a DROP policy of FORWARD.
  aliases: ['forward-policy-drop'],
  kind: 'element',
  severity: 'critical',
  needs: DATAPATH,
  appliesTo: (e) => netfilterElement(e) && !nwfilterElement(e) && e.hook === 'forward' && (e.backend === 'iptables-nft' || e.backend === 'iptables-legacy') && e.nfFamily === 'ip',
  // Whatever form it takes (a DROP policy, an explicit DROP or REJECT, a drop in a chain jumped to), on the forward hook of iptables.
  conditions: (c) => c.all(c.eq('verdict', 'fail')),
  title: (e) => text`The iptables FORWARD path drops guest traffic: ${e.name}`,
  summary: (e) =>
    text`${e.affectedGuests} guest(s) on ${e.bridges} cannot get traffic through the host: the iptables forward path drops it (${e.detail}). Docker sets the FORWARD policy to DROP when it enables forwarding; an explicit DROP or REJECT has the same effect.`,
  evidence: (e, h) => [line`decided by: ${e.name}`, ...e.flows, line`bridge-nf-call-iptables = ${h.bridgeNfCallIptables}`, ...e.ownBridgeNf.map((br) => line`${br}: its own nf_call_iptables = 1 passes its frames to iptables (this applies, not the sysctl)`), line`DOCKER-USER chain present: ${h.dockerUserChain}`],
  fix: (e, h) => narrowAccept(e, h, 'forward'),
  explains: [
    {rule: 'apipa-address', via: 'bridge'},
    {rule: 'dhcp-no-offer', via: 'bridge'},
  ],
})
