/**
 * The hop model: each running guest interface's standard flows (DHCP to its
 * server, DNS to its resolver, out to the internet through NAT, and the
 * replies) followed hop by hop through the host: the guest's NIC, its tap, the
 * bridge and port state, the bridge and IP netfilter hooks, the routing
 * decision with policy rules, forwarding and reverse-path sysctls, NAT, the
 * egress device, and the listener that must answer. Each hop passes, fails or
 * cannot be told, and names the element that decides.
 */
import {formatIp, ipInPrefix, parseIp, parsePrefix} from '../lib/addr.js'
import type {NfHook, NfRuleset} from '../lib/netfilter.js'
import type {Link} from '../../probes/links.js'
import type {LibvirtDomain, LibvirtNetwork} from '../../probes/libvirt.js'
import type {Listener} from '../../probes/listeners.js'
import type {PolicyRuleFacts} from '../../probes/ip-rules.js'
import type {Route} from '../../probes/routes.js'
import {type CompiledRuleset, compile} from './netfilter/compile.js'
import {type Branch, type EvalContext, type HookLayer, type HookWalk, type TraceStep, assumptionKey, deviceChains, familiesFor, runHook, startBranch} from './netfilter/evaluate.js'
import {type NfPacket, describePacket, newPacket, replyPacket} from './netfilter/packet.js'
import {type RouteDecision, type Router, buildRouter, describeRoute} from './routing.js'
import {type Element, elementForStep, natMissingElement} from './elements.js'

export type FlowKind = 'dhcp' | 'dhcp-reply' | 'dns' | 'dns-reply' | 'egress' | 'egress-reply' | 'egress6' | 'egress6-reply' | 'custom'
export type HopVerdict = 'pass' | 'fail' | 'indeterminate'

export interface Hop {
  /** What the packet meets: "tap vnet0", "netfilter forward", "routing", ... */
  name: string
  verdict: HopVerdict
  /** What was seen, in a line. */
  detail: string
  /** The element that decides, when the hop does not pass. */
  element?: Element
  /** Netfilter hops: the chains and rules visited (first branch), for the trace. */
  steps?: TraceStep[]
  /** Indeterminate netfilter hops: the undecidable rules and what follows either way. */
  undecided?: {rule: string; note?: string; ifMatches: string; ifNot: string}[]
}

export interface Flow {
  guest: string
  /** The guest interface: its tap (or MAC when it has none). */
  iface: string
  mac?: string
  network?: string
  bridge?: string
  kind: FlowKind
  /** "DHCP request to dnsmasq on virbr0", "egress to 9.9.9.9:443/tcp via eth0". */
  description: string
  packet: string
  verdict: HopVerdict
  hops: Hop[]
  /** The first hop that fails (or, when none fails, the first that cannot be told). */
  decidedBy?: Hop
  /** The guest's own address as some source reports it; absent when the flow is judged for an address of its network. */
  guestAddress?: string
  /** The flow this one replies to. */
  replyTo?: FlowKind
  /** A policy rule sent the flow to another table, out of a device that is not the main default route's. */
  divertedBy?: Element
}

export interface Destination {
  addr: string
  port?: number
  proto: 'tcp' | 'udp' | 'icmp'
}

/** Stands for "the internet" when nothing else is asked: only a lookup key, never contacted. */
export const DEFAULT_INTERNET: Destination = {addr: '9.9.9.9', port: 443, proto: 'tcp'}
/** The same for IPv6 egress (documentation prefix): only a lookup key, never contacted. */
export const DEFAULT_INTERNET6: Destination = {addr: '2001:db8:ffff::10', port: 443, proto: 'tcp'}

export interface DatapathFacts {
  links: Link[]
  routes: Route[]
  ipRules: PolicyRuleFacts
  /** Sysctl values by dotted key (null = absent). */
  sysctl: Record<string, number | null>
  ruleset: NfRuleset
  networks: LibvirtNetwork[]
  domains: LibvirtDomain[]
  /** null when sockets could not be listed. */
  listeners: Listener[] | null
  /** The guest's current IPv4 address by MAC (lease, neighbour, wire), when known. */
  guestAddress(mac: string): string | undefined
  /** The guest's global IPv6 address by MAC (neighbours), when known. */
  guestAddress6?(mac: string): string | undefined
  /** IPv6 routes could be read (routes hold them): only then are IPv6 flows followed. */
  ipv6Routes?: boolean
  /** DHCP servers configured on this host for plain bridges (ISC dhcpd): whether each runs (null: unknown). */
  bridgeDhcpServers?: {name: string; bridge: string; running: boolean | null}[]
  /** Another MAC claims this guest's address (leases, neighbours, wire): who answers for it is not the host's to decide. */
  addressConflict?(mac: string): string | undefined
  /** A network's DHCP range is fully leased and this MAC holds no lease in it: its request gets no offer. */
  dhcpPoolFullFor?(network: string, mac: string): boolean
}

export interface Datapath {
  flows: Flow[]
  /** Flows of one guest (optionally one interface), optionally to another destination. */
  trace(guest: string, options?: {iface?: string; to?: Destination}): Flow[]
}

const RUNNING = new Set(['running', 'paused', 'idle', 'in shutdown', 'blocked'])

export function buildDatapath(facts: DatapathFacts, options: {internet?: Destination; internet6?: Destination} = {}): Datapath {
  const host = new HostView(facts)
  const internet = options.internet ?? DEFAULT_INTERNET
  const internet6 = options.internet6 ?? DEFAULT_INTERNET6
  const flowsOf = (d: LibvirtDomain, iface?: string, to?: Destination) =>
    d.interfaces
      .filter((i) => iface === undefined || i.target === iface || i.mac === iface)
      .flatMap((i) => [...host.guestFlows(d, i, to ?? internet, to !== undefined), ...(to === undefined ? host.guestFlows6(d, i, internet6) : [])])
  const flows = facts.domains.filter((d) => RUNNING.has(d.state)).flatMap((d) => flowsOf(d))
  return {
    flows,
    trace(guest, opts = {}) {
      const d = facts.domains.find((x) => x.name === guest)
      return d && RUNNING.has(d.state) ? flowsOf(d, opts.iface, opts.to) : []
    },
  }
}

type Iface = LibvirtDomain['interfaces'][number]

class HostView {
  readonly rs: CompiledRuleset
  readonly router: Router
  readonly links: Map<string, Link>
  readonly ports: Map<string, Link[]>
  readonly ctx: EvalContext
  private readonly localAddrs = new Set<string>()
  private readonly bcastAddrs = new Set<string>()

