/**
 * What each guest asks for on the wire (--listen), held against who is there to answer it: the
 * addresses it ARPs or solicits for and who holds them, where its frames go, the DNS servers it
 * queries and what comes back, the addresses it asks DHCP to keep, its IPv6 duplicate address
 * detection and the addresses it answers ARP for. Only heard and known facts: nothing is sent.
 * The views list what was asked and who could have answered; the rules decide what is wrong.
 */
import type {LeaseFacts} from '../../probes/leases.js'
import type {DomainInterface, LibvirtFacts} from '../../probes/libvirt.js'
import type {Link} from '../../probes/links.js'
import type {Neighbour} from '../../probes/neighbours.js'
import type {NeighbourAsk, WireFacts, WireInterface} from '../../probes/wire.js'
import {getOrCreate} from '../lib/collections.js'
import {cidrContains, cidrToString, isApipa} from '../lib/ipv4.js'
import {type GuestAddress, answered} from './addresses.js'
import type {WireContext} from './wire.js'

/** A neighbour asked again and again: at least this many requests ... */
export const MIN_ASKS_UNANSWERED = 2
/** ... spread over at least this long (an answer to the first one had that long to come). */
export const MIN_ASK_SPAN_S = 1
/** A DHCPREQUEST unanswered this long after it was first sent (and sent again) is met with silence. */
export const MIN_DHCP_SILENCE_S = 2

/** Who holds the addresses of one segment (a bridge), as the host knows them and the wire heard. */
export interface SegmentIndex {
  /** IPv4 address -> who holds it: "the host (virbr0)", "kdlab-web01 (lease)", "52:54:00:.. (answered ARP)". */
  ipv4Holders: Map<string, {mac?: string; who: string}[]>
  /** IPv6 address -> the MACs that advertised it on the segment (the host's own addresses included). */
  ipv6Claims: Map<string, Set<string>>
  /** Gateway and DNS servers the segment's DHCP servers hand out (heard in their answers). */
  dhcpRouters: string[]
  dhcpDnsServers: string[]
}

/** The bridge a guest interface is plugged into: its network's, or the host bridge it names. */
export function bridgeOfInterface(iface: Pick<DomainInterface, 'type' | 'source' | 'bridge'>, libvirt: LibvirtFacts | undefined): string | undefined {
  return iface.type === 'network' ? (libvirt?.networks.find((n) => n.name === iface.source)?.bridge ?? iface.bridge) : (iface.source ?? iface.bridge)
}

/**
 * One index per bridge: the host's addresses on it, unexpired leases served on it, the host's
 * neighbour entries on it, the addresses its guests were heard using, and every address someone
 * answered ARP for on its taps.
 */
export function segmentIndexes(input: {
  wire: WireFacts | undefined
  libvirt: LibvirtFacts | undefined
  links: Link[] | undefined
  leases: LeaseFacts | undefined
  neighbours: Neighbour[] | undefined
  /** The bridge each listened guest MAC is on. */
  bridgeOfMac: (mac: string) => string | undefined
  domainOfMac: (mac: string) => string | undefined
}): Map<string, SegmentIndex> {
  const {wire, libvirt, links, leases, neighbours, bridgeOfMac, domainOfMac} = input
  const indexes = new Map<string, SegmentIndex>()
  const indexOf = (bridge: string) => getOrCreate(indexes, bridge, () => ({ipv4Holders: new Map(), ipv6Claims: new Map(), dhcpRouters: [], dhcpDnsServers: []}))
  const name = (mac: string) => domainOfMac(mac) ?? mac
  const hold = (bridge: string, ip: string, holder: {mac?: string; who: string}) => {
    const list = getOrCreate(indexOf(bridge).ipv4Holders, ip, () => [])
    // One holder per MAC, named by the first (and best) source: the host, a lease, then what was heard.
    if (!list.some((h) => h.who === holder.who || (holder.mac !== undefined && h.mac === holder.mac))) list.push(holder)
  }
  // Only bridges a listened guest is on are asked about.
  const bridges = new Set((wire?.interfaces ?? []).map((i) => bridgeOfMac(i.mac)).filter((b): b is string => b !== undefined))
  for (const bridge of bridges) {
    const link = links?.find((l) => l.name === bridge)
    for (const a of link?.addresses ?? []) {
      if (a.family === 'inet') hold(bridge, a.address, {...(link?.mac ? {mac: link.mac} : {}), who: `the host (${bridge})`})
      else if (link?.mac) getOrCreate(indexOf(bridge).ipv6Claims, a.address, () => new Set()).add(link.mac)
    }
    for (const n of libvirt?.networks ?? []) {
      if (n.bridge !== bridge) continue
      for (const ip of n.ips) if (ip.family === 'ipv4') hold(bridge, ip.address, {...(link?.mac ? {mac: link.mac} : {}), who: `the host (${bridge})`})
    }
  }
  for (const l of leases?.leases ?? []) {
    if (l.expired || !l.mac) continue
    // ISC dhcpd's leases name no bridge: they may be any bridged LAN's.
    for (const bridge of l.bridge ? [l.bridge].filter((b) => bridges.has(b)) : bridges) hold(bridge, l.ip, {mac: l.mac.toLowerCase(), who: `${name(l.mac.toLowerCase())} (lease)`})
  }
  for (const n of neighbours ?? []) {
    if (!n.mac || !bridges.has(n.dev) || !answered(n) || !n.ip.includes('.')) continue
    hold(n.dev, n.ip, {mac: n.mac, who: `${name(n.mac)} (the host's neighbour table)`})
  }
  for (const i of wire?.interfaces ?? []) {
    const bridge = bridgeOfMac(i.mac)
    if (!bridge) continue
    const index = indexOf(bridge)
    for (const a of i.addresses) hold(bridge, a.ip, {mac: i.mac, who: `${name(i.mac)} (heard)`})
    for (const ask of i.arpAsked) for (const mac of ask.answeredBy) hold(bridge, ask.ip, {mac, who: `${name(mac)} (answered ARP)`})
    for (const c of i.contested) hold(bridge, c.ip, {mac: c.mac, who: `${name(c.mac)} (answered ARP)`})
    for (const na of i.ipv6.advertised) getOrCreate(index.ipv6Claims, na.ip, () => new Set()).add(na.mac)
    for (const a of i.dhcp.answers) {
      for (const r of a.routers ?? []) if (!index.dhcpRouters.includes(r)) index.dhcpRouters.push(r)
      for (const d of a.dnsServers ?? []) if (!index.dhcpDnsServers.includes(d)) index.dhcpDnsServers.push(d)
    }
  }
  return indexes
}

