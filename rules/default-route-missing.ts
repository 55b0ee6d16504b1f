import type {HostView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

export default defineRule<HostView>({
  id: 'default-route-missing',
  kind: 'host',
  severity: 'high',
  needs: [probes.routes, probes.libvirt],
  appliesTo: (h) => h.routedNetworks.length > 0,
  conditions: (c) => c.all(c.eq('defaultRoutes.length', 0), c.gt('routedNetworks.length', 0)),
  title: () => 'The host has no default route: NAT guests have no way out',
  summary: (h) => text`ip route show default is empty in the main table while NAT/routed networks (${h.routedNetworks}) are active: everything the guests send beyond the host is dropped with "network unreachable".`,
  evidence: (h) => ['ip -j route show table all: no default route in table main', line`active NAT/routed networks: ${h.routedNetworks}`],
  // Only a gateway the host itself names (a default route in another table) makes a command; none is guessed.
  fix: (h) => h.knownGateways.slice(0, 1).map((g) => cmd`ip route add default via ${g.gateway} dev ${g.dev}`),
  note: (h) => [
    line`no routing table on this host names the gateway: add it with ip route add default via (the uplink's gateway) dev ${h.uplinkNames}`,
    line`uplink candidates: ${h.uplinkCandidates}`,
    'persist the route in the host network configuration (netplan, NetworkManager, ifupdown)',
  ],
  // No IPv4 route out at all: the flows stop at routing, and this finding says why.
  owns: [{kind: 'route', where: (el) => el.route === undefined && el.ipFamily === 4, covers: () => true, undo: () => []}],
})
