import type {ElementView} from '../src/derive/index.js'
import {DATAPATH} from './datapath.js'
import {cmd, defineRule, line, text} from './kit.js'

export default defineRule<ElementView>({
  id: 'policy-route-diverts-guests',
  kind: 'element',
  severity: 'high',
  needs: DATAPATH,
  appliesTo: (e) => e.elementKind === 'policy-rule',
  conditions: (c) => c.all(c.eq('elementKind', 'policy-rule'), c.isIn('verdict', ['fail', 'divert'])),
  title: (e) => text`A routing policy rule sends guest traffic elsewhere: ${e.name}`,
  summary: (e) =>
    text`Traffic from ${e.affectedGuests} guest(s) on ${e.bridges} is looked up in routing table ${e.routeTable} by "${e.name}", not in main: ${e.detail}. VPN clients (exit nodes, full tunnels) add such rules.`,
  evidence: (e) => [...e.flows, line`routing: ${e.detail}`],
  fix: (e) => {
    // A rule just before the diverting one keeps the guests on the main table.
    const priority = Math.max(1, (e.rulePriority ?? 1) - 1)
    return e.bridges.map((br) => cmd`ip rule add iif ${br} lookup main priority ${priority}`)
  },
  owns: [{kind: 'policy-rule', undo: (el) => cmd`ip ${el.ipFamily === 6 ? ['-6'] : []} rule del priority ${el.rulePriority}` ?? []}],
})
