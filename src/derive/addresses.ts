/**
 * Who holds which IPv4 address: the one index `kvmdoctor ip` and diagnose both
 * read, the address-conflict entities, and APIPA sightings.
 */
import type {ApipaFacts} from '../../probes/apipa.js'
import type {ArpScanFacts} from '../../probes/arpscan.js'
import type {LeaseFacts} from '../../probes/leases.js'
import type {Link} from '../../probes/links.js'
import type {Neighbour} from '../../probes/neighbours.js'
import type {WireFacts} from '../../probes/wire.js'
import type {GuestAgentFacts} from '../../probes/guest-agent.js'
import {getOrCreate} from '../lib/collections.js'
import {cidrContains, parseCidr} from '../lib/ipv4.js'
import type {DeriveContext} from './context.js'
import type {AddressView, ApipaView} from './types.js'

/** VRRP/CARP virtual MACs legitimately move one address between hosts. */
const VRRP_MAC = /^00:00:5e:00:0[12]:/

export interface GuestAddress {
  ip: string
  source: 'lease' | 'neighbour' | 'arp-scan' | 'agent' | 'wire'
  /** Lease expiry (epoch seconds), when the source is a lease. */
  expiry?: number | null
}

/**
 * A neighbour entry a MAC's answer made: not one that failed or waits, nor a permanent one (the host's own setting:
 * where it sends, whoever holds the address) or a NOARP one (the device's own MAC).
 */
export const answered = (n: Neighbour): boolean => !n.state.some((st) => st === 'FAILED' || st === 'INCOMPLETE' || st === 'PERMANENT' || st === 'NOARP')

/**
 * Current IPv4 addresses by MAC, from every source the host has (the guest agent's when it was asked:
 * `kvmdoctor ip`). The host's own addresses (`links`): a guest's frame carrying one of those, or another
 * machine's address, only as its IP source (never in its ARP) while it ARPs from another address is
 * traffic it forwards (a router guest, proxy ARP), not an address of its own.
 */
export function guestAddressIndex(
  leases: LeaseFacts | undefined,
  neighbours: Neighbour[] | undefined,
  arpScan: ArpScanFacts | undefined,
  wire?: WireFacts,
  agent?: GuestAgentFacts,
  links?: Link[],
): Map<string, GuestAddress[]> {
  const index = new Map<string, GuestAddress[]>()
  const add = (mac: string | undefined, a: GuestAddress) => {
    if (!mac || !a.ip.includes('.')) return
    const list = getOrCreate(index, mac, () => [])
    if (!list.some((x) => x.ip === a.ip && x.source === a.source)) list.push(a)
  }
  for (const l of leases?.leases ?? []) if (!l.expired) add(l.mac, {ip: l.ip, source: 'lease', expiry: l.expiry})
  for (const n of neighbours ?? []) if (answered(n)) add(n.mac, {ip: n.ip, source: 'neighbour'})
  for (const r of arpScan?.replies ?? []) add(r.mac, {ip: r.ip, source: 'arp-scan'})
  // What a guest sent from, heard on its tap (--listen).
  const host = new Set((links ?? []).flatMap((l) => l.addresses.filter((a) => a.family === 'inet').map((a) => a.address)))
  const arpedBy = new Map<string, Set<string>>()
  for (const i of wire?.interfaces ?? []) for (const a of i.addresses) if (a.via.includes('arp')) getOrCreate(arpedBy, a.ip, () => new Set()).add(i.mac)
  const heldByAnother = (ip: string, mac: string) =>
    host.has(ip) || [...index].some(([m, list]) => m !== mac && list.some((x) => x.ip === ip)) || [...(arpedBy.get(ip) ?? [])].some((m) => m !== mac)
  for (const i of wire?.interfaces ?? []) {
    // A router sends from an address of its own too (one in its ARP); a clone sharing its only address with another does not forward.
    const ownElsewhere = (ip: string) => i.addresses.some((a) => a.ip !== ip && a.via.includes('arp'))
    for (const a of i.addresses) if (a.via.includes('arp') || !(heldByAnother(a.ip, i.mac) && ownElsewhere(a.ip))) add(i.mac, {ip: a.ip, source: 'wire'})
    // Another machine answering ARP for the guest's address, on the guest's own tap.
    for (const c of i.contested) add(c.mac, {ip: c.ip, source: 'wire'})
  }
  for (const list of Object.values(agent?.addresses ?? {})) for (const a of list) if (a.family === 'ipv4') add(a.mac, {ip: a.ip, source: 'agent'})
  return index
}

