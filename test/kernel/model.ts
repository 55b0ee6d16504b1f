/**
 * kvmdoctor's verdict on each packet of the differential test: the facts the real probes read in the host
 * namespace (netfilter, links), compiled once, and each packet walked through the hooks the kernel runs for
 * it on this topology, in kernel order: netdev ingress, the bridge hooks, the IP hooks (through br_netfilter
 * for frames the bridge handles when it is on), netdev egress; replies and later packets of a connection
 * with conntrack's state and its NAT binding.
 */
import type {PolicyRuleFacts} from '../../probes/ip-rules.js'
import type {Link} from '../../probes/links.js'
import type {Route} from '../../probes/routes.js'
import {type CompiledRuleset, compile} from '../../src/datapath/netfilter/compile.js'
import {type Branch, type EvalContext, type HookLayer, assumptionKey, nftDevice, runHook, startBranch} from '../../src/datapath/netfilter/evaluate.js'
import type {NfPacket} from '../../src/datapath/netfilter/packet.js'
import {type RouteDecision, type Router, buildRouter, routeLookupOf} from '../../src/datapath/routing.js'
import {parseIp, parsePrefix, rangeContains} from '../../src/lib/addr.js'
import {ipv6Forwarding} from '../../src/lib/forwarding.js'
import type {NfHook, NfRuleset} from '../../src/lib/netfilter.js'
import {TOPOLOGY as T} from './generator.js'
import type {Role} from './topology.js'

const V6 = T.v6
export const ADDRESS: Record<Role, string> = {g1: T.guests[0], g2: T.guests[1], out: T.outside, host: T.hostUplinkAddr}
export const ADDRESS6: Record<Role, string> = {g1: V6.guests[0], g2: V6.guests[1], out: V6.outside, host: V6.hostUplinkAddr}
/** A role's address in a family. */
export const addressOf = (role: Role, family: 4 | 6) => (family === 6 ? ADDRESS6 : ADDRESS)[role]
const PORT_OF: Record<string, string> = {[T.guests[0]]: T.ports[0], [T.guests[1]]: T.ports[1], [V6.guests[0]]: T.ports[0], [V6.guests[1]]: T.ports[1]}

/** Where a packet to this address ends up on this topology (the host's routes, the outside's addresses). */
export function roleOf(addr: string): Role {
  if (addr === T.guests[0] || addr === V6.guests[0]) return 'g1'
  if (addr === T.guests[1] || addr === V6.guests[1]) return 'g2'
  if ([T.hostBridgeAddr, T.hostUplinkAddr, V6.hostBridgeAddr, V6.hostUplinkAddr].some((a) => a === addr)) return 'host'
  return 'out'
}

export interface Fate {
  status: 'pass' | 'drop' | 'unknown'
  /** pass: where it arrives and as what. */
  at?: Role
  packet?: NfPacket
  /** unknown: why (the rules the walk could not decide, or the branches that ended apart). */
  reason?: string
  /** pass: the connection mark the packet left conntrack with (a later packet of the connection starts with it). */
  ctMark?: number | 'unknown'
  /** drop: by a reject (the sender hears of it at once), not in silence. */
  rejected?: boolean
  /** A DNAT to an address range met on the way: the original destination and the range. */
  dnatRange?: {from: string; to: string; toEnd: string}
}

const DEVICE_FIELDS = {iifname: undefined, oifname: undefined, ibrname: undefined, obrname: undefined, physIn: undefined, physOut: undefined, bridged: false}

