/**
 * The topology as a tree for terminals and pipes: host, uplinks with the
 * default route, libvirt networks, bridges, taps and the guests on them, each
 * marked with its health and the findings on it, and where guest flows stop.
 */
import type {BridgeNode, FindingMark, FlowMark, GuestNode, Health, TapNode, Topology, TopologyNode} from '../src/result/topology.js'
import type {TreeNode} from './layout.js'
import {PLAIN, type Style} from './style.js'
import {plural} from '../src/lib/plural.js'

export interface TopologyTextOptions {
  style?: Style
  /** For reports: guests whose flows all pass and that carry no finding are counted, not listed, past this many per bridge. */
  maxQuietGuests?: number
}

const HEALTH_MARK: Record<Health, keyof Style['mark']> = {ok: 'ok', warn: 'warn', fail: 'fail', off: 'off', unknown: 'skip'}
const HEALTH_ORDER: Health[] = ['unknown', 'ok', 'off', 'warn', 'fail']
const worse = (a: {health: Health}, b: {health: Health}) => (HEALTH_ORDER.indexOf(a.health) >= HEALTH_ORDER.indexOf(b.health) ? a : b)

export function topologyTree(t: Topology, options: TopologyTextOptions = {}): TreeNode[] {
  const style = options.style ?? PLAIN
  const mark = (n: {health: Health}) => style.health(n.health, style.mark[HEALTH_MARK[n.health]])
  const findings = (n: TopologyNode) => {
    const shown = n.findings.filter((f) => f.severity !== 'info')
    // A no-break space keeps "4. rule-id" on one line when the line wraps.
    return shown.length === 0 ? '' : `  ${shown.map((f) => style.severity(f.severity, `${f.rank}.\u00a0${f.id}`)).join(', ')}`
  }
  const head = (n: TopologyNode, text: string) => `${mark(n)} ${text}${findings(n)}`
  const guestsByName = new Map(t.guests.map((g) => [g.name, g]))
  const shownGuests = new Set<string>()

  /** A guest as seen through one of its interfaces: name, state, MAC, addresses, verdict, findings; its flows under it. */
  const guest = (g: GuestNode, via: string): {text: string; body: string[]} => {
    shownGuests.add(g.name)
    const iface = g.interfaces.find((i) => i.tap === via || i.mac === via || i.bridge === via)
    const parts = [g.state, iface?.mac, iface?.addresses.join(', ') || 'no address seen', iface?.verdict && iface.verdict !== 'ok' ? iface.verdict : undefined]
    return {text: `${style.bold(g.name)}  ${parts.filter(Boolean).join('  ')}${findings(g)}`, body: iface ? flowLines(iface.flows, style) : []}
  }
  const tapNode = (tap: TapNode, bridge: string): TreeNode => {
    const g = guestsByName.get(tap.guest)
    const where = !tap.exists ? 'missing' : tap.master ? `on ${tap.master}` : 'on no bridge'
    // The tap and its guest read as one line: a finding marked on both (an interface's) is listed once.
    const shownForGuest = new Set((g?.findings ?? []).map((f) => f.key))
    const own = {...tap, findings: tap.findings.filter((f) => !shownForGuest.has(f.key))}
    const port = tap.portState && tap.portState !== 'forwarding' ? `, port ${tap.portState}` : ''
    const stateWrong = !tap.exists || tap.master !== bridge || port !== '' || tap.state === 'DOWN'
    const trouble = stateWrong || findings(own) !== '' ? `  (tap ${where}${port})${findings(own)}` : ''
    if (!g) return {lines: [`${mark(tap)} tap ${tap.name} ${style.mark.arrow} ${tap.guest}${trouble}`], children: []}
    // Marked with the worse of the two.
    const {text, body} = guest(g, tap.name)
    return {lines: [`${mark(worse(tap, g))} tap ${tap.name} ${style.mark.arrow} ${text}${trouble}`, ...body], children: []}
  }
  const bridgeNode = (b: BridgeNode): TreeNode => {
    const facts = [b.exists ? b.state : 'absent', b.openvswitch ? `Open vSwitch (fail_mode ${b.openvswitch.failMode ?? 'standalone'}${b.openvswitch.controllers.map((c) => `, controller ${c.target} ${c.connected ? 'connected' : 'not connected'}`).join('')})` : undefined, b.mtu ? `mtu ${b.mtu}` : undefined, b.stp ? (b.stp.on ? `STP on, delay ${b.stp.forwardDelaySeconds} s` : 'STP off') : undefined, b.ports.length > 0 ? `ports ${b.ports.map((p) => `${p.name} ${p.state}${p.mtu !== b.mtu ? ` mtu ${p.mtu}` : ''}`).join(', ')}` : undefined]
    const quiet = (tap: TapNode) => tap.health === 'ok' && guestsByName.get(tap.guest)?.health === 'ok'
    const limit = options.maxQuietGuests ?? Number.POSITIVE_INFINITY
    const quietTaps = b.taps.filter(quiet)
    const hidden = quietTaps.length > limit ? quietTaps.slice(limit) : []
    const children = b.taps.filter((tap) => !hidden.includes(tap)).map((tap) => tapNode(tap, b.name))
    if (hidden.length > 0) {
      for (const tap of hidden) shownGuests.add(tap.guest)
      children.push({lines: [style.dim(`${style.mark.ok} ${plural(hidden.length, 'more guest', 'more guests')}, all flows passing: ${hidden.map((x) => x.guest).join(', ')}`)], children: []})
    }
    // With libvirt unread, whether a bridge is a network's is not known: nothing is said.
    return {lines: [head(b, `bridge ${style.bold(b.name)}  ${facts.filter(Boolean).join('  ')}${b.network || t.libvirtUnavailable ? '' : '  (no libvirt network)'}`)], children}
  }

  const children: TreeNode[] = []
  for (const u of t.uplinks) {
    const routes = u.defaultRoutes.map((r) => `default${r.gateway ? ` via ${r.gateway}` : ''} metric ${r.metric}`)
    const direct = u.directGuests
      .map((name) => guestsByName.get(name))
      .filter((g): g is GuestNode => g !== undefined)
      .map((g): TreeNode => {
        const {text, body} = guest(g, u.name)
        return {lines: [`${mark(g)} macvtap ${style.mark.arrow} ${text}`, ...body], children: []}
      })
    children.push({lines: [head(u, `uplink ${style.bold(u.name)}  ${[u.state, u.addresses.join(', '), u.mtu ? `mtu ${u.mtu}` : undefined, ...routes].filter(Boolean).join('  ')}`)], children: direct})
  }
  const bridgeByName = new Map(t.bridges.map((b) => [b.name, b]))
  const placed = new Set<string>()
  for (const n of t.networks) {
    const dhcp = n.dhcpRanges.length > 0 ? `DHCP ${n.dhcpRanges.join(', ')}` : 'no DHCP'
    const dnsmasq = n.dnsmasq.running === null ? undefined : n.dnsmasq.running ? `dnsmasq ${n.dnsmasq.pids.join(', ')}` : n.active ? style.health('fail', 'no dnsmasq') : undefined
    const facts = [n.active ? n.mode : `${n.mode}, inactive`, n.subnet ?? undefined, dhcp, dnsmasq, n.forwardDev ? `via ${n.forwardDev}` : undefined, n.autostart ? undefined : 'no autostart']
    const bridge = n.bridge ? bridgeByName.get(n.bridge) : undefined
    if (bridge) placed.add(bridge.name)
    children.push({lines: [head(n, `network ${style.bold(n.name)}  ${facts.filter(Boolean).join('  ')}`)], children: bridge ? [bridgeNode(bridge)] : []})
  }
  for (const b of t.bridges) if (!placed.has(b.name)) children.push(bridgeNode(b))
  const idle = t.guests.filter((g) => !shownGuests.has(g.name))
  if (idle.length > 0) {
    children.push({lines: [style.dim(`${style.mark.off} not on a bridge: ${idle.map((g) => `${g.name} (${g.state}${g.interfaces[0]?.network ? `, ${g.interfaces[0].network}` : ''})`).join(', ')}`)], children: []})
  }
  const h = t.host
  const hostFacts = [h.ipForward === null ? undefined : h.ipForward === 1 ? 'forwarding on' : style.health('fail', 'forwarding off'), h.defaultRoutes.length > 0 ? h.defaultRoutes.join('; ') : style.health('fail', 'no default route')]
  const notes = (t.partial ?? []).map((p) => style.dim(`partial: ${p}`))
  return [{lines: [head(h, `host ${style.bold(h.name)}  ${hostFacts.filter(Boolean).join('  ')}`), ...notes], children}]
}

