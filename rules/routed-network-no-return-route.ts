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
  title: (e) => text`Replies to the routed network ${e.context.network} depend on a route the host cannot see`,
  summary: (e) =>
    text`Network ${e.context.network} routes its guests without NAT, so the internet answers their own addresses: those replies reach this host only if the upstream router has a route for the guest subnet pointing at this host. That route lives outside the host; kvmdoctor cannot confirm it.`,
  evidence: (e) => [line`${e.name}`, line`${e.detail}`, ...e.flows],
  // Nothing to change on this host: the notes say where.
  fix: () => [],
  note: () => [
    "on the upstream router, add a route for the guest subnet via this host's uplink address, then test from a guest (ping the internet) while watching the uplink: `tcpdump -ni UPLINK icmp`",
    "or switch the network to NAT (`<forward mode='nat'/>`) if the guests need no inbound reachability",
  ],
  owns: [{kind: 'return-route', undo: () => []}],
})