export class HostModel {
  readonly rs: CompiledRuleset
  readonly ctx: EvalContext
  private readonly router?: Router
  constructor(
    readonly ruleset: NfRuleset,
    links: Link[],
    readonly brnf: boolean,
    routing?: {routes: Route[]; rules: PolicyRuleFacts},
    /** The sysctls the probe read: whether IPv6 arriving on a device is forwarded (kvmdoctor's own reading, ipv6Forwarding). */
    private readonly sysctl: Record<string, number | null> = {},
  ) {
    const addrs = links.flatMap((l) => l.addresses.filter((a) => a.family === 'inet' || a.family === 'inet6').map((a) => ({...a, dev: l.name})))
    const local = new Set(addrs.map((a) => a.address))
    const broadcast = new Set(['255.255.255.255', ...addrs.map((a) => broadcastOf(`${a.address}/${a.prefix}`)).filter((b): b is string => b !== undefined)])
    const multicast = (addr: string) => {
      const ip = parseIp(addr)
      return !!ip && (ip.family === 4 ? ip.value >> 28n === 0xen : ip.value >> 120n === 0xffn)
    }
    const router = routing && buildRouter(routing.routes, routing.rules)
    this.router = router
    this.rs = compile(ruleset, {hostAddresses: [...local, ...broadcast], routePrefixes: routing?.routes.map((r) => (r.dst !== 'default' ? r.dst : r.family === 'inet6' ? '::/0' : '0.0.0.0/0'))})
    this.ctx = {
      addressType: (addr, _family, device) => {
        if (device !== undefined) return addrs.some((a) => a.dev === device && a.address === addr) ? ['local'] : broadcast.has(addr) ? ['broadcast'] : multicast(addr) ? ['multicast'] : ['unicast']
        if (local.has(addr)) return ['local']
        if (broadcast.has(addr)) return ['broadcast']
        return multicast(addr) ? ['multicast'] : ['unicast']
      },
      // NAT to a device's address: its global one of the family (an IPv6 device has a link-local one too).
      addressOf: (dev, family) => addrs.find((a) => a.dev === dev && a.family === (family === 6 ? 'inet6' : 'inet') && a.scope === 'global')?.address,
      device: (name: string) => nftDevice(links.find((l) => l.name === name)),
      ...(router ? {routeLookup: (q: Parameters<NonNullable<EvalContext['routeLookup']>>[0]) => routeLookupOf(router, q)} : {}),
    }
  }

  private hook(bs: Branch[], hook: NfHook, layer: HookLayer, view: Partial<NfPacket>): Branch[] {
    return runHook(this.rs, hook, layer, bs.map((b) => (b.status === 'accept' ? {...b, packet: {...b.packet, ...DEVICE_FIELDS, ...view}} : b)), this.ctx)
  }

  /**
   * A packet sent by `from` (its first hop into the host), to wherever the host sends it. A new connection DNATed to
   * an address range goes to the address the kernel's hash gives its client (kernelRangePick), walked again there.
   */
  walk(from: Role, packet: NfPacket): Fate {
    const fate = this.walkOnce(from, packet)
    if (!fate.dnatRange || packet.natMember !== undefined) return fate
    const member = kernelRangePick(packet.src, fate.dnatRange.from, fate.dnatRange.to, fate.dnatRange.toEnd)
    return member === 0 ? fate : this.walkOnce(from, {...packet, natMember: member})
  }