  constructor(readonly facts: DatapathFacts) {
    this.router = buildRouter(facts.routes, facts.ipRules)
    this.links = new Map(facts.links.map((l) => [l.name, l]))
    this.ports = new Map()
    for (const l of facts.links) if (l.master) (this.ports.get(l.master) ?? this.ports.set(l.master, []).get(l.master)!).push(l)
    for (const r of facts.routes) {
      if (r.table !== 'local') continue
      if (r.type === 'local') this.localAddrs.add(r.dst.split('/')[0])
      if (r.type === 'broadcast') this.bcastAddrs.add(r.dst.split('/')[0])
    }
    for (const l of facts.links) for (const a of l.addresses) this.localAddrs.add(a.address)
    // The host's own and broadcast addresses are address classes of their own (fib/addrtype tell them apart).
    this.rs = compile(facts.ruleset, {hostAddresses: [...this.localAddrs, ...this.bcastAddrs]})
    this.ctx = {
      addressType: (addr, family, device) => {
        if (device !== undefined) {
          const on = this.links.get(device)?.addresses.some((a) => a.address === addr)
          return on ? ['local'] : family === 4 && addr === '255.255.255.255' ? ['broadcast'] : ['unicast']
        }
        if (this.localAddrs.has(addr)) return ['local']
        if (family === 4 && (addr === '255.255.255.255' || this.bcastAddrs.has(addr))) return ['broadcast']
        const ip = parseIp(addr)
        if (ip && family === 4 && ip.value >> 28n === 0xen) return ['multicast']
        if (ip && family === 6 && ip.value >> 120n === 0xffn) return ['multicast']
        return ['unicast']
      },
      addressOf: (dev, family) => this.links.get(dev)?.addresses.find((a) => a.family === (family === 4 ? 'inet' : 'inet6') && a.scope === 'global')?.address,
    }
  }

  /** The device of the main table's default route: where NAT guests normally leave. */
  mainDefaultDev(): string | undefined {
    const d = this.facts.routes.filter((r) => r.family === 'inet' && r.table === 'main' && r.dst === 'default' && r.type === 'unicast').sort((a, b) => a.metric - b.metric)[0]
    return d?.dev ?? d?.nexthops[0]?.dev
  }

  private readonly summaries = new Map<string, string>()
  /** The base chains a hook runs, in a line (the same for every flow: made once per hook, layer and family). */
  private hookSummary(hook: NfHook, layer: HookLayer, family: 4 | 6, device?: string): string {
    const key = layer === 'bridge' ? `${hook} bridge` : layer === 'netdev' ? `${hook} netdev ${device}` : family === 4 ? `${hook} 4` : `${hook} 6`
    let text = this.summaries.get(key)
    if (text === undefined) {
      const chains = layer === 'netdev' ? deviceChains(this.rs, hook as 'ingress' | 'egress', device) : this.rs.baseChains(hook, familiesFor(layer, family))
      text = chains.length === 0 ? 'no base chain on this hook' : `${chains.length} base chain(s): ${chains.map((c) => `${c.backend === 'iptables-legacy' ? 'legacy ' : c.backend === 'nft' ? 'nft ' : ''}${c.family} ${c.table} ${c.name} (${c.base!.priority})`).join(', ')}`
      this.summaries.set(key, text)
    }
    return text
  }

  sysctl(key: string): number | null | undefined {
    return this.facts.sysctl[key]
  }

  network(i: Iface): LibvirtNetwork | undefined {
    if (i.type === 'network') return this.facts.networks.find((n) => n.name === i.source)
    const bridge = i.bridge ?? i.source
    return this.facts.networks.find((n) => n.bridge !== undefined && n.bridge === bridge)
  }

  guestFlows(d: LibvirtDomain, i: Iface, internet: Destination, custom: boolean): Flow[] {
    if (i.type !== 'network' && i.type !== 'bridge') return []
    const net = this.network(i)
    const bridge = i.type === 'network' ? (i.bridge ?? net?.bridge) : (i.source ?? i.bridge)
    if (!bridge) return []
    // Neither its tap nor its bridge in the link table, while libvirt runs the guest: these links live in
    // another network namespace than this one (kvmdoctor run inside a container or netns). Nothing to follow.
    if (!this.links.has(bridge) && (!i.target || !this.links.has(i.target))) return []
    const v4 = net?.ips.find((ip) => ip.family === 'ipv4')
    const routed = net !== undefined && net.forwardMode !== 'bridge' && v4 !== undefined
    // A guest whose address nothing reports still has flows: judge them for an address of its network.
    const known = i.mac ? this.facts.guestAddress(i.mac) : undefined
    const base: FlowBase = {guest: d.name, iface: i.target ?? i.mac ?? 'nic', mac: i.mac, network: net?.name, bridge}
    const flows: Flow[] = []
    if (routed) {
      const gw = v4.address
      const subnet = `${gw}/${v4.prefix}`
      const own = known && ipInPrefix(known, subnet) ? known : undefined
      if (own) base.guestAddress = own
      const src = own ?? v4.dhcpRanges[0]?.start ?? firstHost(subnet) ?? gw
      const srcNote = own ? '' : ` (an address of ${subnet}: the guest's own is not known)`
      if (custom) {
        flows.push(...this.routedEgress(base, d, i, net, bridge, src, srcNote, internet, 'custom'))
        return flows
      }
      if (v4.dhcpRanges.length > 0 || v4.dhcpHosts.length > 0) flows.push(...this.localService(base, d, i, net, bridge, 'dhcp', gw, src))
      if (net.dnsEnabled) flows.push(...this.localService(base, d, i, net, bridge, 'dns', gw, src, srcNote))
      if (net.forwardMode === 'nat' || net.forwardMode === 'route' || net.forwardMode === 'open') flows.push(...this.routedEgress(base, d, i, net, bridge, src, srcNote, internet, 'egress'))
      return flows
    }
    // A plain host bridge: frames are bridged to its other ports; DHCP and the way out are on the LAN behind them.
    const uplinks = (this.ports.get(bridge) ?? []).filter((p) => p.kind !== 'tap' && p.kind !== 'macvtap' && p.name !== i.target)
    if (uplinks.length === 0) return flows
    const src = known ?? '0.0.0.0'
    if (known) base.guestAddress = known
    if (!custom) flows.push(...this.bridgedFlow(base, d, i, bridge, uplinks[0], 'dhcp', src))
    flows.push(...this.bridgedFlow(base, d, i, bridge, uplinks[0], custom ? 'custom' : 'egress', src, internet))
    return flows
  }

