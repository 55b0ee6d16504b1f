import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'rp-filter-strict',
  severity: 'medium',
  scope: 'host',
  appliesTo: (e) => e.multiHomed === true,
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
  fix: ['sysctl -w net.ipv4.conf.all.rp_filter=2'],
  fixLines(e) {
    // sysctl keys spell a dot in an interface name (eth0.100) as a slash.
    const keys = ['all', ...(Array.isArray(e.rpStrictNames) ? (e.rpStrictNames as string[]) : [])].map((i) => `net.ipv4.conf.${i.replaceAll('.', '/')}.rp_filter`)
    return [`sysctl -w ${keys.map((k) => `${k}=2`).join(' ')}`, `printf '${keys.map((k) => `${k} = 2\\n`).join('')}' >> /etc/sysctl.d/90-kvmdoctor.conf`]
  },
  note: ['2 is loose mode: a packet passes when any route leads back to its source'],
  claims: ['sysctl:rp_filter:{rpStrictNames}'],
}