  private walkOnce(from: Role, packet: NfPacket): Fate {
    let bs = [startBranch(packet)]
    const arrivals: {b: Branch; at?: Role}[] = []
    // A guest drops a packet from its own address (a hairpin sent back to its sender untranslated): a martian source.
    const martian = (b: Branch, at?: Role): Branch => (b.status === 'accept' && (at === 'g1' || at === 'g2') && b.packet.src === addressOf(at, packet.family) ? {...b, status: 'drop'} : b)
    const done = (list: Branch[], at?: Role) => list.forEach((b) => arrivals.push({b: martian(b, at), at: b.status === 'accept' ? at : undefined}))
    if (from === 'g1' || from === 'g2') {
      const port = PORT_OF[addressOf(from, packet.family)]
      bs = this.hook(bs, 'ingress', 'netdev', {iifname: port})
      bs = this.hook(bs, 'prerouting', 'bridge', {iifname: port, ibrname: T.bridge})
      // br_netfilter runs the IP prerouting hook inside the bridge's (bridge in, port for physdev).
      if (this.brnf) bs = this.hook(bs, 'prerouting', 'ip', {iifname: T.bridge, physIn: port})
      const other = PORT_OF[packet.dst]
      if (other !== undefined && other !== port) {
        // Bridged to the other guest's port.
        done(this.bridged(bs, port, other), roleOf(packet.dst))
      } else {
        // br_netfilter: a frame its IP prerouting DNATed to an address behind the same bridge is bridged there, not
        // routed (br_nf_pre_routing_finish's bridged DNAT): no routing, no input of the bridge device, its forward
        // hooks instead. Back out of the port it came by it goes nowhere (the port is not in hairpin mode).
        const redirected = this.brnf ? bs.filter((b) => b.status === 'accept' && PORT_OF[b.packet.dst] !== undefined) : []
        // The new destination is routed first (ip_route_input): bridged only by a route out of the bridge itself.
        for (const b of redirected) {
          const to = this.routeOf(b, T.bridge, 'prerouting')
          if ('end' in to) done([to.end])
          else if (to.role === 'host') done([ended(b, 'unknown', 'prerouting', 'bridged DNAT to an address routed to the host: not modelled by this test')])
          else done(PORT_OF[b.packet.dst] === port ? [{...b, status: 'drop'}] : this.bridged([b], port, PORT_OF[b.packet.dst]), to.role)
        }
        bs = bs.filter((b) => !redirected.includes(b))
        bs = this.hook(bs, 'input', 'bridge', {iifname: port, ibrname: T.bridge})
        bs = this.hook(bs, 'ingress', 'netdev', {iifname: T.bridge})
        if (!this.brnf) bs = this.hook(bs, 'prerouting', 'ip', {iifname: T.bridge})
        // br_netfilter's data stays with the packet: physdev still sees the port it came in by.
        this.routed(bs, T.bridge, this.brnf ? port : undefined, done)
      }
    } else if (from === 'out') {
      bs = this.hook(bs, 'ingress', 'netdev', {iifname: T.uplink})
      bs = this.hook(bs, 'prerouting', 'ip', {iifname: T.uplink})
      this.routed(bs, T.uplink, undefined, done)
    } else {
      // The host's own packet: a client's first is routed before OUTPUT with no source yet (the socket is unbound: a policy
      // rule's `from` sees 0.0.0.0; TCP's connect looks up again with the source the first route gave, ip_route_connect), and routed
      // again where OUTPUT changed its destination (nat) or mark (ip_route_me_harder).
      // Answers and a connection's later packets leave a bound socket (or the kernel's echo reply): with their source.
      const opening = packet.ct.state === 'new'
      // IPv6 looks up with no source and keeps that route unless it is an error; only then again from the source address
      // selection gave (ip6_dst_lookup_tail). A socket keeps the route it connected by for its later packets.
      const lookup6 = (p: NfPacket) => {
        const unbound = this.routeOf({...bs[0], packet: {...p, src: ''}}, 'lo', 'output')
        return 'end' in unbound && !unbound.misrouted && unbound.end.status !== 'unknown' ? this.routeOf({...bs[0], packet: p}, 'lo', 'output') : unbound
      }
      // IPv4's connect() looks up unbound, then again from the source that route gave (ip_route_connect).
      const connected = (p: NfPacket) => {
        if (p.family === 6) return lookup6(p)
        const unbound = this.routeOf({...bs[0], packet: {...p, src: ''}}, 'lo', 'output')
        return 'end' in unbound ? unbound : this.routeOf({...bs[0], packet: p}, 'lo', 'output')
      }
      // iputils ping first connects a UDP socket to port 1025 to learn its source address: that connect must succeed too
      // (a route, wherever it leads: only a route that is an error fails it).
      const probe = opening && (packet.l4proto === 'icmp' || packet.l4proto === 'icmpv6') ? connected({...packet, l4proto: 'udp', sport: 0, dport: 1025}) : undefined
      if (probe && 'end' in probe && !probe.misrouted) return fateOf([{b: {...probe.end, status: probe.end.status === 'unknown' ? 'unknown' : 'drop'}}])
      // UDP is sent unconnected (one lookup, no source yet), TCP connects; answers and later packets have their source
      // (IPv6: the host's own connection keeps its first route).
      const ownV6 = packet.family === 6 && packet.ct.direction === 'original'
      const first = ownV6 ? lookup6(packet) : !opening ? this.routeOf(bs[0], 'lo', 'output') : packet.l4proto === 'tcp' ? connected(packet) : this.routeOf({...bs[0], packet: {...packet, src: ''}}, 'lo', 'output')
      if ('end' in first) return fateOf([{b: first.end}])
      bs = this.hook(bs, 'output', 'ip', {oifname: oifFor(first.role)})
      done(bs.filter((b) => b.status !== 'accept'))
      for (const b of bs.filter((x) => x.status === 'accept')) {
        const changed = b.packet.dst !== packet.dst || b.packet.mark !== packet.mark
        const again = changed ? this.routeOf(b, 'lo', 'output') : first
        // A mark changed in OUTPUT reroutes only from a route chain (iptables' mangle), with the mark that chain left, not
        // from a filter chain: where a filter chain changed it too, a route other than the first is not told here.
        const moved = b.packet.dst === packet.dst && !('role' in again && again.role === first.role) && this.markSetOutsideRouteChain(b)
        const to = moved ? {end: ended(b, 'unknown', 'output', 'the mark set in OUTPUT routes it elsewhere: rerouted only by a route chain, not told here')} : again
        if ('end' in to) done([to.end])
        else if (to.role === 'host') done([ended(b, 'unknown', 'output', 'the host sends it to itself (loopback): not modelled by this test')])
        else {
          const next = this.hook([b], 'postrouting', 'ip', {oifname: oifFor(to.role)})
          if (to.role === 'out') done(this.hook(next, 'egress', 'netdev', {oifname: T.uplink}), 'out')
          else done(this.toGuest(next), to.role)
        }
      }
    }
    return fateOf(arrivals)
  }