export interface UnansweredAsk {
  ip: string
  asks: number
  seconds: number
  /** Its own addresses it asked from. */
  from: string[]
  /** Who holds the address as the host knows it (and did not answer): empty when nobody does. */
  holders: string[]
}

export interface DnsUnanswered {
  server: string
  queries: number
  seconds: number
  /** Why it cannot answer, as far as the host can tell. */
  why: string
}

/** What a guest asked for and who answered, judged against its segment. */
export interface WireRequests {
  /** Neighbour addresses (IPv4 ARP, IPv6 solicitations) it asked for again and again, with no answer. */
  unanswered: UnansweredAsk[]
  /** Unanswered addresses on its subnet that nobody holds, while none of its traffic leaves the subnet: its gateway, most likely. */
  gatewayUnanswered: UnansweredAsk[]
  /** Whether any of its frames went to an address beyond its subnet. */
  leavesSubnet: boolean
  /** Addresses beyond its network's subnet it ARPed for directly, as if on its link (a prefix too short). */
  offSubnetAsked: string[]
  /** Addresses on its own subnet it sent to its gateway's MAC, as if beyond its link (a prefix too long). */
  onSubnetViaGateway: string[]
  /** DNS servers that never answered it. */
  dnsUnanswered: DnsUnanswered[]
  /** DHCPREQUESTs for an address outside its network (a lease remembered from elsewhere) and what followed. */
  dhcpForeign: {address: string; state: string; answer: string}[]
  /** IPv6 addresses it tried to take (duplicate address detection) that another MAC claims. */
  dadFailed: {ip: string; claimedBy: string[]}[]
  /** Addresses it answered ARP for that are not its own: whose they are. */
  answersForOthers: {ip: string; holders: string[]}[]
  /** Who would answer on its network: the gateway and DNS servers the host knows for it. */
  gateways: string[]
  dnsServers: string[]
}

/**
 * Judges one guest interface's requests. `ownAddresses` are the addresses the host knows it holds
 * (lease, guest agent): what it answers ARP for is its own when it is one of these or it sends from it.
 */
