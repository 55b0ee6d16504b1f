import type {ElementView} from '../src/derive/index.js'
import {DATAPATH, narrowAccept, netfilterElement, nwfilterElement} from './datapath.js'
import {defineRule, line, probes, text} from './kit.js'

export default defineRule<ElementView>({
  id: 'ipv6-forward-drop',
  kind: 'element',
  severity: 'high',
  needs: [...DATAPATH, probes.routes6],
  // A netfilter rule or policy of the forward hook, any backend and family (IPv6 ones included).
  appliesTo: (e) => netfilterElement(e) && !nwfilterElement(e) && e.hook === 'forward',
  conditions: (c) => c.all(c.eq('verdict', 'fail'), c.eq('ipv6Only', true)),
  title: (e) => text`The host's IPv6 forward path drops guest traffic: ${e.name}`,
  summary: (e) =>
    text`IPv4 gets through, IPv6 does not: ${e.affectedGuests} guest(s) on ${e.bridges} have IPv6 (${e.networks}), and the host's IPv6 forward path drops it (${e.detail}). Docker with ip6tables enabled sets the ip6tables FORWARD policy to DROP (moby#48365).`,
  evidence: (e) => [line`decided by: ${e.name}`, ...e.flows],
  fix: (e, h) => narrowAccept(e, h, 'forward'),
})