  /** Some chain other than a route chain set the branch's mark in OUTPUT. */
  private markSetOutsideRouteChain(b: Branch): boolean {
    return b.steps.some((st) => {
      if (st.hook !== 'output' || !st.action || !/^mark (set|and|or|xor)/.test(st.action)) return false
      const table = this.ruleset.tables.find((t) => t.backend === st.chain.backend && t.family === st.chain.family && t.name === st.chain.table)
      return table?.chains[st.chain.base ?? st.chain.chain]?.base?.type !== 'route'
    })
  }

  /** A frame the bridge forwards from one port to another: its forward and postrouting hooks (and the IP ones through br_netfilter), the port's egress. */
  private bridged(bs: Branch[], port: string, other: string): Branch[] {
    const ports = {physIn: port, physOut: other, bridged: true}
    bs = this.hook(bs, 'forward', 'bridge', {iifname: port, oifname: other, ibrname: T.bridge, obrname: T.bridge})
    if (this.brnf) bs = this.hook(bs, 'forward', 'ip', {iifname: T.bridge, oifname: T.bridge, ...ports})
    bs = this.hook(bs, 'postrouting', 'bridge', {oifname: other, obrname: T.bridge})
    if (this.brnf) bs = this.hook(bs, 'postrouting', 'ip', {oifname: T.bridge, ...ports})
    return this.hook(bs, 'egress', 'netdev', {oifname: other})
  }

  /** After prerouting: each branch by its own (perhaps translated) destination: input, or forward and out. */
  private routed(bs: Branch[], iif: string, physIn: string | undefined, done: (bs: Branch[], at?: Role) => void): void {
    done(bs.filter((b) => b.status !== 'accept'))
    const byRole = new Map<Role, Branch[]>()
    for (const b of bs.filter((x) => x.status === 'accept')) {
      const to = this.routeOf(b, iif, 'prerouting')
      if ('end' in to) done([to.end])
      else byRole.set(to.role, [...(byRole.get(to.role) ?? []), b])
    }
    for (const [role, list] of byRole) {
      if (role === 'host') {
        done(this.hook(list, 'input', 'ip', {iifname: iif, physIn}), 'host')
        continue
      }
      const oif = oifFor(role)
      // ip6_forward drops what the host does not forward, in silence, before the forward hook.
      const forwards = ipv6Forwarding(this.sysctl, iif)
      const v6 = list.filter((b) => b.packet.family === 6 && forwards.forwards !== true)
      done(v6.map((b) => ended(b, forwards.forwards === false ? 'drop' : 'unknown', 'forward', `${forwards.key} = ${forwards.value ?? 'unread'}`)))
      let next = this.hook(list.filter((b) => !v6.includes(b)), 'forward', 'ip', {iifname: iif, oifname: oif, physIn})
      next = this.hook(next, 'postrouting', 'ip', {iifname: iif, oifname: oif, physIn})
      if (role === 'out') done(this.hook(next, 'egress', 'netdev', {oifname: T.uplink}), 'out')
      else done(this.toGuest(next), role)
    }
  }