export function judgeRequests(w: WireInterface, ctx: WireContext, segment: SegmentIndex | undefined, ownAddresses: string[], domainOfMac: (mac: string) => string | undefined): WireRequests {
  const onLink = (ip: string) => ctx.onLink.some((c) => cidrContains(c, ip))
  const known = ctx.onLink.length > 0
  const holdersOf = (ip: string) => (segment?.ipv4Holders.get(ip) ?? []).filter((h) => h.mac !== w.mac)
  const gateways = [...new Set([...ctx.gateways, ...(segment?.dhcpRouters ?? [])])]
  const dnsServers = [...new Set([...ctx.dnsServers, ...(segment?.dhcpDnsServers ?? [])])]
  const repeated = (a: NeighbourAsk) => a.asks >= MIN_ASKS_UNANSWERED && a.lastAt - a.firstAt >= MIN_ASK_SPAN_S
  // Asked from an address of its own subnet: a guest wholly in another subnet sends from a foreign address, another judgement.
  const fromOwnSubnet = (a: NeighbourAsk) => a.from.some((f) => onLink(f))

  const unanswered: UnansweredAsk[] = [...w.arpAsked, ...w.ipv6.solicited]
    .filter((a) => a.answeredBy.length === 0 && repeated(a))
    .map((a) => ({ip: a.ip, asks: a.asks, seconds: round(a.lastAt - a.firstAt), from: a.from, holders: holdersOf(a.ip).map((h) => h.who)}))

  const leavesSubnet = known && w.ipv4Destinations.some((d) => !onLink(d.ip) && !isApipa(d.ip))
  const gatewayUnanswered = known && !leavesSubnet
    ? unanswered.filter((u) => u.ip.includes('.') && onLink(u.ip) && u.holders.length === 0 && u.from.some((f) => onLink(f)))
    : []

  const offSubnetAsked = known
    ? w.arpAsked.filter((a) => fromOwnSubnet(a) && !onLink(a.ip) && !isApipa(a.ip) && (ctx.segmentKnown || (a.answeredBy.length === 0 && repeated(a)))).map((a) => a.ip)
    : []

  // The gateway's MACs: the host bridge's when the host is the gateway, and whoever answered ARP for a gateway address.
  const gatewayMacs = new Set(ctx.gatewayMacs)
  for (const g of gateways) for (const h of segment?.ipv4Holders.get(g) ?? []) if (h.mac) gatewayMacs.add(h.mac)
  const hostAddresses = new Set(ctx.hostAddresses)
  const onSubnetViaGateway = known
    ? [...new Set(w.ipv4Destinations.filter((d) => gatewayMacs.has(d.mac) && onLink(d.ip) && !hostAddresses.has(d.ip) && !gateways.includes(d.ip)).map((d) => d.ip))]
    : []

  const dnsUnanswered: DnsUnanswered[] = []
  // Answers not captured (a recording made before they were): every query would look unanswered.
  for (const q of w.answersHeard ? w.dns : []) {
    if (q.answers > 0) continue
    const span = q.lastAt - q.firstAt
    if (q.errors.length === 0 && !(q.queries >= MIN_ASKS_UNANSWERED && span >= MIN_ASK_SPAN_S)) continue
    // The network's own server not answering is the host's (its DNS service), not the guest's choice.
    if (ctx.dnsServers.includes(q.server)) continue
    const why =
      q.errors.length > 0 ? `${q.errors.join('; ')}: no DNS server there`
      : known && onLink(q.server) && holdersOf(q.server).length === 0 ? 'nobody on its segment holds that address'
      : known && !onLink(q.server) && ctx.isolated ? `its network is isolated: nothing beyond ${ctx.onLink.map(cidrToString).join(', ')} is reachable`
      : known && !onLink(q.server) && !leavesSubnet ? 'none of its traffic leaves its subnet'
      : `no answer in ${round(span)} s`
    dnsUnanswered.push({server: q.server, queries: q.queries, seconds: round(span), why})
  }

  const dhcpForeign: WireRequests['dhcpForeign'] = []
  if (known) {
    for (const r of w.dhcp.requestsSeen) {
      // Selecting takes an offer: a foreign one is another DHCP server's offer, not a remembered lease.
      if (r.state === 'selecting' || onLink(r.address) || isApipa(r.address) || r.answer?.message === 'ack') continue
      const silent = !r.answer && r.sent >= 2 && r.lastAt - r.firstAt >= MIN_DHCP_SILENCE_S
      if (!r.answer && !silent) continue
      const answer = r.answer ? `NAK from ${r.answer.server} (${r.answer.serverMac})${r.answer.reason ? `: "${r.answer.reason}"` : ''}` : `no answer to ${r.sent} requests in ${round(r.lastAt - r.firstAt)} s`
      if (!dhcpForeign.some((f) => f.address === r.address && f.state === r.state && f.answer === answer)) dhcpForeign.push({address: r.address, state: r.state, answer})
    }
  }

  const dadFailed: WireRequests['dadFailed'] = []
  for (const d of w.ipv6.dad) {
    const others = [...(segment?.ipv6Claims.get(d.ip) ?? [])].filter((m) => m !== w.mac)
    if (others.length === 0 || dadFailed.some((x) => x.ip === d.ip)) continue
    dadFailed.push({ip: d.ip, claimedBy: others.sort().map((m) => (m === ctx.hostMac ? `the host (${ctx.bridge ?? 'its bridge'}, ${m})` : `${m}${domainOfMac(m) ? ` (${domainOfMac(m)})` : ''}`))})
  }

  // Its own: what it sends from, and what the host knows it holds. It answers for others when it
  // answers for an address someone else holds or one beyond its subnet, or for several nobody holds
  // (a whole range: proxy ARP); then every address it answers for and does not hold is another's.
  // A single address nobody else holds is a service address it carries (its VIP).
  // An address only ever its frames' IP source that someone else holds is traffic it forwards (a router, a proxy), not its own.
  const own = new Set([...w.addresses.filter((a) => a.via.includes('arp') || holdersOf(a.ip).length === 0).map((a) => a.ip), ...ownAddresses])
  const notOwn = w.arpAnsweredFor.filter((a) => !own.has(a.ip))
  const othersFor = notOwn.filter((a) => holdersOf(a.ip).length > 0 || (known && !onLink(a.ip)))
  const answersForOthers = othersFor.length > 0 || notOwn.length >= 2 ? notOwn.map((a) => ({ip: a.ip, holders: holdersOf(a.ip).map((h) => h.who)})) : []

  return {unanswered, gatewayUnanswered, leavesSubnet, offSubnetAsked, onSubnetViaGateway, dnsUnanswered, dhcpForeign, dadFailed, answersForOthers, gateways, dnsServers}
}

