import type {ElementView} from '../src/derive/index.js'
import {DATAPATH} from './datapath.js'
import {cmd, defineRule, line, text} from './kit.js'

/** Flows whose packets travel toward the guest (replies to it, connections from outside): a rule on the bridge they leave by does not see them. */
const TOWARD_GUEST = new Set(['dhcp-reply', 'dns-reply', 'egress-reply', 'egress6-reply', 'inbound', 'hairpin-host', 'hairpin-guest'])

export default defineRule<ElementView>({
  id: 'policy-route-diverts-guests',
  kind: 'element',
  severity: 'high',
  needs: DATAPATH,
  appliesTo: (e) => e.elementKind === 'policy-rule',
  conditions: (c) => c.all(c.isIn('verdict', ['fail', 'divert'])),
  title: (e) => text`A routing policy rule sends guest traffic elsewhere: ${e.name}`,
  summary: (e) =>
    text`Traffic from ${e.affectedGuests} guest(s) on ${e.bridges} is looked up in routing table ${e.routeTable} by "${e.name}", not in main: ${e.detail}. VPN clients (exit nodes, full tunnels) add such rules.`,
  evidence: (e) => [...e.flows, line`routing: ${e.detail}`],
  fix: (e) => {
    // A rule just before the diverting one keeps the guests' traffic on the main table, in the direction it diverts:
    // what the guests send, by the bridge it comes in on; what comes back to them, by their subnet.
    const priority = Math.max(1, (e.rulePriority ?? 1) - 1)
    const family = e.element.ipFamily === 6 ? ['-6'] : []
    const fromGuests = e.flowKinds.some((k) => !TOWARD_GUEST.has(k))
    const toGuests = e.flowKinds.some((k) => TOWARD_GUEST.has(k))
    return [
      ...(fromGuests ? e.bridges.map((br) => cmd`ip ${family} rule add iif ${br} lookup main priority ${priority}`) : []),
      ...(toGuests ? e.subnets.map((subnet) => cmd`ip ${family} rule add to ${subnet} lookup main priority ${priority}`) : []),
    ]
  },
  owns: [{kind: 'policy-rule', undo: (el) => cmd`ip ${el.ipFamily === 6 ? ['-6'] : []} rule del priority ${el.rulePriority}` ?? []}],
})
