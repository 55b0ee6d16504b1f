import type {ElementView} from '../src/derive/index.js'
import {DATAPATH} from './datapath.js'
import {defineRule, line, text} from './kit.js'

export default defineRule<ElementView>({
  id: 'routed-network-no-return-route',
  kind: 'element',
  severity: 'medium',
  needs: DATAPATH,
  appliesTo: (e) => e.elementKind === 'return-route',
  // The guests' packets leave untranslated: their replies come back only if the upstream routes the guest subnet to this host.
  conditions: (c) => c.all(c.eq('elementKind', 'return-route')),
  // A NAT network's routed IPv6 (the element's ipFamily 6): libvirt translates its IPv4 only.
  title: (e) =>
    e.element.ipFamily === 6
      ? text`IPv6 replies to the NAT network ${e.context.network} depend on a route the host cannot see`
      : text`Replies to the routed network ${e.context.network} depend on a route the host cannot see`,
  summary: (e) =>
    e.element.ipFamily === 6
      ? text`Network ${e.context.network} translates its guests' IPv4 but routes their IPv6 without NAT (libvirt masquerades IPv6 only with <nat ipv6='yes'/>), so the internet answers their own IPv6 addresses: those packets reach this host only if the upstream router has a route for the guests' IPv6 prefix pointing at this host. That route lives outside the host; kvmdoctor cannot confirm it.`
      : text`Network ${e.context.network} routes its guests without NAT, so the internet answers their own addresses, and reaches their published services by them: those packets reach this host only if the upstream router has a route for the guest subnet pointing at this host. That route lives outside the host; kvmdoctor cannot confirm it.`,
  evidence: (e) => [line`${e.name}`, line`${e.detail}`, ...e.flows],
  // Nothing to change on this host: the notes say where.
  fix: () => [],
  note: (e) => [
    "on the upstream router, add a route for the guest subnet via this host's uplink address, then test from a guest (ping the internet) while watching the uplink: `tcpdump -ni UPLINK icmp`",
    e.element.ipFamily === 6
      ? "or add `<nat ipv6='yes'/>` to the network's `<forward mode='nat'>` (libvirt 6.5 or later: it then masquerades IPv6 too) if the guests need no inbound IPv6 reachability"
      : "or switch the network to NAT (`<forward mode='nat'/>`) if the guests need no inbound reachability",
  ],
  owns: [{kind: 'return-route', undo: () => []}],
})
