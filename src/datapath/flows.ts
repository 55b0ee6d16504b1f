/**
 * The hop model: each running guest interface's standard flows (DHCP to its
 * server, DNS to its resolver, out to the internet through NAT) and their
 * replies, each followed hop by hop through the host with the same checks
 * whichever way it goes: the devices it enters and leaves (link state, carrier,
 * tc ingress and egress, netdev chains), bridge ports (STP, locking, VLANs,
 * flooding), the bridge and IP netfilter hooks in kernel order, connection
 * tracking and its reverse NAT, routing with policy rules, source validation
 * (rp_filter, local sources), forwarding of the arriving device, ARP for the
 * gateway and the host's neighbour entry for the guest, and the listener that
 * must answer. A reply starts where it really arrives: where that is decided
 * outside the host (an address the host neither owns nor routes to itself, a
 * routed subnet the upstream must route back), the flow says so and is not a
 * pass. Each hop passes, fails or cannot be told, and names what decides.
 * A guest on an Open vSwitch bridge crosses OVS instead of the Linux bridge
 * (no bridge hooks, no br_netfilter): its hop is the OVS port and flows (./ovs.ts).
 */
import {formatIp, ipInPrefix, networkOf, parseIp, parsePrefix} from '../lib/addr.js'
import {parseCidr, prefixRelation} from '../lib/ipv4.js'
import {getOrCreate, groupBy} from '../lib/collections.js'
import {flat} from '../lib/flat.js'
import type {NfChain, NfExpr, NfHook, NfRuleset} from '../lib/netfilter.js'
import type {Link} from '../../probes/links.js'
import type {LibvirtDomain, LibvirtNetwork} from '../../probes/libvirt.js'
import type {Listener} from '../../probes/listeners.js'
import type {StoppedProcess} from '../../probes/processes.js'
import type {Neighbour} from '../../probes/neighbours.js'
import type {FdbEntry} from '../../probes/fdb.js'
import type {VlanRange} from '../../probes/bridge-vlan.js'
import type {PolicyRuleFacts} from '../../probes/ip-rules.js'
import type {Route} from '../../probes/routes.js'
import type {TcFacts} from '../../probes/tc.js'
import type {OvsBridge, OvsFacts} from '../../probes/ovs.js'
import {ovsVerdict, uplinkPorts} from './ovs.js'
import {type CompiledRuleset, compile} from './netfilter/compile.js'
import {type Branch, type EvalContext, type HookLayer, type HookWalk, type TraceStep, assumptionKey, deviceChains, familiesFor, nftDevice, runHook, startBranch} from './netfilter/evaluate.js'
import {type NfPacket, describePacket, newPacket, replyPacket} from './netfilter/packet.js'
import {type RouteDecision, type Router, buildRouter, describeRoute, routeLookupOf} from './routing.js'
import {type Element, elementForStep, natMissingElement} from './elements.js'
import {type TcIndex, tcIndexOf, tcVerdict} from './tc.js'
import type {HookFacts} from '../../probes/libvirt-hooks.js'
import {xfrmExempt, xfrmHop} from './xfrm.js'
import {type Forward, type GuestBook, MAX_RANGE_MEMBERS, type PublishRequest, collectForwards, rangeMembers, unheldTarget} from './published.js'
import {forwardsIpv4PerDevice, forwardsIpv6PerDevice, ipv6Forwarding} from '../lib/forwarding.js'
import {type GivenDhcpOptions, type GivenOption, dhcpRefusal, givenDhcpOptions} from '../lib/dnsmasq-options.js'
import {deviceKey} from '../lib/sysctl-key.js'

export type FlowKind = 'dhcp' | 'dhcp-reply' | 'dns' | 'dns-reply' | 'egress' | 'egress-reply' | 'egress6' | 'egress6-reply' | 'custom' | InboundKind
/** Flows that start outside the guest: from the outside through a published port, and the hairpins (the host, another guest). */
export type InboundKind = 'inbound' | 'inbound-reply' | 'hairpin-host' | 'hairpin-host-reply' | 'hairpin-guest' | 'hairpin-guest-reply'
export const INBOUND_KINDS: ReadonlySet<FlowKind> = new Set<FlowKind>(['inbound', 'inbound-reply', 'hairpin-host', 'hairpin-host-reply', 'hairpin-guest', 'hairpin-guest-reply'])
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
  /** Undecided by time, not by a fact the host hides: it passes for a while, then stops (a cache running out). */
  intermittent?: true
  /** An IP hook br_netfilter runs for a frame the bridge forwards (in and out by the bridge, not routed). */
  bridged?: true
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
  /** What the packet's text takes for granted: a port that stands for any, an address the host cannot know. */
  packetAssumed?: string[]
  /** The flow this one replies to. */
  replyTo?: FlowKind
  /** A policy rule sent the flow to another table, out of a device that is not the main default route's. */
  divertedBy?: Element
  /**
   * What the verdict takes for granted that the host's state cannot show: an assumed source address,
   * the device a reply arrives by, a server on the LAN. A pass with assumptions is a pass of the host's side only.
   */
  assumptions?: string[]
  /** Inbound flows: the published port (Forward.id) they follow. */
  forward?: string
  /** Inbound flows no guest is behind (guest is ''): what the forward points at instead, in words. */
  unheldTarget?: string
}

export interface Destination {
  addr: string
  port?: number
  proto: 'tcp' | 'udp' | 'icmp'
}

/** How a process that holds its socket answering nothing is held: stopped, by a debugger, or frozen by its cgroup. */
const stoppedHow = (p: StoppedProcess): string => (p.frozen ? `frozen by its cgroup (${p.frozen})` : p.traced ? 'stopped by its tracer (a debugger)' : 'stopped (state T)')
/** The element's mark of such a process: what resumes it depends on what holds it. */
const stoppedMark = (p: StoppedProcess): Pick<Element, 'stoppedPid' | 'traced' | 'frozen'> => ({stoppedPid: p.pid, traced: p.traced, ...(p.frozen ? {frozen: p.frozen} : {})})
/** A listening socket as the hops name it: its process and where it listens. */
const listenerText = (l: Listener, port: number): string => `${l.process ?? 'a process'}${l.pid ? ` (pid ${l.pid})` : ''} on ${l.address}${l.iface ? `%${l.iface}` : ''}:${port}`

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
  /** Stopped processes (a listener of theirs answers nothing); null when their states could not be read, absent when not recorded. */
  stopped?: StoppedProcess[] | null
  /** Processes whose cgroup freezer could not be read: a listener of theirs may answer nothing. */
  freezeUnread?: number[]
  /** Traffic control on every device; null when it could not be read (`tcUnavailable` says why): every device's tc hop is then undecided. */
  tc: TcFacts | null
  tcUnavailable?: string
  /** Open vSwitch's bridges; null when they could not be read (`ovsUnavailable` says why): an OVS guest's bridge hop is then undecided. */
  ovs?: OvsFacts | null
  ovsUnavailable?: string
  /** The host's neighbour table; null when it could not be read. */
  neighbours?: Neighbour[] | null
  /**
   * The bridges' fdb entries; null when the read failed (`fdbUnavailable` says why): a frame to a guest is then
   * undecided at its bridge. Absent (a recording made before kvmdoctor read it): frames to a guest are followed
   * without it, as they were then.
   */
  fdb?: FdbEntry[] | null
  fdbUnavailable?: string
  /**
   * Each bridge port's VLANs by name, the bridge device under its own (bridge -j vlan show); absent when not read
   * (`vlansUnread` says why): a bridge that filters by VLAN is then undecided, never a pass.
   */
  vlans?: Record<string, VlanRange[]>
  vlansUnread?: string
  /** The guest's current IPv4 address by MAC (lease, neighbour, wire), when known. */
  guestAddress(mac: string): string | undefined
  /** The guest's global IPv6 address by MAC (neighbours), when known. */
  guestAddress6?(mac: string): string | undefined
  /** IPv6 routes could be read (routes hold them): only then are IPv6 flows followed. */
  ipv6Routes?: boolean
  /** DHCP servers configured on this host for plain bridges (ISC dhcpd): whether each runs (null: unknown). */
  bridgeDhcpServers?: {name: string; bridge: string; running: boolean | null; unread?: string; stopped?: StoppedProcess[]}[]
  /** Another MAC claims this guest's address (leases, neighbours, wire): who answers for it is not the host's to decide. */
  addressConflict?(mac: string): string | undefined
  /** A network's DHCP range is fully leased and this MAC holds no lease in it: its request gets no offer (unread: its leases are not known). */
  dhcpPoolFullFor?(network: string, mac: string): boolean | {unread: string}
  /** Why whether this host runs a DHCP server for a plain bridge is not known (dhcpd.conf or the lease probe unread). */
  bridgeDhcpUnknown?: string
  /** What the wire heard from a guest that sent frames from no IPv4 address and asked for none (--listen); undefined otherwise. */
  heardWithoutAddress?(mac: string): string | undefined
  /** MACs that claim an IPv4 address by any source (a lease, a neighbour entry): who had a DNAT target nobody holds now. */
  addressClaimants?(addr: string): string[]
  /** libvirt hook scripts' forwards (read, never run); null or absent when they could not be read. */
  hooks?: HookFacts | null
  /**
   * The DNS servers the guest uses, as far as the host saw them (--listen: the servers it queried, else the ones
   * its DHCP answer gave it); undefined when not seen (its network's resolver is then the one followed).
   */
  guestResolvers?(mac: string): string[] | undefined
  /** An IPv4 address of this MAC comes from a DHCP lease: the guest takes its router and DNS servers from DHCP. */
  dhcpConfigured?(mac: string): boolean
}

/** A running guest's interface whose traffic is not followed, and why (`unread`: what would decide it was not read). */
export interface FlowNotFollowed {
  guest: string
  iface: string
  why: string
  unread?: true
}

export interface Datapath {
  flows: Flow[]
  /** Published ports (DNATs, hook forwards, --publish) and the guests they lead to. */
  forwards: Forward[]
  /** Running guests' interfaces whose traffic is not followed (no flows), and why; `unread`: what would decide it was not read. */
  notFollowed: FlowNotFollowed[]
  /** Flows of one guest (optionally one interface), optionally to another destination. */
  trace(guest: string, options?: {iface?: string; to?: Destination}): Flow[]
  /** Inbound flows of the published ports that match, from an outside `client` address (default: the outside stand-in). */
  inbound(options?: InboundQuery): Flow[]
}

export interface InboundQuery {
  client?: string
  guest?: string
  port?: number
  proto?: 'tcp' | 'udp'
  hostAddress?: string
}

const RUNNING = new Set(['running', 'paused', 'idle', 'in shutdown', 'blocked'])
/** Root qdiscs that pass whatever a flow sends: a device with only one of these has no tc hop. */
const PASSING_ROOT = new Set(['noqueue', 'pfifo_fast', 'fq_codel', 'fq', 'sfq', 'codel', 'cake'])

/** The guest's source port where the real one is not known (any unprivileged port): the packet says it is assumed. */
const EPHEMERAL_PORT = 40000

/** Sizes (IP bytes) of the packets each flow carries: a hop that cannot pass the largest fails the flow. */
const SIZE = {dhcp: 328, dns: 80, dnsReply: 512, ping: 84}
/** TCP flags of a connection's first reply: SYN and ACK. */
const SYN_ACK = 0x12
/** How bad a walk's hops are: a failing hop, else an undecided one, else none. */
const walkRank = (hops: Hop[]): number => (hops.some((h) => h.verdict === 'fail') ? 2 : hops.some((h) => h.verdict === 'indeterminate') ? 1 : 0)

export function buildDatapath(facts: DatapathFacts, options: {internet?: Destination; internet6?: Destination; publish?: PublishRequest[]} = {}): Datapath {
  const host = new HostView(facts)
  const internet = options.internet ?? DEFAULT_INTERNET
  const internet6 = options.internet6 ?? DEFAULT_INTERNET6
  const flowsOf = (d: LibvirtDomain, iface?: string, to?: Destination) =>
    d.interfaces
      .filter((i) => iface === undefined || i.target === iface || i.mac === iface)
      .flatMap((i) => [...host.guestFlows(d, i, to ?? internet, to !== undefined), ...(to === undefined ? host.guestFlows6(d, i, internet6) : [])])
  const running = facts.domains.filter((d) => RUNNING.has(d.state))
  const flows = running.flatMap((d) => flowsOf(d))
  const notFollowed = running.flatMap((d) => d.interfaces.flatMap((i) => {
    const not = host.notFollowed(i)
    return not === undefined ? [] : [{guest: d.name, iface: i.target ?? i.mac ?? i.type, ...not}]
  }))
  // Inbound flows only where something is published: a host without forwards costs nothing more.
  const forwards = host.forwards(options.publish ?? [])
  const inbound = (q: InboundQuery = {}) =>
    forwards
      .filter((f) => (q.guest === undefined || f.guest?.name === q.guest || f.formerHolder?.name === q.guest) && (q.port === undefined || f.port === q.port) && (q.proto === undefined || f.proto === q.proto) && (q.hostAddress === undefined || f.hostAddress === undefined || f.hostAddress === q.hostAddress))
      .flatMap((f) => host.inboundFlows(f, internet, q.client))
  flows.push(...inbound())
  return {
    flows,
    forwards,
    notFollowed,
    trace(guest, opts = {}) {
      const d = facts.domains.find((x) => x.name === guest)
      return d && RUNNING.has(d.state) ? flowsOf(d, opts.iface, opts.to) : []
    },
    inbound,
  }
}

type Iface = LibvirtDomain['interfaces'][number]

/** How the host sees one guest interface: its bridge, network, and the address its flows are judged for. */
interface GuestSide {
  d: LibvirtDomain
  i: Iface
  bridge: string
  net?: LibvirtNetwork
}
/** Where a guest's interface plugs in, whoever the guest is. */
type GuestPort = Pick<GuestSide, 'i' | 'bridge' | 'net'>

/** The IPv6 link-local address a MAC makes (modified EUI-64), as guests' kernels take it by default. */
function linkLocalOf(mac: string): string | undefined {
  const b = mac.split(':').map((x) => Number.parseInt(x, 16))
  if (b.length !== 6 || b.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) return undefined
  const hex = (hi: number, lo: number) => ((hi << 8) | lo).toString(16)
  return `fe80::${hex(b[0] ^ 2, b[1])}:${hex(b[2], 0xff)}:${hex(0xfe, b[3])}:${hex(b[4], b[5])}`
}

/** IPv6's all-nodes multicast group, where a router's unsolicited advertisements go. */
const ALL_NODES = 'ff02::1'
/** All DHCPv6 relay agents and servers, where a client sends its requests (RFC 8415). */
const DHCP6_SERVERS = 'ff02::1:2'

/** The solicited-node multicast address a neighbour solicitation for ADDR goes to: ff02::1:ff and its last 24 bits. */
function solicitedNodeOf(addr: string): string | undefined {
  const ip = parseIp(addr)
  return ip?.family === 6 ? formatIp(6, 0xff020000000000000000000000000000n | 0x1ff000000n | (ip.value & 0xffffffn)) : undefined
}

/** A network's dnsmasq OPTION as the element that decides (one per network and KEY: every guest it stops shares it). */
const dhcpOptionElement = (network: string, key: string, option: string, effect: string): Element => ({id: `dhcp-option:${network} ${key}`, kind: 'dhcp-option', text: `network ${network}: dnsmasq option ${option} (${effect})`, network, dnsmasqOption: option})

/** The hop of a forwarding sysctl at 0 that stops what arrives (DEVICE: a device's own key). */
const forwardingOff = (key: string, detail: string, device?: string): Hop => ({name: 'forwarding', verdict: 'fail', detail, element: {id: `sysctl:${key}`, kind: 'sysctl', text: `${key} = 0`, sysctl: {key, value: 0}, ...(device ? {device} : {})}})

/** The guest's own NIC: libvirt may hold its link down (<link state='down'/>). */
const guestNicHop = (d: LibvirtDomain, i: Iface): Hop =>
  i.linkState === 'down'
    ? {name: 'guest NIC', verdict: 'fail', detail: `libvirt holds the link of ${d.name}'s NIC down`, element: {id: `guest-link:${d.name}/${i.mac ?? i.target}`, kind: 'guest-link', text: `<link state='down'/> on ${d.name}'s interface ${i.mac ?? ''}`.trim(), domain: d.name, iface: i.target ?? i.mac, device: i.target}}
    : {name: 'guest NIC', verdict: 'pass', detail: `link up (${i.model ?? 'nic'} ${i.mac ?? ''})`.trim()}

/** Interface types whose traffic never passes the host's bridges or IP stack as a guest's frames (libvirt's names). */
const NOT_FOLLOWED_TYPES: Record<string, string> = {
  hostdev: 'a host PCI device passed to the guest (hostdev): its traffic never passes the host',
  user: "QEMU's user-mode networking (SLIRP or passt): the host sees only QEMU's own sockets",
  vhostuser: 'a vhost-user socket (a userspace switch such as OVS-DPDK): not followed',
  vdpa: 'a vDPA device: its traffic never passes the host',
  ethernet: 'a tap libvirt leaves unmanaged (type ethernet): not followed',
  mcast: 'a QEMU multicast socket tunnel: not followed',
  udp: 'a QEMU UDP socket tunnel: not followed',
  server: 'a QEMU TCP socket tunnel: not followed',
  client: 'a QEMU TCP socket tunnel: not followed',
  null: 'a NIC connected to nothing (type null)',
}

/** The bridge an interface plugs into: the one libvirt attached it to (live XML), else its network's; a bridge interface's source. */
const bridgeOf = (i: Iface, net: LibvirtNetwork | undefined) => (i.type === 'network' ? (i.bridge ?? net?.bridge) : (i.source ?? i.bridge))

/** "9.9.9.9:443/tcp", "9.9.9.9 (ping)". */
const describeDestination = (to: Destination) => `${to.addr}${to.proto === 'icmp' ? ' (ping)' : `:${to.port ?? 443}/${to.proto}`}`

/** A policy route's device is elsewhere than the main default route's (any of its next hops). */
const divertsFrom = (egress: string | undefined, mainDevs: string[]) => (egress === undefined ? mainDevs.length > 0 : !mainDevs.includes(egress))

/** The range of a port's VLANs that holds VID. */
const vlanRangeWith = (ranges: VlanRange[], vid: number) => ranges.find((r) => r.from <= vid && vid <= r.to)
const viaNexthop = (h: Route['nexthops'][number]) => `via ${h.dev ?? '?'}${h.gateway ? ` gw ${h.gateway}` : ''}`

/** How a flow ended, in words, for a hop that names each of its variants' outcome. */
const outcomeOf = (f: Flow | undefined) =>
  !f ? 'is never sent (the request fails)' : f.verdict === 'pass' ? 'passes' : `${f.verdict === 'fail' ? 'fails' : 'is undecided'} at ${f.decidedBy!.name}${f.decidedBy!.element ? ` (${f.decidedBy!.element.text})` : ''}`

/**
 * The hop saying a flow's variants (one per next hop of a multipath route, one per address of a DNAT range) end
 * apart, naming each outcome; undefined when they all end alike. Which variant a connection meets is the kernel's
 * hash: where some pass and others fail, the failure is intermittent. `cause`: the element when none fails here.
 */
function variantsHop(name: string, outs: (Flow | undefined)[], lead: string, each: (k: number) => string, cause?: Hop): Hop | undefined {
  if (outs.every((f) => f?.verdict === outs[0]?.verdict)) return undefined
  const element = (outs.find((f) => f?.verdict === 'fail') ?? outs.find((f) => f?.verdict === 'indeterminate'))?.decidedBy?.element ?? cause?.element
  const chance = outs.some((f) => f?.verdict === 'pass') && outs.some((f) => f === undefined || f.verdict === 'fail')
  return {name, verdict: 'indeterminate', detail: `${lead}: ${outs.map((f, k) => `${each(k)} ${outcomeOf(f)}`).join('; ')}`, ...(element ? {element} : {}), ...(chance ? {intermittent: true as const} : {})}
}

/** A flow whose path from some hop on is undecided: the hops given (shared ones, then the undecided one). */
function undecidedFrom(f: Flow, hops: Hop[]): Flow {
  const fail = hops.find((h) => h.verdict === 'fail')
  return {...f, hops, verdict: fail ? 'fail' : 'indeterminate', decidedBy: fail ?? hops.find((h) => h.verdict === 'indeterminate')}
}

/** The address of a DNAT range a forward stands for, as the walk's pick (see NfPacket.natMember). */
const memberOf = (f: Forward): Pick<NfPacket, 'natMember'> => (f.member ? {natMember: f.member} : {})

class HostView {
  readonly rs: CompiledRuleset
  readonly router: Router
  readonly links: Map<string, Link>
  readonly ports: Map<string, Link[]>
  readonly ctx: EvalContext
  private readonly localAddrs = new Set<string>()
  private readonly bcastAddrs = new Set<string>()
  private readonly tc: TcIndex | null
  /** Devices whose tc does nothing either way (a default root qdisc, no ingress hook): no hop, asked once. */
  private readonly tcSilent = new Set<string>()
  /** The host's neighbour entries by device, then address (the first listed, as a scan finds it): asked for every guest. */
  private readonly neighbours = new Map<string, Map<string, Neighbour>>()
  /** Each bridge's fdb entries by MAC ("BRIDGE MAC"). */
  private readonly fdbAt: Map<string, FdbEntry[]>
  /** Per egress device: the other uplinks with strict reverse-path filtering (the same for every guest leaving by it). */
  /** By egress: the other uplinks whose rp_filter is strict, or could be (`unread`: the keys that could not be read). */
  private readonly strictRpElsewhere = new Map<string, {dev: string; unread: string[]}[]>()
  private readonly dhcpGivenByNetwork = new Map<LibvirtNetwork, GivenDhcpOptions>()

  /** Open vSwitch bridges by name. */
  private readonly ovsBridges: Map<string, OvsBridge>