const round = (s: number) => Math.round(s * 10) / 10

/**
 * Every listened guest interface's requests, judged against its segment: the one reading diagnose's
 * views and `kvmdoctor ip` share. `addressesByMac` is the address index (leases and the guest agent
 * say what a guest holds: a neighbour entry may be a proxy's answer); `contextOf` its wire context.
 */
export function requestsOfGuests(input: {
  wire: WireFacts | undefined
  libvirt: LibvirtFacts | undefined
  links: Link[] | undefined
  leases: LeaseFacts | undefined
  neighbours: Neighbour[] | undefined
  addressesByMac: Map<string, GuestAddress[]>
  contextOf: (iface: DomainInterface) => WireContext
}): (iface: DomainInterface, heard: WireInterface) => WireRequests {
  const {wire, libvirt, links, leases, neighbours, addressesByMac, contextOf} = input
  const byMac = new Map<string, {domain: string; iface: DomainInterface}>()
  for (const d of libvirt?.domains ?? []) for (const i of d.interfaces) if (i.mac && !byMac.has(i.mac)) byMac.set(i.mac, {domain: d.name, iface: i})
  const domainOfMac = (mac: string) => byMac.get(mac)?.domain
  const bridgeOfMac = (mac: string) => {
    const i = byMac.get(mac)?.iface
    return i ? bridgeOfInterface(i, libvirt) : undefined
  }
  const segments = segmentIndexes({wire, libvirt, links, leases, neighbours, bridgeOfMac, domainOfMac})
  const heldBy = (mac: string) => (addressesByMac.get(mac) ?? []).filter((a) => a.source === 'lease' || a.source === 'agent').map((a) => a.ip)
  return (iface, heard) => judgeRequests(heard, contextOf(iface), segments.get(bridgeOfInterface(iface, libvirt) ?? ''), heldBy(heard.mac), domainOfMac)
}

/** The judgement in words, as `ip --json` and the diagnose entities show it. */
export interface RequestLabels {
  gateways: string[]
  dnsServers: string[]
  unanswered: string[]
  gatewayUnanswered: string[]
  offSubnetAsked: string[]
  onSubnetViaGateway: string[]
  dnsUnanswered: string[]
  dhcpForeign: string[]
  dadFailed: string[]
  answersForOthers: string[]
}

export function requestLabels(r: WireRequests): RequestLabels {
  const asked = (u: UnansweredAsk) => `${u.ip} (${u.asks} requests in ${u.seconds} s, no answer; ${u.holders.length > 0 ? `held by ${u.holders.join(', ')}` : 'nobody on its segment holds it'})`
  return {
    gateways: r.gateways,
    dnsServers: r.dnsServers,
    unanswered: r.unanswered.map(asked),
    gatewayUnanswered: r.gatewayUnanswered.map(asked),
    offSubnetAsked: r.offSubnetAsked,
    onSubnetViaGateway: r.onSubnetViaGateway,
    dnsUnanswered: r.dnsUnanswered.map((d) => `${d.server} (${d.queries} queries in ${d.seconds} s, no answer: ${d.why})`),
    dhcpForeign: r.dhcpForeign.map((f) => `${f.address} (${f.state}): ${f.answer}`),
    dadFailed: r.dadFailed.map((d) => `${d.ip} (claimed by ${d.claimedBy.join(', ')})`),
    answersForOthers: r.answersForOthers.map((a) => `${a.ip} (${a.holders.length > 0 ? a.holders.join(', ') : 'held by nobody the host knows'})`),
  }
}
