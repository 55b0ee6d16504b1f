/**
 * Facts for the second catalogue's host-setup patterns (failure-patterns.md, section E):
 * RA routes, IPv6 routed networks, rules that need br_netfilter, which service applied
 * its firewall rules last, a macvtap guest using a MAC it was not given, and iptables-nft
 * tables iptables-save cannot print. Pure functions over probe facts.
 */
import type {LibvirtDomain, LibvirtNetwork} from '../../probes/libvirt.js'
import type {LeaseFacts} from '../../probes/leases.js'
import type {NetfilterFacts} from '../../probes/netfilter.js'
import type {Neighbour} from '../../probes/neighbours.js'
import type {Route} from '../../probes/routes.js'
import type {ServiceEvent, ServiceFacts} from '../../probes/services.js'
import type {ArpScanFacts} from '../../probes/arpscan.js'
import {parseIp} from '../lib/addr.js'
import {answered} from './addresses.js'

const isGlobal6 = (ip: string) => {
  const p = parseIp(ip)
  // Link-local fe80::/10 and multicast ff00::/8 are no address a guest routes with.
  return p !== undefined && p.family === 6 && p.value >> 118n !== 0x3fan && p.value >> 120n !== 0xffn
}

/** Each MAC's global IPv6 address from the neighbour table (what IPv6 flows start from). */
export function ipv6AddressesByMac(neighbours: Neighbour[] | undefined): Map<string, string> {
  const byMac = new Map<string, string>()
  for (const n of neighbours ?? []) {
    if (!n.mac || byMac.has(n.mac) || !answered(n)) continue
    if (isGlobal6(n.ip)) byMac.set(n.mac, n.ip)
  }
  return byMac
}

/** Networks libvirt routes IPv6 for (it turns IPv6 forwarding on when it starts them), started or not: a failed net-start leaves them inactive. */
export function ipv6RoutedNetworks(networks: LibvirtNetwork[]): string[] {
  return networks.filter((n) => ['nat', 'route', 'open'].includes(n.forwardMode) && n.ips.some((ip) => ip.family === 'ipv6')).map((n) => n.name)
}

/** A device's RA-learned IPv6 routes (proto ra), as `ip -6 route` prints them. */
export function raRoutesOf(routes6: Route[] | undefined, dev: string): string[] {
  return (routes6 ?? []).filter((r) => r.family === 'inet6' && r.protocol === 'ra' && (r.dev === dev || r.nexthops.some((h) => h.dev === dev))).map((r) => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${dev} proto ra`)
}

const PHYSDEV_MATCH = /(^|\s)-m physdev(\s|$)/

/** iptables rules matching bridge ports (-m physdev): they see bridged frames only through br_netfilter. */
export function physdevRules(netfilter: NetfilterFacts | undefined): boolean {
  // The substring first: the pattern holds it, and most of a big host's tens of thousands of rules lack it.
  return (netfilter?.tables ?? []).some((t) => t.backend !== 'nft' && Object.values(t.chains).some((c) => c.rules.some((r) => r.text.includes('-m physdev') && PHYSDEV_MATCH.test(r.text))))
}

/** Module names from iptables' "Extension MASQUERADE revision 0 not supported, missing kernel module?" and its kin. */
export function modulesFromLogLines(lines: string[]): string[] {
  const names = new Set<string>()
  for (const line of lines) {
    const ext = /Extension (\S+) revision \d+ not supported/.exec(line) ?? /Couldn't load (?:match|target) `([^']+)'/.exec(line)
    if (ext) names.add(`xt_${ext[1]}`)
  }
  return [...names]
}

const when = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z')

/**
 * Firewall services that started or reloaded after the libvirt daemon last started: their rules
 * were applied after libvirt's, and a firewall that flushes on (re)load removed libvirt's.
 */
export function firewallAfterLibvirt(services: ServiceFacts | undefined): {events: string[]; libvirt: string | null} {
  if (!services) return {events: [], libvirt: null}
  const libvirtStarts = services.events.filter((e) => e.role === 'libvirt' && e.what === 'started')
  if (libvirtStarts.length === 0) return {events: [], libvirt: null}
  // The network daemon re-applies its rules when it starts: the latest start is what a later firewall event undoes.
  const libvirt = libvirtStarts.reduce((a, b) => (b.at > a.at ? b : a))
  const describe = (e: ServiceEvent) => `${e.service} ${e.what} ${when(e.at)} (${e.source})`
  const later = services.events.filter((e) => e.role === 'firewall' && e.at > libvirt.at)
  return {events: later.map(describe), libvirt: describe(libvirt)}
}

/**
 * A macvtap guest answering from a MAC it was not given: an address its own MAC held (leases, the
 * neighbour table, arp-scan) now answered by a MAC of no defined guest. Without
 * trustGuestRxFilters the macvtap device drops frames to that MAC.
 */
export function macChangesOf(
  iface: LibvirtDomain['interfaces'][number],
  leases: LeaseFacts | undefined,
  neighbours: Neighbour[] | undefined,
  arpScan: ArpScanFacts | undefined,
  configuredMacs: Set<string>,
): string[] {
  if (iface.type !== 'direct' || !iface.mac) return []
  const mac = iface.mac
  const own = new Set<string>([
    // An expired lease proves nothing: its address may belong to another machine by now.
    ...(leases?.leases ?? []).filter((l) => l.mac === mac && !l.expired).map((l) => l.ip),
    ...(neighbours ?? []).filter((n) => n.mac === mac && answered(n)).map((n) => n.ip),
    ...(arpScan?.replies ?? []).filter((r) => r.mac === mac).map((r) => r.ip),
  ])
  const seen: string[] = []
  const live = (neighbours ?? []).filter(answered).map((n) => ({ip: n.ip, mac: n.mac, via: `neighbour table (${n.dev})`}))
  for (const s of [...live, ...(arpScan?.replies ?? []).map((r) => ({ip: r.ip, mac: r.mac, via: 'arp-scan'}))]) {
    if (s.mac && own.has(s.ip) && s.mac !== mac && !configuredMacs.has(s.mac)) seen.push(`${s.ip} answered by ${s.mac} (${s.via}), not by the configured ${mac}`)
  }
  return [...new Set(seen)]
}

/** iptables-nft tables iptables-save could not print: "# Table `nat' is incompatible, use 'nft' tool". */
export function incompatibleTables(netfilter: NetfilterFacts | undefined): string[] {
  return (netfilter?.tables ?? []).filter((t) => t.incompatible).map((t) => `${t.family} ${t.name}`)
}
