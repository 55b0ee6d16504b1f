import type {ElementView} from '../src/derive/index.js'
import {DATAPATH, narrowAccept, netfilterElement, nwfilterElement} from './datapath.js'
import {defineRule, line, text} from './kit.js'

/** A DNAT or REDIRECT that sends the guests' requests to another local address or port, where nothing listens. */
const rewrites = (e: ElementView) => /(-j (DNAT|REDIRECT)\b|\b(dnat|redirect) to\b)/.test(e.element.ruleText ?? '')

export default defineRule<ElementView>({
  id: 'host-input-blocks-dhcp-dns',
  kind: 'element',
  severity: 'critical',
  needs: DATAPATH,
  // The IP layer's chains: a bridge chain sees ports and every frame to the host, an arp chain ARP alone (guest-flow-blocked's).
  appliesTo: (e) => netfilterElement(e) && !nwfilterElement(e) && (e.hook === 'input' || e.hook === 'prerouting') && e.nfFamily !== 'bridge' && e.nfFamily !== 'arp',
  conditions: (c) =>
    c.all(
      c.eq('verdict', 'fail'),
      c.any(c.contains('flowKinds', 'dhcp'), c.contains('flowKinds', 'dns')),
    ),
  title: (e) => (rewrites(e) ? text`The host's NAT sends guests' DHCP/DNS where nothing listens: ${e.name}` : text`The host's input path drops guests' DHCP/DNS: ${e.name}`),
  summary: (e) =>
    rewrites(e)
      ? text`dnsmasq may run and listen, but ${e.affectedGuests} guest(s) on ${e.bridges} never reach it: ${e.detail}. An accept ahead of the rule in its chain exempts them from it.`
      : text`dnsmasq may run and listen, but ${e.affectedGuests} guest(s) on ${e.bridges} never reach it: ${e.detail}. An accept in libvirt's own table does not save a packet another base chain on the hook drops.`,
  evidence: (e) => [line`decided by: ${e.name}`, ...e.flows],
  fix: (e, h) => narrowAccept(e, h, 'input'),
  explains: [
    {rule: 'apipa-address', via: 'bridge'},
    {rule: 'dhcp-no-offer', via: 'bridge'},
  ],
})