  constructor(readonly facts: DatapathFacts) {
    this.tc = facts.tc ? tcIndexOf(facts.tc) : null
    this.ovsBridges = new Map((facts.ovs?.bridges ?? []).map((b) => [b.name, b]))
    this.links = new Map(facts.links.map((l) => [l.name, l]))
    this.router = buildRouter(facts.routes, facts.ipRules, (dev) => this.vrfTableOf(dev))
    this.ports = new Map()
    for (const l of facts.links) if (l.master) (this.ports.get(l.master) ?? this.ports.set(l.master, []).get(l.master)!).push(l)
    for (const r of facts.routes) {
      if (r.table !== 'local') continue
      if (r.type === 'local') this.localAddrs.add(r.dst.split('/')[0])
      if (r.type === 'broadcast') this.bcastAddrs.add(r.dst.split('/')[0])
    }
    for (const l of facts.links) for (const a of l.addresses) this.localAddrs.add(a.address)
    for (const n of facts.neighbours ?? []) {
      const onDev = getOrCreate(this.neighbours, n.dev, () => new Map<string, Neighbour>())
      if (!onDev.has(n.ip)) onDev.set(n.ip, n)
    }
    this.fdbAt = groupBy(facts.fdb ?? [], (e) => `${e.bridge} ${e.mac}`)
    // The host's own and broadcast addresses are address classes of their own (fib/addrtype tell them apart).
    const policy = [...(facts.ipRules?.inet ?? []), ...(facts.ipRules?.inet6 ?? [])].flatMap((r) => [r.src, r.dst]).filter((a) => a !== 'all')
    this.rs = compile(facts.ruleset, {hostAddresses: [...this.localAddrs, ...this.bcastAddrs], routePrefixes: [...facts.routes.map((r) => (r.dst === 'default' ? (r.family === 'inet' ? '0.0.0.0/0' : '::/0') : r.dst)), ...policy]})
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
      routeLookup: (q) => (q.family === 6 && !facts.ipv6Routes ? 'unknown' : routeLookupOf(this.router, q)),
      device: (name) => nftDevice(this.links.get(name)),
    }
  }

  /**
   * The devices of the main table's default route, where NAT guests normally leave: one, or every next hop the
   * kernel may pick of a multipath one (not dead), the first first.
   */
  mainDefaultDevs(): string[] {
    const d = this.facts.routes.filter((r) => r.family === 'inet' && r.table === 'main' && r.dst === 'default' && r.type === 'unicast').sort((a, b) => a.metric - b.metric)[0]
    if (d?.dev) return [d.dev]
    const hops = d?.nexthops ?? []
    const live = hops.filter((h) => !h.flags?.includes('dead'))
    return [...new Set((live.length > 0 ? live : hops).map((h) => h.dev).filter((dev): dev is string => dev !== undefined))]
  }

  /**
   * An address the host delivers to itself: one of its own, or inside a `local` route (AnyIP: `ip route
   * add local PREFIX dev lo`). Replies sent to it come back to this host.
   */
  ownsAddress(addr: string): boolean {
    if (this.localAddrs.has(addr)) return true
    return this.facts.routes.some((r) => r.type === 'local' && r.dst.includes('/') && ipInPrefix(addr, r.dst))
  }

  private readonly summaries = new Map<string, string>()
  /** The base chains a hook runs, in a line (the same for every flow: made once per hook, layer and family). */
  private hookSummary(hook: NfHook, layer: HookLayer, family: 4 | 6, device?: string): string {
    const key = layer === 'bridge' || layer === 'arp' ? `${hook} ${layer}` : layer === 'netdev' ? `${hook} netdev ${device}` : family === 4 ? `${hook} 4` : `${hook} 6`
    let text = this.summaries.get(key)
    if (text === undefined) {
      const chains = layer === 'netdev' ? deviceChains(this.rs, hook as 'ingress' | 'egress', device) : this.rs.baseChains(hook, familiesFor(layer, family))
      text = chains.length === 0 ? 'no base chain on this hook' : `${chains.length} base chain${chains.length === 1 ? '' : 's'}: ${chains.map((c) => `${c.backend === 'iptables-legacy' || c.backend === 'ebtables-legacy' ? 'legacy ' : c.backend === 'nft' ? 'nft ' : ''}${c.family} ${c.table} ${c.name} (${c.base!.priority})`).join(', ')}`
      this.summaries.set(key, text)
    }
    return text
  }

  /**
   * Whether the bridge (or arp) family has a base chain on `hook`, and the netdev chains of each device: asked as every
   * flow crosses a bridge, a device or an ARP exchange, answered once (the ruleset is compiled once and never changes).
   */
  hooked(hook: NfHook, family: 'bridge' | 'arp'): boolean {
    const byHook = this.familyHooks[family]
    let hooked = byHook.get(hook)
    if (hooked === undefined) byHook.set(hook, (hooked = this.rs.baseChains(hook, [family]).length > 0))
    return hooked
  }

  private readonly familyHooks = {bridge: new Map<NfHook, boolean>(), arp: new Map<NfHook, boolean>()}

  /** Some netdev or inet chain is on the hook, bound to a device or not (most hosts: none, and no device has a hop). */
  deviceHooked(hook: 'ingress' | 'egress'): boolean {
    let hooked = this.deviceHookedAt[hook]
    if (hooked === undefined) this.deviceHookedAt[hook] = hooked = this.rs.baseChains(hook, ['netdev', 'inet']).length > 0
    return hooked
  }

  private readonly deviceHookedAt: {ingress?: boolean; egress?: boolean} = {}

  deviceChainsOf(hook: 'ingress' | 'egress', dev: string | undefined): NfChain[] {
    const byDev = this.deviceHooks[hook]
    let chains = byDev.get(dev)
    if (chains === undefined) byDev.set(dev, (chains = deviceChains(this.rs, hook, dev)))
    return chains
  }

  private readonly deviceHooks = {ingress: new Map<string | undefined, NfChain[]>(), egress: new Map<string | undefined, NfChain[]>()}

  /**
   * Device-bound base chains (netdev, inet ingress/egress) whose device the listings did not tell (nft's JSON of
   * some versions names none; `nft -a list ruleset`, which does, was not read): they may filter any device.
   */
  unboundDeviceChains(hook: 'ingress' | 'egress'): NfChain[] {
    let chains = this.unbound[hook]
    if (chains === undefined) this.unbound[hook] = chains = this.rs.baseChains(hook, ['netdev', 'inet']).filter((c) => c.base!.device === undefined)
    return chains
  }

  private readonly unbound: {ingress?: NfChain[]; egress?: NfChain[]} = {}

  sysctl(key: string): number | null | undefined {
    return this.facts.sysctl[key]
  }

  /** A per-device IPv4 setting the kernel combines with conf/all by taking the larger (rp_filter, arp_ignore). */
  private maxConf(dev: string, name: string): {value: number | undefined; key: string; unread: string[]} {
    // Asked for every flow's bridge and uplink: made once per setting and device (sysctls are facts, read-only; the
    // result is only read).
    const byDev = this.confs.get(name) ?? this.confs.set(name, new Map()).get(name)!
    let conf = byDev.get(dev)
    if (conf === undefined) byDev.set(dev, (conf = this.maxConfOf(dev, name)))
    return conf
  }

  private readonly confs = new Map<string, Map<string, {value: number | undefined; key: string; unread: string[]}>>()

  private maxConfOf(dev: string, name: string): {value: number | undefined; key: string; unread: string[]} {
    const allKey = `net.ipv4.conf.all.${name}`
    const ownKey = deviceKey('ipv4', dev, name)
    const all = this.sysctl(allKey)
    const own = this.sysctl(ownKey)
    const value = all === undefined && own === undefined ? undefined : Math.max(all ?? 0, own ?? 0)
    const key = own !== undefined && own !== null && own >= (all ?? 0) ? ownKey : allKey
    // A key with no value could not be read (null is absent): the larger may be it, `value` is then only a floor.
    const unread = all === undefined || own === undefined ? [allKey, ownKey].filter((k) => this.sysctl(k) === undefined) : []
    return {value, key, unread}
  }

  /** A per-device IPv4 setting the kernel reads as conf/all OR the device's (accept_local). */
  private orConf(dev: string, name: string): number | undefined {
    const all = this.sysctl(`net.ipv4.conf.all.${name}`)
    const own = this.sysctl(deviceKey('ipv4', dev, name))
    if ((all === undefined || all === null) && (own === undefined || own === null)) return undefined
    return (all ?? 0) || (own ?? 0) ? 1 : 0
  }

  network(i: Iface): LibvirtNetwork | undefined {
    if (i.type === 'network') return this.facts.networks.find((n) => n.name === i.source)
    const bridge = i.bridge ?? i.source
    return this.facts.networks.find((n) => n.bridge !== undefined && n.bridge === bridge)
  }

  /** The guest's bridge is an Open vSwitch bridge: OVS has one by that name, or libvirt plugs the interface into OVS. */
  isOvs(g: GuestPort): boolean {
    return this.ovsBridges.has(g.bridge) || g.i.virtualport?.type === 'openvswitch' || g.net?.virtualport === 'openvswitch' || this.links.get(g.bridge)?.kind === 'openvswitch'
  }

  /** Ports of an OVS bridge that lead off the host: not internal, not a guest's tap (libvirt's external ids, or a running guest's target). */
  private ovsUplinks(g: GuestPort): Link[] {
    const bridge = this.ovsBridges.get(g.bridge)
    if (!bridge) return []
    const guestTaps = new Set(this.facts.domains.flatMap((d) => d.interfaces.map((i) => i.target).filter((t): t is string => t !== undefined)))
    return uplinkPorts(bridge, guestTaps)
      .filter((p) => p.name !== g.i.target)
      .flatMap((p) => this.links.get(p.name) ?? [])
  }

  /** The OVS hop of a frame entering the guest's bridge by `inPort` and leaving by `outPort`. */
  private ovsHop(runner: PathRunner, g: GuestSide, inPort: string, outPort: string, checkVlan: boolean): void {
    if (!runner.alive()) return
    const ovs = this.facts.ovs
    const name = `ovs ${g.bridge}`
    if (ovs && !ovs.running) {
      const why = ovs.installed ? `Open vSwitch is not running (${ovs.reason ?? 'its database does not answer'})` : 'Open vSwitch is not installed'
      runner.push({name, verdict: 'fail', detail: `${why}: ${inPort} is on no bridge`, element: this.guestPlug(g, {id: `ovs-port:${g.bridge} ${inPort}`, kind: 'ovs-port', text: `${why}; ${g.bridge} has no port ${inPort}`, device: inPort, master: g.bridge})})
      return
    }
    const bridge = this.ovsBridges.get(g.bridge)
    const p = runner.packet()
    const v = ovsVerdict(bridge, ovs ? undefined : (this.facts.ovsUnavailable ?? 'ovs not read'), g.bridge, inPort, {family: p.family, l4proto: p.l4proto, src: p.src, dst: p.dst, sport: p.sport, dport: p.dport, etherSrc: p.etherSrc, broadcast: p.pkttype === 'broadcast'}, {port: outPort, skipVlan: !checkVlan})
    const hop: Hop = {name, verdict: v.verdict, detail: v.detail, ...(v.element ? {element: this.guestPlug(g, v.element)} : {})}
    runner.push(v.arpOnly ? cacheBound(hop, `the frames pass only while the sender's ARP cache holds the peer's MAC`) : hop)
  }

  /** A missing port that is the guest's own tap carries how libvirt plugs it: re-adding it otherwise drops its VLAN. */
  private guestPlug(g: GuestSide, el: Element): Element {
    if (el.kind !== 'ovs-port' || el.device === undefined || el.device !== g.i.target) return el
    return {...el, ovsPlug: {vlanTags: g.i.vlanTags ?? [], ...(g.i.virtualport?.interfaceId ? {ifaceId: g.i.virtualport.interfaceId} : {}), ...(g.i.mac ? {mac: g.i.mac} : {})}}
  }

  /** The largest packet a TCP flow carries on this path: the smallest MTU of the devices it crosses. */
  private pathMtu(...devices: (string | undefined)[]): number {
    const mtus = devices.map((d) => (d ? this.links.get(d)?.mtu : undefined)).filter((m): m is number => m !== undefined && m > 0)
    return mtus.length > 0 ? Math.min(...mtus) : 1500
  }

  /**
   * The largest packet a reply to the guest carries, sized by the path to it: a TCP peer sends no segment larger than
   * the MSS the guest announced, which fits the guest NIC's MTU. A virtio NIC with libvirt's <mtu> takes that MTU as
   * its largest (host_mtu), so the guest's TCP asks for nothing larger (lab: tap-mtu-guest-matched).
   */
  private replySize(i: Iface, proto: string, pathMtu: number): number {
    return proto === 'tcp' && i.model === 'virtio' && i.mtu !== undefined ? Math.min(pathMtu, i.mtu) : pathMtu
  }

  /**
   * Why a running guest's interface has no IPv4 flows through this host (undefined: it has them): its traffic does
   * not pass the host's bridges or stack, or its devices are not where kvmdoctor looks. Nothing about it is a pass.
   */
  notFollowed(i: Iface): {why: string; unread?: true} | undefined {
    if (i.type === 'direct') return undefined
    if (i.type !== 'network' && i.type !== 'bridge') return {why: NOT_FOLLOWED_TYPES[i.type] ?? `interface type ${i.type}: its traffic is not followed`}
    const net = this.network(i)
    const bridge = bridgeOf(i, net)
    if (!bridge) return {why: i.type === 'network' && net ? `network ${net.name} (forward mode ${net.forwardMode}) gives it no bridge: a device pool (macvtap, SR-IOV) kvmdoctor does not follow` : 'no bridge is known for it', ...(net ? {} : {unread: true as const})}
    // Its network stopped, its bridge with it: that state is judged on the network, not as flows not followed.
    if (net && !net.active && !this.links.has(bridge)) return undefined
    // The host's devices were read, but not these: kvmdoctor runs in another network namespace than the guest's.
    if (this.outOfSight(i, bridge)) return {why: `neither ${i.target ?? 'its tap'} nor ${bridge} is in this network namespace's link table`, unread: true}
    const routed = net !== undefined && net.forwardMode !== 'bridge' && net.ips.some((ip) => ip.family === 'ipv4')
    if (!routed && this.lanPorts({i, bridge, net}).length === 0) return {why: `${bridge} has no port but guests' taps: what the host does for it (an address of its own, NAT or routing it set up by hand) is not followed`}
    return undefined
  }

  guestFlows(d: LibvirtDomain, i: Iface, internet: Destination, custom: boolean): Flow[] {
    if (i.type === 'direct') return this.macvtapFlows(d, i, internet, custom)
    if (i.type !== 'network' && i.type !== 'bridge') return []
    const net = this.network(i)
    const bridge = bridgeOf(i, net)
    if (!bridge) return []
    // Its devices are in another network namespace: nothing to follow.
    if (this.outOfSight(i, bridge)) return []
    const g: GuestSide = {d, i, bridge, net}
    const v4 = net?.ips.find((ip) => ip.family === 'ipv4')
    const routed = net !== undefined && net.forwardMode !== 'bridge' && v4 !== undefined
    const known = i.mac ? this.facts.guestAddress(i.mac) : undefined
    const base: FlowBase = {guest: d.name, iface: i.target ?? i.mac ?? 'nic', mac: i.mac, network: net?.name, bridge}
    const flows: Flow[] = []
    if (routed) {
      const gw = v4.address
      const subnet = `${gw}/${v4.prefix}`
      const own = known && ipInPrefix(known, subnet) ? known : undefined
      if (own) base.guestAddress = own
      // A guest whose address nothing reports is judged for the address its network would give it; one whose
      // network gives it none has no address to send from, and nothing it sends is a pass.
      const hostEntry = v4.dhcpHosts.find((h) => h.mac !== undefined && h.mac.toLowerCase() === i.mac?.toLowerCase() && h.ip)?.ip
      const handsOut = v4.dhcpRanges.length > 0 || hostEntry !== undefined
      const src = own ?? hostEntry ?? v4.dhcpRanges[0]?.start ?? firstHost(subnet) ?? gw
      const srcNote = own ? '' : ` (an address of ${subnet}: the guest's own is not known)`
      const unheard = !own && i.mac ? this.facts.heardWithoutAddress?.(i.mac) : undefined
      let source: SourceAddress = own
        ? {addr: own}
        : unheard !== undefined
          ? {addr: src, unheard}
        : handsOut
          ? {addr: src, assumed: `source ${src}: the guest's own address is not known; its network's DHCP would give it ${hostEntry ? 'this one (a host entry for its MAC)' : `one of ${v4.dhcpRanges.map((r) => `${r.start}-${r.end}`).join(', ')}`}`}
          : {addr: src, missing: {network: net.name, subnet: networkOf(subnet)}}
      const dhcp = v4.dhcpRanges.length > 0 || v4.dhcpHosts.length > 0 ? this.localService(base, g, 'dhcp', gw, source) : []
      // A guest whose address nothing reports gets one only by DHCP: where DHCP fails, so does everything it would
      // send (to any destination: `trace --to` too).
      const dhcpFails = !own ? dhcp.find((f) => f.verdict === 'fail') : undefined
      if (dhcpFails) source = {...source, assumed: undefined, noLease: dhcpFails}
      if (custom) return this.routedEgress(base, g, source, srcNote, internet, 'custom')
      flows.push(...dhcp)
      // The resolver the guest asks is what counts: its network's where it asks that one (or nothing says otherwise).
      // Unheard, it asks what its network's DHCP gives it: the network's own dnsmasq options may name other servers or none.
      const heard = i.mac ? this.facts.guestResolvers?.(i.mac) : undefined
      const given = heard === undefined ? this.givenDhcp(net, gw).dnsServer : undefined
      const resolvers = heard ?? (given && 'addresses' in given && given.addresses.length > 0 ? given.addresses : undefined)
      const elsewhere = resolvers !== undefined && resolvers.length > 0 && !resolvers.includes(gw) ? resolvers[0] : undefined
      const unresolved = resolvers === undefined && given ? this.givenHop(g, source, 'dnsServer', given) : undefined
      if (unresolved) flows.push(this.dnsQueryStopped(base, g, source, gw, unresolved, `DNS query${srcNote}`))
      else if (elsewhere) flows.push(...this.otherResolver(base, g, source, srcNote, elsewhere, subnet, heard === undefined && given && 'option' in given ? `network ${net.name}'s dnsmasq option ${given.option} gives it` : undefined))
      else if (net.dnsEnabled) flows.push(...this.localService(base, g, 'dns', gw, source, srcNote))
      else flows.push(this.noNetworkResolver(base, g, source, srcNote, gw))
      if (net.forwardMode === 'nat' || net.forwardMode === 'route' || net.forwardMode === 'open') flows.push(...this.routedEgress(base, g, source, srcNote, internet, 'egress'))
      return flows
    }
    // A plain host bridge: frames are bridged to its other ports; DHCP and the way out are on the LAN behind them.
    const uplinks = this.lanPorts(g)
    if (uplinks.length === 0) return flows
    if (known) base.guestAddress = known
    const dhcp = this.bridgedFlow(base, g, uplinks[0], 'dhcp', known)
    // As on a routed network: a guest whose address nothing reports, and whose DHCP fails here, has none to send from.
    const dhcpFails = !known ? dhcp.find((f) => f.verdict === 'fail') : undefined
    // Its DHCP undecided, neither is whether it has an address to send from.
    const dhcpUndecided = !known && !dhcpFails ? dhcp.find((f) => f.verdict === 'indeterminate') : undefined
    if (!custom) flows.push(...dhcp)
    flows.push(...this.bridgedFlow(base, g, uplinks[0], custom ? 'custom' : 'egress', known, internet, dhcpFails, dhcpUndecided))
    return flows
  }

  /**
   * A macvtap interface (type='direct'): the guest's frames go out of its lower device, and what arrives there for its
   * MAC comes back, without the host's bridges, routing or IP hooks (only the two devices' tc and netdev hooks). The
   * host side is the macvtap device and its lower device; DHCP and the way out are the LAN's, beyond the host.
   */
  private macvtapFlows(d: LibvirtDomain, i: Iface, internet: Destination, custom: boolean): Flow[] {
    const lower = i.source
    const known = i.mac ? this.facts.guestAddress(i.mac) : undefined
    const base: FlowBase = {guest: d.name, iface: i.target ?? i.mac ?? 'nic', mac: i.mac, bridge: lower, ...(known ? {guestAddress: known} : {})}
    const kinds: ('dhcp' | 'egress' | 'custom')[] = custom ? ['custom'] : ['dhcp', 'egress']
    return kinds.flatMap((kind) => {
      const dest = kind === 'dhcp' ? undefined : internet
      const l4 = (reply: boolean) =>
        dest === undefined
          ? {l4proto: 'udp' as const, sport: reply ? 67 : 68, dport: reply ? 68 : 67}
          : dest.proto === 'icmp'
            ? {l4proto: dest.proto, icmpType: reply ? 0 : 8}
            : {l4proto: dest.proto, sport: reply ? (dest.port ?? 443) : EPHEMERAL_PORT, dport: reply ? EPHEMERAL_PORT : (dest.port ?? 443)}
      const src = dest === undefined ? '0.0.0.0' : (known ?? 'unknown')
      const dst = dest === undefined ? '255.255.255.255' : dest.addr
      const out = newPacket({family: 4, iifname: i.target, src, dst, ...l4(false), ...(dest === undefined ? {pkttype: 'broadcast' as const} : {}), etherSrc: i.mac})
      const size = kind === 'dhcp' ? SIZE.dhcp : dest?.proto === 'icmp' ? SIZE.ping : Math.min(this.links.get(i.target ?? '')?.mtu ?? 1500, this.links.get(lower ?? '')?.mtu ?? 1500)
      const runner = new PathRunner(this, [], out, size)
      // The guest's write is the macvtap device's transmit (its egress), handed to the lower device's; what arrives on
      // the lower device passes its ingress, then the macvtap device's, before the guest reads it.
      runner.push(guestNicHop(d, i))
      this.leaveDevice(runner, i.target, 'tap')
      this.leaveDevice(runner, lower, 'egress')
      const lan = kind === 'dhcp' ? `the LAN's DHCP server behind ${lower ?? '?'} answers (out of this host's sight)` : `the LAN behind ${lower ?? '?'} routes ${dst} and delivers the reply to ${d.name}'s MAC (out of this host's sight)`
      const assumptions = [lan, ...(kind !== 'dhcp' && !known ? [`the guest's address is not known: judged for any address of the LAN`] : [])]
      const what = kind === 'dhcp' ? 'DHCP request' : `to ${describeDestination(internet)}`
      const flows = [this.finish(base, kind, `${what} out of ${lower ?? '?'} (macvtap ${i.target ?? '?'})`, out, runner.hops, undefined, assumptions)]
      if (flows[0].verdict === 'fail') return flows
      const answer = (kind === 'dhcp' ? newPacket : replyPacket)({family: 4, iifname: lower, src: dest === undefined ? 'unknown' : dst, dst: dest === undefined ? '255.255.255.255' : src, ...l4(true), ...(dest === undefined ? {pkttype: 'broadcast' as const} : {})})
      const back = new PathRunner(this, [], answer, size)
      this.enterDevice(back, lower ?? '', 'egress')
      this.enterDevice(back, i.target ?? '', 'tap')
      flows.push(this.finish(base, kind === 'dhcp' ? 'dhcp-reply' : kind === 'custom' ? 'custom' : 'egress-reply', kind === 'dhcp' ? `DHCP offer from the LAN back to ${d.name}` : `reply from ${dst} back to ${d.name}`, answer, back.hops, kind, assumptions))
      return flows
    })
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
    const bridge = bridgeOf(i, net)
    if (!bridge || (this.outOfSight(i, bridge))) return []
    const hasWayOut = this.facts.routes.some((r) => r.family === 'inet6' && r.type === 'unicast' && (r.dst === 'default' || (r.dst.includes('/') && !r.dst.startsWith('fe80') && ipInPrefix(to.addr, r.dst) && r.dev !== bridge)))
    if (!hasWayOut) return []
    const g: GuestSide = {d, i, bridge, net}
    const subnet = `${v6.address}/${v6.prefix}`
    const known = i.mac ? this.facts.guestAddress6?.(i.mac) : undefined
    const own = known && ipInPrefix(known, subnet) ? known : undefined
    const range = parsePrefix(subnet)
    const src = own ?? v6.dhcpRanges[0]?.start ?? (range ? formatIp(6, range.lo + 0x100n) : v6.address)
    const srcNote = own ? '' : ` (an address of ${subnet}: the guest's own is not known)`
    const base: FlowBase = {guest: d.name, iface: i.target ?? i.mac ?? 'nic', mac: i.mac, network: net.name, bridge, ...(own ? {guestAddress: own} : {})}
    const ports = to.proto === 'icmp' ? {icmpType: 128} : {sport: EPHEMERAL_PORT, dport: to.port ?? 443}
    const l4proto = to.proto === 'icmp' ? 'icmpv6' : to.proto
    const request = newPacket({family: 6, iifname: bridge, src, dst: to.addr, l4proto, ...ports, etherSrc: i.mac})
    const assumed = own ? [] : [`source ${src}: an address of ${subnet}; the guest's own is not known`]
    // Once per next hop of a multipath route (IPv6 picks one per flow by a hash too).
    return this.overNexthops((nexthop) => {
      const probe = this.router.lookup({family: 6, dst: to.addr, src, iif: bridge, mark: 0, nexthop})
      const size = to.proto === 'icmp' ? SIZE.ping : this.pathMtu(i.target, bridge, probe.dev)
      const runner = this.fromGuest(g, request, size)
      runner.nexthop = nexthop
      this.upToHost(runner, bridge)
      const gateway = this.gatewayAddress6(bridge, v6.address, v6.prefix, net.name)
      if (gateway) runner.push(gateway)
      this.ipv6LinkSetup(runner, g)
      const decision = this.ipReceive(runner, bridge, 'forward', true)
      const egress = decision?.dev
      runner.nf('netfilter postrouting', 'postrouting', 'ip', {iifname: bridge, oifname: egress})
      // libvirt routes a NAT network's IPv6 unless <nat ipv6='yes'/> asks it to masquerade that too: then an
      // untranslated source fails as IPv4's does.
      if (runner.alive() && net.forwardMode === 'nat' && net.natIpv6) runner.push(this.natHop(runner, src, net))
      if (egress) this.leaveDevice(runner, egress, 'egress')
      const dest = `[${to.addr}]${to.proto === 'icmp' ? ' (ping)' : `:${to.port ?? 443}/${to.proto}`}`
      const nexthops = decision?.nexthops
      const via = nexthops ? [...new Set(nexthops.map((h) => h.dev ?? '?'))].join(' or ') : egress
      const flows = [this.finish(base, 'egress6', `IPv6 to the internet ${dest}${egress ? ` via ${via}` : ''}${srcNote}`, request, runner.hops, undefined, assumed)]
      if (flows[0].verdict === 'fail' || !egress) return {flows, nexthops}
      // Masqueraded (NAT66), the reply comes back to the host's address and conntrack undoes the translation; routed, it
      // comes back only if the upstream routes the guests' prefix to this host. Either way it is in the request's
      // connection (its mark and zone).
      const natted = runner.packet().src
      const reply = replyPacket({family: 6, iifname: egress, src: to.addr, dst: src, l4proto, ...(to.proto === 'icmp' ? {icmpType: 129} : {sport: to.port ?? 443, dport: EPHEMERAL_PORT})}, natted !== src ? ['snat'] : [])
      const arriving = this.inConnection(runner, reply, natted, src)
      const back = new PathRunner(this, [], arriving, size)
      if (natted === src) back.push(this.returnRouteHop(networkOf(subnet), net))
      const walked = this.withOpeningReply(back, reply, (r) => this.replyIn(r, egress, g))
      flows.push(this.finish(base, 'egress6-reply', `IPv6 reply from ${to.addr}${natted !== src ? ` to ${natted}` : ''}, arriving by ${egress}, back to ${d.name}`, walked.packet, walked.hops, 'egress6', assumed))
      return {flows, nexthops}
    }, to.addr, d.name)
  }

  // ---- devices -----------------------------------------------------------

  /** A device on the path: exists, admin up, carrier (uplinks), and (for a tap) enslaved to the bridge. */
  private deviceHops(name: string | undefined, role: 'tap' | 'bridge' | 'egress', bridge?: string, dir?: 'in' | 'out'): Hop[] {
    // The same device seen the same way gives the same hop: made once (every guest's flows pass its bridge
    // and the uplink); callers copy the list, and hops are never changed.
    // Keyed by the strings the callers hold (no key string built per hop), the bridge before the device: a map per
    // bridge, not one per guest's tap.
    const byDir = this.deviceHopCache[role]
    const byBridge = byDir.get(dir) ?? byDir.set(dir, new Map()).get(dir)!
    const byName = byBridge.get(bridge) ?? byBridge.set(bridge, new Map()).get(bridge)!
    let hops = byName.get(name)
    if (!hops) byName.set(name, (hops = this.deviceHopsOf(name, role, bridge, dir)))
    return hops
  }

  private readonly deviceHopCache = {tap: newHopCache(), bridge: newHopCache(), egress: newHopCache()}

  private deviceHopsOf(name: string | undefined, role: 'tap' | 'bridge' | 'egress', bridge?: string, dir?: 'in' | 'out'): Hop[] {
    // Named as the packet meets the device: a reply enters by the uplink its request left by.
    const label = `${role === 'egress' ? 'uplink' : role} ${name ?? '?'}${dir ? ` (${dir})` : ''}`
    if (!name) return [{name: label, verdict: 'fail', detail: 'the guest interface has no host device (not started?)', element: {id: `link:?`, kind: 'link', text: 'no tap device', state: 'missing'}}]
    const link = this.links.get(name)
    if (!link) return [{name: label, verdict: 'fail', detail: `${name} does not exist on the host`, element: {id: `link:${name}`, kind: 'link', text: `device ${name} is missing`, device: name, state: 'missing'}}]
    if (!link.up) return [{name: label, verdict: 'fail', detail: `${name} is administratively down`, element: {id: `link:${name}`, kind: 'link', text: `ip link: ${name} DOWN`, device: name, state: 'down'}}]
    if (role === 'tap' && bridge && link.master !== bridge) {
      return [{name: label, verdict: 'fail', detail: link.master ? `${name} is attached to ${link.master}, not ${bridge}` : `${name} is attached to no bridge`, element: {id: `tap:${name}`, kind: 'link-master', text: `${name} master ${link.master ?? 'none'} (expected ${bridge})`, device: name, master: bridge}}]
    }
    // Taps report UNKNOWN and an empty bridge NO-CARRIER: only a device that should carry traffic and has lost it fails.
    if (role === 'egress' && !link.lowerUp && link.kind !== 'tap') {
      return [{name: label, verdict: 'fail', detail: `${name} has no carrier (${link.operstate})`, element: {id: `link:${name}`, kind: 'link', text: `ip link: ${name} NO-CARRIER`, device: name, state: 'no-carrier'}}]
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

  /** tc on a device, one direction: a hop only where tc does something (or could not be read). */
  private tcHop(runner: PathRunner, dev: string | undefined, direction: 'ingress' | 'egress'): void {
    if (!dev || !runner.alive()) return
    if (this.tcSilent.has(dev)) return
    const p = runner.packet()
    const v = tcVerdict(this.tc, this.facts.tcUnavailable, dev, direction, {family: p.family, l4proto: p.l4proto, src: p.src, dst: p.dst, sport: p.sport, dport: p.dport, size: runner.size})
    if (!v) {
      const own = this.tc?.qdiscs.get(dev)
      if (own && own.length > 0 && own.every((q) => q.parent === 'root' && PASSING_ROOT.has(q.kind))) this.tcSilent.add(dev)
      return
    }
    // tc not read at all (or not on this device) is one undecided element, not one per device and direction.
    const element = v.element ?? (v.verdict === 'indeterminate' ? {id: this.facts.tc === null ? 'tc:not-read' : `tc:not-read:${dev}`, kind: 'tc-qdisc' as const, text: v.detail, ...(this.facts.tc === null ? {} : {device: dev})} : undefined)
    runner.push({name: `tc ${direction} ${dev}`, verdict: v.verdict, detail: v.detail, ...(element ? {element} : {}), ...(v.intermittent ? {intermittent: true as const} : {})})
  }

  /** A frame entering a device from its wire: the device, XDP, tc ingress, netdev ingress (kernel order). */
  private enterDevice(runner: PathRunner, dev: string, role: 'tap' | 'bridge' | 'egress', bridge?: string): void {
    runner.links(this.deviceHops(dev, role, bridge, 'in'))
    // WireGuard checks a decrypted packet's source before handing it to the stack (XDP and tc come after).
    if (role === 'egress') this.wireguardHop(runner, dev, 'in')
    const xdp = this.xdpHop(dev)
    if (xdp) runner.push(xdp)
    this.tcHop(runner, dev, 'ingress')
    runner.device('ingress', dev)
  }

  /**
   * A WireGuard device sends a packet only to the peer whose AllowedIPs hold its destination (none: dropped) and
   * takes one in only from a source the sending peer's AllowedIPs hold: its peers are not read, so undecided.
   */
  private wireguardHop(runner: PathRunner, dev: string, direction: 'in' | 'out'): void {
    if (this.links.get(dev)?.kind !== 'wireguard' || !runner.alive()) return
    const p = runner.packet()
    const rule = direction === 'out' ? `sends a packet to ${p.dst} only if a peer's AllowedIPs hold it` : `takes a packet from ${p.src} only if the AllowedIPs of the peer that sent it hold it`
    runner.push({name: `wireguard ${dev}`, verdict: 'indeterminate', detail: `${dev} is a WireGuard device: it ${rule}, and its peers (wg show ${dev} allowed-ips) are not read`, element: {id: `wireguard:${dev}`, kind: 'wireguard', text: `WireGuard device ${dev}: peers' AllowedIPs not read`, device: dev}})
  }

  /** The table of the VRF a device is (or is enslaved to): undefined when in none, null when its table was not printed. */
  private vrfTableOf(dev: string): string | null | undefined {
    const link = this.links.get(dev)
    const vrf = link?.kind === 'vrf' ? link : link?.master ? this.links.get(link.master) : undefined
    if (vrf?.kind !== 'vrf') return undefined
    return vrf.vrfTable === undefined ? null : String(vrf.vrfTable)
  }

  /** An XDP program on the device a frame enters: its BPF code decides, which no fact shows (undecided, never a pass). */
  private xdpHop(dev: string): Hop | undefined {
    const progs = this.links.get(dev)?.xdp
    if (!progs) return undefined
    let hop = this.xdpHops.get(dev)
    if (!hop) {
      // The program's id changes with every load: it is in the detail, not in the element's text (what an ignore names).
      const named = progs.map((p) => `${p.name ?? 'unnamed'} (${p.mode})`).join(', ')
      const ids = progs.flatMap((p) => (p.id !== undefined ? [`bpftool prog dump xlated id ${p.id}`] : []))
      hop = {
        name: `XDP ${dev}`,
        verdict: 'indeterminate',
        detail: `an XDP program runs on every frame ${dev} receives, before tc and netfilter (${named}): whether it passes, drops or redirects the frame is in its BPF code, which kvmdoctor does not read${ids.length > 0 ? ` (${ids.join('; ')})` : ''}`,
        element: {id: `xdp:${dev}`, kind: 'xdp', text: `ip link: ${dev} xdp ${named}`, device: dev},
      }
      this.xdpHops.set(dev, hop)
    }
    return hop
  }

  private readonly xdpHops = new Map<string, Hop>()

  /** A packet leaving by a device: netdev egress, tc egress (clsact, then the root qdisc), the device. */
  private leaveDevice(runner: PathRunner, dev: string | undefined, role: 'tap' | 'bridge' | 'egress', bridge?: string): void {
    runner.device('egress', dev)
    this.tcHop(runner, dev, 'egress')
    runner.links(this.deviceHops(dev, role, bridge, 'out'))
    // The device's own transmit: WireGuard looks the destination up in its peers' AllowedIPs.
    if (role === 'egress' && dev) this.wireguardHop(runner, dev, 'out')
  }

  /** The bridge device itself is up; if not, its device hop says so (and the flow stops there). */
  private bridgeUp(runner: PathRunner, bridge: string): boolean {
    const link = this.links.get(bridge)
    if (link?.up) return true
    runner.links(this.deviceHops(bridge, 'bridge'))
    return false
  }

  /** A bridge port a frame enters by: STP state, 802.1X locking, VLAN ingress filtering. */
  private portIn(runner: PathRunner, bridge: string, port: string | undefined, mac?: string, tag?: number): void {
    if (!port || !runner.alive()) return
    const link = this.links.get(port)
    if (!link) return
    // A bridge that is down disables its ports: the bridge is what decides, not the port state it causes.
    if (!this.bridgeUp(runner, bridge)) return
    const state = link.portState
    const delayCs = this.links.get(bridge)?.bridge?.forwardDelayCs ?? 0
    // Listening and learning pass within the forward delay; only a delay past the kernel's 2 s minimum is a fault worth a finding.
    const transient = state === 'listening' || state === 'learning'
    if (state && state !== 'forwarding' && (!transient || delayCs > 200)) {
      runner.push({name: `bridge port ${port}`, verdict: 'fail', detail: `STP port state ${state}${transient ? ` (nothing is forwarded from it for ${delayCs / 100} s x 2)` : ''}`, element: {id: `stp:${bridge}`, kind: 'stp', text: `bridge ${bridge}: port ${port} is ${state}`, device: bridge}})
      return
    }
    if (link.port?.locked && !this.lockedPortPasses(runner, bridge, port, mac)) return
    this.vlanHop(runner, bridge, port, 'in', {tag})
    if (transient) runner.push({name: `bridge port ${port}`, verdict: 'pass', detail: `STP port state ${state}: forwarding within ${delayCs / 100} s x 2`})
  }

  /**
   * A locked port (802.1X) takes a frame only from a MAC with an fdb entry of its own on that port, neither local nor
   * locked (br_handle_frame_finish): the entry an authenticator adds once the MAC is authorized. True when it passes.
   */
  private lockedPortPasses(runner: PathRunner, bridge: string, port: string, mac: string | undefined): boolean {
    const element: Element = {id: `port:${port} locked`, kind: 'bridge-port', text: `bridge link: ${port} locked on`, device: port, portFlag: 'locked'}
    const name = `bridge port ${port}`
    const fdb = this.facts.fdb
    if (fdb === null) {
      runner.push({name, verdict: 'indeterminate', detail: `port ${port} is locked: only MACs with an fdb entry of their own on it pass, and the fdb could not be read (${this.facts.fdbUnavailable ?? 'unknown'})`, element})
      return false
    }
    const authorized = (e: FdbEntry) => e.dev === port && e.state !== 'permanent' && !e.locked
    const own = fdb && mac ? this.fdbEntries(bridge, mac, runner.vlan).entries.find(authorized) : undefined
    if (own) {
      runner.push({name, verdict: 'pass', detail: `port ${port} is locked, and ${mac} has an fdb entry of its own on it (${fdbText(own)}): its frames pass`})
      return true
    }
    // A sender not known (a LAN's server): any authorized MAC on the port might be it.
    if (fdb && !mac && fdb.some((e) => e.bridge === bridge && authorized(e))) {
      runner.push({name, verdict: 'indeterminate', detail: `port ${port} is locked: only the MACs with an fdb entry of their own on it pass, and which MAC sends this frame is not known`, element})
      return false
    }
    runner.push({name, verdict: 'fail', detail: `port ${port} is locked: frames from MACs without an fdb entry of their own${mac ? ` (${mac})` : ''} are dropped`, element})
    return false
  }

  /** A bridge forwards no frame larger than the port's MTU (the IP layer sized it by the bridge's). */
  private mtuHop(runner: PathRunner, bridge: string, port: string | undefined): void {
    const mtu = port ? this.links.get(port)?.mtu : undefined
    if (!port || !runner.alive() || mtu === undefined || mtu <= 0 || runner.size <= mtu) return
    const bridgeMtu = this.links.get(bridge)?.mtu
    runner.push({name: `mtu ${port}`, verdict: 'fail', detail: `a ${runner.size}-byte packet sized for ${bridge} (mtu ${bridgeMtu ?? '?'}) does not fit ${port} (mtu ${mtu}): the bridge drops it`, element: {id: `mtu:${bridge}`, kind: 'link', text: `${port} mtu ${mtu} on ${bridge} (mtu ${bridgeMtu ?? '?'})`, device: port, master: bridge, mtu: bridgeMtu ?? mtu}})
  }

  /**
   * A bridge port a frame leaves by: VLAN egress filtering (a guest's tap takes no tag), and flooding when the frame
   * is a broadcast. br_flood floods nothing to a proxy_arp port; bcast_flood off holds back only broadcasts bridged
   * from another port, not what the host sends by the bridge device (`byBridgeDevice`: its ARP requests, DHCP offers).
   */
  private portOut(runner: PathRunner, bridge: string, port: string | undefined, broadcast: boolean, to: 'guest' | 'lan' = 'guest', byBridgeDevice = false): void {
    if (!port || !runner.alive()) return
    const link = this.links.get(port)
    if (!link) return
    if (!this.bridgeUp(runner, bridge)) return
    if (link.portState && link.portState !== 'forwarding' && link.portState !== 'learning' && link.portState !== 'listening') {
      runner.push({name: `bridge port ${port}`, verdict: 'fail', detail: `STP port state ${link.portState}: nothing is sent out of it`, element: {id: `stp:${bridge}`, kind: 'stp', text: `bridge ${bridge}: port ${port} is ${link.portState}`, device: bridge}})
      return
    }
    const refused = broadcast ? this.floodRefusal(link, byBridgeDevice) : undefined
    if (refused) {
      runner.push(refused)
      return
    }
    this.vlanHop(runner, bridge, port, 'out', {untaggedOnly: to === 'guest'})
  }

  /**
   * A frame bridged from one port to another: an isolated port talks only to ports that are not (br_skb_isolated, in
   * should_deliver: before the bridge's forward hook, for unicast and flood alike). The host's own frames enter by the
   * bridge device, never isolated: what the bridge hands up to the host is not bridged.
   */
  private isolationHop(runner: PathRunner, inDev: string, outDev: string, guestPort?: string): void {
    if (!runner.alive()) return
    if (this.links.get(inDev)?.port?.isolated !== true || this.links.get(outDev)?.port?.isolated !== true) return
    // One element for both directions: the guest's port first.
    const [port, peer] = outDev === guestPort ? [outDev, inDev] : [inDev, outDev]
    runner.push({name: `bridge port ${outDev}`, verdict: 'fail', detail: `${inDev} and ${outDev} are both isolated ports: the bridge forwards nothing between them`, element: {id: `port:${port} ${peer} isolated`, kind: 'bridge-port', text: `bridge link: ${port} isolated on, ${peer} isolated on`, device: port, peer, portFlag: 'isolated'}})
  }

  /** The port flag that keeps the bridge from flooding a broadcast to `port`, if any (br_flood). */
  private floodRefusal(link: Link, byBridgeDevice: boolean): Hop | undefined {
    const port = link.name
    if (link.port?.proxyArp) return {name: `bridge port ${port}`, verdict: 'fail', detail: `proxy_arp is on on port ${port}: the bridge floods nothing to it, so broadcasts (ARP requests, DHCP offers to 255.255.255.255) never reach it`, element: {id: `port:${port} proxy_arp`, kind: 'bridge-port', text: `bridge link: ${port} proxy_arp on`, device: port, portFlag: 'proxy_arp'}}
    if (link.port?.bcastFlood === false && !byBridgeDevice) return {name: `bridge port ${port}`, verdict: 'fail', detail: `broadcast flooding is off on ${port}: broadcasts (ARP requests, DHCP offers to 255.255.255.255) never reach it`, element: {id: `port:${port} bcast_flood`, kind: 'bridge-port', text: `bridge link: ${port} bcast_flood off`, device: port, portFlag: 'bcast_flood'}}
    return undefined
  }

  /**
   * VLAN filtering on a bridge (vlan_filtering 1) decides by each port's VLANs. A frame entering a port ('in')
   * untagged takes the port's PVID (none: dropped), one tagged `tag` must be of a VLAN of the port; a frame leaving
   * ('out') must be of a VLAN of the port, and leaves untagged only where that VLAN is "Egress Untagged": a guest's
   * NIC and the host's bridge device (`untaggedOnly`) take no tag, an uplink trunk may. The bridge device itself is a
   * port too: the host's frames enter by it, frames to the host leave by it. VLANs not read: undecided.
   */
  private vlanHop(runner: PathRunner, bridge: string, port: string, direction: 'in' | 'out', how: {tag?: number; untaggedOnly?: boolean} = {}): void {
    if (!this.links.get(bridge)?.bridge?.vlanFiltering || !runner.alive()) return
    const name = `bridge vlan ${port}`
    const vlans = this.facts.vlans
    if (!vlans) {
      if (direction === 'out' && runner.vlanChecked) return
      runner.vlanChecked = true
      runner.push({name: `bridge vlan ${bridge}`, verdict: 'indeterminate', detail: `${bridge} filters by VLAN (vlan_filtering 1) and its ports' VLANs were not read (${this.facts.vlansUnread ?? 'not read'})`, element: {id: `vlan:${bridge}`, kind: 'bridge-vlan', text: `bridge ${bridge}: vlan_filtering 1`, device: bridge}})
      return
    }
    const ranges = vlans[port] ?? []
    const of = (vid: number) => vlanRangeWith(ranges, vid)
    const who = port === bridge ? `${bridge} (the bridge device)` : port
    const element = (text: string): Element => ({id: `vlan:${port}`, kind: 'bridge-vlan', text: `bridge vlan: ${text}`, device: port, master: bridge})
    if (direction === 'in') {
      const vid = how.tag ?? ranges.find((r) => r.pvid)?.from
      if (vid === undefined) {
        runner.push({name, verdict: 'fail', detail: `${who} has no PVID on ${bridge}, which filters by VLAN: the untagged frames ${port === bridge ? 'the host sends' : 'entering by it'} are dropped`, element: element(`${port} has no PVID (vlan_filtering 1 on ${bridge})`)})
        return
      }
      if (how.tag !== undefined && !of(vid)) {
        runner.push({name, verdict: 'fail', detail: `VLAN ${vid} is not a VLAN of ${who}: ${bridge} drops the frames tagged ${vid} entering by it`, element: element(`${port} lacks VLAN ${vid}`)})
        return
      }
      runner.vlan = vid
      runner.push({name, verdict: 'pass', detail: `enters ${bridge} in VLAN ${vid}${how.tag === undefined ? ` (${who}'s PVID)` : ' (tagged)'}`})
      return
    }
    const vid = runner.vlan
    if (vid === undefined) {
      runner.push({name, verdict: 'indeterminate', detail: `the VLAN the frame travels in on ${bridge} is not known: whether ${who} sends it is not decided`, element: element(`${port} on ${bridge} (vlan_filtering 1)`)})
      return
    }
    const r = of(vid)
    if (!r) {
      runner.push({name, verdict: 'fail', detail: `VLAN ${vid} is not a VLAN of ${who}: ${bridge} sends it no frame of that VLAN`, element: element(`${port} lacks VLAN ${vid}, the VLAN ${port === bridge ? 'the guests' : 'its peers'} send in`)})
      return
    }
    if (how.untaggedOnly && !r.untagged) {
      runner.push({name, verdict: 'fail', detail: `${who} sends VLAN ${vid} tagged: ${port === bridge ? "the host's address on it" : 'the guest'} takes no VLAN tag`, element: element(`${port} sends VLAN ${vid} tagged (not Egress Untagged)`)})
      return
    }
    runner.push({name, verdict: 'pass', detail: `${who} sends VLAN ${vid} ${r.untagged ? 'untagged' : 'tagged'}`})
  }

  /** On a filtering bridge, the VLAN of TAP's PVID when PORT sends it tagged; undefined when untagged or not known. */
  private taggedOn(bridge: string, port: string, tap: string | undefined): number | undefined {
    const vlans = this.links.get(bridge)?.bridge?.vlanFiltering && tap ? this.facts.vlans : undefined
    const vid = vlans?.[tap!]?.find((r) => r.pvid)?.from
    const range = vid === undefined ? undefined : vlanRangeWith(vlans?.[port] ?? [], vid)
    return range && !range.untagged ? vid : undefined
  }

  /** A guest's frame: its NIC, tap, the tap's bridge port and the bridge's prerouting hook. */
  private fromGuest(g: GuestSide, packet: NfPacket, size: number, first?: Hop, bridgePrerouting = true): PathRunner {
    const {d, i, bridge} = g
    const runner = new PathRunner(this, first ? [first] : [], packet, size)
    runner.sourcePort = i.target
    runner.push(guestNicHop(d, i))
    // An OVS port is not enslaved to its bridge in the link table: OVS itself says whether it is a port (the OVS hop).
    const ovs = this.isOvs(g)
    if (i.target) this.enterDevice(runner, i.target, 'tap', ovs ? undefined : bridge)
    else runner.links(this.deviceHops(undefined, 'tap', bridge, 'in'))
    if (!ovs) this.portIn(runner, bridge, i.target, i.mac)
    // Two MACs answering for one address: replies go to whichever the neighbour cache holds. Not a DHCP exchange
    // from 0.0.0.0: the server answers the client's own MAC (dnsmasq writes that neighbour entry itself).
    const conflict = i.mac && packet.src !== '0.0.0.0' ? this.facts.addressConflict?.(i.mac) : undefined
    if (conflict) runner.push({name: 'address', verdict: 'indeterminate', detail: `another MAC claims ${conflict}: replies reach whichever one the neighbour cache holds`, element: {id: `conflict:${conflict}`, kind: 'listener', text: `${conflict} claimed by two MACs`, address: conflict}})
    if (bridgePrerouting && !ovs) runner.nf('bridge prerouting', 'prerouting', 'bridge', {iifname: i.target, ibrname: bridge})
    return runner
  }

  /**
   * br_netfilter passes this family's frames on `bridge` to the IP hooks: the host-wide sysctl or the bridge's own
   * nf_call_iptables (either one; the sysctl absent: br_netfilter is not loaded, neither acts). null: not read.
   */
  private brNetfilter(family: 4 | 6, bridge: string): boolean | null {
    const v = this.sysctl(family === 4 ? 'net.bridge.bridge-nf-call-iptables' : 'net.bridge.bridge-nf-call-ip6tables')
    const own = this.links.get(bridge)?.bridge
    if (bridgeOwnSwitchActs(v, family === 4 ? own?.nfCallIptables : own?.nfCallIp6tables)) return true
    return v === undefined ? null : v === 1
  }

  /**
   * A frame the bridge delivers to the host: the bridge's input hook, then the bridge device itself. With
   * br_netfilter the IP prerouting hook (and conntrack) runs inside the bridge's prerouting, before bridge
   * input, and its port data stays with the packet (-m physdev sees the tap in every later IP hook).
   */
  private upToHost(runner: PathRunner, bridge: string): void {
    const brnf = this.brNetfilter(runner.packet().family, bridge)
    // Unread, it decides whether the IP hooks see the bridge port: what a rule reading it (-m physdev, libvirt's
    // nwfilter chains) matches is then not known.
    if (brnf === null && this.rs.readsPhysdev) runner.push({name: 'br_netfilter', verdict: 'indeterminate', detail: `${runner.packet().family === 4 ? 'net.bridge.bridge-nf-call-iptables' : 'net.bridge.bridge-nf-call-ip6tables'} could not be read: whether rules that read the bridge port (-m physdev) see ${runner.sourcePort ?? 'the guest'}'s is not known`})
    if (brnf) {
      runner.ports({physIn: runner.sourcePort})
      this.prerouting(runner, bridge)
    }
    runner.nf('bridge input', 'input', 'bridge', {iifname: runner.sourcePort, ibrname: bridge})
    this.vlanHop(runner, bridge, bridge, 'out', {untaggedOnly: true})
    this.enterDevice(runner, bridge, 'bridge')
    if (!brnf) this.prerouting(runner, bridge)
  }

  /** Connection tracking of a new packet and the IP prerouting hook (conntrack undoes a reply's NAT at the NAT core's priority). */
  private prerouting(runner: PathRunner, iif: string): void {
    const before = runner.packet()
    if (before.ct.state === 'new') {
      const conntrack = this.conntrackHop()
      if (conntrack) runner.push(conntrack)
    }
    runner.nf('netfilter prerouting', 'prerouting', 'ip', {iifname: iif})
    // A reply looked up in another conntrack zone than its connection's is a new connection: its source NAT is not
    // undone, and it is delivered to the host's own address, never to the guest. The zone rule is what stops it.
    const after = runner.packet()
    if (!runner.alive() || !before.ct.conn || !before.ct.translate || before.ct.direction !== 'reply' || after.ct.direction !== 'original') return
    const lost = runner.hops.at(-1)?.steps?.find((s) => s.action === 'conntrack')
    runner.push({name: 'conntrack zone', verdict: 'fail', detail: `${lost?.note ?? 'conntrack finds no entry for the reply in its zone'}: the reply to ${before.dst} stays the host's own`, ...(lost?.rule ? {element: elementForStep(lost, this.facts.ruleset)} : {})})
  }

  /**
   * REPLY as it arrives in REQUEST's connection: with the connection mark the request's path left, and, where the request
   * left translated to NATTED, addressed to that, conntrack undoing the source NAT at the NAT core's priority in
   * prerouting (chains before it see the translated address).
   */
  private inConnection(request: PathRunner, reply: NfPacket, natted: string, src: string): NfPacket {
    const mark = request.packet().ct.mark
    const conn = this.connOf(request)
    return natted !== src ? {...reply, dst: natted, ct: {...reply.ct, mark, translate: {dst: src}, ...conn}} : {...reply, ct: {...reply.ct, mark, ...conn}}
  }

  /**
   * What a reply carries of its request's connection where rules set conntrack zones: the zone it was made in and the
   * rule that set it. The reply is looked up in its own zone and must meet that one (zoneLookup).
   */
  private connOf(request: PathRunner): {conn?: NonNullable<NfPacket['ct']['conn']>} {
    if (!this.rs.setsZone) return {}
    const by = request.hops.flatMap((h) => h.steps ?? []).filter((s) => s.action?.startsWith('ct zone set')).at(-1)
    return {conn: {zone: request.packet().ct.zone ?? 0, ...(by ? {by} : {})}}
  }

  /** Whether a live branch's mark or addresses were changed on the output hook by a chain of type route (which re-routes). */
  changedByRouteChain(branches: Branch[]): boolean {
    const changes = /^(mark (set|and|or|xor)|dnat|snat|redirect|masquerade)/
    return branches.some((b) =>
      b.status === 'accept' &&
      b.steps.some((st) => {
        if (st.hook !== 'output' || !st.action || !changes.test(st.action)) return false
        const table = this.facts.ruleset.tables.find((t) => t.backend === st.chain.backend && t.family === st.chain.family && t.name === st.chain.table)
        return table?.chains[st.chain.base ?? st.chain.chain]?.base?.type === 'route'
      }),
    )
  }

  /** Some device has an address: the host's addresses were read (asked for every guest, answered once). */
  private addressesRead(): boolean {
    this.someAddress ??= this.facts.links.some((l) => l.addresses.length > 0)
    return this.someAddress
  }

  private someAddress: boolean | undefined

  /**
   * The network's gateway address missing from its bridge (deleted by hand, or a duplicate address the kernel
   * dropped): the guests' ARP for it goes unanswered and dnsmasq serves no DHCP on an interface without an
   * address of the range. Judged only when the host's addresses were read (some device has one).
   */
  private gatewayMissing(g: GuestSide, gw: string): Element | undefined {
    const link = this.links.get(g.bridge)
    if (!link || !this.addressesRead() || link.addresses.some((a) => a.address === gw)) return undefined
    const v4 = g.net?.ips.find((ip) => ip.family === 'ipv4' && ip.address === gw)
    return {id: `gateway:${g.bridge} ${gw}`, kind: 'gateway-address', text: `${g.bridge} lacks ${gw}${v4 ? `/${v4.prefix}` : ''}, the gateway of network ${g.net?.name ?? '?'}`, device: g.bridge, address: gw, ...(v4 ? {prefix: v4.prefix} : {}), ...(g.net ? {network: g.net.name} : {})}
  }

  /**
   * The guest's ARP for its gateway (the host's address on the bridge) before any unicast to it: the host
   * answers unless ARP is off on the bridge, arp_ignore forbids it or an arp chain (arptables-nft, nft arp) drops it.
   */
  private arpHop(runner: PathRunner, g: GuestSide, gw: string): void {
    const bridge = g.bridge
    if (!runner.alive()) return
    const missing = this.gatewayMissing(g, gw)
    if (missing) {
      runner.push({name: `ARP for ${gw}`, verdict: 'fail', detail: `${gw} is not an address of ${bridge}: nothing on the host answers the guest's ARP for its gateway`, element: missing})
      return
    }
    const noArp = this.noArpHop(bridge, `ARP for ${gw}`, `the host answers no ARP request there`)
    if (noArp) {
      runner.push(cacheBound(noArp, `the guest reaches ${gw} only while its ARP cache still holds the host's MAC`))
      return
    }
    const {value, key, unread} = this.maxConf(bridge, 'arp_ignore')
    if (value === 8) {
      // The host still asks its guests, and a guest learns the host's MAC from each request it receives (lab:
      // bridge-arp-ignore-never, web01 measured all ok): only a guest whose cache ran out cannot ask for it.
      const hop: Hop = {name: `ARP for ${gw}`, verdict: 'fail', detail: `${key} = 8: the host answers no ARP request on ${bridge}`, element: {id: `sysctl:${key}`, kind: 'sysctl', text: `${key} = 8`, sysctl: {key, value: 8}, device: bridge}}
      runner.push(cacheBound(hop, `the guest reaches ${gw} only while its ARP cache holds the host's MAC (written again by each ARP request the host sends it)`))
      return
    }
    // An unread key may hold 8, the one value that silences the gateway: the hop is then not decided.
    if (unread.length > 0) {
      runner.push({name: `ARP for ${gw}`, verdict: 'indeterminate', detail: `${unread.join(' and ')} could not be read: whether the host answers the guest's ARP on ${bridge} (not when arp_ignore is 8) is not known`})
      return
    }
    this.arpExchange(runner, `ARP for ${gw}`, bridge, {guest: runner.packet().src, host: gw, mac: g.i.mac}, `the guest reaches ${gw} only while its ARP cache still holds the host's MAC`)
  }

  /**
   * The upstream (`asker`, the route's next hop) sends a NATed reply to the host's address on the uplink only once ARP
   * gives it the host's MAC: arp_ignore 8 answers none of its requests there (lab: uplink-arp-ignore-never), as an arp
   * family drop would. What its cache holds, which the host cannot read, carries the replies until it runs out. A
   * device without ARP (a tunnel, WireGuard) has no such step.
   */
  private uplinkArpHop(runner: PathRunner, dev: string, addr: string, asker: string): void {
    const link = this.links.get(dev)
    if (!runner.alive() || !link?.mac || link.flags.includes('NOARP')) return
    const name = `ARP for ${addr} on ${dev}`
    const cached = `the upstream sends the replies to ${addr} only while its ARP cache holds the host's MAC (written again by each ARP request the host sends it)`
    const {value, key, unread} = this.maxConf(dev, 'arp_ignore')
    if (value === 8) {
      const hop: Hop = {name, verdict: 'fail', detail: `${key} = 8: the host answers no ARP request on ${dev}`, element: {id: `sysctl:${key}`, kind: 'sysctl', text: `${key} = 8`, sysctl: {key, value: 8}, device: dev}}
      runner.push(cacheBound(hop, cached, 'a restarted or idle upstream'))
      return
    }
    if (unread.length > 0) {
      runner.push({name, verdict: 'indeterminate', detail: `${unread.join(' and ')} could not be read: whether the host answers the upstream's ARP for ${addr} on ${dev} (not when arp_ignore is 8) is not known`})
      return
    }
    this.arpExchange(runner, name, dev, {guest: asker, host: addr}, cached)
  }

  /**
   * ARP off on the Ethernet device a packet leaves by (NOARP): the kernel flushed its neighbour entries and now sends
   * to the device's own MAC (arp_constructor), which the next hop drops; only an entry set since (PERMANENT, another
   * MAC) still reaches it (lab: uplink-arp-off).
   */
  private egressNoArp(runner: PathRunner, dev: string, nextHop: string): void {
    const own = this.links.get(dev)?.mac
    if (!runner.alive() || !own) return
    const entry = this.neighbourAt(dev, nextHop)
    if (entry?.state.includes('PERMANENT') && entry.mac && entry.mac !== own) return
    const hop = this.noArpHop(dev, `neighbour ${nextHop}`, `the host asks no ARP for ${nextHop} there and sends to ${dev}'s own MAC`)
    if (hop) runner.push(hop)
  }

  /** ARP off on the bridge (NOARP): the host neither answers ARP there nor asks; what it sends goes to its own MAC. */
  private noArpHop(bridge: string, name: string, what: string): Hop | undefined {
    if (!this.links.get(bridge)?.flags.includes('NOARP')) return undefined
    return {name, verdict: 'fail', detail: `ARP is off on ${bridge} (NOARP): ${what}`, element: {id: `noarp:${bridge}`, kind: 'link', text: `ip link: ${bridge} arp off (NOARP)`, device: bridge, noArp: true}}
  }

  /**
   * An ARP exchange between the host and a guest on its bridge, through the arp family's chains (arptables-nft, nft
   * arp tables): the request and the answer, one arriving on the bridge (input), the other sent on it (output).
   * Only what these chains can tell of an ARP packet is read (its devices); no chain at all is no hop.
   */
  private arpExchange(runner: PathRunner, name: string, bridge: string, ends: {guest: string; host: string; mac?: string}, cached: string): void {
    if (!runner.alive()) return
    for (let k = 0; k < ARP_HOOKS.length; k++) {
      const hook = ARP_HOOKS[k]
      if (!this.hooked(hook, 'arp')) continue
      // From the guest on input, from the host on output: the sender and target addresses as the hook sees them.
      const arp = hook === 'input'
        ? newPacket({family: 4, iifname: bridge, src: ends.guest, dst: ends.host, l4proto: 'arp', ...(ends.mac ? {etherSrc: ends.mac} : {})})
        : newPacket({family: 4, oifname: bridge, src: ends.host, dst: ends.guest, l4proto: 'arp'})
      const {hop} = this.nfHop(`${name} (arp ${hook})`, hook, 'arp', [startBranch(arp)])
      if (hop.verdict !== 'pass') {
        runner.push(hop.verdict === 'fail' ? cacheBound(hop, cached) : hop)
        return
      }
    }
  }

  /**
   * The network's IPv6 address on its bridge, which its RAs and DNS answer from: missing (a guest's IPv6 has no router
   * there), failed duplicate address detection (another node holds it: the host does not use it), or still tentative.
   */
  private gatewayAddress6(bridge: string, address: string, prefix: number, network: string): Hop | undefined {
    if (!this.addressesRead()) return undefined
    const held = this.links.get(bridge)?.addresses.find((a) => a.family === 'inet6' && parseIp(a.address)?.value === parseIp(address)?.value)
    const name = `gateway ${address}`
    const element = (text: string, withPrefix: boolean): Element => ({id: `gateway:${bridge} ${address}`, kind: 'gateway-address', text, device: bridge, address, ipFamily: 6, network, ...(withPrefix ? {prefix} : {})})
    if (!held) return {name, verdict: 'fail', detail: `${bridge} lacks ${address}, network ${network}'s IPv6 address: nothing there routes the guests' IPv6`, element: element(`${bridge} lacks ${address}/${prefix}, the IPv6 gateway of network ${network}`, true)}
    // Failed: re-adding it fails again while the other node holds it; which node that is, is the question (no command).
    if (held.dad === 'failed') return {name, verdict: 'fail', detail: `${address} on ${bridge} failed duplicate address detection: another node on the segment holds it, and the host does not use it`, element: element(`${bridge}: ${address}/${held.prefix} dadfailed (another node holds it)`, false)}
    if (held.dad === 'tentative') return {name, verdict: 'indeterminate', detail: `${address} on ${bridge} is still tentative (duplicate address detection under way, or ${bridge} has no carrier): the host does not use it yet`}
    return undefined
  }

  /**
   * What a guest's IPv6 needs from the host on its link: the router advertisement it learns its default route from
   * (dnsmasq's, to all nodes, through the host's output hook), its address from dnsmasq's DHCPv6 where the network
   * hands them out (the request to the DHCP servers' group through input, the reply through output), then neighbour
   * discovery of the router's link-local address (the solicitation through input, the advertisement through output).
   * Conntrack leaves router and neighbour discovery untracked. A drop of any cuts the guests' IPv6 off once what they
   * hold runs out (their route's lifetime, their lease, their neighbour cache): IPv4's ARP and DHCP have their own hops.
   */
  private ipv6LinkSetup(runner: PathRunner, g: GuestSide): void {
    const host = this.links.get(g.bridge)?.addresses.find((a) => a.family === 'inet6' && /^fe80:/i.test(a.address))?.address
    const guest = g.i.mac ? linkLocalOf(g.i.mac) : undefined
    const solicited = host ? solicitedNodeOf(host) : undefined
    if (!runner.alive() || !host || !guest || !solicited) return
    const untracked = (p: NfPacket): NfPacket => ({...p, ct: {...p.ct, state: 'untracked'}})
    const neighbourCache = `the guest reaches its router only while its neighbour cache holds the host's MAC`
    const leased = `the guest keeps its IPv6 address only until its DHCPv6 lease runs out`
    const exchange: [string, NfHook, NfPacket, string][] = [
      [`router advertisement from ${host}`, 'output', untracked(newPacket({family: 6, oifname: g.bridge, src: host, dst: ALL_NODES, l4proto: 'icmpv6', icmpType: 134})), `the guest keeps its default route only for the lifetime of the last advertisement it heard`],
      ...(g.net?.ips.some((ip) => ip.family === 'ipv6' && ip.dhcpRanges.length > 0)
        ? ([
            [`DHCPv6 request to ${DHCP6_SERVERS} (input)`, 'input', newPacket({family: 6, iifname: g.bridge, src: guest, dst: DHCP6_SERVERS, l4proto: 'udp', sport: 546, dport: 547, etherSrc: g.i.mac}), leased],
            [`DHCPv6 reply from ${host} (output)`, 'output', newPacket({family: 6, oifname: g.bridge, src: host, dst: guest, l4proto: 'udp', sport: 547, dport: 546}), leased],
          ] as [string, NfHook, NfPacket, string][])
        : []),
      [`neighbour discovery of ${host} (input)`, 'input', untracked(newPacket({family: 6, iifname: g.bridge, src: guest, dst: solicited, l4proto: 'icmpv6', icmpType: 135, etherSrc: g.i.mac})), neighbourCache],
      [`neighbour discovery of ${host} (output)`, 'output', untracked(newPacket({family: 6, oifname: g.bridge, src: host, dst: guest, l4proto: 'icmpv6', icmpType: 136})), neighbourCache],
    ]
    for (const [name, hook, packet, whileCached] of exchange) {
      const {hop} = this.nfHop(name, hook, 'ip', [startBranch(packet)])
      if (hop.verdict !== 'pass') {
        runner.push(hop.verdict === 'fail' ? cacheBound(hop, whileCached) : hop)
        return
      }
    }
  }

  // ---- the IP layer ------------------------------------------------------

  /**
   * A packet received by the IP layer on `iif`: connection tracking and prerouting (unless the bridge ran
   * them already: br_netfilter), the route lookup with source validation, then the input hook
   * (local delivery) or the forwarding check of the arriving device and the forward hook.
   */
  private ipReceive(runner: PathRunner, iif: string, expect: 'local' | 'forward', prerouted = false, viaDev?: string): RouteDecision | undefined {
    if (!prerouted) this.prerouting(runner, iif)
    const decision = runner.route('routing', expect, {iif, viaDev})
    if (!runner.alive() || !decision) return decision
    this.sourceCheck(runner, iif, expect === 'forward' && decision.kind === 'unicast' ? decision.dev : undefined)
    if (expect === 'local') {
      runner.nf('netfilter input', 'input', 'ip', {iifname: iif, oifname: undefined})
      // The socket's receive checks the in policies, after the input hook.
      if (runner.alive()) runner.ipsec('in', iif)
      return decision
    }
    runner.push(this.forwardingHop(iif, runner.packet().family))
    // ip_forward: the fwd policies, then the out ones (xfrm4_route_forward), before the forward hook.
    if (decision.kind === 'unicast') {
      if (runner.alive()) runner.ipsec('fwd', decision.dev)
      if (runner.alive()) runner.ipsec('out', decision.dev)
    }
    runner.nf('netfilter forward', 'forward', 'ip', {iifname: iif, oifname: decision.dev})
    return decision
  }

  /** The packet sent out of `oif` after routing: postrouting (source NAT happens here). */
  private ipSend(runner: PathRunner, iif: string | undefined, oif: string | undefined): void {
    const before = runner.packet()
    runner.nf('netfilter postrouting', 'postrouting', 'ip', {iifname: iif, oifname: oif})
    // Addresses translated here are looked up in the out policies again (nf_xfrm_me_harder).
    const after = runner.packet()
    if (runner.alive() && (after.src !== before.src || after.dst !== before.dst)) runner.ipsec('out', oif)
  }

  /** The IPsec hop of a direction for the runner's packet (absent where no policy or default touches it). */
  ipsecHop(dir: 'in' | 'out' | 'fwd', p: NfPacket, dev: string | undefined): Hop | undefined {
    const {xfrm, xfrmUnread} = this.facts.ipRules
    // Most hosts: no policy, no default of block, nothing to look at.
    if (xfrmUnread === undefined && (!xfrm || (xfrm.policies.length === 0 && xfrm.defaults?.[dir] !== 'block' && xfrm.defaultsUnread === undefined))) return undefined
    // disable_policy on the device it arrived by (in, fwd), disable_xfrm on the one it leaves by (out): not checked.
    const by = dir === 'out' ? dev : p.iifname
    const exempt = xfrmExempt(xfrm?.bypass, dir === 'out' ? 'noXfrm' : 'noPolicy', by)
    if (exempt === true) return undefined
    const fromGuest = p.iifname !== undefined && this.facts.networks.some((n) => n.bridge === p.iifname)
    const hop = xfrmHop(xfrm, xfrmUnread, dir, p, dev, fromGuest)
    if (exempt === false || hop?.verdict !== 'fail') return hop
    return {...hop, verdict: 'indeterminate', detail: `${hop.detail}, unless ${dir === 'out' ? 'disable_xfrm' : 'disable_policy'} on ${by ?? 'its device'} exempts it (not read)`}
  }

  /** A full connection-tracking table drops new connections, unless the kernel can evict an unreplied one. */
  private conntrackHop(): Hop | undefined {
    // The same for every new packet (three sysctls): made once, shared (hops are never changed).
    if (this.conntrack === null) this.conntrack = this.conntrackHopOf()
    return this.conntrack
  }

  /** null: not made yet. */
  private conntrack: Hop | undefined | null = null

  private conntrackHopOf(): Hop | undefined {
    const count = this.sysctl('net.netfilter.nf_conntrack_count')
    const max = this.sysctl('net.netfilter.nf_conntrack_max')
    const buckets = this.sysctl('net.netfilter.nf_conntrack_buckets')
    // Unread (undefined), not absent (null: no conntrack module, no table to fill): whether the table is full is unknown.
    const unread = [['nf_conntrack_count', count], ['nf_conntrack_max', max]].filter(([, v]) => v === undefined).map(([k]) => k)
    if (unread.length > 0 && count !== null && max !== null) {
      return {name: 'conntrack', verdict: 'indeterminate', detail: `${unread.join(' and ')} could not be read: whether the connection-tracking table is full (new connections dropped) is not known`}
    }
    if (count === undefined || count === null || !max || count < max) return undefined
    return {name: 'conntrack', verdict: 'indeterminate', detail: `nf_conntrack_count ${count} >= nf_conntrack_max ${max}: new connections are dropped unless an unreplied entry can be evicted`, element: {id: 'sysctl:net.netfilter.nf_conntrack_max', kind: 'sysctl', text: `net.netfilter.nf_conntrack_max = ${max} (table full)`, sysctl: {key: 'net.netfilter.nf_conntrack_max', value: max, ...(buckets ? {buckets} : {})}}}
  }

  /**
   * One object for every passing hop that says the same (a thousand guests' DHCP requests are delivered to the limited
   * broadcast alike): hops are never changed, and a pass names no element.
   */
  sharedPass(hop: Hop): Hop {
    if (hop.verdict !== 'pass' || hop.element || hop.steps || hop.undecided || hop.intermittent || hop.bridged) return hop
    // Without getOrCreate's two closures per call (every routing hop of every flow comes here).
    let byDetail = this.passes.get(hop.name)
    if (byDetail === undefined) this.passes.set(hop.name, (byDetail = new Map()))
    const known = byDetail.get(hop.detail)
    if (known !== undefined) return known
    byDetail.set(hop.detail, hop)
    return hop
  }

  /** Passing hops by name, then detail. */
  private readonly passes = new Map<string, Map<string, Hop>>()

  routingHop(name: string, decision: RouteDecision, expect: 'forward' | 'local' | 'output', packet: NfPacket, viaDev?: string): Hop {
    const trail = decision.trail.join('; ')
    if (decision.kind === 'unknown') return {name, verdict: 'indeterminate', detail: decision.unknownBecause ?? 'cannot be told', element: decision.rule ? policyElement(decision) : undefined}
    const ok = expect === 'local' ? decision.kind === 'local' || decision.kind === 'broadcast' : decision.kind === 'unicast' && (viaDev === undefined || decision.dev === viaDev)
    if (ok) return {name, verdict: 'pass', detail: `${packet.dst}: ${decision.kind === 'unicast' ? `via ${decision.dev}${decision.gateway ? ` gw ${decision.gateway}` : ''}` : decision.kind} (${trail})`}
    const why =
      decision.kind === 'unicast'
        ? `${packet.dst} is routed out of ${decision.dev}, not ${viaDev}`
        : decision.kind === 'no-route'
          ? `no route to ${packet.dst}`
          : decision.kind === 'local'
            ? `${packet.dst} is an address of this host`
            : `${decision.kind} (${decision.route ? describeRoute(decision.route) : decision.rule?.text ?? ''})`
    const narrowed = decision.kind === 'local' ? undefined : this.gatewayNarrowed(viaDev, packet.dst)
    const element: Element = narrowed
      ? narrowed
      : decision.rule && decision.rule.priority !== 0 && decision.rule.priority < 32766
        ? policyElement(decision)
        : decision.route
          ? {id: `route:${decision.route.table} ${decision.route.dst}`, kind: 'route', text: `${describeRoute(decision.route)}`, route: this.routeOfElement(decision.route)}
          : {id: `route:missing ${packet.family === 4 ? '0.0.0.0/0' : '::/0'}`, kind: 'route', text: `no route to ${packet.dst} (no default route)`, ipFamily: packet.family}
    return {name, verdict: 'fail', detail: `${why}; ${trail}`, element}
  }

  /**
   * The bridge holds its network's gateway only with a longer prefix than the network's (re-added by hand, or by
   * another network manager after libvirt set it): a guest outside that prefix is not on-link, so what the host
   * sends it is routed elsewhere. The address with the network's own prefix is what is missing, not the route taken.
   */
  private gatewayNarrowed(bridge: string | undefined, dst: string): Element | undefined {
    const net = bridge ? this.facts.networks.find((n) => n.active && n.bridge === bridge) : undefined
    const v4 = net?.ips.find((ip) => ip.family === 'ipv4' && ipInPrefix(dst, `${ip.address}/${ip.prefix}`))
    const held = v4 ? this.links.get(bridge!)?.addresses.filter((a) => a.family === 'inet' && a.address === v4.address) : undefined
    if (!v4 || !held || held.length === 0 || held.some((a) => a.prefix <= v4.prefix)) return undefined
    return {id: `gateway:${bridge} ${v4.address}`, kind: 'gateway-address', text: `${bridge} holds ${v4.address}/${held[0].prefix}, narrower than the /${v4.prefix} of network ${net!.name}`, device: bridge, address: v4.address, prefix: v4.prefix, network: net!.name}
  }

  /** A route as an element names it: a unicast one carved out of a libvirt network's subnet on another device says which. */
  private routeOfElement(r: Route): NonNullable<Element['route']> {
    const route: NonNullable<Element['route']> = {type: r.type, dst: r.dst, table: r.table}
    if (r.type !== 'unicast' || r.family !== 'inet') return route
    const dev = r.dev ?? r.nexthops[0]?.dev
    const gateway = r.gateway ?? r.nexthops[0]?.gateway
    const own = parseCidr(r.dst)
    const carvedFrom = own
      ? this.facts.networks.find((n) => n.bridge !== dev && n.ips.some((ip) => {
          const subnet = ip.family === 'ipv4' ? parseCidr(`${ip.address}/${ip.prefix}`) : undefined
          return subnet !== undefined && prefixRelation(own, subnet) === 'inside'
        }))?.name
      : undefined
    return {...route, ...(dev ? {dev} : {}), ...(gateway ? {gateway} : {}), ...(carvedFrom ? {carvedFrom} : {})}
  }

  private forwardingHop(iif: string, family: 4 | 6): Hop {
    // A function of the sysctls alone, asked for every forwarded packet: one hop per device and family (hops are never changed).
    const byIif = this.forwardingHops[family]
    let hop = byIif.get(iif)
    if (hop === undefined) byIif.set(iif, (hop = this.forwardingHopOf(iif, family)))
    return hop
  }

  private readonly forwardingHops = {4: new Map<string, Hop>(), 6: new Map<string, Hop>()}

  /** Some device forwards IPv4 on its own key (conf/DEV/forwarding = 1): ip_forward = 0 was not the last word. */
  private forwardsPerDevice(): boolean {
    this.perDeviceForwarding ??= forwardsIpv4PerDevice(this.facts.sysctl)
    return this.perDeviceForwarding
  }

  private perDeviceForwarding: boolean | undefined

  private forwardingHopOf(iif: string, family: 4 | 6): Hop {
    if (family === 6) return this.forwardingHop6(iif)
    const key = 'net.ipv4.ip_forward'
    // The kernel asks the arriving device (ip_forward sets every conf/*/forwarding; one device can be off alone, or on
    // alone after ip_forward = 0: IN_DEV_FORWARD reads the device's key only).
    const ownKey = deviceKey('ipv4', iif, 'forwarding')
    const global = this.sysctl(key)
    const own = this.sysctl(ownKey)
    if (global === 0 && own === 1) return {name: 'forwarding', verdict: 'pass', detail: `${ownKey} = 1 (${key} = 0 does not stop it: the kernel asks the arriving device)`}
    // Forwarding enabled device by device (some device's own key is 1): the one this device lacks is its own key, not
    // ip_forward, whose 1 would turn it on for every device.
    const perDeviceOff = global === 0 && own === 0 && this.forwardsPerDevice()
    if (global === 0 && !perDeviceOff) return forwardingOff(key, `${key} = 0: the host routes nothing`)
    if (own === 0) {
      const why = perDeviceOff ? ` (${key} = 0, forwarding enabled per device)` : ''
      return forwardingOff(ownKey, `${ownKey} = 0${why}: nothing arriving on ${iif} is routed`, iif)
    }
    if (global === undefined || global === null) return {name: 'forwarding', verdict: 'indeterminate', detail: `${key} could not be read`}
    if ((own === undefined || own === null) && this.links.has(iif) && !this.links.get(iif)!.master) return {name: 'forwarding', verdict: 'indeterminate', detail: `${ownKey} could not be read`}
    return {name: 'forwarding', verdict: 'pass', detail: `${key} = ${global}${own !== undefined && own !== null ? `, ${ownKey} = ${own}` : ''}`}
  }

  /** IPv6 forwarding of what arrives on `iif`, as ipv6Forwarding tells it from the sysctls. */
  private forwardingHop6(iif: string): Hop {
    const {forwards, key, value} = ipv6Forwarding(this.facts.sysctl, iif)
    if (forwards === 'unknown') return {name: 'forwarding', verdict: 'indeterminate', detail: `${key} could not be read`}
    if (!forwards) {
      // A host that forwards IPv6 per device (some device's force_forwarding on, all off): the arriving device's own
      // key is what to set; all.forwarding turns every device into a router, the uplink to the world included.
      const forceKey = deviceKey('ipv6', iif, 'force_forwarding')
      const forceOff = this.sysctl(forceKey) === 0
      if (forceOff && forwardsIpv6PerDevice(this.facts.sysctl)) return forwardingOff(forceKey, `${forceKey} = 0 (${key} = 0; this host forwards IPv6 per device): nothing arriving on ${iif} is routed`, iif)
      return forwardingOff(key, `${key} = 0${forceOff ? ` (and ${iif}'s force_forwarding)` : ''}: the host routes nothing`)
    }
    if (key !== 'net.ipv6.conf.all.forwarding') return {name: 'forwarding', verdict: 'pass', detail: `${key} = ${value}: the host forwards what arrives on ${iif} (net.ipv6.conf.all.forwarding = 0)`}
    const ownKey = deviceKey('ipv6', iif, 'forwarding')
    const own = this.sysctl(ownKey)
    return {name: 'forwarding', verdict: 'pass', detail: `${key} = ${value}${own !== undefined && own !== null ? `, ${ownKey} = ${own}` : ''}`}
  }

  /**
   * Source validation on arrival (fib_validate_source): a source that is one of the host's own addresses
   * is a martian unless accept_local; with rp_filter (the larger of conf/all and the device), the route
   * back to the source must leave by the arriving device (strict) or exist at all (loose).
   */
  private sourceCheck(runner: PathRunner, iif: string, forwardOut?: string): void {
    const packet = runner.packet()
    if (packet.family !== 4 || packet.src === '0.0.0.0' || packet.src === 'unknown') return
    if (this.localAddrs.has(packet.src) && this.orConf(iif, 'accept_local') !== 1) {
      runner.push({name: 'source check', verdict: 'fail', detail: `${packet.src} is an address of this host: a packet arriving on ${iif} from it is a martian (accept_local off)`, element: {id: `martian:${packet.src}`, kind: 'sysctl', text: `source ${packet.src} is local; ${deviceKey('ipv4', iif, 'accept_local')} = 0`, device: iif}})
      return
    }
    const {value: mode, key, unread} = this.maxConf(iif, 'rp_filter')
    const reverse = {family: 4 as const, src: packet.src, dst: packet.dst, iif, lookupIif: forwardOut ?? 'lo'}
    if (unread.length > 0 && mode !== 2) {
      // The mode is unknown (the larger of both keys): a route back by the arriving device passes strict, so every mode.
      const {ok, decision} = this.reversePathWithMark({...reverse, mode: 1}, packet.mark)
      const gap = `${unread.join(' and ')} could not be read`
      if (ok === true) runner.push({name: 'rp_filter', verdict: 'pass', detail: `${gap}: the route back to ${packet.src} leaves by ${decision.dev ?? iif}, which every mode passes`})
      else runner.push({name: 'rp_filter', verdict: 'indeterminate', detail: `${gap}: the route back to ${packet.src} ${ok === 'unknown' ? `cannot be told (${decision.unknownBecause ?? 'unknown'})` : decision.kind === 'unicast' ? `leaves by ${decision.dev}, not ${iif}` : `is ${decision.kind}`}, which strict mode drops`})
      return
    }
    if (mode === undefined || mode === 0) return
    const {ok, decision} = this.reversePathWithMark({...reverse, mode}, packet.mark)
    if (ok === true) {
      runner.push({name: 'rp_filter', verdict: 'pass', detail: `mode ${mode}: the route back to ${packet.src} leaves by ${decision.dev ?? iif}`})
      return
    }
    if (ok === 'unknown') {
      runner.push({name: 'rp_filter', verdict: 'indeterminate', detail: decision.unknownBecause ?? 'cannot be told'})
      return
    }
    runner.push({
      name: 'rp_filter',
      verdict: 'fail',
      detail: `mode ${mode} (${mode === 1 ? 'strict' : 'loose'}): the route back to ${packet.src} ${decision.kind === 'unicast' ? `leaves by ${decision.dev}, not ${iif}` : `is ${decision.kind}`}`,
      element: {id: `sysctl:rp_filter:${iif}`, kind: 'rp-filter', text: `rp_filter ${mode} on ${iif} (effective max of conf/all and conf/${iif})`, sysctl: {key, value: mode}, device: iif},
    })
  }

  /**
   * The reverse-path lookup with the mark the kernel gives it: the packet's under src_valid_mark (either conf/all or
   * the arriving device's, IN_DEV_ORCONF), else 0. Not read (a recording before the key was): decided where both marks
   * give the same answer (no fwmark rule in the way), undecided where they differ.
   */
  private reversePathWithMark(q: {family: 4; src: string; dst: string; iif: string; mode: number; lookupIif: string}, mark: number | 'unknown'): ReturnType<Router['reversePathOk']> {
    const {value: validMark, unread} = this.maxConf(q.iif, 'src_valid_mark')
    const unmarked = this.router.reversePathOk(q)
    if (mark === 0 || (validMark !== 1 && unread.length === 0)) return unmarked
    const marked = this.router.reversePathOk({...q, mark})
    if (validMark === 1 || marked.ok === unmarked.ok) return validMark === 1 ? marked : unmarked
    const because = `${unread.join(' and ')} could not be read, and the route back to ${q.src} with the packet's mark (${mark === 'unknown' ? 'set outside the path' : `0x${mark.toString(16)}`}) ${marked.ok === 'unknown' ? 'cannot be told' : marked.ok ? 'passes' : 'fails'} where without it it ${unmarked.ok === 'unknown' ? 'cannot be told' : unmarked.ok ? 'passes' : 'fails'}`
    return {ok: 'unknown', decision: {...unmarked.decision, kind: 'unknown', unknownBecause: because}}
  }

  private neighbourAt(dev: string, addr: string): Neighbour | undefined {
    return this.neighbours.get(dev)?.get(addr)
  }

  /**
   * The host's neighbour entry for the next hop out of `dev`: a permanent entry with another MAC sends
   * everything to that MAC; a failed one means the next hop did not answer when last asked.
   */
  private neighbourHop(runner: PathRunner, dev: string, nextHop: string, expectedMac?: string): void {
    if (!runner.alive()) return
    const entry = this.neighbourAt(dev, nextHop)
    if (!entry) return
    const permanent = entry.state.includes('PERMANENT') || entry.state.includes('NOARP')
    if (permanent && expectedMac && entry.mac && entry.mac !== expectedMac.toLowerCase()) {
      runner.push({name: `neighbour ${nextHop}`, verdict: 'fail', detail: `a permanent neighbour entry sends ${nextHop}'s packets on ${dev} to ${entry.mac}, not ${expectedMac}`, element: {id: `neigh:${dev} ${nextHop}`, kind: 'neighbour', text: `ip neigh: ${nextHop} lladdr ${entry.mac} ${entry.state.join(' ')} dev ${dev}`, device: dev, address: nextHop, permanent: true}})
      return
    }
    if (entry.state.includes('FAILED') && !expectedMac) {
      runner.push({name: `neighbour ${nextHop}`, verdict: 'indeterminate', detail: `${nextHop} did not answer ARP on ${dev} when last asked (neighbour FAILED)`, element: {id: `neigh:${dev} ${nextHop}`, kind: 'neighbour', text: `ip neigh: ${nextHop} FAILED dev ${dev}`, device: dev, address: nextHop}})
    }
  }

  /**
   * A permanent neighbour entry for a next hop beyond the host: everything for it goes to that MAC, which the host
   * never checks by ARP and cannot check against the machine's own (lab: uplink-neigh-pinned-wrong, a MAC nobody has).
   */
  private pinnedNextHop(dev: string, nextHop: string): string | undefined {
    const entry = this.neighbourAt(dev, nextHop)
    if (!entry?.mac || !entry.state.includes('PERMANENT')) return undefined
    return `${nextHop} is at ${entry.mac} on ${dev}, as a permanent neighbour entry says: the host never checks it by ARP`
  }

  /**
   * Where the bridge sends a frame to the guest's MAC: its fdb entry for that MAC (in the frame's VLAN). An entry on
   * the guest's own port, or none (the frame is flooded), reaches it; one on another port reaches it only once the
   * bridge moves the entry there, which it does with the guest's next frame unless the entry is sticky, local
   * (permanent: the MAC is the host's own) or the guest's port does not learn. A local entry takes what the bridge
   * forwards from a port up to the host (even on the guest's own port); what the host sends goes to the entry's port
   * (dropped for the bridge's own entry).
   */
  private fdbHop(runner: PathRunner, g: GuestSide, fromHost: boolean): void {
    const {i, bridge} = g
    const fdb = this.facts.fdb
    if (!i.mac || !i.target || !runner.alive() || fdb === undefined || this.isOvs(g)) return
    const name = `fdb ${bridge}`
    if (fdb === null) {
      runner.push({name, verdict: 'indeterminate', detail: `the bridges' forwarding database could not be read (${this.facts.fdbUnavailable ?? 'unknown'}): which port ${bridge} sends ${i.mac}'s frames to is not known`, element: {id: 'fdb:not-read', kind: 'bridge-fdb', text: `bridge fdb show: not read (${this.facts.fdbUnavailable ?? 'unknown'})`}})
      return
    }
    const mac = i.mac.toLowerCase()
    const {entries, vlanUnknown} = this.fdbEntries(bridge, mac, runner.vlan)
    const learns = this.links.get(i.target)?.port?.learning !== false
    for (const e of entries) {
      if (e.dev === i.target && (fromHost || e.state !== 'permanent')) continue
      const held =
        e.state === 'permanent' && !fromHost
          ? `the host (a local address of ${e.dev})`
          : e.dev === bridge
            ? `${bridge} itself (a local address: what the host sends there is dropped)`
            : `port ${e.dev}`
      const why =
        e.state === 'permanent'
          ? `a local (permanent) entry, which the bridge never moves`
          : e.sticky
            ? 'a sticky entry, which the bridge never moves'
            : !learns && e.state === 'static'
              ? `${i.target} does not learn (learning off): the static entry is never moved to it`
              : undefined
      const element: Element = {id: `fdb:${bridge} ${mac}${e.vlan ? ` vlan ${e.vlan}` : ''}`, kind: 'bridge-fdb', text: fdbText(e), device: e.dev, master: bridge, fdb: {mac, ...(e.vlan ? {vlan: e.vlan} : {})}}
      const vlan = e.vlan ? ` in VLAN ${e.vlan}` : ''
      if (why) {
        // An entry of one VLAN decides only for frames of that VLAN: undecided where the frame's VLAN is not known.
        runner.push({name, verdict: e.vlan && vlanUnknown ? 'indeterminate' : 'fail', detail: `${bridge} sends ${i.mac}'s frames${vlan} to ${held}, not to ${i.target}: ${why}`, element})
        return
      }
      if (!learns) {
        // A learned (or externally learned) entry on another port: the bridge sends there until it ages out.
        runner.push({name, verdict: 'indeterminate', detail: `${bridge} sends ${i.mac}'s frames${vlan} to ${held} until the entry ages out; ${i.target} does not learn (learning off), so it is never moved back`, element})
        return
      }
    }
  }

  /**
   * The bridge's fdb entries for a MAC that its lookups can meet: a bridge looks a MAC up in the frame's VLAN, VLAN 0
   * without VLAN filtering (an entry of a VLAN is never met). With filtering and the frame's VLAN not known, every
   * VLAN's, and `vlanUnknown` says a VLAN's entry cannot decide.
   */
  private fdbEntries(bridge: string, mac: string, frameVlan: number | undefined): {entries: FdbEntry[]; vlanUnknown: boolean} {
    const filtering = this.links.get(bridge)?.bridge?.vlanFiltering === true
    const all = this.fdbAt.get(`${bridge} ${mac.toLowerCase()}`) ?? []
    if (!filtering) return {entries: all.filter((e) => !e.vlan), vlanUnknown: false}
    if (frameVlan === undefined) return {entries: all, vlanUnknown: true}
    return {entries: all.filter((e) => (e.vlan ?? 0) === frameVlan), vlanUnknown: false}
  }

  /**
   * A frame to the guest's MAC leaves by its port only through the bridge's fdb when the port takes no unknown
   * unicast (flood off): with learning off too, only an entry someone set names it (none read: nothing reaches it).
   */
  private unknownUnicastHop(runner: PathRunner, tap: string | undefined, mac: string | undefined, bridge: string): void {
    const port = tap ? this.links.get(tap)?.port : undefined
    if (!tap || !runner.alive() || port?.learning !== false || port.flood !== false) return
    const fdb = this.facts.fdb
    const found = mac && fdb ? this.fdbEntries(bridge, mac, runner.vlan) : undefined
    const entry = found?.entries.find((e) => e.dev === tap)
    const element: Element = {id: `port:${tap} flood`, kind: 'bridge-port', text: `bridge link: ${tap} learning off flood off`, device: tap, portFlag: 'flood'}
    const how = `${tap} neither learns source MACs (learning off) nor takes unknown unicast (flood off)`
    if (entry?.vlan && found?.vlanUnknown) {
      runner.push({name: `bridge port ${tap}`, verdict: 'indeterminate', detail: `${how}: ${bridge}'s fdb entry for ${mac} on it is in VLAN ${entry.vlan}, and the VLAN the frame travels in is not known`, element})
      return
    }
    if (entry) return
    if (fdb && mac) runner.push({name: `bridge port ${tap}`, verdict: 'fail', detail: `${how}, and ${bridge}'s fdb has no entry for ${mac} on it: only broadcasts reach the guest`, element})
    else runner.push({name: `bridge port ${tap}`, verdict: 'indeterminate', detail: `${how}: a frame to ${mac ?? 'the guest'} reaches it only by a static fdb entry, and the fdb ${fdb === null ? `could not be read (${this.facts.fdbUnavailable ?? 'unknown'})` : 'is not in this recording'} (bridge fdb show dev ${tap})`, element})
  }

  /**
   * The last steps of every packet the host sends to a guest: the neighbour entry (unicast), the bridge
   * device it leaves by, the bridge's output and postrouting hooks, the tap's port, then the tap. `entryWritten`: the
   * sender writes the neighbour entry itself before it sends (dnsmasq's SIOCSARP with a unicast DHCP answer): no ARP.
   */
  private toGuest(runner: PathRunner, g: GuestSide, broadcast: boolean, fromHost: boolean, entryWritten = false): void {
    const {i, bridge} = g
    const dst = runner.packet().dst
    // The host's frames (its ARP requests too) enter the bridge by the bridge device: its PVID is their VLAN.
    if (fromHost) this.vlanHop(runner, bridge, bridge, 'in')
    if (!broadcast && !entryWritten && dst !== 'unknown') {
      this.neighbourHop(runner, bridge, dst, i.mac)
      // An unresolved guest is asked for by a broadcast ARP request, which must reach its port. One that cannot is no
      // certain failure: the guest's own ARP requests to the host (and dnsmasq's DHCP answers) write the entry too
      // (the lab's tap-proxy-arp-on: no entry, proxy_arp on the port, web01 measured everything ok).
      const entry = this.neighbourAt(bridge, dst)
      const resolved = entry !== undefined && entry.mac !== undefined && !entry.state.includes('FAILED') && !entry.state.includes('INCOMPLETE')
      const port = i.target ? this.links.get(i.target) : undefined
      const refused = !resolved && port && runner.alive() ? this.floodRefusal(port, fromHost) : undefined
      if (refused) runner.push(cacheBound(refused, `the host reaches ${dst} only while an entry written by the guest's own ARP requests (or dnsmasq's DHCP answers) holds its MAC`))
      // A permanent entry is never asked for again; any other is, within a minute (a reachable one goes stale).
      const permanent = entry !== undefined && entry.mac === i.mac?.toLowerCase() && entry.state.includes('PERMANENT')
      if (!permanent && runner.alive()) {
        const noArp = this.noArpHop(bridge, `neighbour ${dst}`, `the host asks no ARP for ${dst} there`)
        if (noArp) runner.push(cacheBound(noArp, `the host reaches ${dst} only while its neighbour entry holds the guest's MAC (dnsmasq writes one with each DHCP answer; without one it sends to its own MAC)`))
        const gw = g.net?.ips.find((ip) => ip.family === 'ipv4')?.address
        if (gw) this.arpExchange(runner, `neighbour ${dst}`, bridge, {guest: dst, host: gw, mac: i.mac}, `the host reaches ${dst} only while its neighbour entry holds the guest's MAC (dnsmasq writes one with each DHCP answer)`)
      }
    }
    // A DHCP answer is unicast to the client's MAC too, unless the client asked for a broadcast (not seen here).
    this.fdbHop(runner, g, true)
    this.unknownUnicastHop(runner, i.target, i.mac, bridge)
    if (fromHost) this.leaveDevice(runner, bridge, 'bridge')
    runner.nf('bridge output', 'output', 'bridge', {oifname: i.target, obrname: bridge})
    runner.nf('bridge postrouting', 'postrouting', 'bridge', {oifname: i.target, obrname: bridge})
    this.portOut(runner, bridge, i.target, broadcast, 'guest', fromHost)
    this.mtuHop(runner, bridge, i.target)
    this.leaveDevice(runner, i.target, 'tap', bridge)
  }

  /**
   * A frame the bridge forwards from one guest's port to another's with br_netfilter on: the bridge's forward and
   * postrouting hooks and the IP ones inside them (the bridge as device, the ports for -m physdev), then the port.
   */
  private bridgeOnward(runner: PathRunner, g: GuestSide, inPort: string | undefined): void {
    const {i, bridge} = g
    this.fdbHop(runner, g, false)
    this.unknownUnicastHop(runner, i.target, i.mac, bridge)
    this.isolationHop(runner, inPort ?? '?', i.target ?? '?', i.target)
    runner.nf('bridge forward', 'forward', 'bridge', {iifname: inPort, oifname: i.target, ibrname: bridge, obrname: bridge})
    runner.nf('netfilter forward (br_netfilter)', 'forward', 'ip', {iifname: bridge, oifname: bridge, physOut: i.target})
    runner.nf('bridge postrouting', 'postrouting', 'bridge', {oifname: i.target, obrname: bridge})
    runner.nf('netfilter postrouting (br_netfilter)', 'postrouting', 'ip', {oifname: bridge, physOut: i.target})
    this.portOut(runner, bridge, i.target, false, 'guest')
    this.mtuHop(runner, bridge, i.target)
    this.leaveDevice(runner, i.target, 'tap', bridge)
  }

  // ---- flows -------------------------------------------------------------

  private finish(base: FlowBase, kind: FlowKind, description: string, packet: NfPacket, hops: Hop[], replyTo?: FlowKind, assumptions?: string[]): Flow {
    const fail = hops.find((h) => h.verdict === 'fail')
    const unsure = hops.find((h) => h.verdict === 'indeterminate')
    const verdict = fail ? 'fail' : unsure ? 'indeterminate' : 'pass'
    const {guest, iface, mac, network, bridge, guestAddress} = base
    const shown = packetShown(packet)
    flat(description)
    flat(shown.text)
    for (let k = 0; k < hops.length; k++) flat(hops[k].detail)
    // Written out rather than spread (six thousand flows on a big host): the same fields in the same order.
    const flow: Flow =
      guestAddress === undefined
        ? {guest, iface, mac, network, bridge, kind, description, packet: shown.text, verdict, hops, decidedBy: fail ?? unsure}
        : {guest, iface, mac, network, bridge, guestAddress, kind, description, packet: shown.text, verdict, hops, decidedBy: fail ?? unsure}
    if (shown.assumed.length > 0) flow.packetAssumed = shown.assumed
    if (replyTo) flow.replyTo = replyTo
    if (assumptions && assumptions.length > 0) {
      for (const a of assumptions) flat(a)
      flow.assumptions = assumptions
    }
    return flow
  }

  /** A guest with no address from any source, on a network that hands it none: nothing it sends can pass. */
  private unaddressedHop(source: SourceAddress, g: GuestSide): Hop | undefined {
    // Heard on the wire without an IPv4 address: a fact, not an unknown; nothing it would send passes, DHCP included.
    if (source.unheard !== undefined) {
      return {name: 'guest address', verdict: 'fail', detail: `${g.d.name} has no IPv4 address: ${source.unheard}`, element: {id: `no-address:${g.d.name}:${g.i.mac ?? ''}`, kind: 'guest-address', text: `${g.d.name} (${g.i.mac ?? 'no MAC'}) sends from no IPv4 address and asks for none`}}
    }
    if (source.noLease) {
      // The same element as the DHCP failure: one cause, one finding, every flow it stops.
      const d = source.noLease.decidedBy!
      return {name: 'guest address', verdict: 'fail', detail: `no source reports an address for ${g.d.name}, and its DHCP ${source.noLease.kind === 'dhcp' ? 'request' : 'offer'} fails at ${d.name}: it has no address to send from`, ...(d.element ? {element: d.element} : {})}
    }
    if (source.undecidedLease) {
      return {name: 'guest address', verdict: 'indeterminate', detail: `no source reports an address for ${g.d.name}, and whether its DHCP request is answered is not known (${source.undecidedLease.decidedBy?.name ?? 'undecided'}): whether it has an address to send from is not known`}
    }
    // An address only assumed proves nothing: the guest may hold another, or none (its NIC down, a static address
    // of another subnet, 169.254/16). A fault the host's state shows still fails the flow; a pass is not claimed.
    if (source.assumed) return {name: 'guest address', verdict: 'indeterminate', detail: `no source reports an address for ${g.d.name}${g.i.mac ? ` (${g.i.mac})` : ''}: followed from ${source.assumed.replace(/^source /, '')}; whether it holds that address is not seen`}
    if (!source.missing) return undefined
    const {network, subnet} = source.missing
    return {
      name: 'guest address',
      verdict: 'fail',
      detail: `no source reports an address for ${g.d.name}${g.i.mac ? ` (${g.i.mac})` : ''}, and network ${network} hands out none (no DHCP range, no host entry for its MAC): it needs a static address of ${subnet}`,
      element: {id: `unaddressed:${network}`, kind: 'guest-address', text: `network ${network} (${subnet}) gives its guests no address`, network},
    }
  }

  /**
   * Beyond its own subnet a guest sends to the router its DHCP gave it: the host, unless its network's dnsmasq options
   * give another or none (then the hop that says so; undefined while it is the host). Another is a machine beside it:
   * what it does with the packet is not the host's.
   */
  private offSubnetRouter(g: GuestSide, source: SourceAddress, dst: string): Hop | undefined {
    const v4 = g.net?.ips.find((ip) => ip.family === 'ipv4')
    if (!v4 || ipInPrefix(dst, `${v4.address}/${v4.prefix}`)) return undefined
    const given = this.givenDhcp(g.net!, v4.address).router
    return given ? this.givenHop(g, source, 'router', given) : undefined
  }

  /**
   * Neither the interface's tap nor its bridge is in the link table while libvirt runs the guest: these links live in
   * another network namespace than this one (kvmdoctor run inside a container or netns).
   */
  private outOfSight(i: Iface, bridge: string): boolean {
    return !this.links.has(bridge) && (!i.target || !this.links.has(i.target))
  }

  /** A plain bridge's ports to the LAN: every port but guests' taps (OVS: its uplink ports). */
  private lanPorts(g: GuestPort): Link[] {
    return this.isOvs(g) ? this.ovsUplinks(g) : (this.ports.get(g.bridge) ?? []).filter((p) => p.kind !== 'tap' && p.kind !== 'macvtap' && p.name !== g.i.target)
  }

  /** What the network's own dnsmasq options change in its DHCP answers (read once per network). */
  private givenDhcp(net: LibvirtNetwork, own: string): GivenDhcpOptions {
    return getOrCreate(this.dhcpGivenByNetwork, net, () => givenDhcpOptions(net.dnsmasqOptions, own))
  }

  /**
   * The hop a network's dnsmasq option makes of the guest's router or DNS server where it is not the host's address
   * (undefined where it is): none given fails for a guest that takes its settings from DHCP (it holds a lease, or has
   * only what DHCP would give it); another address, or one that depends on what is not read, is decided off the host.
   */
  private givenHop(g: GuestSide, source: SourceAddress, slot: 'router' | 'dnsServer', given: GivenOption): Hop | undefined {
    const net = g.net!
    const own = net.ips.find((ip) => ip.family === 'ipv4')!.address
    const what = slot === 'router' ? 'router' : 'DNS server'
    const name = slot === 'router' ? 'default route (DHCP)' : 'resolver (DHCP)'
    const option = 'conditional' in given ? given.conditional : given.option
    const element = (effect: string) => dhcpOptionElement(net.name, slot, option, effect)
    if ('conditional' in given) return {name, verdict: 'indeterminate', detail: `network ${net.name}'s dnsmasq options give some clients another ${what} (${given.conditional}): which one ${g.d.name} gets is not known`, element: element(`${what} for some clients`)}
    const first = given.addresses[0]
    if (first === own || (first !== undefined && this.links.get(g.bridge)?.addresses.some((a) => a.family === 'inet' && a.address === first))) return undefined
    if (first !== undefined) return {name, verdict: 'indeterminate', detail: `network ${net.name}'s DHCP gives its guests ${what} ${first}, not the host's ${own}: what ${first} does with their packets is decided beyond the host`, element: element(`${what} ${first}`)}
    const fromDhcp = source.assumed !== undefined || (g.i.mac !== undefined && this.facts.dhcpConfigured?.(g.i.mac) === true)
    const none = `network ${net.name}'s DHCP gives its guests no ${what}`
    return fromDhcp
      ? {name, verdict: 'fail', detail: `${none}: ${g.d.name} takes its settings from DHCP, so it has ${slot === 'router' ? 'no default route' : 'no server to ask for names'}`, element: element(`no ${what}`)}
      : {name, verdict: 'indeterminate', detail: `${none}: ${g.d.name} holds no lease, so whether it was given one by hand is not known`, element: element(`no ${what}`)}
  }

  /** DHCP or DNS from a guest to the network's own dnsmasq, and its answer. */
  private localService(base: FlowBase, g: GuestSide, kind: 'dhcp' | 'dns', gw: string, source: SourceAddress, srcNote = ''): Flow[] {
    const {d, i, bridge, net} = g
    const src = source.addr
    const own = source.assumed === undefined && source.missing === undefined && source.noLease === undefined && source.unheard === undefined ? src : undefined
    const assumed = kind === 'dns' && source.assumed ? [source.assumed] : []
    const request =
      kind === 'dhcp'
        ? newPacket({family: 4, iifname: bridge, src: '0.0.0.0', dst: '255.255.255.255', l4proto: 'udp', sport: 68, dport: 67, pkttype: 'broadcast', etherSrc: i.mac})
        : newPacket({family: 4, iifname: bridge, src, dst: gw, l4proto: 'udp', sport: EPHEMERAL_PORT, dport: 53, etherSrc: i.mac})
    // A guest without an address sends nothing that can be answered: that is the first thing its flows meet.
    const runner = this.fromGuest(g, request, kind === 'dhcp' ? SIZE.dhcp : SIZE.dns, kind === 'dns' || source.unheard !== undefined ? this.unaddressedHop(source, g) : undefined)
    this.upToHost(runner, bridge)
    // Prerouting's NAT may send the query off the host (a DNAT to another resolver): it is forwarded there, not delivered.
    const sentOff = kind === 'dns' && runner.alive() ? runner.live()[0]?.nat.find((n) => n.field === 'dst' && n.to !== gw && !this.ownsAddress(n.to)) : undefined
    if (sentOff) return this.otherResolver(base, g, source, srcNote, sentOff.to, `${gw}/${net!.ips.find((ip) => ip.family === 'ipv4' && ip.address === gw)?.prefix ?? 32}`, undefined, {gw, by: elementForStep(sentOff.step, this.facts.ruleset), port: runner.packet().dport})
    if (kind === 'dns') this.arpHop(runner, g, gw)
    this.ipReceive(runner, bridge, 'local', true)
    runner.push(this.reachedListenerHop(runner, kind, net!, bridge, gw))
    const noGateway = kind === 'dhcp' ? this.gatewayMissing(g, gw) : undefined
    if (noGateway) runner.push({name: 'DHCP server address', verdict: 'fail', detail: `${bridge} has no address ${gw}: dnsmasq answers no DHCP request that arrives on an interface without an address of its range`, element: noGateway})
    // The network's own dnsmasq options may tell it to answer this client not at all.
    const refusal = kind === 'dhcp' && i.mac && net!.dnsmasqOptions ? dhcpRefusal(net!.dnsmasqOptions, i.mac, net!.ips.filter((ip) => ip.family === 'ipv4').flatMap((ip) => ip.dhcpHosts), bridge) : undefined
    if (refusal) {
      const element = dhcpOptionElement(net!.name, refusal.option, refusal.option, refusal.effect)
      runner.push({name: 'DHCP answer', verdict: refusal.verdict, detail: `network ${net!.name}'s dnsmasq option ${refusal.option} ${refusal.effect}: ${refusal.verdict === 'fail' ? `it sends ${i.mac} no offer` : `whether it answers ${i.mac} is not known`}`, element})
    }
    // The server answers only if it has an address for this client.
    const poolFull = kind === 'dhcp' && i.mac ? (this.facts.dhcpPoolFullFor?.(net!.name, i.mac) ?? false) : false
    if (poolFull === true) {
      runner.push({name: 'DHCP pool', verdict: 'fail', detail: `every address of network ${net!.name}'s DHCP range is leased, none to ${i.mac}: no offer`, element: {id: `pool:${net!.name}`, kind: 'listener', text: `DHCP range of network ${net!.name} exhausted`, network: net!.name, pool: true}})
    } else if (poolFull !== false) {
      runner.push({name: 'DHCP pool', verdict: 'indeterminate', detail: `${poolFull.unread}: whether network ${net!.name}'s DHCP range has an address left for ${i.mac} is not known`})
    }
    const what = kind === 'dhcp' ? 'DHCP request' : 'DNS query'
    const out = [this.finish(base, kind, `${what} to ${kind === 'dhcp' ? 'the DHCP server' : 'the resolver'} of network ${net!.name} on ${gw}${kind === 'dns' ? srcNote : ''}`, request, runner.hops, undefined, assumed)]
    // No request, no answer: a reply that is never sent is not followed (it would read as a pass).
    if (out[0].verdict === 'fail') return out
    // The answer: from dnsmasq out of the bridge. A DHCP reply does not match the request's conntrack tuple: it is new.
    // dnsmasq answers a client that does not ask for broadcast (udhcpc, dhclient, systemd-networkd) unicast to the
    // address it offers, at the client's MAC (the lab's kernel trace shows it): to the lease where one is known, else
    // to the limited broadcast. Either leaves by the bridge; a DNS answer is routed.
    const reply =
      kind === 'dhcp'
        ? own
          ? newPacket({family: 4, src: gw, dst: own, l4proto: 'udp', sport: 67, dport: 68})
          : newPacket({family: 4, src: gw, dst: '255.255.255.255', l4proto: 'udp', sport: 67, dport: 68, pkttype: 'broadcast'})
        : (runner.packet().ct.state === 'untracked' ? newPacket : replyPacket)({family: 4, src: gw, dst: src, l4proto: 'udp', sport: 53, dport: EPHEMERAL_PORT})
    // A DNS answer is in the query's connection (and carries its connection mark), unless the query was left
    // untracked: then the answer opens a connection of its own (the NAT chains see it). A DHCP offer is a new one.
    const back = new PathRunner(this, [], kind === 'dns' && reply.ct.state === 'established' ? {...reply, ct: {...reply.ct, mark: runner.packet().ct.mark, ...this.connOf(runner)}} : reply, kind === 'dhcp' ? SIZE.dhcp : SIZE.dnsReply)
    let routed: RouteDecision | undefined
    if (kind === 'dns') {
      const missing = this.unaddressedHop(source, g)
      if (missing) back.push(missing)
      routed = back.route('routing', 'output', {iif: 'lo', src: gw, viaDev: bridge})
    }
    back.outputHook(bridge, routed, bridge)
    this.ipSend(back, undefined, bridge)
    // A unicast answer is no broadcast: br_flood's rules (proxy_arp, bcast_flood) do not hold it back.
    this.toGuest(back, g, kind === 'dhcp' && !own, true, kind === 'dhcp')
    out.push(this.finish(base, `${kind}-reply` as FlowKind, `${kind === 'dhcp' ? 'DHCP offer' : 'DNS answer'} back to ${d.name}`, reply, back.hops, kind, assumed))
    return out
  }

  /**
   * A network that serves no DNS (<dns enable='no'/>): its dnsmasq listens on no port 53. Which server the guest asks is
   * then its own configuration, which the host does not see: not a pass (it may ask nobody, or its gateway, which
   * answers nothing), not a fail (it may be configured by hand).
   */
  private noNetworkResolver(base: FlowBase, g: GuestSide, source: SourceAddress, srcNote: string, gw: string): Flow {
    const net = g.net!
    const resolver: Hop = {
      name: 'resolver',
      verdict: 'indeterminate',
      detail: `network ${net.name} serves no DNS (<dns enable='no'/>): nothing answers on ${gw} port 53, and which server ${g.d.name} asks (one configured in the guest, if any) is not seen from the host`,
      element: {id: `dns-disabled:${net.name}`, kind: 'listener', text: `network ${net.name}: <dns enable='no'/>`, network: net.name, dnsDisabled: true},
    }
    return this.dnsQueryStopped(base, g, source, gw, resolver, `DNS query of a guest of network ${net.name}, which serves no DNS${srcNote}`)
  }

  /** A DNS query to the network's address that stops at HOP before it leaves the guest's side (after its address, if it has none). */
  private dnsQueryStopped(base: FlowBase, g: GuestSide, source: SourceAddress, gw: string, hop: Hop, description: string): Flow {
    const request = newPacket({family: 4, iifname: g.bridge, src: source.addr, dst: gw, l4proto: 'udp', sport: EPHEMERAL_PORT, dport: 53, etherSrc: g.i.mac})
    const missing = this.unaddressedHop(source, g)
    return this.finish(base, 'dns', description, request, missing ? [missing, hop] : [hop], undefined, source.assumed ? [source.assumed] : [])
  }

  /**
   * DNS to a resolver that is not its network's (a static guest's resolv.conf, another server's DHCP answer): the
   * query walked as any traffic to that server (forwarded, or bridged to a neighbour), and whether a DNS server
   * answers there decided beyond the host: at best indeterminate, never a pass.
   */
  /**
   * A DNS query to a resolver other than the network's: one the guest asks, or (`dnat`) one prerouting's NAT sends the
   * query to the network's resolver on to (`by`, to `port`), which the host forwards as any other.
   */
  private otherResolver(base: FlowBase, g: GuestSide, source: SourceAddress, srcNote: string, server: string, subnet: string, givenBy?: string, dnat?: {gw: string; by: Element; port?: number}): Flow[] {
    const beyond: Hop = {
      name: 'resolver',
      verdict: 'indeterminate',
      detail: dnat
        ? `${dnat.by.text} sends ${g.d.name}'s DNS queries to ${dnat.gw} on to ${server}${dnat.port !== undefined ? `:${dnat.port}` : ''}: whether a DNS server answers there is decided beyond the host`
        : `${g.d.name} asks ${server} for names${givenBy ? ` (${givenBy})` : ''}, not network ${g.net!.name}'s resolver: whether a DNS server answers there is decided beyond the host`,
    }
    const request = newPacket({family: 4, iifname: g.bridge, src: source.addr, dst: dnat?.gw ?? server, l4proto: 'udp', sport: EPHEMERAL_PORT, dport: 53, etherSrc: g.i.mac})
    // A server on its own subnet is a neighbour on the bridge: the host neither routes nor filters it (beyond its bridge).
    // A guest without an address of its own still meets that first, as its other flows do.
    if (ipInPrefix(server, subnet)) {
      const missing = this.unaddressedHop(source, g)
      return [this.finish(base, 'dns', `DNS query to ${server}, on its link${srcNote}`, request, missing ? [missing, beyond] : [beyond], undefined, source.assumed ? [source.assumed] : [])]
    }
    const [query, answer] = this.routedEgress(base, g, source, srcNote, {addr: server, port: dnat?.port ?? 53, proto: 'udp'}, 'custom')
    const relabel = (f: Flow, kind: FlowKind, hops: Hop[], description: string, replyTo?: FlowKind) =>
      this.finish(base, kind, description, request, hops, replyTo, f.assumptions)
    const out = [{...relabel(query, 'dns', [...query.hops, beyond], `DNS query to ${dnat ? `${dnat.gw}, sent on to ${server}` : server}${srcNote}`), packet: query.packet}]
    if (answer) out.push({...relabel(answer, 'dns-reply', [beyond, ...answer.hops], `DNS answer from ${server} back to ${g.d.name}`, 'dns'), packet: answer.packet})
    return out
  }

  /**
   * Out through the host's routing, forward filter and NAT to a destination, and the reply back in: once per next hop
   * a multipath route may give the flow (overNexthops).
   */
  private routedEgress(base: FlowBase, g: GuestSide, source: SourceAddress, srcNote: string, to: Destination, kind: 'egress' | 'custom'): Flow[] {
    return this.overNexthops((k) => this.routedEgressVia(base, g, source, srcNote, to, kind, k), to.addr, g.d.name)
  }

  /**
   * A request and its reply, once per next hop a multipath route may give them (`run(k)` follows next hop k). The
   * kernel picks one per flow by a hash of its addresses with a seed the host does not show, so where the next hops'
   * paths disagree the flow is undecided at the route, naming what stops it.
   */
  private overNexthops(run: (nexthop: number) => {flows: Flow[]; nexthops?: Route['nexthops']}, toAddr: string, guest: string): Flow[] {
    const first = run(0)
    const nexthops = first.nexthops
    if (!nexthops) return first.flows
    const variants = [first.flows, ...nexthops.slice(1).map((_, k) => run(k + 1).flows)]
    const way = (k: number) => viaNexthop(nexthops[k])
    const lead = `the route to ${toAddr} has ${nexthops.length} next hops and the kernel picks one per flow by a hash the host does not show`
    const out = first.flows
    const request = variantsHop('multipath', variants.map((fs) => fs[0]), lead, (k) => `${way(k)} the request`)
    // Up to the route the next hops share the path; from there it is the one the hash picks.
    if (request) out[0] = undecidedFrom(out[0], [...out[0].hops.slice(0, out[0].hops.findIndex((h) => h.name === 'routing') + 1), request])
    // A reply never sent is the request's doing: the same element, one finding.
    const reply = variantsHop('multipath', variants.map((fs) => fs[1]), lead, (k) => `${way(k)} the reply`, request)
    const model = variants.map((fs) => fs[1]).find((f) => f !== undefined)
    if (reply && model) out[1] = undecidedFrom({...model, description: `reply from ${toAddr} back to ${guest}, by the next hop the request took`}, [reply])
    return out
  }

  private routedEgressVia(base: FlowBase, g: GuestSide, source: SourceAddress, srcNote: string, to: Destination, kind: 'egress' | 'custom', nexthop: number): {flows: Flow[]; nexthops?: Route['nexthops']} {
    // An address of the host itself (trace --to one, a resolver on the host's other address) is delivered, not forwarded.
    if (kind === 'custom' && this.ownsAddress(to.addr)) return {flows: this.toHostAddress(base, g, source, srcNote, to)}
    const {d, i, bridge, net} = g
    const src = source.addr
    const assumed = source.assumed ? [source.assumed] : []
    const request = newPacket({family: 4, iifname: bridge, src, dst: to.addr, l4proto: to.proto, ...(to.proto === 'icmp' ? {icmpType: 8} : {sport: EPHEMERAL_PORT, dport: to.port ?? 443}), etherSrc: i.mac})
    const probe = this.router.lookup({family: 4, dst: to.addr, src, iif: bridge, mark: 0, nexthop})
    const size = to.proto === 'icmp' ? SIZE.ping : this.pathMtu(i.target, bridge, probe.dev)
    const missing = this.unaddressedHop(source, g)
    const runner = this.fromGuest(g, request, size, missing)
    runner.nexthop = nexthop
    this.upToHost(runner, bridge)
    const toWhere = `${kind === 'egress' ? 'to the internet' : 'to'} ${describeDestination(to)}`
    const router = this.offSubnetRouter(g, source, to.addr)
    if (router) {
      runner.push(router)
      return {flows: [this.finish(base, kind, `${toWhere}${srcNote}`, request, runner.hops, undefined, assumed)]}
    }
    this.arpHop(runner, g, net!.ips.find((ip) => ip.family === 'ipv4')!.address)
    const decision = this.ipReceive(runner, bridge, 'forward', true)
    const egress = decision?.dev
    // A rule that looks up main (a fix's, a VPN's "allow LAN") routes as the main rule does: no diversion, wherever main's route leads.
    const lookupMain = decision?.rule?.action === 'lookup' && (decision.rule.table === 'main' || decision.rule.table === '254')
    const diverted = decision && decision.kind === 'unicast' && decision.rule && !lookupMain && decision.rule.priority !== 0 && decision.rule.priority < 32766 && divertsFrom(egress, this.mainDefaultDevs()) ? policyElement(decision) : undefined
    this.ipSend(runner, bridge, egress)
    // NAT networks only work when the source is translated: replies to a private guest address never come back.
    if (runner.alive() && net!.forwardMode === 'nat') runner.push(this.natHop(runner, src, net!))
    if (egress && decision?.kind === 'unicast') {
      this.neighbourHop(runner, egress, decision.gateway ?? to.addr)
      this.egressNoArp(runner, egress, decision.gateway ?? to.addr)
      const pinned = this.pinnedNextHop(egress, decision.gateway ?? to.addr)
      if (pinned) assumed.push(pinned)
    }
    if (runner.alive() && egress) this.leaveDevice(runner, egress, 'egress')
    const nexthops = decision?.nexthops
    const via = nexthops ? [...new Set(nexthops.map((h) => h.dev ?? '?'))].join(' or ') : egress
    const flows = [this.finish(base, kind, `${toWhere}${egress ? ` via ${via}` : ''}${srcNote}`, request, runner.hops, undefined, assumed)]
    if (diverted) flows[0].divertedBy = diverted
    if (flows[0].verdict === 'fail' || !egress) return {flows, nexthops}
    // The reply: sent to the address the request left with, it arrives where the network delivers that address.
    const natted = runner.packet().src
    const reply = replyPacket({family: 4, iifname: egress, src: to.addr, dst: src, l4proto: to.proto, ...(to.proto === 'icmp' ? {icmpType: 0} : {sport: to.port ?? 443, dport: EPHEMERAL_PORT})}, natted !== src ? ['snat'] : [])
    // The sender sizes its packets by the routed path (the bridge's MTU, not the tap's), a TCP one no larger than the
    // guest's MSS (replySize): the tap must take them.
    const arriving = this.inConnection(runner, reply, natted, src)
    const back = new PathRunner(this, [], arriving, to.proto === 'icmp' ? SIZE.ping : this.replySize(i, to.proto, this.pathMtu(bridge, egress)))
    const replyAssumed = [...assumed]
    if (missing) back.push(missing)
    if (natted === src && net!.forwardMode === 'nat') {
      // A NAT network's request not translated on a decided path fails: here its translation is undecided.
      // What left the request undecided decides this too: one element, one finding.
      const cause = flows[0].decidedBy?.element
      back.push({name: 'reply address', verdict: 'indeterminate', detail: `the source translation of ${src} is undecided: the address the reply comes back to is not known`, ...(cause ? {element: cause} : {})})
    } else if (natted === src) {
      // Not translated (a routed or open network): the upstream must route the guests' subnet to this host.
      const v4 = net!.ips.find((ip) => ip.family === 'ipv4')!
      back.push(this.returnRouteHop(networkOf(`${v4.address}/${v4.prefix}`), net!))
    } else if (this.ownsAddress(natted)) {
      // Where the upstream delivers it is its own decision; strict reverse-path filtering elsewhere would drop it.
      let strictElsewhere = this.strictRpElsewhere.get(egress)
      if (!strictElsewhere) {
        strictElsewhere = this.facts.links
          .filter((l) => l.name !== egress && !l.master && l.kind !== 'bridge' && l.kind !== 'loopback' && l.up && l.addresses.some((a) => a.family === 'inet' && a.scope === 'global'))
          .flatMap((l) => {
            const {value, unread} = this.maxConf(l.name, 'rp_filter')
            // Unread and not known loose: it may be strict.
            return (unread.length === 0 && value === 1) || (unread.length > 0 && value !== 2) ? [{dev: l.name, unread}] : []
          })
        this.strictRpElsewhere.set(egress, strictElsewhere)
      }
      // A reply the network may deliver by a device whose strict rp_filter drops it (the route back to the sender
      // leaves by another) is not a pass: which device it arrives by is decided outside the host.
      const droppers = strictElsewhere.filter(({dev}) => this.router.reversePathOk({family: 4, src: to.addr, dst: natted, iif: dev, mode: 1}).ok === false)
      if (droppers.length > 0) {
        const names = droppers.map((d) => d.dev)
        const {key} = this.maxConf(names[0], 'rp_filter')
        const way = this.router.reversePathOk({family: 4, src: to.addr, dst: natted, iif: names[0], mode: 1}).decision
        const unread = [...new Set(droppers.flatMap((d) => d.unread))]
        back.push({
          name: 'reply arrival',
          verdict: 'indeterminate',
          detail: `the network decides which device the reply to ${natted} arrives by: by ${egress} it passes; by ${names.join(' or ')}, ${unread.length > 0 ? `rp_filter (${unread.join(' and ')} could not be read) may drop it` : 'strict rp_filter drops it'} (the route back to ${to.addr} leaves by ${way.dev ?? egress})`,
          element: {id: `sysctl:rp_filter:${names.join(',')}`, kind: 'rp-filter', text: `rp_filter ${unread.length > 0 ? 'unread' : '1'} on ${names.join(', ')} (effective max of conf/all and the device's)`, sysctl: {key, value: 1}, device: names[0]},
        })
      }
      this.uplinkArpHop(back, egress, natted, decision?.gateway ?? to.addr)
      const others = this.snatRangeForeign(runner)
      if (others) back.push(others)
      replyAssumed.push(`the reply to ${natted} arrives by ${egress}, the device the request left by${strictElsewhere.length > 0 ? ` (${strictElsewhere.some((d) => d.unread.length > 0) ? 'rp_filter strict or unread' : 'strict rp_filter drops it'} on ${strictElsewhere.map((d) => d.dev).join(', ')}${strictElsewhere.some((d) => d.unread.length > 0) ? ' may drop it' : ''} if the network sends it there)` : ''}`)
    } else {
      back.push(this.snatNotLocalHop(runner, natted))
    }
    const walked = this.withOpeningReply(back, reply, (r) => this.replyIn(r, egress, g))
    flows.push(this.finish(base, kind === 'custom' ? 'custom' : 'egress-reply', `reply from ${to.addr} to ${natted}, arriving by ${egress}, back to ${d.name}`, walked.packet, walked.hops, kind, replyAssumed))
    if (kind === 'custom') flows[1].kind = 'custom'
    return {flows, nexthops}
  }

  /**
   * A guest's connection to an address of the host: up from its bridge and delivered locally (input hook), taken by
   * what listens there (the kernel answers a ping itself), and the answer sent back out of the bridge to the guest.
   */
  private toHostAddress(base: FlowBase, g: GuestSide, source: SourceAddress, srcNote: string, to: Destination): Flow[] {
    const {d, i, bridge, net} = g
    const src = source.addr
    const assumed = source.assumed ? [source.assumed] : []
    const ports = to.proto === 'icmp' ? {icmpType: 8} : {sport: EPHEMERAL_PORT, dport: to.port ?? 443}
    const request = newPacket({family: 4, iifname: bridge, src, dst: to.addr, l4proto: to.proto, ...ports, etherSrc: i.mac})
    const runner = this.fromGuest(g, request, to.proto === 'icmp' ? SIZE.ping : this.pathMtu(i.target, bridge), this.unaddressedHop(source, g))
    this.upToHost(runner, bridge)
    this.arpHop(runner, g, net!.ips.find((ip) => ip.family === 'ipv4')!.address)
    this.ipReceive(runner, bridge, 'local', true)
    if (runner.alive() && to.proto !== 'icmp') runner.push(this.hostListenerHop(to, bridge))
    const dest = `${to.addr}${to.proto === 'icmp' ? ' (ping)' : `:${to.port ?? 443}/${to.proto}`}`
    const flows = [this.finish(base, 'custom', `to ${dest}, an address of this host${srcNote}`, request, runner.hops, undefined, assumed)]
    if (flows[0].verdict === 'fail') return flows
    const reply = replyPacket({family: 4, src: to.addr, dst: src, l4proto: to.proto, ...(to.proto === 'icmp' ? {icmpType: 0} : {sport: to.port ?? 443, dport: EPHEMERAL_PORT})})
    const back = new PathRunner(this, [], {...reply, ct: {...reply.ct, mark: runner.packet().ct.mark, ...this.connOf(runner)}}, to.proto === 'icmp' ? SIZE.ping : this.replySize(i, to.proto, this.pathMtu(bridge)))
    const walked = this.withOpeningReply(back, reply, (r) => {
      r.outputHook(bridge, r.route('routing', 'output', {iif: 'lo', src: to.addr, viaDev: bridge}), bridge)
      this.ipSend(r, undefined, bridge)
      this.toGuest(r, g, false, true)
    })
    flows.push(this.finish(base, 'custom', `answer from ${to.addr} back to ${d.name}`, walked.packet, walked.hops, 'custom', assumed))
    return flows
  }

  /** A socket of the host that takes a guest's connection to one of its addresses. */
  private hostListenerHop(to: Destination, bridge: string): Hop {
    const port = to.port ?? 443
    const name = `listener ${to.proto} ${port}`
    const listeners = this.facts.listeners
    if (listeners === null) return {name, verdict: 'indeterminate', detail: 'sockets could not be listed (ss)'}
    const hit = listeners.find((l) => l.proto === to.proto && l.port === port && (l.address === to.addr || ['0.0.0.0', '*', '', '::'].includes(l.address)) && (l.iface === undefined || l.iface === bridge))
    if (hit) return this.listenerAnswers(name, hit, port) ?? {name, verdict: 'pass', detail: listenerText(hit, port)}
    return {name, verdict: 'fail', detail: `nothing listens on ${to.proto} ${to.addr}:${port} or a wildcard: the host ${to.proto === 'tcp' ? 'resets the connection' : 'answers port unreachable'}`}
  }

  /**
   * A TCP connection's replies open with the SYN-ACK, and a reply walk is of its later segments (ACK): a rule reading
   * TCP flags tells them apart (`--tcp-flags SYN,ACK SYN,ACK -j DROP` drops only the opening; lab: reply-synack-drop).
   * Where the ruleset reads flags at all, the opening reply is walked too (the same size: only its flags differ) and
   * the worse of the two walks is the reply's; `reply` is the packet the walk started from, as the flow shows it.
   */
  private withOpeningReply(back: PathRunner, reply: NfPacket, walk: (r: PathRunner) => void): {hops: Hop[]; packet: NfPacket} {
    const start = back.packet()
    const opening = start.l4proto === 'tcp' && this.readsTcpFlags() ? back.withPacket({...start, tcpFlags: SYN_ACK}) : undefined
    walk(back)
    if (!opening) return {hops: back.hops, packet: reply}
    walk(opening)
    if (walkRank(opening.hops) <= walkRank(back.hops)) return {hops: back.hops, packet: reply}
    const first = 'the connection\'s first reply (SYN-ACK)'
    return {hops: opening.hops.map((h) => (h.verdict === 'pass' ? h : {...h, detail: `${first}: ${h.detail}`})), packet: {...reply, tcpFlags: SYN_ACK}}
  }

  private tcpFlagsRead?: boolean
  /** Whether any rule of the ruleset reads TCP flags: a match, or the key of a verdict or mark map (alone or in a concatenation). */
  private readsTcpFlags(): boolean {
    const reads = (e: NfExpr) => (e.kind === 'cmp' || e.kind === 'vmap' || e.kind === 'mark-map') && (e.field === 'tcp flags' || e.concat?.includes('tcp flags') === true)
    this.tcpFlagsRead ??= this.facts.ruleset.tables.some((t) => Object.values(t.chains).some((c) => c.rules.some((r) => r.exprs.some(reads))))
    return this.tcpFlagsRead
  }

  /** A reply arriving on `dev` from outside, forwarded back to the guest: every check the request had. */
  private replyIn(back: PathRunner, dev: string, g: GuestSide): void {
    this.enterDevice(back, dev, 'egress')
    // Routed by its destination after conntrack undid the NAT: only a route out of the guest's bridge reaches it.
    this.ipReceive(back, dev, 'forward', false, g.bridge)
    this.ipSend(back, dev, g.bridge)
    this.toGuest(back, g, false, true)
  }

  /**
   * Replies to an untranslated guest subnet come back only if the upstream routes that subnet to this host;
   * inbound, packets to it reach the host at all only then (the same route, the same element).
   */
  private returnRouteHop(subnet: string, net: LibvirtNetwork, direction: 'reply' | 'inbound' = 'reply'): Hop {
    // A NAT network's IPv6 is routed (libvirt masquerades it only with <nat ipv6='yes'/>): a fault of its own, apart
    // from the IPv4 the network translates.
    const routedIpv6OfNat = net.forwardMode === 'nat' && subnet.includes(':')
    const untranslated = routedIpv6OfNat ? `network ${net.name} does not NAT its IPv6` : `network ${net.name} is not NATed`
    return {
      name: direction === 'reply' ? 'return route' : 'upstream route',
      verdict: 'indeterminate',
      detail:
        direction === 'reply'
          ? `${untranslated}: replies to ${subnet} come back only if the upstream routes ${subnet} to this host, which the host cannot see`
          : `${untranslated}: packets from outside to ${subnet} reach this host only if the upstream routes ${subnet} to it, which the host cannot see`,
      element: {
        id: `return-route${routedIpv6OfNat ? '6' : ''}:${net.name}`,
        kind: 'return-route',
        text: `upstream route for ${subnet} (network ${net.name}, forward mode ${net.forwardMode}${routedIpv6OfNat ? ', IPv6 routed' : ''})`,
        network: net.name,
        ...(routedIpv6OfNat ? {ipFamily: 6 as const} : {}),
      },
    }
  }

  /** A source NAT to an address this host neither owns nor routes to itself: its replies go wherever the network sends that address. */
  private snatNotLocalHop(runner: PathRunner, natted: string): Hop {
    const nat = runner.live()[0]?.nat.find((n) => n.field === 'src')
    const where = nat ? describeStep(nat.step) : 'a source NAT'
    const element: Element = nat ? {...elementForStep(nat.step, this.facts.ruleset), id: `snat-address:${natted}`, kind: 'snat-address'} : {id: `snat-address:${natted}`, kind: 'snat-address', text: `source NAT to ${natted}`}
    return {name: 'return address', verdict: 'indeterminate', detail: `${where} rewrites the source to ${natted}, an address this host neither owns nor routes to itself: replies go wherever the network delivers ${natted}`, element: {...element, address: natted}}
  }

  /**
   * An SNAT to an address range: the kernel picks the address per connection (a hash), and the path followed the
   * first. Another address of the range this host does not own leaves the replies of the connections given it to
   * the network: some connections of the guest work, the others never hear back.
   */
  private snatRangeForeign(runner: PathRunner): Hop | undefined {
    const nat = runner.live()[0]?.nat.find((n) => n.field === 'src')
    if (!nat?.toEnd) return undefined
    const lo = parseIp(nat.to)
    const hi = parseIp(nat.toEnd)
    if (!lo || !hi || lo.family !== hi.family || hi.value < lo.value) return undefined
    // A range wider than this is not walked address by address: its last address stands for the rest.
    const walked = hi.value - lo.value < 1024n
    const candidates = walked ? Array.from({length: Number(hi.value - lo.value) + 1}, (_, i) => formatIp(lo.family, lo.value + BigInt(i))) : [nat.toEnd]
    const foreign = candidates.filter((a) => !this.ownsAddress(a))
    if (foreign.length === 0 && walked) return undefined
    const named = foreign.length > 0 ? foreign : [nat.toEnd]
    const shown = `${named.slice(0, 3).join(', ')}${named.length > 3 ? ` and ${named.length - 3} more` : ''}`
    const element: Element = {...elementForStep(nat.step, this.facts.ruleset), id: `snat-address:${named[0]}`, kind: 'snat-address', address: named[0]}
    return {
      name: 'return address',
      verdict: 'indeterminate',
      intermittent: true,
      detail: `${describeStep(nat.step)} gives each connection an address of ${nat.to}-${nat.toEnd}, ${foreign.length > 0 ? `and this host neither owns nor routes to itself ${shown}` : `too many to check one by one (${shown} not owned)`}: the replies of the connections given ${foreign.length === 1 ? 'it' : 'those'} go wherever the network delivers ${foreign.length === 1 ? 'it' : 'them'}`,
      element,
    }
  }

  private natHop(runner: PathRunner, src: string, net: LibvirtNetwork): Hop {
    const branches = runner.live()
    // Every path stopped undecided at an earlier hook (postrouting was not walked): the NAT cannot be judged either.
    if (branches.length === 0) return {name: 'NAT', verdict: 'indeterminate', detail: `not reached decidedly: the path of ${src} is undecided before it`}
    const translated = branches.filter((b) => b.packet.src !== src)
    if (branches.length > 0 && translated.length === branches.length) {
      const n = translated[0].nat.find((x) => x.field === 'src')
      return {name: 'NAT', verdict: 'pass', detail: `source ${src} → ${translated[0].packet.src}${n ? ` (${describeStep(n.step)})` : ''}`}
    }
    // MASQUERADE out of a device without an IPv4 address has nothing to translate to: the kernel drops the packet.
    const noAddress = branches.find((b) => b.nat.some((n) => n.field === 'src' && n.to === 'unknown'))
    if (noAddress) {
      const n = noAddress.nat.find((x) => x.field === 'src' && x.to === 'unknown')!
      const dev = noAddress.packet.oifname
      // Routing left the way out undecided: which address MASQUERADE takes (if any) is not known, not missing.
      if (dev === undefined) return {name: 'NAT', verdict: 'indeterminate', detail: `${describeStep(n.step)}: the device the packet leaves by is not known (routing undecided), so neither is the address it is masqueraded to`}
      const family = noAddress.packet.family === 6 ? 'IPv6' : 'IPv4'
      return {name: 'NAT', verdict: 'fail', detail: `${describeStep(n.step)}: ${dev} has no ${family} address to masquerade to, so the packet is dropped`, element: {...elementForStep(n.step, this.facts.ruleset), id: `masquerade-no-address:${dev}`, kind: 'nf-nat-missing', device: dev, text: `MASQUERADE out of ${dev}, which has no ${family} address`}}
    }
    if (translated.length > 0) return {name: 'NAT', verdict: 'indeterminate', detail: `the source is translated on some paths only`}
    // A rule that leaves the packet untracked (raw NOTRACK, nft notrack) is what stops the NAT, not a missing MASQUERADE.
    const untracking = branches[0]?.packet.ct.state === 'untracked' ? runner.hops.flatMap((h) => h.steps ?? []).find((s) => s.action === 'notrack') : undefined
    if (untracking) return {name: 'NAT', verdict: 'fail', detail: `${describeStep(untracking)} leaves the packet untracked: NAT never sees it, so ${src} is not translated`, element: elementForStep(untracking, this.facts.ruleset), steps: [untracking]}
    const postSteps = branches[0]?.steps.filter((s) => s.hook === 'postrouting') ?? []
    const family = branches[0]?.packet.family ?? 4
    const lost = family === 6 ? `network ${net.name} masquerades its IPv6 (<nat ipv6='yes'/>), so nothing routes replies to that prefix back` : 'replies to a private address never come back'
    return {name: 'NAT', verdict: 'fail', detail: `nothing translates ${src}: ${lost}`, element: natMissingElement(net, postSteps, this.facts.ruleset, family), steps: postSteps}
  }

  /** A socket that will take the packet: the service's listener on the bridge address or a wildcard. */
  private listenerHop(kind: 'dhcp' | 'dns', net: LibvirtNetwork, bridge: string, addr: string): Hop {
    // The same for every guest of the network (the listeners are facts): made once, shared (hops are never changed).
    const key = `${kind} ${net.name} ${bridge} ${addr}`
    let hop = this.listenerHops.get(key)
    if (hop === undefined) this.listenerHops.set(key, (hop = this.listenerHopOf(kind, net, bridge, addr)))
    return hop
  }

  private readonly listenerHops = new Map<string, Hop>()

  private listenerHopOf(kind: 'dhcp' | 'dns', net: LibvirtNetwork, bridge: string, addr: string, port = kind === 'dhcp' ? 67 : 53, rewrite?: {by: Element; how: string}): Hop {
    const listeners = this.facts.listeners
    if (listeners === null) return {name: `listener udp ${port}`, verdict: 'indeterminate', detail: 'sockets could not be listed (ss)'}
    const hit = listeners.find((l) => l.proto === 'udp' && l.port === port && (l.address === addr || (['0.0.0.0', '*', '', '::'].includes(l.address) && (l.iface === undefined || l.iface === bridge))))
    const element = (text: string): Element => ({id: `listener:${net.name}:${kind}`, kind: 'listener', text, network: net.name, service: kind})
    if (hit) return this.listenerAnswers(`listener udp ${port}`, hit, port, element) ?? {name: `listener udp ${port}`, verdict: 'pass', detail: `${listenerText(hit, port)}${rewrite ? ` (${rewrite.how})` : ''}`}
    return {
      name: `listener udp ${port}`,
      verdict: 'fail',
      detail: `nothing listens on udp ${addr}:${port} or a wildcard on ${bridge}${rewrite ? ` (${rewrite.how})` : ''}`,
      // Sent there by a rule, the rule is what to change: the network's own server may run as it should.
      element: rewrite ? rewrite.by : element(`no ${kind === 'dhcp' ? 'DHCP' : 'DNS'} server on ${bridge} (${addr}:${port})`),
    }
  }

  /**
   * The listener a guest's DHCP or DNS request reaches: the network's dnsmasq, unless prerouting's NAT sent the request
   * elsewhere on the host (a DNAT or REDIRECT to another local address or port, which routing took as local): then what
   * listens there, and the rule that rewrote it decides where nothing does.
   */
  private reachedListenerHop(runner: PathRunner, kind: 'dhcp' | 'dns', net: LibvirtNetwork, bridge: string, gw: string): Hop {
    const port = kind === 'dhcp' ? 67 : 53
    const p = runner.packet()
    const rewrite = runner.live()[0]?.nat.find((n) => n.field === 'dst')
    // A DHCP request goes to the limited broadcast: only its port says where it is delivered.
    const addr = kind === 'dhcp' ? gw : p.dst
    if (!rewrite || (addr === gw && p.dport === port)) return this.listenerHop(kind, net, bridge, gw)
    const by = elementForStep(rewrite.step, this.facts.ruleset)
    if (p.dport === undefined) return {name: `listener udp ${port}`, verdict: 'indeterminate', detail: `${by.text} sends the request to a port NAT picks at random: which socket it reaches is not known`, element: by}
    return this.listenerHopOf(kind, net, bridge, addr, p.dport, {by, how: `${by.text} sent it there instead of ${gw}:${port}`})
  }

  /**
   * A listener's process that takes the packet and answers nothing: stopped (kill -STOP, a debugger), it keeps its
   * socket and what arrives waits. Undefined when it runs, or when its state was not recorded (as before it was read).
   */
  private listenerAnswers(name: string, hit: Listener, port: number, element?: (text: string) => Element): Hop | undefined {
    const stopped = this.facts.stopped
    if (hit.pid === undefined || stopped === undefined) return undefined
    if (stopped === null) return {name, verdict: 'indeterminate', detail: `${listenerText(hit, port)}: whether it runs or is stopped could not be read (ps -eo pid=,stat=)`}
    const stop = stopped.find((p) => p.pid === hit.pid)
    if (!stop) {
      if (this.facts.freezeUnread?.includes(hit.pid)) return {name, verdict: 'indeterminate', detail: `${listenerText(hit, port)}: whether its cgroup is frozen could not be read (/proc/${hit.pid}/cgroup, cgroup.events, freezer.state)`}
      return undefined
    }
    const how = stoppedHow(stop)
    const text = `${hit.process ?? 'a process'} (pid ${hit.pid}) on ${hit.proto} ${port} is ${how}`
    return {name, verdict: 'fail', detail: `${listenerText(hit, port)} is ${how}: it holds the socket and answers nothing`, ...(element ? {element: {...element(text), ...stoppedMark(stop)}} : {})}
  }

  /** A frame bridged between the guest's tap and an uplink port: bridge hooks, and the IP hooks when br_netfilter hands it over. */
  private bridgedFlow(base: FlowBase, g: GuestSide, uplink: Link, kind: 'dhcp' | 'egress' | 'custom', known: string | undefined, to?: Destination, noLease?: Flow, leaseUndecided?: Flow): Flow[] {
    const {d, i, bridge} = g
    const brnf = this.brNetfilter(4, bridge)
    const dest = to ?? DEFAULT_INTERNET
    const src = known ?? '0.0.0.0'
    const lanAssumed = kind === 'dhcp' ? `the LAN's DHCP server behind ${uplink.name} answers (out of this host's sight)` : `the LAN behind ${uplink.name} routes ${dest.addr} and delivers the reply to ${d.name}'s MAC (out of this host's sight)`
    const srcAssumed = kind !== 'dhcp' && !known && !noLease && !leaseUndecided ? [`the guest's address is not known: judged for any address of the LAN`] : []
    const size = kind === 'dhcp' ? SIZE.dhcp : dest.proto === 'icmp' ? SIZE.ping : this.pathMtu(i.target, bridge, uplink.name)
    const mk = (dir: 'out' | 'in', reply: boolean): NfPacket => {
      const fields = dir === 'out' ? {physIn: i.target, physOut: uplink.name} : {physIn: uplink.name, physOut: i.target}
      if (kind === 'dhcp') {
        // Request broadcast from 0.0.0.0; the server's reply does not match it in conntrack (new).
        return dir === 'out'
          ? newPacket({family: 4, iifname: bridge, oifname: bridge, ...fields, bridged: true, src: '0.0.0.0', dst: '255.255.255.255', l4proto: 'udp', sport: 68, dport: 67, pkttype: 'broadcast', etherSrc: i.mac})
          : newPacket({family: 4, iifname: bridge, oifname: bridge, ...fields, bridged: true, src: 'unknown', dst: '255.255.255.255', l4proto: 'udp', sport: 67, dport: 68, pkttype: 'broadcast'})
      }
      const ports = dest.proto === 'icmp' ? {icmpType: reply ? 0 : 8} : reply ? {sport: dest.port ?? 443, dport: EPHEMERAL_PORT} : {sport: EPHEMERAL_PORT, dport: dest.port ?? 443}
      const p = {family: 4 as const, iifname: bridge, oifname: bridge, ...fields, bridged: true, src: dir === 'out' ? src : dest.addr, dst: dir === 'out' ? dest.addr : src, l4proto: dest.proto, ...ports}
      return reply ? replyPacket(p) : newPacket(p)
    }
    // br_netfilter hands the frame to the IP hooks with the bridge as device (in at prerouting, both at forward,
    // out at postrouting) and the ports for -m physdev (the out port known from forward on), each IP hook inside
    // the bridge hook of its name (postrouting after the bridge's chains: it hooks in last).
    const ovs = this.isOvs(g)
    const across = (runner: PathRunner, inDev: string, outDev: string, outRole: 'tap' | 'egress', broadcast: boolean) => {
      if (ovs) {
        // OVS switches the frame itself: no bridge hooks, no br_netfilter. The VLAN is checked on the way out (the uplink must carry the guest's).
        this.ovsHop(runner, g, inDev, outDev, outRole === 'egress')
        this.leaveDevice(runner, outDev, outRole)
        return
      }
      const brnfOn = brnf === true
      if (brnf === null) runner.push({name: 'br_netfilter', verdict: 'indeterminate', detail: 'net.bridge.bridge-nf-call-iptables could not be read'})
      runner.nf('bridge prerouting', 'prerouting', 'bridge', {iifname: inDev, ibrname: bridge})
      if (brnfOn) runner.nf('netfilter prerouting (br_netfilter)', 'prerouting', 'ip', {iifname: bridge, physOut: undefined})
      // A unicast frame from the LAN finds the guest's port by the fdb (after prerouting, before forward), as the host's own do.
      if (outRole === 'tap' && !broadcast) {
        this.fdbHop(runner, g, false)
        this.unknownUnicastHop(runner, outDev, i.mac, bridge)
      }
      this.isolationHop(runner, inDev, outDev, i.target)
      runner.nf('bridge forward', 'forward', 'bridge', {iifname: inDev, oifname: outDev, ibrname: bridge, obrname: bridge})
      if (brnfOn) runner.nf('netfilter forward (br_netfilter)', 'forward', 'ip', {iifname: bridge, oifname: bridge, physOut: outDev})
      runner.nf('bridge postrouting', 'postrouting', 'bridge', {oifname: outDev, obrname: bridge})
      if (brnfOn) runner.nf('netfilter postrouting (br_netfilter)', 'postrouting', 'ip', {oifname: bridge, physOut: outDev})
      this.portOut(runner, bridge, outDev, broadcast, outRole === 'tap' ? 'guest' : 'lan')
      this.leaveDevice(runner, outDev, outRole, outRole === 'tap' ? bridge : undefined)
    }
    const outPacket = mk('out', false)
    const missing = noLease || leaseUndecided ? this.unaddressedHop({addr: src, noLease, undecidedLease: leaseUndecided}, g) : undefined
    const out = this.fromGuest(g, outPacket, size, missing, false)
    // A DHCP server this host runs for the segment answers from the bridge itself; one on the LAN is out of sight.
    const server = kind === 'dhcp' ? this.facts.bridgeDhcpServers?.find((s) => s.bridge === bridge) : undefined
    across(out, i.target ?? '?', uplink.name, 'egress', kind === 'dhcp')
    if (server) {
      const name = `DHCP server ${server.name}`
      const element = (state: string): Element => ({id: `listener:${server.name}:dhcp`, kind: 'listener', text: `${server.name} (configured for ${bridge}) is ${state}`, server: server.name, service: 'dhcp'})
      out.push(
        server.running === true
          ? {name, verdict: 'pass', detail: `${server.name} runs and serves ${bridge}`}
          : server.running === null
            ? {name, verdict: 'indeterminate', detail: server.unread ?? 'processes could not be listed'}
            : server.stopped
              ? {name, verdict: 'fail', detail: `${server.name} (pid ${server.stopped.map((p) => p.pid).join(', ')}) is ${server.stopped[0].frozen ? stoppedHow(server.stopped[0]) : 'stopped'}: it holds its socket and answers nothing`, element: {...element('stopped'), ...stoppedMark(server.stopped[0])}}
              : {name, verdict: 'fail', detail: `${server.name} is configured for ${bridge} but not running`, element: element('not running')},
      )
    }
    // Not knowing whether this host serves the segment, the LAN's server is no more than a guess.
    const serverUnknown = kind === 'dhcp' && !server ? this.facts.bridgeDhcpUnknown : undefined
    if (serverUnknown !== undefined) out.push({name: 'DHCP server', verdict: 'indeterminate', detail: `${serverUnknown}: whether this host runs the DHCP server of ${bridge} is not known`})
    const assumptions = server || serverUnknown !== undefined ? [] : [lanAssumed]
    const flows = [this.finish(base, kind, kind === 'dhcp' ? `DHCP request bridged to the LAN through ${uplink.name}` : `bridged to ${dest.addr}${dest.proto === 'icmp' ? '' : `:${dest.port ?? 443}/${dest.proto}`} through ${uplink.name}`, outPacket, out.hops, undefined, [...srcAssumed, ...assumptions])]
    // The reply of a connection conntrack tracked (br_netfilter hands bridged frames to it): its mark, and the zone it
    // was made in, which the reply must be looked up in (a zone set on the guest's port only makes the reply a new one).
    const answer = mk('in', kind !== 'dhcp')
    const backPacket = kind !== 'dhcp' && brnf === true && !ovs ? {...answer, ct: {...answer.ct, mark: out.packet().ct.mark, ...this.connOf(out)}} : answer
    const back = new PathRunner(this, missing ? [missing] : [], backPacket, size)
    back.sourcePort = uplink.name
    this.enterDevice(back, uplink.name, 'egress')
    // The LAN answers in the VLAN the request left by: tagged where the uplink carries the guest's VLAN tagged, else untagged.
    if (!ovs) this.portIn(back, bridge, uplink.name, undefined, this.taggedOn(bridge, uplink.name, i.target))
    across(back, uplink.name, i.target ?? '?', 'tap', kind === 'dhcp')
    flows.push(this.finish(base, kind === 'dhcp' ? 'dhcp-reply' : kind === 'custom' ? 'custom' : 'egress-reply', kind === 'dhcp' ? `DHCP offer from the LAN back to ${d.name}` : `reply from ${dest.addr} back to ${d.name}`, backPacket, back.hops, kind, [...srcAssumed, ...assumptions]))
    return flows
  }

  // ---- inbound: published ports, from outside and from the host and guests (hairpin) ------------

  /** The host's view of its guests for the forwards: who holds an address now, who held it, each guest's own. */
  private guestBook(): GuestBook {
    const running = this.facts.domains.filter((d) => RUNNING.has(d.state))
    const refOf = (d: LibvirtDomain, i: Iface) => ({name: d.name, iface: i.target ?? i.mac ?? 'nic', ...(i.mac ? {mac: i.mac} : {})})
    // Asked only where something is published (most hosts: nothing): made on the first question.
    let index: {holders: Map<string, ReturnType<typeof refOf>>; byMac: Map<string, {d: LibvirtDomain; i: Iface}>} | undefined
    const indexed = () => {
      if (index) return index
      index = {holders: new Map(), byMac: new Map()}
      for (const d of running) {
        for (const i of d.interfaces) {
          if (!i.mac) continue
          index.byMac.set(i.mac.toLowerCase(), {d, i})
          const addr = this.facts.guestAddress(i.mac)
          if (addr && !index.holders.has(addr)) index.holders.set(addr, refOf(d, i))
        }
      }
      return index
    }
    return {
      holderOf: (addr) => indexed().holders.get(addr),
      formerHolderOf: (addr) => {
        for (const mac of this.facts.addressClaimants?.(addr) ?? []) {
          const hit = indexed().byMac.get(mac.toLowerCase())
          if (!hit) continue
          const now = this.facts.guestAddress(mac)
          if (now !== addr) return {...refOf(hit.d, hit.i), ...(now ? {now} : {})}
        }
        return undefined
      },
      unaddressedOn: (addr) =>
        running.flatMap((d) =>
          d.interfaces.flatMap((i) => {
            if (!i.mac || this.facts.guestAddress(i.mac)) return []
            const v4 = this.network(i)?.ips.filter((ip) => ip.family === 'ipv4') ?? []
            return v4.some((ip) => ipInPrefix(addr, `${ip.address}/${ip.prefix}`)) ? [refOf(d, i)] : []
          }),
        ),
      running: (name) => {
        const d = running.find((x) => x.name === name)
        const i = d?.interfaces.find((x) => x.type === 'network' || x.type === 'bridge')
        if (!d || !i) return undefined
        const net = this.network(i)
        const addr = i.mac ? this.facts.guestAddress(i.mac) : undefined
        return {...refOf(d, i), ...(addr ? {addr} : {}), routed: net !== undefined && (net.forwardMode === 'route' || net.forwardMode === 'open')}
      },
    }
  }

  /** Published ports and where they lead. */
  forwards(publish: PublishRequest[]): Forward[] {
    return collectForwards(this.facts.ruleset, this.facts.hooks, publish, this.guestBook())
  }

  /** The host side of a guest interface (bridge, network), by name and interface. */
  private guestSideOf(ref: {name: string; iface: string} | undefined): GuestSide | undefined {
    if (!ref) return undefined
    const d = this.facts.domains.find((x) => x.name === ref.name)
    const i = d?.interfaces.find((x) => (x.target ?? x.mac ?? 'nic') === ref.iface)
    if (!d || !i || (i.type !== 'network' && i.type !== 'bridge')) return undefined
    const net = this.network(i)
    const bridge = bridgeOf(i, net)
    return bridge ? {d, i, bridge, net} : undefined
  }

  /**
   * Where the outside comes from: the device a client's packets arrive by (the route to the client, or the
   * forward's own `-i`), the client's address (the one given, else the outside stand-in, else a host beyond
   * that device), and the host address it connects to.
   */
  private outside(f: Forward, internet: Destination, client?: string): {dev?: string; client: string; hostAddr?: string; assumptions: string[]} {
    const routeDev = (addr: string) => {
      const r = this.router.lookup({family: 4, dst: addr, mark: 0})
      return r.kind === 'unicast' ? r.dev : undefined
    }
    let dev: string | undefined
    let from = client
    const assumptions: string[] = []
    if (client) {
      dev = routeDev(client)
      if (dev) assumptions.push(`${client}'s packets arrive by ${dev}, the device the host routes ${client} through`)
    } else {
      const wanted = f.inDevice ? this.facts.links.find((l) => l.name === f.inDevice || (f.inDevice!.endsWith('*') && l.name.startsWith(f.inDevice!.slice(0, -1))))?.name : undefined
      // The stand-in client is beyond the first device a multipath default route offers (an assumption, said so below).
      dev = wanted ?? routeDev(internet.addr) ?? this.mainDefaultDevs()[0]
      from = dev && routeDev(internet.addr) === dev ? internet.addr : dev ? this.hostBeyond(dev) : undefined
      from ??= internet.addr
      if (dev) assumptions.push(`a client at ${from}, beyond ${dev} (a stand-in for the outside: give one with --from ADDR)`)
    }
    const hostAddr = f.direct ? f.target.addr : (f.hostAddress ?? (dev ? this.ctx.addressOf(dev, 4) : undefined))
    return {...(dev ? {dev} : {}), client: from!, ...(hostAddr ? {hostAddr} : {}), assumptions}
  }

  /** An address on a device's connected subnet that is not the host's: a neighbour on that side. */
  private hostBeyond(dev: string): string | undefined {
    const connected = this.facts.routes.find((r) => r.family === 'inet' && r.table === 'main' && r.type === 'unicast' && r.dev === dev && r.dst.includes('/') && !r.gateway)
    const range = connected ? parsePrefix(connected.dst) : undefined
    if (!range || range.family !== 4) return undefined
    for (let v = range.lo + 1n; v < range.hi && v < range.lo + 16n; v++) {
      const a = formatIp(4, v)
      if (!this.localAddrs.has(a)) return a
    }
    return undefined
  }

  /**
   * Every inbound flow of one published port: from the outside, and (translated ones) from the host and another guest.
   * A DNAT to an address range is followed to each of its addresses: the kernel gives each client one by a hash of
   * the client's address (find_best_ips_proto), so where the addresses' paths disagree the flow is undecided, naming
   * each outcome (intermittent where some clients pass and others fail).
   */
  inboundFlows(f: Forward, internet: Destination, client?: string): Flow[] {
    const first = this.inboundFlowsTo(f, internet, client)
    if (!f.targetEnd) return first
    const members = rangeMembers(f, this.guestBook())
    const variants = members ? [first, ...members.slice(1).map((m) => this.inboundFlowsTo(m, internet, client))] : [first]
    const kinds = [...new Set(variants.flat().map((x) => x.kind))]
    const lead = `the DNAT gives each client one address of ${f.target.addr}-${f.targetEnd}, by a hash of the client's address`
    return kinds.map((kind) => {
      const outs = variants.map((fs) => fs.find((x) => x.kind === kind))
      const model = outs.find((x) => x !== undefined)!
      const hop = members
        ? variantsHop('DNAT range', outs, lead, (k) => `to ${members[k].target.addr} it`)
        : ({name: 'DNAT range', verdict: 'indeterminate', detail: `${lead}: only ${f.target.addr} was followed (more than ${MAX_RANGE_MEMBERS} addresses), where it ${outcomeOf(model)}`} satisfies Hop)
      // Up to the DNAT the addresses share the path; from there it is the one the client's hash picks.
      return hop ? undecidedFrom(model, [...model.hops.slice(0, model.hops.findIndex((h) => h.name === 'DNAT') + 1), hop]) : model
    })
  }

  private inboundFlowsTo(f: Forward, internet: Destination, client?: string): Flow[] {
    const g = this.guestSideOf(f.guest)
    const who = f.guest ?? f.formerHolder
    const net = g?.net ?? this.facts.networks.find((n) => n.ips.some((ip) => ip.family === 'ipv4' && f.target.addr !== 'unknown' && ipInPrefix(f.target.addr, `${ip.address}/${ip.prefix}`)))
    const base: FlowBase = {guest: who?.name ?? '', iface: who?.iface ?? '', mac: who?.mac, network: net?.name, bridge: g?.bridge ?? net?.bridge, ...(f.guest && f.target.addr !== 'unknown' ? {guestAddress: f.target.addr} : {})}
    const side = this.outside(f, internet, client)
    const flows = this.fromOutside(f, g, base, side)
    if (!f.direct && !client) {
      if (side.hostAddr) f.hairpinAddress = side.hostAddr
      flows.push(...this.hairpinFromHost(f, g, base, side.hostAddr), ...this.hairpinFromGuest(f, g, base, side.hostAddr))
    }
    const unheld = who ? undefined : unheldTarget(f)
    for (const flow of flows) {
      flow.forward = f.id
      if (unheld) flow.unheldTarget = unheld
    }
    return flows
  }

  private l4(f: Forward, reply: boolean, clientPort = 40000): Pick<NfPacket, 'sport' | 'dport'> {
    return reply ? {sport: f.target.port, dport: clientPort} : {sport: clientPort, dport: f.port}
  }

  private describeForward(f: Forward, hostAddr?: string): string {
    return f.direct ? `${f.proto} ${f.target.addr}:${f.target.port}` : `${f.proto} ${hostAddr ?? f.hostAddress ?? 'the host'}:${f.port} → ${f.target.addr}:${f.target.port}`
  }

  /** From a client outside: in by the device its packets arrive on, DNAT, forward to the guest; the reply back out. */
  private fromOutside(f: Forward, g: GuestSide | undefined, base: FlowBase, side: ReturnType<HostView['outside']>): Flow[] {
    const {dev, client, hostAddr} = side
    const request = newPacket({family: 4, iifname: dev, src: client, dst: hostAddr ?? 'unknown', l4proto: f.proto, ...this.l4(f, false), ...memberOf(f)})
    const runner = new PathRunner(this, [], request, this.pathMtu(dev, g?.bridge, g?.i.target))
    const v4 = g?.net?.ips.find((ip) => ip.family === 'ipv4')
    if (f.direct && g?.net && v4) runner.push(this.returnRouteHop(networkOf(`${v4.address}/${v4.prefix}`), g.net, 'inbound'))
    if (!dev) runner.push({name: 'arrival', verdict: 'indeterminate', detail: `no route leads to ${client}: the device its packets would arrive by cannot be told`})
    if (!hostAddr) runner.push({name: 'host address', verdict: 'indeterminate', detail: `the forward names no host address and ${dev ?? 'the arriving device'} has no IPv4 address`})
    if (dev && hostAddr) {
      this.enterDevice(runner, dev, 'egress')
      this.prerouting(runner, dev)
      if (!f.direct) this.dnatHop(runner, f, 'outside')
      this.targetHop(runner, f, g)
      const decision = this.ipReceive(runner, dev, 'forward', true)
      this.ipSend(runner, dev, decision?.dev)
      if (g) this.toGuest(runner, g, false, true)
    } else this.targetHop(runner, f, g)
    const assumptions = [...side.assumptions, ...(g ? [`${g.d.name} answers on ${f.proto} ${f.target.port} (a service inside the guest, out of the host's sight)`] : [])]
    const flows = [this.finish(base, 'inbound', `inbound from ${client}${dev ? ` by ${dev}` : ''}: ${this.describeForward(f, hostAddr)}`, request, runner.hops, undefined, assumptions)]
    if (flows[0].verdict === 'fail' || !g || !dev || !hostAddr) return flows
    // The answer: from the guest's service to the client, its source translated back by conntrack at postrouting.
    const reply = replyPacket({family: 4, iifname: g.bridge, src: f.target.addr, dst: client, l4proto: f.proto, ...this.l4(f, true), etherSrc: g.i.mac}, f.direct ? [] : ['dnat'])
    const arriving: NfPacket = f.direct ? reply : {...reply, ct: {...reply.ct, translate: {src: hostAddr, sport: f.port}}}
    const description = `reply from ${g.d.name} ${f.target.addr}:${f.target.port} to ${client}${f.direct ? '' : `, as ${hostAddr}:${f.port}`}`
    // Once per next hop of a multipath route to the client: the kernel hashes the reply onto one.
    const replyVia = (nexthop: number) => {
      const back = this.fromGuest(g, arriving, this.pathMtu(g.i.target, g.bridge, dev))
      back.nexthop = nexthop
      this.upToHost(back, g.bridge)
      const router = this.offSubnetRouter(g, {addr: f.target.addr}, client)
      if (router) {
        back.push(router)
        return {flow: this.finish(base, 'inbound-reply', description, reply, back.hops, 'inbound', assumptions)}
      }
      if (v4) this.arpHop(back, g, v4.address)
      const out = this.ipReceive(back, g.bridge, 'forward', true)
      if (back.alive() && out?.kind === 'unicast' && out.dev !== dev) {
        back.push({name: 'return path', verdict: 'indeterminate', detail: `the reply to ${client} leaves by ${out.dev}, not ${dev} where the request came in: whether the client takes it from there is the network's decision`, ...(out.rule && out.rule.priority !== 0 && out.rule.priority < 32766 ? {element: policyElement(out)} : {})})
      }
      this.ipSend(back, g.bridge, out?.dev)
      if (out?.dev) this.leaveDevice(back, out.dev, 'egress')
      return {flow: this.finish(base, 'inbound-reply', description, reply, back.hops, 'inbound', assumptions), nexthops: out?.nexthops}
    }
    const first = replyVia(0)
    const nexthops = first.nexthops
    const outs = nexthops ? [first.flow, ...nexthops.slice(1).map((_, k) => replyVia(k + 1).flow)] : [first.flow]
    const split = nexthops && variantsHop('multipath', outs, `the route to ${client} has ${nexthops.length} next hops and the kernel picks one per flow by a hash the host does not show`, (k) => `${viaNexthop(nexthops[k])} the reply`)
    flows.push(split ? undecidedFrom(first.flow, [...first.flow.hops.slice(0, first.flow.hops.findIndex((h) => h.name === 'routing') + 1), split]) : first.flow)
    return flows
  }

  /**
   * Whether the walk so far translated the packet to the forward's target. Where nothing did, what stands
   * there depends on who sends and how the forward was found: a rule that does not match this packet, a
   * hook's rule the ruleset lacks, a --publish nothing forwards; for the host and other guests, a hairpin.
   */
  private dnatHop(runner: PathRunner, f: Forward, from: 'outside' | 'host' | 'guest'): void {
    if (!runner.alive()) return
    const live = runner.live()
    if (live.length === 0) return
    const translated = live.filter((b) => b.nat.some((n) => n.field === 'dst'))
    const rule = f.sources.find((s) => s.kind === 'rule')
    const ruleText = rule?.kind === 'rule' ? rule.rule.text : undefined
    const toTarget = translated.filter((b) => b.packet.dst === f.target.addr && b.packet.dport === f.target.port)
    if (toTarget.length === live.length) {
      const n = toTarget[0].nat.find((x) => x.field === 'dst')!
      runner.push({name: 'DNAT', verdict: 'pass', detail: `${f.proto} ${n.from}:${f.port} → ${f.target.addr}:${f.target.port} (${describeStep(n.step)})`})
      return
    }
    // A port range with --random: the port is drawn per connection, and whether the target's listens there cannot be told.
    const drawn = translated.find((b) => b.packet.dst === f.target.addr && b.packet.dport === undefined)
    if (drawn) {
      const n = drawn.nat.find((x) => x.field === 'dst')!
      runner.push({name: 'DNAT', verdict: 'indeterminate', detail: `${describeStep(n.step)} picks the port at random in its range for each connection: not told whether it is ${f.target.port}`})
      return
    }
    if (translated.length > 0 && toTarget.length === 0 && translated.length === live.length) {
      const n = translated[0].nat.find((x) => x.field === 'dst')!
      runner.push({name: 'DNAT', verdict: 'fail', detail: `${describeStep(n.step)} sends it to ${translated[0].packet.dst}:${translated[0].packet.dport}, not ${f.target.addr}:${f.target.port}`, element: elementForStep(n.step, this.facts.ruleset)})
      return
    }
    if (translated.length > 0) {
      runner.push({name: 'DNAT', verdict: 'indeterminate', detail: `the packet is translated to ${f.target.addr} on some paths only`})
      return
    }
    const dst = runner.packet().dst
    if (from !== 'outside') {
      // A process of the host's own on the port answers the host's and guests' connections there: maybe a relay.
      const listener = from === 'host' ? this.facts.listeners?.find((l) => l.proto === f.proto && l.port === f.port && (l.address === dst || ['0.0.0.0', '*', '', '::'].includes(l.address))) : undefined
      const who = from === 'host' ? 'the host itself' : 'another guest'
      const why = from === 'host' ? `no DNAT in nat OUTPUT: the host's own connection to ${dst}:${f.port} stays on the host` : `the DNAT does not apply to packets from the guests' bridge${f.inDevice ? ` (it matches only packets arriving on ${f.inDevice})` : ''}: the connection goes to the host itself`
      runner.push({
        name: 'DNAT',
        verdict: listener ? 'indeterminate' : 'fail',
        detail: listener ? `${why}, where ${listener.process ?? 'a process'} listens (it may relay to ${f.target.addr}, or answer itself)` : why,
        element: {id: `hairpin:${from}:${f.id}`, kind: 'hairpin', text: `${f.id}: not reachable from ${who} by ${dst}:${f.port}${ruleText ? ` (${ruleText})` : ''}`, address: f.target.addr},
      })
      return
    }
    const hook = f.sources.find((s): s is Extract<typeof s, {kind: 'hook'}> => s.kind === 'hook')
    const published = f.sources.find((s): s is Extract<typeof s, {kind: 'publish'}> => s.kind === 'publish')
    const element: Element = rule
      ? {id: `dnat-unmatched:${f.id}`, kind: 'dnat-unmatched', text: `${ruleText} does not translate ${f.proto} ${dst}:${f.port} arriving on ${runner.packet().iifname ?? '?'}`, address: f.target.addr}
      : hook
        ? {id: `hook-lost:${hook.path}:${f.id}`, kind: 'hook-lost', text: `${hook.path} (${hook.at}) forwards ${f.proto} ${f.port} to ${f.target.addr}:${f.target.port}; no such DNAT is in the ruleset`, address: f.target.addr}
        : {id: `dnat-missing:${f.id}`, kind: 'dnat-missing', text: `nothing forwards ${f.proto} ${dst}:${f.port} to ${published?.guest ?? f.target.addr}${published ? ` (--publish ${published.guest}:${f.port}/${f.proto})` : ''}`, address: f.target.addr}
    runner.push({name: 'DNAT', verdict: 'fail', detail: `no DNAT translates ${f.proto} ${dst}:${f.port}: the packet is for the host itself`, element})
  }

  /** The forward's target must be a running guest's address now. */
  private targetHop(runner: PathRunner, f: Forward, g: GuestSide | undefined): void {
    if (!runner.alive() || g) return
    if (f.target.addr === 'unknown') {
      const named = f.sources.find((s) => s.kind === 'publish')
      runner.push({name: 'DNAT target', verdict: 'indeterminate', detail: `${named?.kind === 'publish' ? named.guest : 'the guest'}'s address is not known (nor whether it runs): nothing to forward to can be named`})
      return
    }
    const rule = f.sources.find((s) => s.kind === 'rule')
    const where = rule?.kind === 'rule' ? rule.rule.text : f.id
    const former = f.formerHolder
    if (f.maybeHolders) {
      // No source reports these guests' addresses (an idle guest with a static one, no agent): the target may be one of them.
      const who = f.maybeHolders.map((m) => `${m.name} (${m.mac ?? m.iface})`).join(', ')
      runner.push({name: 'DNAT target', verdict: 'indeterminate', detail: `${f.target.addr} is no known guest's address, but no source reports the address of ${who} on its network: it may be theirs`, element: {id: `dnat-target:${f.target.addr}`, kind: 'dnat-target', text: `${where}: target ${f.target.addr}, held by no guest whose address is known`, address: f.target.addr}})
      return
    }
    runner.push({
      name: 'DNAT target',
      verdict: 'fail',
      detail: `${f.target.addr} is no running guest's address${former ? `: ${former.name} (${former.mac}) was seen there and ${former.now ? `now holds ${former.now}` : 'holds no address now'}` : ''}`,
      element: {id: `dnat-target:${f.target.addr}`, kind: 'dnat-target', text: `${where}: target ${f.target.addr} is no running guest's address`, address: f.target.addr},
    })
  }

  /** The host connecting to its own published address: routed locally, DNAT in nat OUTPUT, re-routed to the guest. */
  private hairpinFromHost(f: Forward, g: GuestSide | undefined, base: FlowBase, hostAddr: string | undefined): Flow[] {
    if (!hostAddr || !g) return []
    const request = newPacket({family: 4, src: hostAddr, dst: hostAddr, l4proto: f.proto, ...this.l4(f, false), ...memberOf(f)})
    const runner = new PathRunner(this, [], request, this.pathMtu(g.bridge, g.i.target))
    runner.route('routing', 'local', {iif: 'lo'})
    runner.nf('netfilter output', 'output', 'ip', {oifname: 'lo'})
    this.dnatHop(runner, f, 'host')
    // Translated, the packet is routed again (ip_route_me_harder): now to the guest's bridge.
    runner.route('routing (after DNAT)', 'output', {iif: 'lo', src: hostAddr, viaDev: g.bridge})
    this.ipSend(runner, undefined, g.bridge)
    this.toGuest(runner, g, false, true)
    const assumptions = [`${g.d.name} answers on ${f.proto} ${f.target.port} (a service inside the guest, out of the host's sight)`]
    const flows = [this.finish(base, 'hairpin-host', `from the host itself to ${hostAddr}:${f.port} (${this.describeForward(f, hostAddr)})`, request, runner.hops, undefined, assumptions)]
    if (flows[0].verdict === 'fail') return flows
    // The answer comes back to the host's address: delivered locally, its source translated back at input.
    const reply = replyPacket({family: 4, iifname: g.bridge, src: f.target.addr, dst: hostAddr, l4proto: f.proto, ...this.l4(f, true), etherSrc: g.i.mac}, ['dnat'])
    const back = this.fromGuest(g, {...reply, ct: {...reply.ct, translate: {src: hostAddr, sport: f.port}}}, this.pathMtu(g.i.target, g.bridge))
    this.upToHost(back, g.bridge)
    const gw = g.net?.ips.find((ip) => ip.family === 'ipv4')?.address
    if (gw) this.arpHop(back, g, gw)
    this.ipReceive(back, g.bridge, 'local', true)
    flows.push(this.finish(base, 'hairpin-host-reply', `reply from ${g.d.name} to the host ${hostAddr}`, reply, back.hops, 'hairpin-host', assumptions))
    return flows
  }

  /** Another running guest with an address: the hairpin's client (on the target's bridge when one is there). */
  private otherGuest(g: GuestSide): {side: GuestSide; addr: string} | undefined {
    const candidates: {side: GuestSide; addr: string}[] = []
    for (const d of this.facts.domains) {
      if (!RUNNING.has(d.state)) continue
      for (const i of d.interfaces) {
        if (i === g.i || !i.mac) continue
        const side = this.guestSideOf({name: d.name, iface: i.target ?? i.mac})
        const addr = this.facts.guestAddress(i.mac)
        if (side?.net && addr && side.net.forwardMode !== 'bridge') candidates.push({side, addr})
      }
    }
    candidates.sort((a, b) => Number(b.side.bridge === g.bridge) - Number(a.side.bridge === g.bridge) || a.side.d.name.localeCompare(b.side.d.name))
    return candidates[0]
  }

  /**
   * Another guest connecting to the published address: DNATed back to the target guest, which answers the
   * source it sees. On the same subnet without a source NAT, it answers directly, from its own address: the
   * client expects the public one and drops it.
   */
  private hairpinFromGuest(f: Forward, g: GuestSide | undefined, base: FlowBase, hostAddr: string | undefined): Flow[] {
    if (!hostAddr || !g) return []
    const other = this.otherGuest(g)
    if (!other) return []
    const {side: o, addr} = other
    const request = newPacket({family: 4, iifname: o.bridge, src: addr, dst: hostAddr, l4proto: f.proto, ...this.l4(f, false), etherSrc: o.i.mac, ...memberOf(f)})
    const runner = this.fromGuest(o, request, this.pathMtu(o.i.target, o.bridge, g.bridge, g.i.target))
    const ogw = o.net?.ips.find((ip) => ip.family === 'ipv4')?.address
    // br_netfilter on the bridge both guests share: the DNAT runs in the bridge's prerouting, and a frame sent on to an
    // address behind that bridge is bridged there (br_nf_pre_routing_finish's bridged DNAT), never routed; the answer
    // comes back bridged too, through conntrack, which puts the public address back (observed: kernel differential).
    const bridgedDnat = o.bridge === g.bridge && !this.isOvs(g) && !this.isOvs(o) && this.brNetfilter(4, g.bridge) === true
    if (bridgedDnat) {
      if (ogw) this.arpHop(runner, o, ogw)
      runner.ports({physIn: runner.sourcePort})
      this.prerouting(runner, o.bridge)
      this.dnatHop(runner, f, 'guest')
      // The new destination is routed (ip_route_input): only a route out of the bridge itself keeps the frame there.
      runner.route('routing (bridged DNAT)', 'forward', {iif: o.bridge, viaDev: g.bridge})
      // The frame leaves for the host's neighbour entry of the target (br_nf_pre_routing_finish_bridge).
      this.neighbourHop(runner, g.bridge, f.target.addr, g.i.mac)
      this.bridgeOnward(runner, g, o.i.target)
    } else {
      if (o.bridge === g.bridge && this.brNetfilter(4, g.bridge) === null) runner.push({name: 'br_netfilter', verdict: 'indeterminate', detail: 'net.bridge.bridge-nf-call-iptables could not be read: with it on, the hairpin is bridged, not routed'})
      this.upToHost(runner, o.bridge)
      if (ogw) this.arpHop(runner, o, ogw)
      this.dnatHop(runner, f, 'guest')
      const decision = this.ipReceive(runner, o.bridge, 'forward', true)
      this.ipSend(runner, o.bridge, decision?.dev)
      this.toGuest(runner, g, false, true)
    }
    const assumptions = [`${g.d.name} answers on ${f.proto} ${f.target.port} (a service inside the guest, out of the host's sight)`]
    const flows = [this.finish(base, 'hairpin-guest', `from ${o.d.name} (${addr}) to ${hostAddr}:${f.port} (${this.describeForward(f, hostAddr)})`, request, runner.hops, undefined, assumptions)]
    if (flows[0].verdict === 'fail') return flows
    const seenFrom = runner.packet().src
    const v4 = g.net?.ips.find((ip) => ip.family === 'ipv4')
    const reply = replyPacket({family: 4, iifname: g.bridge, src: f.target.addr, dst: seenFrom, l4proto: f.proto, ...this.l4(f, true), etherSrc: g.i.mac}, seenFrom === addr ? ['dnat'] : ['dnat', 'snat'])
    if (bridgedDnat && seenFrom === addr) {
      const back = this.fromGuest(g, {...reply, ct: {...reply.ct, translate: {src: hostAddr, sport: f.port}}}, this.pathMtu(g.i.target, g.bridge, o.i.target))
      back.ports({physIn: back.sourcePort})
      this.prerouting(back, g.bridge)
      this.bridgeOnward(back, o, g.i.target)
      flows.push(this.finish(base, 'hairpin-guest-reply', `reply from ${g.d.name} to ${o.d.name} (${addr}), bridged through br_netfilter`, reply, back.hops, 'hairpin-guest', assumptions))
      return flows
    }
    if (seenFrom === addr && v4 && ipInPrefix(addr, `${v4.address}/${v4.prefix}`)) {
      // On-link: the guest's answer never passes the host, so conntrack never puts the public address back.
      const back = this.fromGuest(g, reply, SIZE.ping, undefined, false)
      back.push({
        name: 'hairpin',
        verdict: 'fail',
        detail: `${g.d.name} answers ${addr} directly on ${g.bridge} (the same subnet), from ${f.target.addr}:${f.target.port}: ${o.d.name} expects the answer from ${hostAddr}:${f.port} and drops it; nothing translates the source of guest-to-guest traffic through the host's address`,
        element: {id: `hairpin:guest:${f.id}`, kind: 'hairpin', text: `${f.id}: not reachable from another guest by ${hostAddr}:${f.port} (no source NAT for guests on ${g.bridge})`, address: f.target.addr, network: g.net?.name},
      })
      flows.push(this.finish(base, 'hairpin-guest-reply', `reply from ${g.d.name} to ${o.d.name} (${addr})`, reply, back.hops, 'hairpin-guest', assumptions))
      return flows
    }
    // Translated on the way in (or from another subnet): the answer goes back through the host, conntrack undoes both translations.
    const arriving: NfPacket = {...reply, ct: {...reply.ct, translate: {...(seenFrom !== addr ? {dst: addr} : {}), src: hostAddr, sport: f.port}}}
    const back = this.fromGuest(g, arriving, this.pathMtu(g.i.target, g.bridge, o.bridge))
    this.upToHost(back, g.bridge)
    if (v4) this.arpHop(back, g, v4.address)
    this.ipReceive(back, g.bridge, 'forward', true)
    this.ipSend(back, g.bridge, o.bridge)
    this.toGuest(back, o, false, true)
    flows.push(this.finish(base, 'hairpin-guest-reply', `reply from ${g.d.name} to ${o.d.name} (${addr})`, reply, back.hops, 'hairpin-guest', assumptions))
    return flows
  }
}

/** The address a guest's flows are sent from: its own, one its network would give it (assumed), or none it can have. */
interface SourceAddress {
  addr: string
  assumed?: string
  missing?: {network: string; subnet: string}
  /** Nothing reports its address and its own DHCP exchange fails here: it has none to send from. */
  noLease?: Flow
  /** Nothing reports its address and its own DHCP exchange is undecided: whether it has one to send from is not known. */
  undecidedLease?: Flow
  /** The wire heard the guest and it sent from no IPv4 address and asked for none: it has none to send from. */
  unheard?: string
}

/** What every flow of one guest interface shares: exactly these fields (finish writes them out). */
type FlowBase = Pick<Flow, 'guest' | 'iface' | 'mac' | 'network' | 'bridge' | 'guestAddress'>

/** Carries the netfilter branches of one packet along its hops; stops at the first certain failure. */
class PathRunner {
  private branches: Branch[]
  /** Which next hop of a multipath route the flow takes (RouteQuery.nexthop). */
  nexthop?: number
  /** The bridge port the frame entered by (VLAN membership, physdev). */
  sourcePort?: string
  /** A filtering bridge whose VLANs were not read was already reported on this path. */
  vlanChecked?: boolean
  /** The VLAN the frame travels in on a bridge that filters by VLAN (from the port it entered by). */
  vlan?: number
  constructor(
    private readonly host: HostView,
    readonly hops: Hop[],
    packet: NfPacket,
    /** The largest packet of the flow (IP bytes): what a qdisc or policer must let through. */
    readonly size: number,
  ) {
    this.branches = [startBranch(packet)]
  }

  /** Hops already looked at by alive(), and whether one of them fails (hops are only appended, never changed). */
  private seenHops = 0
  private failed = false

  alive(): boolean {
    for (; !this.failed && this.seenHops < this.hops.length; this.seenHops++) if (this.hops[this.seenHops].verdict === 'fail') this.failed = true
    return !this.failed
  }

  live(): Branch[] {
    return this.branches.filter((b) => b.status === 'accept')
  }

  /** The first live branch's packet (else the first branch's): asked at every hop, so found without a list. */
  packet(): NfPacket {
    // Indexed: this runs thousands of times before the optimizer sees it, and for-of then allocates an iterator and its results.
    const branches = this.branches
    for (let k = 0; k < branches.length; k++) if (branches[k].status === 'accept') return branches[k].packet
    return branches[0].packet
  }

  /** A runner at the same point of the path (its hops so far, its bridge port and VLAN) for another packet. */
  withPacket(packet: NfPacket): PathRunner {
    const other = new PathRunner(this.host, [...this.hops], packet, this.size)
    other.nexthop = this.nexthop
    other.sourcePort = this.sourcePort
    other.vlanChecked = this.vlanChecked
    other.vlan = this.vlan
    return other
  }

  push(hop: Hop): void {
    if (this.alive()) this.hops.push(hop)
  }

  links(hops: Hop[]): void {
    for (let k = 0; k < hops.length; k++) this.push(hops[k])
  }

  /** Runs a hook with the devices it sees. */
  nf(name: string, hook: NfHook, layer: HookLayer, devices: Partial<NfPacket>): void {
    if (!this.alive()) return
    if (layer === 'bridge' && !this.host.hooked(hook, 'bridge')) return
    // Bridge hooks see ports; the IP hooks see the bridge (and, for bridged frames, the ports through physdev).
    const origin = this.packet()
    // br_netfilter's IP hooks may say which out port is known yet (`physOut` among the devices).
    const ports = 'physOut' in devices
    // Indexed loops and one spread per copy, no closures: this runs for every hook of every flow, mostly before the
    // optimizer has compiled it.
    const current = this.branches
    const input: Branch[] = []
    for (let k = 0; k < current.length; k++) {
      const b = current[k]
      const packet = b.status === 'accept' ? seenBy(b.packet, layer, devices, ports) : b.packet
      input.push(packet === b.packet ? b : {...b, packet})
    }
    const {hop, branches} = this.host.nfHop(name, hook, layer, input)
    // An IP hook leaves the branches as the hook returned them (fresh, not shared with its cache). After a bridge hook
    // the packet is the bridge's again: its physdev view comes back for the IP hooks.
    if (layer === 'ip') this.branches = branches
    else {
      const back: Branch[] = []
      for (let k = 0; k < branches.length; k++) {
        const b = branches[k]
        back.push(b.status === 'accept' ? {...b, packet: {...b.packet, physIn: origin.physIn, physOut: origin.physOut, bridged: origin.bridged}} : b)
      }
      this.branches = back
    }
    this.hops.push(ports ? {...hop, bridged: true} : hop)
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
    if (!this.host.deviceHooked(hook) || !this.alive()) return
    if (this.host.deviceChainsOf(hook, dev).length > 0) this.nf(`netdev ${hook} ${dev}`, hook, 'netdev', hook === 'ingress' ? {iifname: dev} : {oifname: dev})
    const unbound = this.host.unboundDeviceChains(hook)
    if (unbound.length === 0 || !this.alive()) return
    const named = unbound.map((c) => `${c.family} ${c.table} ${c.name}`).join(', ')
    this.push({name: `netdev ${hook} ${dev ?? '?'}`, verdict: 'indeterminate', detail: `${unbound.length === 1 ? 'chain' : 'chains'} ${named} on the ${hook} hook: the device ${unbound.length === 1 ? 'it is' : 'they are'} bound to was not read (nft -a list ruleset), so whether ${unbound.length === 1 ? 'it filters' : 'they filter'} ${dev ?? 'this device'} is not known`})
  }

  /**
   * The route lookup: `forward` and `local` for an arriving packet (iif), `output` for one the host sends
   * (from `src`, which must leave by `viaDev`).
   */
  route(name: string, expect: 'forward' | 'local' | 'output', override: {iif?: string; src?: string; viaDev?: string} = {}): RouteDecision | undefined {
    if (!this.alive()) return undefined
    // A hook before that left no way on decided (a queue, a conntrack lookup that cannot be told): routing the packet
    // as it came would judge one the kernel may never route (a NAT reply not yet translated goes to the host itself).
    if (!this.branches.some((b) => b.status === 'accept')) {
      this.hops.push({name, verdict: 'indeterminate', detail: 'the packet that reaches routing is not known: the hook before left it undecided'})
      return undefined
    }
    const p = this.packet()
    const src = override.src ?? (p.src === '0.0.0.0' ? undefined : p.src)
    const decision = this.host.router.lookup({family: p.family, dst: p.dst, src, iif: override.iif ?? p.iifname, mark: p.mark, l4proto: p.l4proto, sport: p.sport, dport: p.dport, nexthop: this.nexthop})
    this.hops.push(this.host.sharedPass(this.host.routingHop(name, decision, expect, p, override.viaDev)))
    // The host's own packet meets the out policies at its route lookup (ip_route_output_flow), from the source it takes.
    if (expect === 'output' && (decision.kind === 'unicast' || decision.kind === 'broadcast') && this.alive()) this.ipsec('out', decision.dev, src)
    return decision
  }

  /**
   * The output hook of a packet the host sends, routed before it as FIRST. Where a chain of type route (iptables mangle
   * OUTPUT, nft `type route hook output`) changed its mark or addresses, the kernel routes it again (ip_route_me_harder):
   * checked in namespaces, a mark set there that a policy rule sends to an unreachable table stopped a ping, the same mark
   * set in the filter table did not.
   */
  outputHook(oif: string, first: RouteDecision | undefined, viaDev: string): void {
    const before = this.packet()
    this.nf('netfilter output', 'output', 'ip', {oifname: oif})
    if (!first || !this.alive()) return
    const after = this.packet()
    if ((after.mark === before.mark && after.src === before.src && after.dst === before.dst) || !this.host.changedByRouteChain(this.branches)) return
    const again = this.host.router.lookup({family: after.family, dst: after.dst, src: after.src, iif: 'lo', mark: after.mark, l4proto: after.l4proto, sport: after.sport, dport: after.dport, nexthop: this.nexthop})
    if (again.kind === first.kind && again.dev === first.dev && again.gateway === first.gateway) return
    this.hops.push(this.host.routingHop('routing (again, after output)', again, 'output', after, viaDev))
  }

  /** The IPsec policies of a direction, for the packet as it is now (from `src` where the host picks it). */
  ipsec(dir: 'in' | 'out' | 'fwd', dev: string | undefined, src?: string): void {
    const p = this.packet()
    const hop = this.host.ipsecHop(dir, src === undefined || src === p.src ? p : {...p, src}, dev)
    if (hop) this.hops.push(hop)
  }
}

/**
 * Whether a bridge's own nf_call_iptables (or ip6tables) switch, OWN, hands its frames to the IP hooks where the
 * host-wide sysctl does not: it is on and the sysctl reads 0. An absent sysctl (null: br_netfilter not loaded, the
 * switch does nothing) or an unread one (undefined) is not that.
 */
export const bridgeOwnSwitchActs = (sysctl: number | null | undefined, own: boolean | undefined): boolean => own === true && sysctl === 0

/**
 * The packet P as a hook of LAYER sees it with DEVICES (`ports`: they say which out port br_netfilter knows): P itself
 * where the hook before saw the same devices, else a copy (each form one literal with one spread: the same fields, in
 * the same order, as spreading the changed fields after it).
 */
function seenBy(p: NfPacket, layer: HookLayer, devices: Partial<NfPacket>, ports: boolean): NfPacket {
  if (p.iifname === devices.iifname && p.oifname === devices.oifname && p.ibrname === devices.ibrname && p.obrname === devices.obrname && (layer === 'ip' || (p.physIn === undefined && p.physOut === undefined && p.bridged === false)) && (!ports || p.physOut === devices.physOut)) return p
  if (layer !== 'ip') return {...p, iifname: devices.iifname, oifname: devices.oifname, ibrname: devices.ibrname, obrname: devices.obrname, physIn: undefined, physOut: undefined, bridged: false}
  if (ports) return {...p, iifname: devices.iifname, oifname: devices.oifname, ibrname: devices.ibrname, obrname: devices.obrname, physOut: devices.physOut}
  return {...p, iifname: devices.iifname, oifname: devices.oifname, ibrname: devices.ibrname, obrname: devices.obrname}
}

/** The arp family's hooks an ARP exchange meets, in order (a constant: no list made per exchange). */
const ARP_HOOKS = ['input', 'output'] as const

/** Device hops by direction, bridge and device. */
const newHopCache = () => new Map<'in' | 'out' | undefined, Map<string | undefined, Map<string | undefined, Hop[]>>>()

/**
 * An ARP exchange that cannot happen stops nothing while a cache still holds the answer (a guest's TCP traffic keeps
 * its gateway's entry fresh; dnsmasq writes the host's entry for a guest with each DHCP answer): the flow passes until
 * the cache runs out, then fails. Not a fact the host shows: undecided, by time.
 */
function cacheBound(hop: Hop, whileCached: string, whoForgets = 'a rebooted or idle guest'): Hop {
  return {...hop, verdict: 'indeterminate', detail: `${hop.detail}: ${whileCached}, never after it runs out (${whoForgets})`, intermittent: true}
}

/** An fdb entry as `bridge fdb show` prints it. */
function fdbText(e: FdbEntry): string {
  return `bridge fdb: ${e.mac} dev ${e.dev}${e.vlan ? ` vlan ${e.vlan}` : ''}${e.externLearn ? ' extern_learn' : ''}${e.sticky ? ' sticky' : ''} master ${e.bridge}${e.state === 'dynamic' ? '' : ` ${e.state}`}`
}

/** Steps as described, made once per step (a walk's steps are shared by every packet of its class, never changed once walked). */
const describedSteps = new WeakMap<TraceStep, string>()

function describeStep(s: TraceStep): string {
  return getOrCreate(describedSteps, s, () => describeStepOf(s))
}

function describeStepOf(s: TraceStep): string {
  const where = `${s.chain.backend === 'nft' ? 'nft' : s.chain.backend} ${s.chain.family} ${s.chain.table} ${s.chain.chain}`
  if (s.event === 'policy') return `${where} policy ${s.action}`
  return s.rule ? `${where}: ${s.rule.text}` : where
}

export {describeStep}

function policyElement(decision: RouteDecision): Element {
  const r = decision.rule!
  return {id: `policy-rule:${r.family}:${r.priority}`, kind: 'policy-rule', text: `ip rule ${r.text}`, ipFamily: r.family === 'inet6' ? 6 : 4, table: r.table, rulePriority: r.priority, device: decision.dev}
}

function firstHost(prefix: string): string | undefined {
  const p = parsePrefix(prefix)
  if (!p || p.family !== 4) return undefined
  const v = p.lo + 2n
  return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join('.')
}

/**
 * The packet as a person reads it: what the host cannot know is said so ("any" address, "(no address)" for
 * a guest that has none; 0.0.0.0 only where DHCP really sends from it), and the port that stands for the
 * guest's own ephemeral one is listed as assumed.
 */
/** What a shown packet assumes: the same few sentences for every flow (one string each, not one per flow). */
const PACKET_ASSUMED = {
  anySource: 'source address: any (the host cannot know it)',
  anyDestination: 'destination address: any (the host cannot know it)',
  noSource: 'source address: the guest has none (no source reports one)',
  noDestination: 'destination address: the guest has none (no source reports one)',
  ephemeralPort: `port ${EPHEMERAL_PORT} stands for the guest's own ephemeral port (not known)`,
}

function packetShown(p: NfPacket): {text: string; assumed: string[]} {
  const assumed: string[] = []
  const dhcpClient = p.l4proto === 'udp' && (p.sport === 68 || p.dport === 68)
  const addr = (a: string, end: 'source' | 'destination') => {
    if (a === 'unknown') {
      assumed.push(end === 'source' ? PACKET_ASSUMED.anySource : PACKET_ASSUMED.anyDestination)
      return 'any'
    }
    if ((a === '0.0.0.0' || a === '::') && !dhcpClient) {
      assumed.push(end === 'source' ? PACKET_ASSUMED.noSource : PACKET_ASSUMED.noDestination)
      return '(no address)'
    }
    return a
  }
  const src = addr(p.src, 'source')
  const dst = addr(p.dst, 'destination')
  if (p.sport === EPHEMERAL_PORT || p.dport === EPHEMERAL_PORT) assumed.push(PACKET_ASSUMED.ephemeralPort)
  return {text: describePacket(p, src, dst), assumed: sharedAssumed(assumed)}
}

/** The few lists of PACKET_ASSUMED's sentences a packet can have, one object each (shared by every flow: never changed). */
const assumedLists = new Map<string, string[]>()
function sharedAssumed(assumed: string[]): string[] {
  if (assumed.length === 0) return assumed
  const key = assumed.join('\n')
  let shared = assumedLists.get(key)
  if (!shared) assumedLists.set(key, (shared = assumed))
  return shared
}
