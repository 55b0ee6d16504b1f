import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'default-route-missing',
  severity: 'high',
  scope: 'host',
  title: 'The host has no default route: NAT guests have no way out',
  requires: ['routes', 'libvirt'],
  conditions: {
    all: [
      {fact: 'entity', path: 'defaultRouteCount', operator: 'equal', value: 0},
      {fact: 'entity', path: 'routedNetworkCount', operator: 'greaterThan', value: 0},
    ],
  },
  summary: 'ip route show default is empty in the main table while NAT/routed networks ({routedNetworks}) are active: everything the guests send beyond the host is dropped with "network unreachable".',
  evidence: ['ip -j route show table all: no default route in table main', 'active NAT/routed networks: {routedNetworks}'],
  fix: ['ip route add default via GATEWAY dev UPLINK   # then persist it in the host network configuration'],
  claims: ['route:missing 0.0.0.0/0'],
}
