import type {ElementView} from '../src/derive/index.js'
import {DATAPATH, filterDrop, listChainOf, narrowAccept, netfilterUndo} from './datapath.js'
import {cmd, defineRule, text} from './kit.js'

export default defineRule<ElementView>({
  id: 'guest-flow-indeterminate',
  kind: 'element',
  severity: 'low',
  // A share of the packets dropped is an intermittent failure, the hardest incident to chase: not a detail.
  escalate: {to: 'high', when: (e) => e.intermittent},
  needs: DATAPATH,
  general: true,
  conditions: (c) => c.all(c.eq('verdict', 'indeterminate')),
  title: (e) => (e.intermittent ? text`Guest traffic is dropped intermittently at ${e.hop}: ${e.name}` : text`Cannot tell whether guest traffic passes ${e.hop}: ${e.name}`),
  summary: (e) =>
    e.intermittent
      ? text`Some packets of ${e.affectedGuests} guest(s) on ${e.bridges} pass and the others are dropped, by chance, rate or time: ${e.detail}. Connections stall or fail now and then.`
      : text`Whether the traffic of ${e.affectedGuests} guest(s) on ${e.bridges} gets through depends on something the host state does not show: ${e.detail}. kvmdoctor does not guess.`,
  evidence: (e) => [...e.undecided, ...e.flows],
  // Nothing to undo for what cannot be told; an element that stops the flows now and then (ARP off, an arp chain's
  // drop: they pass while a cache lasts) is undone by the rule that owns its kind. A forward filter drop that stops
  // some of them (on one next hop of a multipath route) is met as guest-flow-blocked meets one that stops all: the
  // narrowest accept before it, never the admin's rule deleted for everything it guards.
  fix: (e, host, rules) => (!e.intermittent || e.elementKind === 'nf-undecided' ? [] : filterDrop(e) && e.hook === 'forward' ? narrowAccept(e, host, 'forward') : rules.undo(e.element)),
  // A published port's round trip is followed by --inbound: the guest's own trace does not show it.
  check: (e) => [
    ...(e.inbound.length === 0 || e.flowKinds.some((k) => !/^(inbound|hairpin)/.test(k)) ? [cmd`kvmdoctor trace ${e.context.domain}`] : []),
    ...e.inbound.map((p) => cmd`kvmdoctor trace --inbound ${p}`),
    listChainOf(e.element),
  ],
  // A rule whose match cannot be told: deleting it is what would take it out of the way. An XDP program or a
  // WireGuard device's peers, whose verdict is not read: nothing is undone for them (detaching a program or a peer
  // would change far more than these guests' traffic). A network that serves no DNS is its admin's choice: nothing
  // to undo, the guests' own resolver is what to check.
  owns: [
    {kind: 'nf-undecided', undo: netfilterUndo, lists: listChainOf},
    {kind: 'xdp', undo: () => []},
    {kind: 'wireguard', undo: () => []},
    {kind: 'listener', where: (el) => el.dnsDisabled === true, undo: () => []},
  ],
})
