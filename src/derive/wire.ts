/**
 * What the wire says about each guest interface (--listen), beside what its network can route
 * and which DHCP servers are its own: what guests sent, the DHCP answers they got, the client
 * ids they share. Facts for the rules that judge silence, offers, servers and addresses.
 */
import type {LeaseFacts} from '../../probes/leases.js'
import type {DomainInterface, LibvirtFacts} from '../../probes/libvirt.js'
import type {Link} from '../../probes/links.js'
import type {Route} from '../../probes/routes.js'
import type {WireFacts, WireInterface} from '../../probes/wire.js'
import type {WireRequests} from './wire-requests.js'
import {type Cidr, cidrContains, cidrToString, isApipa, parseCidr} from '../lib/ipv4.js'
import type {InterfaceView} from './types.js'
import {getOrCreate} from '../lib/collections.js'
import {type GivenOption, givenDhcpOptions} from '../lib/dnsmasq-options.js'

export interface WireContext {
  /** The IPv4 subnets the interface's network routes; empty when unknown (a bridge without host address). */
  subnets: Cidr[]
  /** The DHCP servers that belong there (a libvirt network's own addresses); null when not known (bridged LAN). */
  ownServers: string[] | null
  /** The subnets on its link (its network's own prefixes, not the ones routed through it); empty when unknown. */
  onLink: Cidr[]
  /** A libvirt network: every subnet of its link is known (a bridged LAN may carry others the host does not know). */
  segmentKnown: boolean
  /** A libvirt network without <forward>: nothing beyond its subnets is reachable. */
  isolated: boolean
  /** The gateway and DNS servers the host is for it (a libvirt network's addresses); empty when not the host's. */
  gateways: string[]
  dnsServers: string[]
  /** The bridge it is on, the host's MAC and addresses there. */
  bridge?: string
  hostMac?: string
  hostAddresses: string[]
  /** MACs its traffic leaving the subnet goes to: the host bridge's when the host is its gateway. */
  gatewayMacs: string[]
}

/** Addresses a guest sent from that its network cannot route: neither its subnets nor APIPA (none when the subnets are unknown). */
export function addressesOutside(w: WireInterface, subnets: Cidr[]): string[] {
  if (subnets.length === 0) return []
  return w.addresses.map((a) => a.ip).filter((ip) => !isApipa(ip) && !subnets.some((c) => cidrContains(c, ip)))
}

/** The subnets and own DHCP servers of a guest interface: its libvirt network's, else its host bridge's addresses and dhcpd.conf subnets. */
export function wireContextFor(
  iface: Pick<DomainInterface, 'type' | 'source' | 'bridge'>,
  libvirt: LibvirtFacts | undefined,
  links: Link[] | undefined,
  leases: LeaseFacts | undefined,
  routes?: Route[],
): WireContext {
  const context = ownWireContext(iface, libvirt, links, leases)
  // The host routes more through the bridge than its subnets: a network's <route>, a static route to a router guest.
  const bridge = context.bridge
  if (bridge && context.subnets.length > 0) {
    for (const r of routes ?? []) {
      if (r.family !== 'inet' || r.type !== 'unicast' || r.dst === 'default' || !(r.dev === bridge || r.nexthops.some((h) => h.dev === bridge))) continue
      const c = parseCidr(r.dst.includes('/') ? r.dst : `${r.dst}/32`)
      if (c && !context.subnets.some((x) => cidrToString(x) === cidrToString(c))) context.subnets.push(c)
    }
  }
  return context
}

