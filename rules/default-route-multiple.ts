import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'default-route-multiple',
  severity: 'medium',
  scope: 'host',
  title: 'Several IPv4 default routes with the same metric',
  requires: ['routes'],
  conditions: {
    all: [
      {fact: 'entity', path: 'defaultRouteCount', operator: 'greaterThanInclusive', value: 2},
      {fact: 'entity', path: 'defaultRouteSameMetric', operator: 'equal', value: true},
    ],
  },
  summary: 'The kernel picks between equal-metric default routes ({defaultRoutes}); egress (and NAT source address) can flip between uplinks, breaking guests\' connections intermittently.',
  evidence: ['ip route show default: {defaultRoutes}'],
  fix: ['ip route change default via GATEWAY dev SECONDARY metric 200   # give the secondary a higher metric, and persist it'],
}
