import type {ElementView} from '../src/derive/index.js'
import {DATAPATH, netfilterElement, netfilterUndo, toolOfView} from './datapath.js'
import {defineRule, line, text} from './kit.js'

export default defineRule<ElementView>({
  id: 'host-input-blocks-dhcp-dns',
  kind: 'element',
  severity: 'critical',
  needs: DATAPATH,
  appliesTo: (e) => netfilterElement(e) && (e.hook === 'input' || e.hook === 'prerouting'),
  conditions: (c) =>
    c.all(
      c.eq('verdict', 'fail'),
      c.isIn('hook', ['input', 'prerouting']),
      c.isIn('elementKind', ['nf-rule', 'nf-policy']),
      c.any(c.contains('flowKinds', 'dhcp'), c.contains('flowKinds', 'dns')),
    ),
  title: (e) => text`The host's input path drops guests' DHCP/DNS: ${e.name}`,
  summary: (e) => text`dnsmasq may run and listen, but ${e.affectedGuests} guest(s) on ${e.bridges} never reach it: ${e.detail}. An accept in libvirt's own table does not save a packet another base chain on the hook drops.`,
  evidence: (e) => [line`decided by: ${e.name}`, ...e.flows],
  fix: (e) => {
    if (e.elementKind !== 'nf-policy') return netfilterUndo(e.element)
    if (e.backend === 'nft') {
      return e.bridges.flatMap((br) => [`nft insert rule ${e.nfFamily} ${e.nfTable} ${e.baseChain} iifname "${br}" udp dport { 53, 67 } accept`, `nft insert rule ${e.nfFamily} ${e.nfTable} ${e.baseChain} iifname "${br}" tcp dport 53 accept`])
    }
    const tool = toolOfView(e)
    return e.bridges.flatMap((br) => [`${tool} -I ${e.baseChain} -i ${br} -p udp -m multiport --dports 53,67 -j ACCEPT`, `${tool} -I ${e.baseChain} -i ${br} -p tcp --dport 53 -j ACCEPT`])
  },
  explains: [
    {rule: 'apipa-address', via: 'bridge'},
    {rule: 'dhcp-no-offer', via: 'bridge'},
  ],
})