  /**
   * The host's routing decision for a branch's packet (its destination, mark and ports as they stand), from the routes and
   * policy rules its probes read: where it goes, or how it ends (unreachable and prohibit answer the sender at once).
   */
  private routeOf(b: Branch, iif: string, hook: NfHook): {role: Role} | {end: Branch; misrouted?: true} {
    const p = b.packet
    if (!this.router) return {role: roleOf(p.dst)}
    const d = this.router.lookup({family: p.family, dst: p.dst, src: p.src || undefined, iif, mark: p.mark, l4proto: p.l4proto, sport: p.sport, dport: p.dport})
    const role = roleOf(p.dst)
    const how = (d: RouteDecision) => `routing: ${d.trail.join('; ')}`
    switch (d.kind) {
      case 'local':
      case 'broadcast':
        return role === 'host' ? {role} : {end: ended(b, 'unknown', hook, `${how(d)}: local, for an address not the host's`)}
      case 'unicast':
        // Table 100 holds main's routes only: a device other than the one the address lives behind loses it beyond the host.
        return d.dev === oifFor(role) && role !== 'host' ? {role} : {end: ended(b, 'drop', hook, `${how(d)}: out of ${d.dev}, where ${p.dst} is not`), misrouted: true}
      case 'unreachable':
      case 'prohibit':
        return {end: ended(b, 'drop', hook, how(d), 'reject')}
      case 'blackhole':
      case 'no-route':
        return {end: ended(b, 'drop', hook, how(d))}
      default:
        return {end: ended(b, 'unknown', hook, `${how(d)}: ${d.unknownBecause ?? d.kind}`)}
    }
  }

  /** Out of the bridge device to a guest's port (no br_netfilter pass: the frame is the host's own). */
  private toGuest(bs: Branch[]): Branch[] {
    const port = (b: Branch) => PORT_OF[b.packet.dst]
    let out = this.hook(bs, 'egress', 'netdev', {oifname: T.bridge})
    out = out.map((b) => (b.status === 'accept' ? {...b, packet: {...b.packet, ...DEVICE_FIELDS, oifname: port(b), obrname: T.bridge}} : b))
    out = runHook(this.rs, 'output', 'bridge', out, this.ctx)
    out = runHook(this.rs, 'postrouting', 'bridge', out, this.ctx)
    return out.flatMap((b) => (b.status === 'accept' ? this.hook([b], 'egress', 'netdev', {oifname: port(b)}) : [b]))
  }
}

/** A branch the host's routing (or this test) ends: its status, and why, where decidedFate reads a reason. */
function ended(b: Branch, status: 'drop' | 'unknown', hook: NfHook, note: string, action?: string): Branch {
  return {...b, status, decidedBy: {hook, chain: {backend: 'nft', family: 'ip', table: 'routing', chain: hook}, event: 'skip', note, ...(action ? {action} : {})}}
}

/** The device the host routes a destination's packets out of (its own addresses are not routed out: see walk). */
const oifFor = (role: Role) => (role === 'out' ? T.uplink : T.bridge)

function broadcastOf(prefix: string): string | undefined {
  const r = parsePrefix(prefix)
  if (!r || r.family !== 4 || r.hi === r.lo) return undefined
  return [24n, 16n, 8n, 0n].map((s) => String((r.hi >> s) & 255n)).join('.')
}

export const inPrefix = (addr: string, prefix: string) => {
  const ip = parseIp(addr)
  const r = parsePrefix(prefix)
  return !!ip && !!r && rangeContains(r, ip.family, ip.value)
}

/** One fate from a walk's branches: decided when every branch ended alike (and arrived at the same place as the same packet). */
function fateOf(arrivals: {b: Branch; at?: Role}[]): Fate {
  const range = arrivals.flatMap(({b}) => b.nat).find((n) => n.field === 'dst' && n.toEnd !== undefined)
  const fate = decidedFate(arrivals)
  return range ? {...fate, dnatRange: {from: range.from, to: range.to, toEnd: range.toEnd!}} : fate
}