  /**
   * IPv6 out of a routed network that has an IPv6 address (libvirt routes it, without NAT), and the
   * reply: followed only when the host's IPv6 routes were read and the host has IPv6 on the way
   * out (an IPv6 default route, or a route to the destination): a host without IPv6 offers guests none.
   */
  guestFlows6(d: LibvirtDomain, i: Iface, to: Destination): Flow[] {
    if (!this.facts.ipv6Routes || (i.type !== 'network' && i.type !== 'bridge')) return []
    const net = this.network(i)
    const v6 = net?.ips.find((ip) => ip.family === 'ipv6')
    if (!net || !v6 || !['nat', 'route', 'open'].includes(net.forwardMode)) return []
    const bridge = i.type === 'network' ? (i.bridge ?? net.bridge) : (i.source ?? i.bridge)
    if (!bridge || (!this.links.has(bridge) && (!i.target || !this.links.has(i.target)))) return []
    const hasWayOut = this.facts.routes.some((r) => r.family === 'inet6' && r.type === 'unicast' && (r.dst === 'default' || (r.dst.includes('/') && !r.dst.startsWith('fe80') && ipInPrefix(to.addr, r.dst) && r.dev !== bridge)))
    if (!hasWayOut) return []
    const subnet = `${v6.address}/${v6.prefix}`
    const known = i.mac ? this.facts.guestAddress6?.(i.mac) : undefined
    const own = known && ipInPrefix(known, subnet) ? known : undefined
    const range = parsePrefix(subnet)
    const src = own ?? v6.dhcpRanges[0]?.start ?? (range ? formatIp(6, range.lo + 0x100n) : v6.address)
    const srcNote = own ? '' : ` (an address of ${subnet}: the guest's own is not known)`
    const base: FlowBase = {guest: d.name, iface: i.target ?? i.mac ?? 'nic', mac: i.mac, network: net.name, bridge, ...(own ? {guestAddress: own} : {})}
    const ports = to.proto === 'icmp' ? {icmpType: 128} : {sport: 40000, dport: to.port ?? 443}
    const l4proto = to.proto === 'icmp' ? 'icmpv6' : to.proto
    const request = newPacket({family: 6, iifname: bridge, src, dst: to.addr, l4proto, ...ports, etherSrc: i.mac})
    const runner = this.intoHost(d, i, bridge, request)
    const decision = runner.route('routing', 'forward')
    const egress = decision?.dev
    if (runner.alive()) runner.push(this.forwardingHop(bridge, 6))
    runner.nf('netfilter forward', 'forward', 'ip', {iifname: bridge, oifname: egress})
    runner.nf('netfilter postrouting', 'postrouting', 'ip', {iifname: bridge, oifname: egress})
    if (runner.alive() && egress) runner.device('egress', egress)
    if (runner.alive() && egress) runner.links(this.deviceHops(egress, 'egress'))
    const dest = `[${to.addr}]${to.proto === 'icmp' ? ' (ping)' : `:${to.port ?? 443}/${to.proto}`}`
    const flows = [this.finish(base, 'egress6', `IPv6 to the internet ${dest}${egress ? ` via ${egress}` : ''}${srcNote}`, request, runner.hops)]
    if (flows[0].verdict === 'fail' || !egress) return flows
    const reply = replyPacket({family: 6, iifname: egress, src: to.addr, dst: src, l4proto, ...(to.proto === 'icmp' ? {icmpType: 129} : {sport: to.port ?? 443, dport: 40000})})
    flows.push(this.finish(base, 'egress6-reply', `IPv6 reply from ${to.addr} back to ${d.name}`, reply, this.forwardedReply(reply, egress, bridge, i), 'egress6'))
    return flows
  }

  // ---- hops --------------------------------------------------------------

  /** Guest NIC, tap, bridge and the tap's bridge port: the way into the host. */
  private ingressLinks(d: LibvirtDomain, i: Iface, bridge: string): Hop[] {
    const hops: Hop[] = []
    hops.push(
      i.linkState === 'down'
        ? {name: 'guest NIC', verdict: 'fail', detail: `libvirt holds the link of ${d.name}'s NIC down`, element: {id: `guest-link:${d.name}/${i.mac ?? i.target}`, kind: 'guest-link', text: `<link state='down'/> on ${d.name}'s interface ${i.mac ?? ''}`.trim(), undo: [`virsh domif-setlink ${d.name} ${i.target ?? i.mac} up`], device: i.target}}
        : {name: 'guest NIC', verdict: 'pass', detail: `link up (${i.model ?? 'nic'} ${i.mac ?? ''})`.trim()},
    )
    hops.push(...this.deviceHops(i.target, 'tap', bridge))
    hops.push(...this.deviceHops(bridge, 'bridge'))
    if (i.target) {
      const tap = this.links.get(i.target)
      const state = tap?.portState
      const delayCs = this.links.get(bridge)?.bridge?.forwardDelayCs ?? 0
      // Listening and learning pass within the forward delay; only a delay past the kernel's 2 s minimum is a fault worth a finding.
      const transient = state === 'listening' || state === 'learning'
      if (tap && state && state !== 'forwarding' && (!transient || delayCs > 200)) {
        hops.push({name: `bridge port ${i.target}`, verdict: 'fail', detail: `STP port state ${state}${transient ? ` (nothing is forwarded from it for ${delayCs / 100} s x 2)` : ''}`, element: {id: `stp:${bridge}`, kind: 'stp', text: `bridge ${bridge}: port ${i.target} is ${state}`, undo: [`ip link set ${bridge} type bridge forward_delay 0`], device: bridge}})
      } else if (tap && transient) {
        hops.push({name: `bridge port ${i.target}`, verdict: 'pass', detail: `STP port state ${state}: forwarding within ${delayCs / 100} s x 2`})
      }
    }
    // Two MACs answering for one address: replies go to whichever the neighbour cache holds.
    const conflict = i.mac ? this.facts.addressConflict?.(i.mac) : undefined
    if (conflict) hops.push({name: 'address', verdict: 'indeterminate', detail: `another MAC claims ${conflict}: replies reach whichever one the neighbour cache holds`, element: {id: `conflict:${conflict}`, kind: 'listener', text: `${conflict} claimed by two MACs`, undo: []}})
    return hops
  }

  /** A guest's packet up to the host's IP layer: its NIC, tap, bridge and port, the bridge hooks, conntrack, prerouting. */
  private intoHost(d: LibvirtDomain, i: Iface, bridge: string, request: NfPacket): PathRunner {
    const runner = new PathRunner(this, this.ingressLinks(d, i, bridge), request)
    runner.device('ingress', i.target)
    runner.nf('bridge prerouting', 'prerouting', 'bridge', {iifname: i.target, ibrname: bridge})
    // br_netfilter runs the IP prerouting hook inside the bridge's (before bridge input), and its data stays
    // with the packet: -m physdev sees the tap in every later IP hook, routed or not.
    const brnf = this.sysctl(request.family === 4 ? 'net.bridge.bridge-nf-call-iptables' : 'net.bridge.bridge-nf-call-ip6tables') === 1
    const prerouting = () => {
      const conntrack = this.conntrackHop()
      if (conntrack) runner.push(conntrack)
      runner.nf('netfilter prerouting', 'prerouting', 'ip', {iifname: bridge})
    }
    if (brnf) {
      runner.ports({physIn: i.target})
      prerouting()
    }
    runner.nf('bridge input', 'input', 'bridge', {iifname: i.target, ibrname: bridge})
    // Passed up to the bridge device, the frame is received again there: the bridge's own ingress.
    runner.device('ingress', bridge)
    if (!brnf) prerouting()
    return runner
  }

