import type {LinkView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

interface Matters {
  /** Guests depend on it: an active network's bridge, the uplink of a guest bridge, the default route's device. */
  matters: boolean
  mattersBecause: string
}

export default defineRule<LinkView, Matters>({
  id: 'link-down',
  kind: 'link',
  severity: 'high',
  needs: [probes.links],
  appliesTo: (l) => l.bridgeOfNetwork !== null || l.uplinkOf !== null || l.defaultRouteDevice,
  derive: (l) => {
    const why = [l.bridgeOfNetwork !== null && `bridge of active network ${l.bridgeOfNetwork}`, l.uplinkOf !== null && `uplink of guest bridge ${l.uplinkOf}`, l.defaultRouteDevice && 'device of the default route'].filter(Boolean)
    return {matters: why.length > 0, mattersBecause: why.join(', ')}
  },
  conditions: (c) => c.all(c.eq('down', true)),
  title: (l) => text`Interface ${l.name} is down (${l.mattersBecause})`,
  summary: (l) => text`${l.name} is the ${l.mattersBecause}, and it is down (admin up: ${l.adminUp}, operstate ${l.operstate}, flags ${l.flags}).`,
  evidence: (l) => [line`ip -j -d addr show ${l.name}: operstate ${l.operstate}, flags ${l.flags}`],
  // A link set up that has no carrier is not brought back by setting it up again: the cable, the switch port or the peer is.
  fix: (l) => (l.adminUp ? [] : [cmd`ip link set ${l.name} up`]),
  note: (l) => [line`if it stays without carrier on a physical port, check the cable and the switch port (ethtool ${l.name})`],
  owns: [
    {
      kind: 'link',
      // A port too small for its bridge is mtu-mismatch's; a guest's OVS tap gone missing is ovs-interface-error's; a
      // bridge with ARP off is up: guest-flow-blocked's.
      where: (el) => el.mtu === undefined && el.state !== 'missing' && el.noArp !== true,
      covers: (l, el) => el.device === l.name,
      // No carrier on a link already set up: no command brings it back (the note of the finding says where to look).
      undo: (el) => (el.state === 'down' ? cmd`ip link set ${el.device} up` : undefined) ?? [],
    },
  ],
})
