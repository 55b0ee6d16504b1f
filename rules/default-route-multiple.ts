import type {HostView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

interface Metrics {
  defaultRouteSameMetric: boolean
}

export default defineRule<HostView, Metrics>({
  id: 'default-route-multiple',
  kind: 'host',
  severity: 'medium',
  needs: [probes.routes],
  derive: (h) => {
    const metrics = h.defaultRouteList.map((r) => r.metric)
    return {defaultRouteSameMetric: new Set(metrics).size < metrics.length}
  },
  conditions: (c) => c.all(c.gte('defaultRoutes.length', 2), c.eq('defaultRouteSameMetric', true)),
  title: () => 'Several IPv4 default routes with the same metric',
  summary: (h) => text`The kernel picks between equal-metric default routes (${h.defaultRoutes}); egress (and NAT source address) can flip between uplinks, breaking guests' connections intermittently.`,
  evidence: (h) => [line`ip route show default: ${h.defaultRoutes}`],
  fix: (h) => {
    // The metric is part of a route's key: demoting one is a delete and an add.
    const spec = (r: {gateway: string | null; dev: string | null}) => ['default', ...(r.gateway ? ['via', r.gateway] : []), ...(r.dev ? ['dev', r.dev] : [])]
    return h.defaultRouteList.slice(1).map((r, i) => cmd`ip route del ${spec(r)} metric ${r.metric} && ip route add ${spec(r)} metric ${r.metric + 100 * (i + 1)}`)
  },
  note: (h) => [line`this keeps the first default route (${h.defaultRoutes[0]}) as the one in use and gives the others higher metrics; persist the metrics in the host network configuration`],
})