  /** A full connection-tracking table drops new connections, unless the kernel can evict an unreplied one. */
  private conntrackHop(): Hop | undefined {
    const count = this.sysctl('net.netfilter.nf_conntrack_count')
    const max = this.sysctl('net.netfilter.nf_conntrack_max')
    if (count === undefined || count === null || !max || count < max) return undefined
    return {name: 'conntrack', verdict: 'indeterminate', detail: `nf_conntrack_count ${count} >= nf_conntrack_max ${max}: new connections are dropped unless an unreplied entry can be evicted`, element: {id: 'sysctl:net.netfilter.nf_conntrack_max', kind: 'sysctl', text: `net.netfilter.nf_conntrack_max = ${max} (table full)`, sysctl: {key: 'net.netfilter.nf_conntrack_max', value: max}, undo: [`sysctl -w net.netfilter.nf_conntrack_max=${max * 2}`]}}
  }

  /** A device on the path: exists, admin up, carrier, and (for a tap) enslaved to the bridge. */
  private deviceHops(name: string | undefined, role: 'tap' | 'bridge' | 'egress', bridge?: string): Hop[] {
    // The same device seen the same way gives the same hop: made once (every guest's flows pass its bridge
    // and the uplink); callers copy the list, and hops are never changed.
    const byName = this.deviceHopCache[role]
    const byBridge = byName.get(name) ?? byName.set(name, new Map()).get(name)!
    let hops = byBridge.get(bridge)
    if (!hops) byBridge.set(bridge, (hops = this.deviceHopsOf(name, role, bridge)))
    return hops
  }

  private readonly deviceHopCache = {tap: new Map<string | undefined, Map<string | undefined, Hop[]>>(), bridge: new Map<string | undefined, Map<string | undefined, Hop[]>>(), egress: new Map<string | undefined, Map<string | undefined, Hop[]>>()}

  private deviceHopsOf(name: string | undefined, role: 'tap' | 'bridge' | 'egress', bridge?: string): Hop[] {
    const label = `${role} ${name ?? '?'}`
    if (!name) return [{name: label, verdict: 'fail', detail: 'the guest interface has no host device (not started?)', element: {id: `link:?`, kind: 'link', text: 'no tap device', undo: []}}]
    const link = this.links.get(name)
    if (!link) return [{name: label, verdict: 'fail', detail: `${name} does not exist on the host`, element: {id: `link:${name}`, kind: 'link', text: `device ${name} is missing`, device: name, undo: role === 'bridge' ? [] : []}}]
    if (!link.up) return [{name: label, verdict: 'fail', detail: `${name} is administratively down`, element: {id: `link:${name}`, kind: 'link', text: `ip link: ${name} DOWN`, device: name, undo: [`ip link set ${name} up`]}}]
    if (role === 'tap' && bridge && link.master !== bridge) {
      return [{name: label, verdict: 'fail', detail: link.master ? `${name} is attached to ${link.master}, not ${bridge}` : `${name} is attached to no bridge`, element: {id: `tap:${name}`, kind: 'link-master', text: `${name} master ${link.master ?? 'none'} (expected ${bridge})`, device: name, undo: [`ip link set ${name} master ${bridge} up`]}}]
    }
    // Taps report UNKNOWN and an empty bridge NO-CARRIER: only a device that should carry traffic and has lost it fails.
    if (role === 'egress' && !link.lowerUp && link.kind !== 'tap') {
      return [{name: label, verdict: 'fail', detail: `${name} has no carrier (${link.operstate})`, element: {id: `link:${name}`, kind: 'link', text: `ip link: ${name} NO-CARRIER`, device: name, undo: [`ip link set ${name} up   # and check the cable or switch port: ethtool ${name}`]}}]
    }
    return [{name: label, verdict: 'pass', detail: `${name} up${link.master ? `, master ${link.master}` : ''}, mtu ${link.mtu}`}]
  }

  /** One netfilter hook as a hop: runs the branches, reports pass / fail / indeterminate with the deciding rule. */
  nfHop(name: string, hook: NfHook, layer: HookLayer, branches: Branch[]): {hop: Hop; branches: Branch[]} {
    const used: HookWalk[] = []
    const after = runHook(this.rs, hook, layer, branches, this.ctx, used)
    // One branch with nothing assumed, through a walk that did not fork: the hop says only what the walk
    // found, the same for every packet of the class. It is made once and shared (hops are never changed).
    const single = branches.length === 1 && branches[0].assumptions.length === 0 && used.length === 1 && used[0].results.length === 1
    const memo = single ? (this.hopsByWalk.get(used[0]) ?? this.hopsByWalk.set(used[0], new Map()).get(used[0])!) : undefined
    const known = memo?.get(name)
    if (known) return {hop: known, branches: after}
    const hop = this.hopOf(name, hook, layer, branches, after)
    memo?.set(name, hop)
    return {hop, branches: after}
  }

  private readonly hopsByWalk = new Map<HookWalk, Map<string, Hop>>()

  private hopOf(name: string, hook: NfHook, layer: HookLayer, branches: Branch[], after: Branch[]): Hop {
    const live: Branch[] = []
    const unknown: Branch[] = []
    // Branches already sealed before this hook (passed through as they were) say nothing about it.
    const newlyDropped: Branch[] = []
    for (const b of after) {
      if (b.status === 'accept') live.push(b)
      else if (b.status === 'unknown') unknown.push(b)
      else if (!branches.includes(b)) newlyDropped.push(b)
    }
    const first = after[0]
    // A branch that went through this hook holds this hook's steps alone (shared with every packet of its class, read-only).
    const onHook = (b: Branch) => (b.steps.every((s) => s.hook === hook) ? b.steps : b.steps.filter((s) => s.hook === hook))
    const steps = first ? onHook(first) : []
    if (live.length === 0 && unknown.length === 0 && newlyDropped.length > 0) {
      const decided = newlyDropped[0].decidedBy!
      return {name, verdict: 'fail', detail: `dropped by ${describeStep(decided)}`, element: elementForStep(decided, this.facts.ruleset), steps: onHook(newlyDropped[0])}
    }
    if (unknown.length > 0 || (newlyDropped.length > 0 && live.length > 0)) {
      // One entry per undecidable rule, however many branches forked on it.
      const byRule = new Map<string, TraceStep>()
      for (const b of after) for (const a of b.assumptions) byRule.set(assumptionKey({...a, assumed: true}), a.step)
      const assumptions = [...byRule.values()]
      const undecided = assumptions.map((s) => {
        const outcome = (assumed: boolean) => {
          const b = after.find((x) => x.assumptions.some((a) => assumptionKey(a) === assumptionKey({step: s, assumed})))
          return b ? (b.status === 'accept' ? 'passes' : b.status === 'drop' ? `dropped by ${describeStep(b.decidedBy!)}` : 'cannot be told') : 'not reached'
        }
        return {rule: describeStep(s), note: s.note, ifMatches: outcome(true), ifNot: outcome(false)}
      })
      const decided = unknown[0]?.decidedBy ?? assumptions[0]
      return {name, verdict: 'indeterminate', detail: undecided.length > 0 ? `depends on ${undecided.map((u) => u.rule).join('; ')}` : `cannot be told at ${decided ? describeStep(decided) : name}`, element: decided ? elementForStep(decided, this.facts.ruleset, true) : undefined, steps, undecided}
    }
    const summary = this.hookSummary(hook, layer, first?.packet.family ?? 4, hook === 'ingress' ? first?.packet.iifname : first?.packet.oifname)
    return {name, verdict: 'pass', detail: live.length > 0 && steps.length > 0 ? `accepted (${summary})` : summary, steps}
  }

