import {DATAPATH_REQUIRES, bridgesOf} from './datapath.js'
import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'policy-route-diverts-guests',
  severity: 'high',
  scope: 'element',
  appliesTo: (e) => e.elementKind === 'policy-rule',
  title: 'A routing policy rule sends guest traffic elsewhere: {name}',
  requires: DATAPATH_REQUIRES,
  conditions: {
    all: [
      {fact: 'entity', path: 'elementKind', operator: 'equal', value: 'policy-rule'},
      {fact: 'entity', path: 'verdict', operator: 'in', value: ['fail', 'divert']},
    ],
  },
  summary: 'Traffic from {affectedGuests} guest(s) on {bridges} is looked up in routing table {routeTable} by "{name}", not in main: {detail}. VPN clients (exit nodes, full tunnels) add such rules.',
  evidence: ['{flows}', 'routing: {detail}'],
  fix: ['{undo}'],
  fixLines(e) {
    // A rule just before the diverting one keeps the guests on the main table.
    const priority = Math.max(1, Number(e.rulePriority ?? 1) - 1)
    return bridgesOf(e).map((br) => `ip rule add iif ${br} lookup main priority ${priority}`)
  },
}