function ownWireContext(iface: Pick<DomainInterface, 'type' | 'source' | 'bridge'>, libvirt: LibvirtFacts | undefined, links: Link[] | undefined, leases: LeaseFacts | undefined): WireContext {
  const network =
    iface.type === 'network'
      ? libvirt?.networks.find((n) => n.name === iface.source)
      : libvirt?.networks.find((n) => n.bridge !== undefined && n.bridge === (iface.source ?? iface.bridge))
  // A network-type interface names its network, not a bridge.
  const bridge = network?.bridge ?? (iface.type === 'network' ? iface.bridge : iface.source ?? iface.bridge)
  const link = bridge ? links?.find((l) => l.name === bridge) : undefined
  const hostAddresses = (link?.addresses ?? []).filter((a) => a.family === 'inet').map((a) => a.address)
  const host = {...(bridge ? {bridge} : {}), ...(link?.mac ? {hostMac: link.mac} : {})}
  if (network) {
    const v4 = network.ips.filter((ip) => ip.family === 'ipv4')
    const subnets = v4.map((ip) => parseCidr(`${ip.address}/${ip.prefix}`)).filter((c): c is Cidr => c !== undefined)
    // A network without a DHCP range has no server of its own: any that answers is someone's choice, not known to be rogue.
    const ownServers = v4.some((ip) => ip.dhcpRanges.length > 0 || ip.dhcpHosts.length > 0) ? v4.map((ip) => ip.address) : null
    const isolated = network.forwardMode === 'isolated'
    const addresses = v4.map((ip) => ip.address)
    // Unless the network's own dnsmasq options give others (or none).
    const given = givenDhcpOptions(network.dnsmasqOptions, addresses[0] ?? '')
    const givenAddresses = (o: GivenOption | undefined) => (o && 'addresses' in o ? o.addresses : undefined)
    return {
      subnets,
      ownServers,
      onLink: [...subnets],
      segmentKnown: true,
      isolated,
      // libvirt's dnsmasq hands out the network's address as router (none on an isolated network) and as DNS server,
      gateways: givenAddresses(given.router) ?? (isolated ? [] : addresses),
      dnsServers: givenAddresses(given.dnsServer) ?? (network.dnsEnabled ? addresses : []),
      ...host,
      hostAddresses: [...new Set([...hostAddresses, ...addresses])],
      gatewayMacs: link?.mac ? [link.mac] : [],
    }
  }
  const subnets = (link?.addresses ?? []).filter((a) => a.family === 'inet' && !isApipa(a.address)).map((a) => parseCidr(`${a.address}/${a.prefix}`)).filter((c): c is Cidr => c !== undefined)
  // The LAN's own server is not known from here; dhcpd.conf's subnets say what the LAN routes.
  for (const s of leases?.dhcpdConfigured ? leases.dhcpdSubnets : []) {
    const c = parseCidr(s)
    if (c && !subnets.some((x) => cidrToString(x) === cidrToString(c))) subnets.push(c)
  }
  // A bridged LAN's gateway and DNS are the LAN's: known only from the DHCP answers heard on it.
  return {subnets, ownServers: null, onLink: [...subnets], segmentKnown: false, isolated: false, gateways: [], dnsServers: [], ...host, hostAddresses, gatewayMacs: []}
}

const heardByMac = new WeakMap<WireFacts, Map<string, WireInterface>>()
/** The wire's account of one MAC, if it was listened to (indexed once: every guest interface asks). */
export function wireOf(wire: WireFacts | undefined, mac: string | undefined): WireInterface | undefined {
  if (!mac || !wire) return undefined
  // The first account of a MAC, as find() gave.
  return getOrCreate(heardByMac, wire, () => new Map([...wire.interfaces].reverse().map((i) => [i.mac, i]))).get(mac.toLowerCase())
}

/** One DHCP client id seen for a MAC, where (the bridge its server listens on; unknown for ISC dhcpd's leases) and how. */
export interface ClientIdSighting {
  id: string
  mac: string
  bridge?: string
  source: 'wire' | 'lease'
}

/**
 * DHCP client ids and the MACs that sent them (on the wire) or hold a lease with them: one id
 * behind several MACs is a cloned machine-id or DUID. dnsmasq's "*" (no id) is no id.
 */
export function clientIdOwners(wire: WireFacts | undefined, leases: LeaseFacts | undefined, bridgeOfMac: (mac: string) => string | undefined): ClientIdIndex {
  const index: ClientIdIndex = {byMac: new Map(), byId: new Map()}
  const add = (id: string, mac: string, bridge: string | undefined, source: 'wire' | 'lease') => {
    if (!id || id === '*') return
    const sighting: ClientIdSighting = {id: id.toLowerCase(), mac, ...(bridge ? {bridge} : {}), source}
    ;(index.byMac.get(mac) ?? index.byMac.set(mac, []).get(mac)!).push(sighting)
    ;(index.byId.get(sighting.id) ?? index.byId.set(sighting.id, []).get(sighting.id)!).push(sighting)
  }
  for (const l of leases?.leases ?? []) if (!l.expired && l.mac && l.clientId) add(l.clientId, l.mac.toLowerCase(), l.bridge, 'lease')
  for (const i of wire?.interfaces ?? []) for (const id of i.dhcp.clientIds) add(id, i.mac, bridgeOfMac(i.mac), 'wire')
  return index
}