  routingHop(name: string, decision: RouteDecision, expect: 'forward' | 'local', packet: NfPacket): Hop {
    const trail = decision.trail.join('; ')
    if (decision.kind === 'unknown') return {name, verdict: 'indeterminate', detail: decision.unknownBecause ?? 'cannot be told', element: decision.rule ? policyElement(decision) : undefined}
    const ok = expect === 'local' ? decision.kind === 'local' || decision.kind === 'broadcast' : decision.kind === 'unicast'
    if (ok) return {name, verdict: 'pass', detail: `${packet.dst}: ${decision.kind === 'unicast' ? `via ${decision.dev}${decision.gateway ? ` gw ${decision.gateway}` : ''}` : decision.kind} (${trail})`}
    const why = decision.kind === 'no-route' ? `no route to ${packet.dst}` : decision.kind === 'local' ? `${packet.dst} is an address of this host` : `${decision.kind} (${decision.route ? describeRoute(decision.route) : decision.rule?.text ?? ''})`
    const element: Element = decision.rule && decision.rule.priority !== 0 && decision.rule.priority < 32766
      ? policyElement(decision)
      : decision.route
        ? {id: `route:${decision.route.table} ${decision.route.dst}`, kind: 'route', text: `${describeRoute(decision.route)}`, undo: decision.route.type !== 'unicast' ? [`ip route del ${decision.route.type} ${decision.route.dst}${decision.route.table !== 'main' ? ` table ${decision.route.table}` : ''}`] : []}
        : {id: `route:missing ${packet.family === 4 ? '0.0.0.0/0' : '::/0'}`, kind: 'route', text: `no route to ${packet.dst} (no default route)`, undo: []}
    return {name, verdict: 'fail', detail: `${why}; ${trail}`, element}
  }

  private forwardingHop(iif: string, family: 4 | 6): Hop {
    const global = family === 4 ? this.sysctl('net.ipv4.ip_forward') : this.sysctl('net.ipv6.conf.all.forwarding')
    const own = family === 4 ? this.sysctl(`net.ipv4.conf.${iif}.forwarding`) : this.sysctl(`net.ipv6.conf.${iif}.forwarding`)
    const key = family === 4 ? 'net.ipv4.ip_forward' : 'net.ipv6.conf.all.forwarding'
    if (global === 0) return {name: 'forwarding', verdict: 'fail', detail: `${key} = 0: the host routes nothing`, element: {id: `sysctl:${key}`, kind: 'sysctl', text: `${key} = 0`, sysctl: {key, value: 0}, undo: [`sysctl -w ${key}=1`]}}
    // The kernel asks the arriving device (ip_forward sets every conf/*/forwarding; one device can be off alone).
    const ownKey = family === 4 ? `net.ipv4.conf.${iif}.forwarding` : `net.ipv6.conf.${iif}.forwarding`
    // IPv6 forwards by conf/all alone: a device's own flag only makes it act as host or router (RAs).
    if (own === 0 && family === 4) return {name: 'forwarding', verdict: 'fail', detail: `${ownKey} = 0: nothing arriving on ${iif} is routed`, element: {id: `sysctl:${ownKey}`, kind: 'sysctl', text: `${ownKey} = 0`, sysctl: {key: ownKey, value: 0}, device: iif, undo: [`sysctl -w ${ownKey}=1`]}}
    if (global === undefined || global === null) return {name: 'forwarding', verdict: 'indeterminate', detail: `${key} could not be read`}
    return {name: 'forwarding', verdict: 'pass', detail: `${key} = ${global}${own !== undefined && own !== null ? `, ${ownKey} = ${own}` : ''}`}
  }

  private rpFilterHop(packet: NfPacket, iif: string): Hop | undefined {
    if (packet.family !== 4 || packet.src === '0.0.0.0') return undefined
    const all = this.sysctl('net.ipv4.conf.all.rp_filter')
    const own = this.sysctl(`net.ipv4.conf.${iif}.rp_filter`)
    if (all === undefined && own === undefined) return {name: 'rp_filter', verdict: 'indeterminate', detail: 'rp_filter could not be read'}
    const mode = Math.max(all ?? 0, own ?? 0)
    if (mode === 0) return undefined
    const {ok, decision} = this.router.reversePathOk({family: 4, src: packet.src, dst: packet.dst, iif, mode})
    if (ok === true) return {name: 'rp_filter', verdict: 'pass', detail: `mode ${mode}: the route back to ${packet.src} leaves by ${decision.dev ?? iif}`}
    if (ok === 'unknown') return {name: 'rp_filter', verdict: 'indeterminate', detail: decision.unknownBecause ?? 'cannot be told'}
    const key = own !== undefined && own !== null && own >= (all ?? 0) ? `net.ipv4.conf.${iif}.rp_filter` : 'net.ipv4.conf.all.rp_filter'
    return {
      name: 'rp_filter',
      verdict: 'fail',
      detail: `mode ${mode} (${mode === 1 ? 'strict' : 'loose'}): the route back to ${packet.src} ${decision.kind === 'unicast' ? `leaves by ${decision.dev}, not ${iif}` : `is ${decision.kind}`}`,
      element: {id: `sysctl:rp_filter:${iif}`, kind: 'rp-filter', text: `rp_filter ${mode} on ${iif} (effective max of conf/all and conf/${iif})`, sysctl: {key, value: mode}, device: iif, undo: [`sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.${iif}.rp_filter=2`]},
    }
  }

  /** A socket that will take the packet: the service's listener on the bridge address or a wildcard. */
  private listenerHop(kind: 'dhcp' | 'dns', net: LibvirtNetwork, bridge: string, addr: string): Hop {
    const port = kind === 'dhcp' ? 67 : 53
    const listeners = this.facts.listeners
    if (listeners === null) return {name: `listener udp ${port}`, verdict: 'indeterminate', detail: 'sockets could not be listed (ss)'}
    const hit = listeners.find((l) => l.proto === 'udp' && l.port === port && (l.address === addr || (['0.0.0.0', '*', '', '::'].includes(l.address) && (l.iface === undefined || l.iface === bridge))))
    if (hit) return {name: `listener udp ${port}`, verdict: 'pass', detail: `${hit.process ?? 'a process'}${hit.pid ? ` (pid ${hit.pid})` : ''} on ${hit.address}${hit.iface ? `%${hit.iface}` : ''}:${port}`}
    return {
      name: `listener udp ${port}`,
      verdict: 'fail',
      detail: `nothing listens on udp ${addr}:${port} or a wildcard on ${bridge}`,
      element: {id: `listener:${net.name}:${kind}`, kind: 'listener', text: `no ${kind === 'dhcp' ? 'DHCP' : 'DNS'} server on ${bridge} (${addr}:${port})`, network: net.name, undo: [`virsh net-destroy ${net.name} && virsh net-start ${net.name}`]},
    }
  }

