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
  fix: [],
  fixLines(e) {
    // The metric is part of a route's key: demoting one is a delete and an add.
    const list = Array.isArray(e.defaultRouteList) ? (e.defaultRouteList as {gateway: string | null; dev: string | null; metric: number}[]) : []
    const spec = (r: {gateway: string | null; dev: string | null}) => `default${r.gateway ? ` via ${r.gateway}` : ''}${r.dev ? ` dev ${r.dev}` : ''}`
    return list.slice(1).map((r, i) => `ip route del ${spec(r)} metric ${r.metric} && ip route add ${spec(r)} metric ${r.metric + 100 * (i + 1)}`)
  },
  note: ['this keeps the first default route ({defaultRoutes.0}) as the one in use and gives the others higher metrics; persist the metrics in the host network configuration'],
}