/** "flows ✓ dhcp ✓ dns ✗ egress", then a line for each flow that stops, with the hop that stops it. */
export function flowLines(flows: FlowMark[], style: Style = PLAIN): string[] {
  if (flows.length === 0) return []
  const sign = (f: FlowMark) => (f.verdict === 'pass' ? style.health('ok', style.mark.ok) : f.verdict === 'fail' ? style.health('fail', style.mark.fail) : style.health('warn', '?'))
  const lines = [`flows ${flows.map((f) => `${sign(f)} ${f.kind}`).join(' ')}`]
  // Flows stopped by the same hop and element read as one line.
  const stops = new Map<string, FlowMark[]>()
  for (const f of flows.filter((x) => x.verdict !== 'pass' && x.decidedBy)) {
    const key = `${f.verdict}\u0000${f.decidedBy!.name}\u0000${f.decidedBy!.element ?? f.decidedBy!.detail}`
    stops.set(key, [...(stops.get(key) ?? []), f])
  }
  for (const group of stops.values()) {
    const f = group[0]
    const verb = f.verdict === 'fail' ? (group.length > 1 ? 'stop' : 'stops') : 'cannot be told'
    lines.push(`${sign(f)} ${group.map((g) => g.kind).join(', ')} ${verb} at ${f.decidedBy!.name}: ${f.decidedBy!.element ?? f.decidedBy!.detail}`)
  }
  return lines
}

export type {FindingMark}
