import type {LinkView} from '../src/derive/index.js'
import {bridge} from './applies.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

interface Mtus {
  mtuMismatch: boolean
  /** The MTU every guest port has (libvirt sets a tap from the network's or domain's <mtu>, 1500 by default); null when they differ. */
  guestMtu: number | null
  /** The ports that are not guests' and are below the guests' MTU. */
  lowPorts: string[]
  /**
   * Raising them to the guests' MTU cuts nobody off: each is a veth whose other end on this host already takes
   * frames that large. An uplink's MTU is the wire's, which the host cannot see: it is never raised.
   */
  raisable: boolean
  /** The smallest MTU on the bridge and the device that has it: what the guests must use when nothing may be raised. */
  mtuFloor: number
  floorDevice: string
}

export default defineRule<LinkView, Mtus>({
  id: 'mtu-mismatch',
  kind: 'link',
  severity: 'medium',
  needs: [probes.links],
  appliesTo: bridge,
  derive: (l) => {
    const distinct = new Set(l.ports.map((p) => p.mtu))
    const guestMtus = new Set(l.ports.filter((p) => p.guest).map((p) => p.mtu))
    const guestMtu = guestMtus.size === 1 ? [...guestMtus][0] : null
    const low = guestMtu === null ? [] : l.ports.filter((p) => !p.guest && p.mtu < guestMtu)
    const floor = [{name: l.name, mtu: l.mtu}, ...l.ports].reduce((a, b) => (b.mtu < a.mtu ? b : a))
    return {
      mtuMismatch: l.isGuestBridge && (distinct.size > 1 || l.ports.some((p) => !p.guest && p.mtu > l.mtu)),
      guestMtu,
      lowPorts: low.map((p) => p.name),
      raisable: guestMtu !== null && low.length > 0 && low.every((p) => p.peerMtu !== null && p.peerMtu >= guestMtu),
      mtuFloor: floor.mtu,
      floorDevice: floor.name,
    }
  },
  conditions: (c) => c.all(c.eq('mtuMismatch', true)),
  title: (l) => text`MTUs differ on bridge ${l.name} (${l.mtu}) and its ports`,
  summary: (l) => text`Ports of ${l.name} use different MTUs (${l.portMtus}; bridge ${l.mtu}): small packets pass, large ones are dropped, so ping works while TLS handshakes and scp stall.`,
  evidence: (l) => [line`bridge ${l.name} mtu ${l.mtu}; ports: ${l.portMtus}`],
  // Never a guest's tap: lowering it leaves the guest sending frames of its own MTU, now dropped at the bridge. The
  // ports that dragged the bridge below the guests are raised to it (ports first: the bridge follows its smallest
  // port), and only where their other end takes it; otherwise the change is the guests' own (the note names it).
  fix: (l) => (l.raisable && l.guestMtu !== null ? [...l.lowPorts.map((dev) => cmd`ip link set ${dev} mtu ${l.guestMtu}`), ...(l.mtu < l.guestMtu ? [cmd`ip link set ${l.name} mtu ${l.guestMtu}`] : [])] : []),
  note: (l) => [
    l.raisable
      ? line`this raises ${l.lowPorts} to the guests' MTU (${l.guestMtu}): the other end of each already has it; persist it where the device is made`
      : line`the smallest MTU on ${l.name} is ${l.floorDevice}'s (${l.mtuFloor}), which kvmdoctor cannot raise safely (an uplink's MTU is the wire's): give the guests that MTU with <mtu size='${l.mtuFloor}'/> in the network's XML (virsh net-edit) or each guest's interface, then restart the guests on ${l.name}`,
    'on overlays, clamp TCP MSS instead: iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu',
  ],
  // The datapath's drop of a frame too big for a port of this bridge is this mismatch, seen from a flow.
  owns: [{kind: 'link', where: (el) => el.mtu !== undefined, covers: (l, el) => el.master === l.name, undo: (el) => cmd`ip link set ${el.device} mtu ${el.mtu}` ?? []}],
})
