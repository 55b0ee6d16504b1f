import type {LinkView} from '../src/derive/index.js'
import {bridge} from './applies.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

interface Mtus {
  mtuMismatch: boolean
  /** The smallest MTU on the bridge: lowering to it never cuts anything off; raising needs every guest's consent. */
  mtuTarget: number
  /** The devices above it. */
  mtuChanges: string[]
}

export default defineRule<LinkView, Mtus>({
  id: 'mtu-mismatch',
  kind: 'link',
  severity: 'medium',
  needs: [probes.links],
  appliesTo: bridge,
  derive: (l) => {
    const distinct = new Set(l.ports.map((p) => p.mtu))
    const target = Math.min(l.mtu, ...l.ports.map((p) => p.mtu))
    return {
      mtuMismatch: l.isGuestBridge && (distinct.size > 1 || l.ports.some((p) => !p.guest && p.mtu > l.mtu)),
      mtuTarget: target,
      mtuChanges: [{name: l.name, mtu: l.mtu}, ...l.ports].filter((p) => p.mtu > target).map((p) => p.name),
    }
  },
  conditions: (c) => c.all(c.eq('mtuMismatch', true)),
  title: (l) => text`MTUs differ on bridge ${l.name} (${l.mtu}) and its ports`,
  summary: (l) => text`Ports of ${l.name} use different MTUs (${l.portMtus}; bridge ${l.mtu}): small packets pass, large ones are dropped, so ping works while TLS handshakes and scp stall.`,
  evidence: (l) => [line`bridge ${l.name} mtu ${l.mtu}; ports: ${l.portMtus}`],
  fix: (l) => l.mtuChanges.map((dev) => cmd`ip link set ${dev} mtu ${l.mtuTarget}`),
  note: (l) => [
    line`this lowers every device on ${l.name} to the smallest MTU there (${l.mtuTarget}); persist it with <mtu size='${l.mtuTarget}'/> in the network or domain XML`,
    'on overlays, clamp TCP MSS instead: iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu',
  ],
  // The datapath's drop of a frame too big for a port of this bridge is this mismatch, seen from a flow.
  owns: [{kind: 'link', where: (el) => el.mtu !== undefined, covers: (l, el) => el.master === l.name, undo: (el) => cmd`ip link set ${el.device} mtu ${el.mtu}` ?? []}],
})
