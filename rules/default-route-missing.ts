import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'default-route-missing',
  severity: 'high',
  scope: 'host',
  appliesTo: (e) => Number(e.routedNetworkCount) > 0,
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
  fix: [],
  fixLines(e) {
    // Only a gateway the host itself names (a default route in another table) makes a command; none is guessed.
    const known = Array.isArray(e.knownGateways) ? (e.knownGateways as {gateway: string; dev: string}[]) : []
    return known.slice(0, 1).map((g) => `ip route add default via ${g.gateway} dev ${g.dev}`)
  },
  note: [
    "no routing table on this host names the gateway: add it with ip route add default via (the uplink's gateway) dev {uplinkNames}",
    'uplink candidates: {uplinkCandidates}',
    'persist the route in the host network configuration (netplan, NetworkManager, ifupdown)',
  ],
  claims: ['route:missing 0.0.0.0/0'],
}
