/** Link views: every device in the host's link table, with its bridge, ports, STP, MTU and forward-path facts. */
import {type Flow, type Hop, bridgeOwnSwitchActs} from '../datapath/flows.js'
import type {DeriveContext} from './context.js'
import {raRoutesOf} from './incidents.js'
import type {LinkView} from './types.js'
import {deviceKey} from '../lib/sysctl-key.js'

export function linkViews(ctx: DeriveContext, flows: Flow[], datapathFollowed: boolean): LinkView[] {
  const forwardPaths = forwardPathsByBridge(flows)
  const routedGuests = new Set(ctx.networks.filter((n) => n.active && (n.forwardMode === 'nat' || n.forwardMode === 'route')).flatMap((n) => [...(ctx.guestsByNetwork.running.get(n.name) ?? [])])).size
  const bridgeNf = ctx.bridgeNfCallIptables
  const mtuByName = new Map((ctx.facts.links ?? []).map((l) => [l.name, l.mtu]))
  return (ctx.facts.links ?? []).map((l): LinkView => {
    const net = ctx.networkByBridge.get(l.name) ?? (l.master ? ctx.networkByBridge.get(l.master) : undefined)
    const ports = ctx.portsOf.get(l.name) ?? []
    const guestPorts = ports.filter((p) => p.kind === 'tap' || p.kind === 'macvtap')
    const ownBrnf = bridgeOwnSwitchActs(ctx.sysctlValue('net.bridge.bridge-nf-call-iptables'), l.bridge?.nfCallIptables)
    const isDefaultRouteDev = ctx.defaultRoutes.some((r) => r.dev === l.name || r.nexthops.some((h) => h.dev === l.name))
    const isUplinkOfGuestBridge = Boolean(l.master) && l.kind !== 'tap' && (ctx.tapCountOf.get(l.master!) ?? 0) > 0
    const isActiveNetworkBridge = net !== undefined && net.bridge === l.name && net.active
    // An empty bridge reports NO-CARRIER and taps report UNKNOWN: both normal. So is a bridge
    // whose ports are still in STP listening/learning: that is the STP forward delay, not a dead link.
    const inTransition = ports.filter((p) => p.portState === 'listening' || p.portState === 'learning')
    // A bridge has carrier through its ports: one whose ports are all set down lost it because of them (that is their finding).
    const carrierLost = l.kind === 'bridge' ? ports.some((p) => p.up) && !l.lowerUp && inTransition.length === 0 : l.kind !== 'tap' && (!l.lowerUp || l.operstate === 'DOWN')
    const isGuestBridge = l.kind === 'bridge' && (guestPorts.length > 0 || isActiveNetworkBridge)
    // Traffic the FORWARD chain sees from this bridge: routed for libvirt NAT/route networks, bridged frames (br_netfilter) otherwise.
    // A bridge libvirt makes for a network of its own (nat, route, open, isolated; not forward mode bridge, an existing
    // bridge) has no LAN port: its guests' frames are bridged only to each other, which libvirt's own rules accept.
    const ownNet = net && net.bridge === l.name && ['nat', 'route', 'open', 'isolated'].includes(net.forwardMode) ? net : undefined
    // What the datapath saw happen to the guests' traffic on this bridge in the forward path (routed, or bridged through br_netfilter).
    const forwardPath = forwardPaths.get(l.name)
    const forwardBlock = forwardPath?.block
    // The rules that accept the guests' traffic on this bridge in the forward path, when every flow that meets it passes by
    // a rule's accept (not only by chain policies): the host's firewall lets that traffic through on purpose.
    const forwardHops = forwardPath ? [...forwardPath.hops] : []
    const acceptedBy = forwardHops.map((h) => (h.verdict === 'pass' ? h.steps?.find((s) => s.event === 'rule' && s.action === 'accept')?.rule?.text : undefined))
    return {
      kind: 'link',
      name: l.name,
      context: {host: ctx.hostname, link: l.name, bridge: l.kind === 'bridge' ? l.name : l.master, network: net?.name},
      affectedGuests: l.kind === 'bridge' ? guestPorts.length : l.master ? (ctx.tapCountOf.get(l.master) ?? 0) : isDefaultRouteDev ? routedGuests : 0,
      linkKind: l.kind,
      master: l.master ?? null,
      operstate: l.operstate,
      flags: l.flags.join(','),
      adminUp: l.up,
      carrierLost,
      down: !l.up || carrierLost,
      bridgeOfNetwork: isActiveNetworkBridge ? net!.name : null,
      uplinkOf: isUplinkOfGuestBridge ? l.master! : null,
      defaultRouteDevice: isDefaultRouteDev,
      portCount: ports.length,
      mtu: l.mtu,
      isGuestBridge,
      guestPortCount: guestPorts.length,
      plainBridge: l.kind === 'bridge' && !ownNet,
      bridgeNfCallIptables: ownBrnf ? 1 : bridgeNf,
      ...(ownBrnf ? {bridgeNfCallOwn: true} : {}),
      datapathFollowed,
      forwardDrop: forwardBlock ? (forwardBlock.decidedBy?.element?.text ?? forwardBlock.decidedBy!.name) : null,
      forwardDropElement: forwardBlock?.decidedBy?.element ?? null,
      forwardAcceptedBy: forwardHops.length > 0 && acceptedBy.every((r) => r !== undefined) ? [...new Set(acceptedBy)].join('; ') : null,
      stpState: l.bridge?.stpState ?? null,
      forwardDelayCs: l.bridge?.forwardDelayCs ?? null,
      forwardDelaySeconds: l.bridge ? l.bridge.forwardDelayCs / 100 : null,
      portsInTransition: inTransition.map((p) => `${p.name} (${p.portState})`),
      /** Every port with its MTU and whether it is a guest's (tap, macvtap) or an uplink. */
      ports: ports.map((p) => ({name: p.name, mtu: p.mtu, guest: p.kind === 'tap' || p.kind === 'macvtap', peerMtu: (p.peer ? mtuByName.get(p.peer) : undefined) ?? null})),
      portMtus: ports.map((p) => `${p.name} ${p.mtu}`),
      rpFilter: ctx.effective(l.name, 'rp_filter'),
      acceptRa: ctx.sysctlValue(deviceKey('ipv6', l.name, 'accept_ra')),
      raRoutes: raRoutesOf(ctx.facts.routes6, l.name),
    }
  })
}

/**
 * Per bridge, in one pass over the flows (not one per device): the first of its flows that fails in the forward path,
 * and the forward-hook hops its flows meet. A hop object stands for every flow of its class (the datapath shares
 * them): each one is kept once, in first-seen order, which keeps the rules' order and whether every hop passes by one.
 */
function forwardPathsByBridge(flows: Flow[]): Map<string, {block?: Flow; hops: Set<Hop>}> {
  const byBridge = new Map<string, {block?: Flow; hops: Set<Hop>}>()
  // Indexed: every hop of every flow, mostly before the optimizer has compiled this (for-of allocates then).
  for (let k = 0; k < flows.length; k++) {
    const f = flows[k]
    if (f.bridge === undefined) continue
    let path = byBridge.get(f.bridge)
    if (!path) byBridge.set(f.bridge, (path = {hops: new Set()}))
    if (!path.block && f.verdict === 'fail' && f.decidedBy !== undefined && /netfilter forward/.test(f.decidedBy.name)) path.block = f
    const hops = f.hops
    for (let j = 0; j < hops.length; j++) if (hops[j].name.startsWith('netfilter forward')) path.hops.add(hops[j])
  }
  return byBridge
}