/** The kernel's jhash2 (include/linux/jhash.h) of 32-bit words. */
function jhash2(k: number[], initval: number): number {
  const rol = (x: number, n: number) => ((x << n) | (x >>> (32 - n))) >>> 0
  // The state [a, b, c]; __jhash_mix and __jhash_final step through it in turn.
  const s = Array(3).fill((0xdeadbeef + (k.length << 2) + initval) >>> 0) as number[]
  let i = 0
  for (; k.length - i > 3; i += 3) {
    for (let w = 0; w < 3; w++) s[w] = (s[w] + k[i + w]) >>> 0
    // __jhash_mix: x -= z; x ^= rol(z, r); z += y, for (x, y, z) = (a, b, c), (b, c, a), (c, a, b), twice.
    ;[4, 6, 8, 16, 19, 4].forEach((r, n) => {
      const [x, y, z] = [n % 3, (n + 1) % 3, (n + 2) % 3]
      s[x] = ((s[x] - s[z]) ^ rol(s[z], r)) >>> 0
      s[z] = (s[z] + s[y]) >>> 0
    })
  }
  if (k.length === i) return s[2]
  for (let w = k.length - i - 1; w >= 0; w--) s[w] = (s[w] + k[i + w]) >>> 0
  // __jhash_final: x ^= z; x -= rol(z, r), for (x, z) = (c, b), (a, c), (b, a), ...
  ;[14, 11, 25, 16, 4, 14, 24].forEach((r, n) => {
    const x = (n + 2) % 3
    const z = (n + 1) % 3
    s[x] = ((s[x] ^ s[z]) - rol(s[z], r)) >>> 0
  })
  return s[2]
}

/**
 * The address of an IPv4 range NAT gives a connection (find_best_ips_proto, zone 0, not persistent): jhash2 of the
 * client's address (a 16-byte union: one word and three zeros) seeded with the original destination, scaled onto the
 * range. Addresses are the u32 of their network-order bytes on a little-endian CPU. Checked against the kernel: 7 clients.
 */
export function kernelRangePick(client: string, dst: string, lo: string, hi: string): number {
  const word = (ip: string) => ip.split('.').reduce((v, o, i) => v + Number(o) * 2 ** (8 * i), 0) >>> 0
  const size = Number(parseIp(hi)!.value - parseIp(lo)!.value) + 1
  return Number((BigInt(jhash2([word(client), 0, 0, 0], word(dst))) * BigInt(size)) >> 32n)
}

function decidedFate(arrivals: {b: Branch; at?: Role}[]): Fate {
  // A port NAT drew at random: whether anything listens there is not told (see natPort).
  const drawn = arrivals.find(({b}) => b.status === 'accept' && (b.packet.l4proto === 'tcp' || b.packet.l4proto === 'udp') && b.packet.dport === undefined)
  if (drawn) return {status: 'unknown', reason: `the port is picked at random: ${drawn.b.nat.map((n) => n.step.rule?.text ?? n.type).join('; ')}`}
  const keys = new Set(arrivals.map(({b, at}) => (b.status === 'accept' ? `pass ${at} ${b.packet.src}:${b.packet.sport ?? ''}>${b.packet.dst}:${b.packet.dport ?? ''}` : b.status)))
  const first = arrivals[0]
  if (keys.size === 1 && first.b.status !== 'unknown') {
    if (first.b.status === 'drop') return {status: 'drop', rejected: arrivals.every(({b}) => b.decidedBy?.action === 'reject')}
    const marks = new Set(arrivals.map(({b}) => b.packet.ct.mark))
    return {status: 'pass', at: first.at, packet: first.b.packet, ctMark: marks.size === 1 ? first.b.packet.ct.mark : 'unknown'}
  }
  const why = new Set<string>()
  for (const {b} of arrivals) {
    if (b.status === 'unknown' && b.decidedBy) why.add(`${b.decidedBy.chain.family} ${b.decidedBy.chain.table} ${b.decidedBy.chain.chain}: ${b.decidedBy.note ?? b.decidedBy.rule?.text ?? ''}`)
    for (const a of b.assumptions) why.add(`${a.step.chain.family} ${a.step.chain.table} ${a.step.chain.chain}: ${a.step.rule?.text ?? ''} (${a.step.note ?? assumptionKey(a)})`)
  }
  return {status: 'unknown', reason: why.size > 0 ? [...why].join('; ') : `branches end apart: ${[...keys].join(' | ')}`}
}