  // ---- flows -------------------------------------------------------------

  private finish(base: FlowBase, kind: FlowKind, description: string, packet: NfPacket, hops: Hop[], replyTo?: FlowKind): Flow {
    const fail = hops.find((h) => h.verdict === 'fail')
    const unsure = hops.find((h) => h.verdict === 'indeterminate')
    const verdict = fail ? 'fail' : unsure ? 'indeterminate' : 'pass'
    const {guest, iface, mac, network, bridge, guestAddress} = base
    // Written out rather than spread (six thousand flows on a big host): the same fields in the same order.
    const flow: Flow =
      guestAddress === undefined
        ? {guest, iface, mac, network, bridge, kind, description, packet: describePacket(packet), verdict, hops, decidedBy: fail ?? unsure}
        : {guest, iface, mac, network, bridge, guestAddress, kind, description, packet: describePacket(packet), verdict, hops, decidedBy: fail ?? unsure}
    if (replyTo) flow.replyTo = replyTo
    return flow
  }

  /** DHCP or DNS from a guest to the network's own dnsmasq, and its answer. */
  private localService(base: FlowBase, d: LibvirtDomain, i: Iface, net: LibvirtNetwork, bridge: string, kind: 'dhcp' | 'dns', gw: string, src: string, srcNote = ''): Flow[] {
    const request =
      kind === 'dhcp'
        ? newPacket({family: 4, iifname: bridge, src: '0.0.0.0', dst: '255.255.255.255', l4proto: 'udp', sport: 68, dport: 67, pkttype: 'broadcast', etherSrc: i.mac})
        : newPacket({family: 4, iifname: bridge, src, dst: gw, l4proto: 'udp', sport: 40000, dport: 53, etherSrc: i.mac})
    const runner = this.intoHost(d, i, bridge, request)
    runner.route('routing', 'local')
    const rp = this.rpFilterHop(request, bridge)
    if (rp) runner.push(rp)
    runner.nf('netfilter input', 'input', 'ip', {iifname: bridge, oifname: undefined})
    runner.push(this.listenerHop(kind, net, bridge, gw))
    // The server answers only if it has an address for this client.
    if (kind === 'dhcp' && i.mac && this.facts.dhcpPoolFullFor?.(net.name, i.mac)) {
      runner.push({name: 'DHCP pool', verdict: 'fail', detail: `every address of network ${net.name}'s DHCP range is leased, none to ${i.mac}: no offer`, element: {id: `pool:${net.name}`, kind: 'listener', text: `DHCP range of network ${net.name} exhausted`, network: net.name, undo: []}})
    }
    const what = kind === 'dhcp' ? 'DHCP request' : 'DNS query'
    const out = [this.finish(base, kind, `${what} to ${kind === 'dhcp' ? 'the DHCP server' : 'the resolver'} of network ${net.name} on ${gw}${kind === 'dns' ? srcNote : ''}`, request, runner.hops)]
    // The answer: from dnsmasq out of the bridge. A DHCP reply does not match the request's conntrack tuple: it is new.
    const reply =
      kind === 'dhcp'
        ? newPacket({family: 4, oifname: bridge, src: gw, dst: '255.255.255.255', l4proto: 'udp', sport: 67, dport: 68, pkttype: 'broadcast'})
        : replyPacket({family: 4, oifname: bridge, src: gw, dst: src, l4proto: 'udp', sport: 53, dport: 40000})
    const back = new PathRunner(this, [], reply)
    back.nf('netfilter output', 'output', 'ip', {oifname: bridge})
    back.nf('netfilter postrouting', 'postrouting', 'ip', {oifname: bridge})
    this.outToGuest(back, bridge, i)
    out.push(this.finish(base, `${kind}-reply` as FlowKind, `${kind === 'dhcp' ? 'DHCP offer' : 'DNS answer'} back to ${d.name}`, reply, back.hops, kind))
    return out
  }

  /**
   * A reply coming back in by the egress device: prerouting (where conntrack undoes the source NAT, at the
   * NAT core's priority: the packet's ct.translate), routing, forward and postrouting to the bridge, then out to the guest.
   */
  private forwardedReply(packet: NfPacket, egress: string, bridge: string, i: Iface): Hop[] {
    const back = new PathRunner(this, [...this.deviceHops(egress, 'egress')], packet)
    back.device('ingress', egress)
    back.nf('netfilter prerouting', 'prerouting', 'ip', {iifname: egress})
    back.route('routing', 'forward', {iif: egress})
    back.nf('netfilter forward', 'forward', 'ip', {iifname: egress, oifname: bridge})
    back.nf('netfilter postrouting', 'postrouting', 'ip', {iifname: egress, oifname: bridge})
    this.outToGuest(back, bridge, i)
    return back.hops
  }

  /** The last steps of every packet bound for a guest: the bridge's output and postrouting hooks, then its tap. */
  private outToGuest(back: PathRunner, bridge: string, i: Iface): void {
    // Sent on the bridge device (its egress), which hands the frame to the port (the tap's egress).
    back.device('egress', bridge)
    back.nf('bridge output', 'output', 'bridge', {oifname: i.target, obrname: bridge})
    back.nf('bridge postrouting', 'postrouting', 'bridge', {oifname: i.target, obrname: bridge})
    back.device('egress', i.target)
    back.links(this.deviceHops(i.target, 'tap', bridge))
  }