/**
 * Who claims each IPv4 address: the MACs the address index ties it to, with the sources that say so.
 * VRRP/CARP virtual MACs move one address between hosts on purpose and claim nothing.
 * `kvmdoctor ip` and diagnose both ask this.
 */
export function addressClaims(index: Map<string, GuestAddress[]>): Map<string, Map<string, Set<GuestAddress['source']>>> {
  const claims = new Map<string, Map<string, Set<GuestAddress['source']>>>()
  for (const [mac, list] of index) {
    if (VRRP_MAC.test(mac)) continue
    for (const a of list) getOrCreate(getOrCreate(claims, a.ip, () => new Map()), mac, () => new Set()).add(a.source)
  }
  return claims
}

/** The MACs claiming each address. */
export function addressClaimsByIp(index: Map<string, GuestAddress[]>): Map<string, Set<string>> {
  return new Map([...addressClaims(index)].map(([ip, byMac]) => [ip, new Set(byMac.keys())]))
}

/** One entity per address two MACs claim now (unexpired leases, live neighbour entries, arp-scan replies). */
export function addressViews(ctx: DeriveContext): AddressView[] {
  const subnets = ctx.networks.flatMap((n) => n.ips.filter((ip) => ip.family === 'ipv4').map((ip) => ({network: n, cidr: parseCidr(`${ip.address}/${ip.prefix}`)})))
  const owner = (mac: string) => ctx.domainByMac.get(mac)?.domain.name
  const views: AddressView[] = []
  for (const [ip, byMac] of ctx.claims) {
    if (byMac.size < 2) continue
    const network = subnets.find((s) => s.cidr && cidrContains(s.cidr, ip))?.network
    const macs = [...byMac.keys()].sort()
    const leaseMac = macs.find((m) => byMac.get(m)!.has('lease'))
    const otherMac = macs.find((m) => m !== leaseMac) ?? macs[1]
    views.push({
      kind: 'address',
      name: ip,
      context: {host: ctx.hostname, network: network?.name, bridge: network?.bridge, mac: leaseMac ?? macs[0]},
      affectedGuests: macs.filter((m) => owner(m)).length,
      ip,
      macCount: macs.length,
      claims: macs.map((m) => `${m}${owner(m) ? ` (${owner(m)})` : ''} via ${[...byMac.get(m)!].sort().join(', ')}`),
      network: network?.name ?? null,
      prefix: network?.ips.find((x) => x.family === 'ipv4')?.prefix ?? null,
      leaseMac: leaseMac ?? null,
      otherMac,
      otherDomain: owner(otherMac) ?? null,
    })
  }
  return views.sort((a, b) => a.name.localeCompare(b.name))
}

/** One entity per 169.254/16 address seen on a guest or a host interface. */
export function apipaViews(ctx: DeriveContext, apipa: ApipaFacts | undefined): ApipaView[] {
  if (!apipa) return []
  // A lease on file proves nothing about what the guest uses now; a reply from a real address does.
  const macsWithRealAddress = new Set(apipa.macsWithRealAddress)
  const views = new Map<string, ApipaView>()
  for (const s of apipa.sightings) {
    const owner = s.mac ? ctx.domainByMac.get(s.mac) : undefined
    const link = ctx.linkByName.get(s.dev)
    const bridge = link?.kind === 'bridge' ? link.name : link?.master ?? s.dev
    const network = owner?.iface.type === 'network' ? ctx.networkByName.get(owner.iface.source ?? '') : ctx.networkByBridge.get(bridge)
    const isHostAddress = s.source === 'host-address'
    // A second address that is real means DHCP (or static config) works on that interface.
    const alsoHasRealAddress = isHostAddress
      ? (link?.addresses ?? []).some((a) => a.family === 'inet' && !a.address.startsWith('169.254.') && a.scope === 'global')
      : s.mac !== undefined && macsWithRealAddress.has(s.mac)
    const name = owner ? `${owner.domain.name} ${s.ip}` : `${s.dev} ${s.ip}`
    const existing = views.get(name)
    if (existing) {
      existing.seenBy.push(s.source)
      continue
    }
    views.set(name, {
      kind: 'apipa',
      name,
      context: {host: ctx.hostname, domain: owner?.domain.name, network: network?.name, bridge, mac: s.mac, link: isHostAddress ? s.dev : undefined},
      affectedGuests: owner ? 1 : 0,
      ip: s.ip,
      dev: s.dev,
      mac: s.mac ?? null,
      domain: owner?.domain.name ?? null,
      onGuest: owner !== undefined || !isHostAddress,
      seenBy: [s.source],
      alsoHasRealAddress,
    })
  }
  return [...views.values()]
}
