import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'rp-filter-strict',
  severity: 'medium',
  scope: 'host',
  title: 'Strict reverse-path filtering on a multi-homed host',
  requires: ['sysctl', 'routes', 'links'],
  conditions: {
    all: [
      {fact: 'entity', path: 'multiHomed', operator: 'equal', value: true},
      {fact: 'entity', path: 'rpStrictInterfaces', operator: 'nonEmpty', value: true},
    ],
  },
  summary: 'rp_filter = 1 drops packets that arrive on an interface other than the one the host would route the reply through; with several uplinks or routed guest networks that silently drops guest traffic.',
  evidence: ['strict interfaces (effective = max(all, IF)): {rpStrictInterfaces}', 'default routes: {defaultRoutes}; routed networks: {routedNetworks}'],
  fix: ['sysctl -w net.ipv4.conf.all.rp_filter=2   # and net.ipv4.conf.IF.rp_filter=2 for each interface listed; persist in /etc/sysctl.d'],
  claims: ['sysctl:rp_filter:{rpStrictNames}'],
}
