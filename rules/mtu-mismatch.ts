import {bridge} from './applies.js'
import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'mtu-mismatch',
  severity: 'medium',
  scope: 'link',
  appliesTo: bridge,
  title: 'MTUs differ on bridge {name} ({mtu}) and its ports',
  requires: ['links'],
  derive: (e) => {
    const ports = (e.ports ?? []) as {name: string; mtu: number; guest: boolean}[]
    const mtu = Number(e.mtu)
    const distinct = new Set(ports.map((p) => p.mtu))
    // Lowering to the smallest MTU on the bridge never cuts anything off; raising needs every guest's consent.
    const target = Math.min(mtu, ...ports.map((p) => p.mtu))
    return {
      mtuMismatch: e.isGuestBridge === true && (distinct.size > 1 || ports.some((p) => !p.guest && p.mtu > mtu)),
      mtuTarget: target,
      mtuChanges: [{name: e.name, mtu}, ...ports].filter((p) => p.mtu > target).map((p) => p.name),
    }
  },
  conditions: {all: [{fact: 'entity', path: 'mtuMismatch', operator: 'equal', value: true}]},
  summary: 'Ports of {name} use different MTUs ({portMtus}; bridge {mtu}): small packets pass, large ones are dropped, so ping works while TLS handshakes and scp stall.',
  evidence: ['bridge {name} mtu {mtu}; ports: {portMtus}'],
  fix: ['ip link set {mtuChanges} mtu {mtuTarget}'],
  fixLines: (e) => (Array.isArray(e.mtuChanges) ? (e.mtuChanges as string[]) : []).map((dev) => `ip link set ${dev} mtu ${e.mtuTarget}`),
  note: [
    "this lowers every device on {name} to the smallest MTU there ({mtuTarget}); persist it with <mtu size='{mtuTarget}'/> in the network or domain XML",
    'on overlays, clamp TCP MSS instead: iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu',
  ],
  // The datapath's drop of a frame too big for a port is this mismatch, seen from a flow.
  claims: ['mtu:{name}'],
}
