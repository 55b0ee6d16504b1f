import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'mtu-mismatch',
  severity: 'medium',
  scope: 'link',
  title: 'MTUs differ on bridge {name} ({mtu}) and its ports',
  requires: ['links'],
  conditions: {all: [{fact: 'entity', path: 'mtuMismatch', operator: 'equal', value: true}]},
  summary: 'Ports of {name} use different MTUs ({portMtus}; bridge {mtu}): small packets pass, large ones are dropped, so ping works while TLS handshakes and scp stall.',
  evidence: ['bridge {name} mtu {mtu}; ports: {portMtus}'],
  fix: ['ip link set {mtuChanges} mtu {mtuTarget}'],
  fixLines: (e) => (Array.isArray(e.mtuChanges) ? (e.mtuChanges as string[]) : []).map((dev) => `ip link set ${dev} mtu ${e.mtuTarget}`),
  note: [
    "this lowers every device on {name} to the smallest MTU there ({mtuTarget}); persist it with <mtu size='{mtuTarget}'/> in the network or domain XML",
    'on overlays, clamp TCP MSS instead: iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu',
  ],
}
