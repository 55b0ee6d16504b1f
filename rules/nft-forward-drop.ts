import type {ElementView} from '../src/derive/index.js'
import {DATAPATH, narrowAccept, netfilterElement} from './datapath.js'
import {defineRule, line, text} from './kit.js'

export default defineRule<ElementView>({
  id: 'nft-forward-drop',
  kind: 'element',
  severity: 'critical',
  needs: DATAPATH,
  appliesTo: (e) => netfilterElement(e) && e.hook === 'forward' && e.backend === 'nft' && !e.libvirtOwned,
  conditions: (c) =>
    c.all(
      c.eq('verdict', 'fail'),
      c.eq('hook', 'forward'),
      c.eq('backend', 'nft'),
      c.eq('libvirtOwned', false),
      // A drop of IPv6 alone is ipv6-forward-drop's.
      c.eq('ipv6Only', false),
    ),
  title: (e) => text`An nftables table drops the guest traffic libvirt accepts: ${e.name}`,
  summary: (e) =>
    text`Every nftables base chain on the forward hook must accept a packet: whatever libvirt accepts for ${e.bridges}, ${e.nfFamily} ${e.nfTable} chain ${e.chain} drops it (${e.detail}). ${e.affectedGuests} guest(s) reach the host, not beyond.`,
  evidence: (e) => [line`decided by: ${e.name}`, ...e.flows],
  fix: (e, h) => narrowAccept(e, h, 'forward'),
  explains: [
    {rule: 'apipa-address', via: 'bridge'},
    {rule: 'dhcp-no-offer', via: 'bridge'},
  ],
})
