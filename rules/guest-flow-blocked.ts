import type {ElementView} from '../src/derive/index.js'
import {DATAPATH, filterDrop, listChainOf, narrowAccept, netfilterUndo} from './datapath.js'
import {cmd, defineRule, line, text} from './kit.js'

export default defineRule<ElementView>({
  id: 'guest-flow-blocked',
  kind: 'element',
  severity: 'critical',
  needs: DATAPATH,
  // Only where no more specific pattern owns the element.
  general: true,
  conditions: (c) => c.all(c.eq('verdict', 'fail')),
  title: (e) => text`Guest traffic stops at ${e.hop}: ${e.name}`,
  summary: (e) => text`${e.affectedGuests} guest(s) on ${e.bridges}: ${e.detail}.`,
  evidence: (e) => [line`decided by: ${e.name}`, ...e.flows],
  // The element undone, by the rule that owns its kind.
  // A drop on the filter hooks: the narrowest accept. Elsewhere (a RETURN before the MASQUERADE, a
  // drop in raw or mangle) an accept would skip what follows it: the admin's own rule is undone.
  fix: (e, host, rules) => (filterDrop(e) ? narrowAccept(e, host, e.hook === 'input' ? 'input' : 'forward') : rules.undo(e.element)),
  // The elements no specific pattern is about: netfilter drops elsewhere (a nat chain, a bridge hook), a guest's
  // link held down, a blackhole or unreachable route, a route missing for IPv6.
  owns: [
    {kind: 'nf-rule', undo: netfilterUndo, lists: listChainOf},
    {kind: 'nf-policy', undo: netfilterUndo, lists: listChainOf},
    {kind: 'guest-link', undo: (el) => cmd`virsh domif-setlink ${el.domain} ${el.iface} up` ?? []},
    {
      kind: 'route',
      where: (el) => el.route !== undefined || el.ipFamily !== 4,
      undo: (el) => (el.route && el.route.type !== 'unicast' ? (cmd`ip route del ${el.route.type} ${el.route.dst} ${el.route.table !== 'main' ? ['table', el.route.table] : []}` ?? []) : []),
    },
  ],
})