  /** Out through the host's routing, forward filter and NAT to a destination, and the reply back in. */
  private routedEgress(base: FlowBase, d: LibvirtDomain, i: Iface, net: LibvirtNetwork, bridge: string, src: string, srcNote: string, to: Destination, kind: 'egress' | 'custom'): Flow[] {
    const request = newPacket({family: 4, iifname: bridge, src, dst: to.addr, l4proto: to.proto, ...(to.proto === 'icmp' ? {icmpType: 8} : {sport: 40000, dport: to.port ?? 443}), etherSrc: i.mac})
    const runner = this.intoHost(d, i, bridge, request)
    const decision = runner.route('routing', 'forward')
    const egress = decision?.dev
    const diverted = decision && decision.kind === 'unicast' && decision.rule && decision.rule.priority !== 0 && decision.rule.priority < 32766 && egress !== this.mainDefaultDev() ? policyElement(decision) : undefined
    if (runner.alive()) runner.push(this.forwardingHop(bridge, 4))
    const rp = runner.alive() ? this.rpFilterHop(runner.packet(), bridge) : undefined
    if (rp) runner.push(rp)
    runner.nf('netfilter forward', 'forward', 'ip', {iifname: bridge, oifname: egress})
    runner.nf('netfilter postrouting', 'postrouting', 'ip', {iifname: bridge, oifname: egress})
    // NAT networks only work when the source is translated: replies to a private guest address never come back.
    if (runner.alive() && net.forwardMode === 'nat') runner.push(this.natHop(runner, src, net))
    if (runner.alive() && egress) runner.device('egress', egress)
    if (runner.alive() && egress) runner.links(this.deviceHops(egress, 'egress'))
    const dest = `${to.addr}${to.proto === 'icmp' ? ' (ping)' : `:${to.port ?? 443}/${to.proto}`}`
    const flows = [this.finish(base, kind, `${kind === 'egress' ? 'to the internet' : 'to'} ${dest}${egress ? ` via ${egress}` : ''}${srcNote}`, request, runner.hops)]
    if (diverted) flows[0].divertedBy = diverted
    if (flows[0].verdict === 'fail' || !egress) return flows
    // The reply: conntrack undoes the source NAT before routing, so the forward hook sees the guest's address.
    const natted = runner.packet().src
    const reply = replyPacket({family: 4, iifname: egress, src: to.addr, dst: src, l4proto: to.proto, ...(to.proto === 'icmp' ? {icmpType: 0} : {sport: to.port ?? 443, dport: 40000})}, natted !== src ? ['snat'] : [])
    const replyHops = this.forwardedReply(natted !== src ? {...reply, dst: natted, ct: {...reply.ct, translate: {dst: src}}} : reply, egress, bridge, i)
    flows.push(this.finish(base, `${kind === 'custom' ? 'custom' : 'egress'}-reply` as FlowKind, `reply from ${to.addr} back to ${d.name}`, reply, replyHops, kind))
    if (kind === 'custom') flows[1].kind = 'custom'
    return flows
  }

  private natHop(runner: PathRunner, src: string, net: LibvirtNetwork): Hop {
    const branches = runner.live()
    const translated = branches.filter((b) => b.packet.src !== src)
    if (branches.length > 0 && translated.length === branches.length) {
      const n = translated[0].nat.find((x) => x.field === 'src')
      return {name: 'NAT', verdict: 'pass', detail: `source ${src} → ${translated[0].packet.src}${n ? ` (${describeStep(n.step)})` : ''}`}
    }
    if (translated.length > 0) return {name: 'NAT', verdict: 'indeterminate', detail: `the source is translated on some paths only`}
    const postSteps = branches[0]?.steps.filter((s) => s.hook === 'postrouting') ?? []
    return {name: 'NAT', verdict: 'fail', detail: `nothing translates ${src}: replies to a private address never come back`, element: natMissingElement(net, postSteps, this.facts.ruleset), steps: postSteps}
  }

  /** A frame bridged between the guest's tap and an uplink port: bridge hooks, and the IP hooks when br_netfilter hands it over. */
  private bridgedFlow(base: FlowBase, d: LibvirtDomain, i: Iface, bridge: string, uplink: Link, kind: 'dhcp' | 'egress' | 'custom', src: string, to?: Destination): Flow[] {
    const brnf = this.sysctl('net.bridge.bridge-nf-call-iptables')
    const mk = (dir: 'out' | 'in', reply: boolean): NfPacket => {
      const tap = i.target
      const fields = dir === 'out' ? {physIn: tap, physOut: uplink.name} : {physIn: uplink.name, physOut: tap}
      if (kind === 'dhcp') {
        // Request broadcast from 0.0.0.0; the server's reply does not match it in conntrack (new).
        return dir === 'out'
          ? newPacket({family: 4, iifname: bridge, oifname: bridge, ...fields, bridged: true, src: '0.0.0.0', dst: '255.255.255.255', l4proto: 'udp', sport: 68, dport: 67, pkttype: 'broadcast', etherSrc: i.mac})
          : newPacket({family: 4, iifname: bridge, oifname: bridge, ...fields, bridged: true, src: 'unknown', dst: '255.255.255.255', l4proto: 'udp', sport: 67, dport: 68, pkttype: 'broadcast'})
      }
      const dest = to ?? DEFAULT_INTERNET
      const ports = dest.proto === 'icmp' ? {icmpType: reply ? 0 : 8} : reply ? {sport: dest.port ?? 443, dport: 40000} : {sport: 40000, dport: dest.port ?? 443}
      const p = {family: 4 as const, iifname: bridge, oifname: bridge, ...fields, bridged: true, src: dir === 'out' ? src : dest.addr, dst: dir === 'out' ? dest.addr : src, l4proto: dest.proto, ...ports}
      return reply ? replyPacket(p) : newPacket(p)
    }
    const run = (dir: 'out' | 'in', reply: boolean, hops: Hop[]): {packet: NfPacket; hops: Hop[]} => {
      const packet = mk(dir, reply)
      const inDev = dir === 'out' ? i.target : uplink.name
      const outDev = dir === 'out' ? uplink.name : i.target
      const runner = new PathRunner(this, hops, packet)
      if (dir === 'in') runner.links(this.deviceHops(uplink.name, 'egress'))
      runner.device('ingress', inDev)
      // br_netfilter hands the frame to the IP hooks with the bridge as device (in at prerouting, both at forward,
      // out at postrouting) and the ports for -m physdev (the out port known from forward on), each IP hook inside
      // the bridge hook of its name (postrouting after the bridge's chains: it hooks in last).
      const brnfOn = brnf === 1
      if (brnf === undefined) runner.push({name: 'br_netfilter', verdict: 'indeterminate', detail: 'net.bridge.bridge-nf-call-iptables could not be read'})
      runner.nf('bridge prerouting', 'prerouting', 'bridge', {iifname: inDev, ibrname: bridge})
      if (brnfOn) runner.nf('netfilter prerouting (br_netfilter)', 'prerouting', 'ip', {iifname: bridge, physOut: undefined})
      runner.nf('bridge forward', 'forward', 'bridge', {iifname: inDev, oifname: outDev, ibrname: bridge, obrname: bridge})
      if (brnfOn) runner.nf('netfilter forward (br_netfilter)', 'forward', 'ip', {iifname: bridge, oifname: bridge, physOut: outDev})
      runner.nf('bridge postrouting', 'postrouting', 'bridge', {oifname: outDev, obrname: bridge})
      if (brnfOn) runner.nf('netfilter postrouting (br_netfilter)', 'postrouting', 'ip', {oifname: bridge, physOut: outDev})
      runner.device('egress', outDev)
      if (dir === 'out') runner.links(this.deviceHops(uplink.name, 'egress'))
      else runner.links(this.deviceHops(i.target, 'tap', bridge))
      // A DHCP server this host runs for the segment is the end of the request (one on the LAN is out of sight).
      const server = kind === 'dhcp' && dir === 'out' ? this.facts.bridgeDhcpServers?.find((d) => d.bridge === bridge) : undefined
      if (server) {
        runner.push(
          server.running === true
            ? {name: `DHCP server ${server.name}`, verdict: 'pass', detail: `${server.name} runs and serves ${bridge}`}
            : server.running === null
              ? {name: `DHCP server ${server.name}`, verdict: 'indeterminate', detail: 'processes could not be listed'}
              : {name: `DHCP server ${server.name}`, verdict: 'fail', detail: `${server.name} is configured for ${bridge} but not running`, element: {id: `listener:${server.name}:dhcp`, kind: 'listener', text: `${server.name} (configured for ${bridge}) is not running`, undo: [`systemctl restart ${server.name}`]}},
        )
      }
      return {packet, hops: runner.hops}
    }
    const out = run('out', false, this.ingressLinks(d, i, bridge))
    const dest = to ?? DEFAULT_INTERNET
    const flows = [this.finish(base, kind, kind === 'dhcp' ? `DHCP request bridged to the LAN through ${uplink.name}` : `bridged to ${dest.addr}${dest.proto === 'icmp' ? '' : `:${dest.port ?? 443}/${dest.proto}`} through ${uplink.name}`, out.packet, out.hops)]
    const back = run('in', kind !== 'dhcp', [])
    flows.push(this.finish(base, kind === 'dhcp' ? 'dhcp-reply' : kind === 'custom' ? 'custom' : 'egress-reply', kind === 'dhcp' ? `DHCP offer from the LAN back to ${d.name}` : `reply from ${dest.addr} back to ${d.name}`, back.packet, back.hops, kind))
    return flows
  }
}