/** Client id sightings by MAC and by id: every interface asks who shares its ids. */
export interface ClientIdIndex {
  byMac: Map<string, ClientIdSighting[]>
  byId: Map<string, ClientIdSighting[]>
}

/**
 * The other MACs sharing a client id with this one, on the same segment: "MAC (guest) via wire, lease".
 * Clones on two networks ask two servers, and no server sees the id twice; where a side's bridge is unknown, it may be either.
 */
export function clientIdSharers(owners: ClientIdIndex, mac: string, domainOfMac: (mac: string) => string | undefined): {ids: string[]; sharers: string[]} {
  const mine = mac.toLowerCase()
  const ids = new Set<string>()
  const sources = new Map<string, Set<'wire' | 'lease'>>()
  for (const a of owners.byMac.get(mine) ?? []) {
    for (const b of owners.byId.get(a.id) ?? []) {
      if (b.mac === mine || (a.bridge && b.bridge && a.bridge !== b.bridge)) continue
      ids.add(a.id)
      ;(sources.get(b.mac) ?? sources.set(b.mac, new Set()).get(b.mac)!).add(b.source)
    }
  }
  const sharers = [...sources].map(([other, via]) => {
    const domain = domainOfMac(other)
    return `${other}${domain ? ` (${domain})` : ''} via ${[...via].sort().join(', ')}`
  })
  return {ids: [...ids].sort(), sharers: sharers.sort()}
}

/** The wire facts of a guest interface view: null where it was not listened to. */
export function wireInterfaceAttributes(
  wire: WireFacts | undefined,
  iface: Pick<DomainInterface, 'type' | 'source' | 'bridge' | 'mac'>,
  running: boolean,
  context: WireContext,
  clientIds: {ids: string[]; sharers: string[]},
  requests: (heard: WireInterface) => WireRequests,
): Pick<
  InterfaceView,
  | 'listened' | 'listenSeconds' | 'wireSent' | 'wireCapped' | 'wireAddresses' | 'wireSubnets' | 'wireOnLink' | 'wireForeign' | 'dhcpDiscovers' | 'dhcpAnswers' | 'dhcpServersSeen' | 'dhcpOwnServers'
  | 'clientIds' | 'clientIdSharedWith' | 'wireRequests' | 'wireAnswersHeard'
> {
  const heard = running ? wireOf(wire, iface.mac) : undefined
  return {
    listened: heard !== undefined,
    listenSeconds: wire?.seconds ?? null,
    wireSent: heard?.sent ?? null,
    wireCapped: heard ? heard.capped : null,
    wireAddresses: heard?.addresses.map((a) => `${a.ip} (${a.via.join(', ')})`) ?? [],
    wireSubnets: context.subnets.map(cidrToString),
    wireOnLink: context.onLink.map(cidrToString),
    wireForeign: heard ? addressesOutside(heard, context.subnets) : [],
    dhcpDiscovers: heard?.dhcp.discovers ?? null,
    dhcpAnswers: heard?.dhcp.answers.map((a) => ({server: a.server, serverMac: a.serverMac, message: a.message})) ?? [],
    dhcpServersSeen: heard ? [...new Set(heard.dhcp.answers.map((a) => `${a.server} (${a.serverMac})`))] : [],
    dhcpOwnServers: context.ownServers,
    clientIds: clientIds.ids,
    clientIdSharedWith: clientIds.sharers,
    // What it asks for, and who is there to answer (wire-requests.ts).
    wireRequests: heard ? requests(heard) : null,
    wireAnswersHeard: heard ? heard.answersHeard || null : false,
  }
}

/** Why a heard interface's answers are unknown (see wireAnswersHeard). */
export const WIRE_ANSWERS_UNHEARD = 'its tap was captured without the answers it gets, as kvmdoctor did before it took them: what comes back to it is not known'