/** What every flow of one guest interface shares: exactly these fields (finish writes them out). */
type FlowBase = Pick<Flow, 'guest' | 'iface' | 'mac' | 'network' | 'bridge' | 'guestAddress'>

/** Carries the netfilter branches of one packet along its hops; stops at the first certain failure. */
class PathRunner {
  private branches: Branch[]
  constructor(
    private readonly host: HostView,
    readonly hops: Hop[],
    packet: NfPacket,
  ) {
    this.branches = [startBranch(packet)]
  }

  alive(): boolean {
    return !this.hops.some((h) => h.verdict === 'fail')
  }

  live(): Branch[] {
    return this.branches.filter((b) => b.status === 'accept')
  }

  packet(): NfPacket {
    return (this.live()[0] ?? this.branches[0]).packet
  }

  push(hop: Hop): void {
    if (this.alive()) this.hops.push(hop)
  }

  links(hops: Hop[]): void {
    for (const h of hops) this.push(h)
  }

  /** Runs a hook with the devices it sees. */
  nf(name: string, hook: NfHook, layer: HookLayer, devices: Partial<NfPacket>): void {
    if (!this.alive()) return
    if (layer === 'bridge' && this.host.rs.baseChains(hook, ['bridge']).length === 0) return
    // Bridge hooks see ports; the IP hooks see the bridge (and, for bridged frames, the ports through physdev).
    const origin = (this.live()[0] ?? this.branches[0]).packet
    // br_netfilter's IP hooks may say which out port is known yet (`physOut` among the devices).
    const ports = 'physOut' in devices
    const seen = (p: NfPacket): NfPacket =>
      // Already as this hook sees it (the hook before saw the same devices): no copy.
      p.iifname === devices.iifname && p.oifname === devices.oifname && p.ibrname === devices.ibrname && p.obrname === devices.obrname && (layer === 'ip' || (p.physIn === undefined && p.physOut === undefined && p.bridged === false)) && (!ports || p.physOut === devices.physOut)
        ? p
        : {
            ...p,
            iifname: devices.iifname,
            oifname: devices.oifname,
            ibrname: devices.ibrname,
            obrname: devices.obrname,
            ...(layer !== 'ip' ? {physIn: undefined, physOut: undefined, bridged: false} : ports ? {physOut: devices.physOut} : {}),
          }
    const input = this.branches.map((b) => {
      if (b.status !== 'accept') return b
      const packet = seen(b.packet)
      return packet === b.packet ? b : {...b, packet}
    })
    const {hop, branches} = this.host.nfHop(name, hook, layer, input)
    // After a bridge hook the packet is the bridge's again: its physdev view comes back for the IP hooks.
    const after = (p: NfPacket): NfPacket => (layer !== 'ip' ? {...p, physIn: origin.physIn, physOut: origin.physOut, bridged: origin.bridged} : p)
    // An IP hook leaves the branches as the hook returned them (fresh, not shared with its cache).
    this.branches = layer === 'ip' ? branches : branches.map((b) => (b.status === 'accept' ? {...b, packet: after(b.packet)} : b))
    this.hops.push(hop)
  }

  /** Sets br_netfilter's port data on the packet (what -m physdev reads in the IP hooks after it). */
  ports(fields: Pick<NfPacket, 'physIn'>): void {
    this.branches = this.branches.map((b) => (b.status === 'accept' ? {...b, packet: {...b.packet, ...fields}} : b))
  }

  /**
   * A device's netdev-family chains (ingress as the packet enters it, egress as it leaves), in kernel order
   * around the bridge and IP hooks. Most hosts have none: then there is no hop.
   */
  device(hook: 'ingress' | 'egress', dev: string | undefined): void {
    if (!this.alive() || deviceChains(this.host.rs, hook, dev).length === 0) return
    this.nf(`netdev ${hook} ${dev}`, hook, 'netdev', hook === 'ingress' ? {iifname: dev} : {oifname: dev})
  }

  route(name: string, expect: 'forward' | 'local', override: {iif?: string} = {}): RouteDecision | undefined {
    if (!this.alive()) return undefined
    const p = this.packet()
    const decision = this.host.router.lookup({family: p.family, dst: p.dst, src: p.src === '0.0.0.0' ? undefined : p.src, iif: override.iif ?? p.iifname, mark: p.mark, l4proto: p.l4proto, sport: p.sport, dport: p.dport})
    this.hops.push(this.host.routingHop(name, decision, expect, p))
    return decision
  }
}

function describeStep(s: TraceStep): string {
  const where = `${s.chain.backend === 'nft' ? 'nft' : s.chain.backend} ${s.chain.family} ${s.chain.table} ${s.chain.chain}`
  if (s.event === 'policy') return `${where} policy ${s.action}`
  return s.rule ? `${where}: ${s.rule.text}` : where
}

export {describeStep}

function policyElement(decision: RouteDecision): Element {
  const r = decision.rule!
  return {id: `policy-rule:${r.family}:${r.priority}`, kind: 'policy-rule', text: `ip rule ${r.text}`, undo: [`ip ${r.family === 'inet6' ? '-6 ' : ''}rule del priority ${r.priority}`], table: r.table, rulePriority: r.priority, device: decision.dev}
}

function firstHost(prefix: string): string | undefined {
  const p = parsePrefix(prefix)
  if (!p || p.family !== 4) return undefined
  const v = p.lo + 2n
  return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join('.')
}
