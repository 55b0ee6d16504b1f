/** Network entities: libvirt networks with their DHCP pool, NAT, dnsmasq, firewall and address-space facts. */
import type {Lease} from '../../probes/leases.js'
import type {LibvirtNetwork} from '../../probes/libvirt.js'
import {groupBy} from '../lib/collections.js'
import {type Cidr, cidrToString, cidrsOverlap, intToIpv4, ipv4ToInt, parseCidr} from '../lib/ipv4.js'
import type {DeriveContext} from './context.js'
import {hasChecksumFill, libvirtBackend, libvirtRulesFor, masqueradeFor} from './firewall.js'
import type {EntityView} from './types.js'

export interface DhcpPool {
  /** Addresses in the network's DHCP ranges. */
  size: number
  /** Unexpired leases inside those ranges. */
  leasedInRange: number
  /** Unexpired leases on the network's bridge. */
  leases: Lease[]
  /** MACs holding an unexpired lease on the network's bridge. */
  holders: Set<string>
}

/** Each network's IPv4 DHCP pool and how much of it is leased, computed once per network. */
export function dhcpPools(ctx: DeriveContext): Map<string, DhcpPool> {
  const leasesByBridge = groupBy(ctx.facts.leases?.leases ?? [], (l) => l.bridge)
  return new Map(
    ctx.networks.map((n) => {
      const v4 = n.ips.find((ip) => ip.family === 'ipv4')
      const current = n.bridge ? (leasesByBridge.get(n.bridge) ?? []).filter((l) => !l.expired) : []
      const ranges = (v4?.dhcpRanges ?? [])
        .map((r) => ({start: ipv4ToInt(r.start), end: ipv4ToInt(r.end)}))
        .filter((r): r is {start: number; end: number} => r.start !== undefined && r.end !== undefined && r.end >= r.start)
      const inRange = (ip: string) => {
        const x = ipv4ToInt(ip)
        return x !== undefined && ranges.some((r) => x >= r.start && x <= r.end)
      }
      return [
        n.name,
        {
          size: ranges.reduce((sum, r) => sum + r.end - r.start + 1, 0),
          leasedInRange: current.filter((l) => inRange(l.ip)).length,
          leases: current,
          holders: new Set(current.map((l) => l.mac).filter((m): m is string => Boolean(m))),
        },
      ]
    }),
  )
}

export function networkViews(ctx: DeriveContext, pools: Map<string, DhcpPool>): EntityView[] {
  const {netfilter, processes, listeners, firewalld, routes, links} = ctx.facts
  // Every IPv4 address something answers from or holds a lease on: a widened DHCP range must stop short of them.
  const addressesInUse = new Set<string>([...ctx.addressesByMac.values()].flatMap((list) => list.map((a) => a.ip)))
  for (const l of links ?? []) for (const a of l.addresses) if (a.family === 'inet') addressesInUse.add(a.address)
  const dnsmasqByNetwork = groupBy(processes?.dnsmasq ?? [], (d) => d.libvirtNetwork)
  const libvirtDnsmasqPids = new Set((processes?.dnsmasq ?? []).filter((d) => d.libvirtNetwork).map((d) => d.pid))
  const backend = netfilter ? libvirtBackend(netfilter) : null
  const listenersUnknown = ctx.facts.probes.listeners && !ctx.facts.probes.listeners.ok ? ctx.facts.probes.listeners.error : 'listeners were not read'

  return ctx.networks.map((n) => {
    const ipv4 = n.ips.find((ip) => ip.family === 'ipv4')
    const subnet = ipv4 ? parseCidr(`${ipv4.address}/${ipv4.prefix}`) : undefined
    const definedGuests = [...(ctx.guestsByNetwork.defined.get(n.name) ?? [])].sort()
    const pool = pools.get(n.name)!
    const masq = subnet && netfilter ? masqueradeFor(netfilter, cidrToString(subnet)) : undefined
    const pids = dnsmasqByNetwork.get(n.name)?.map((d) => d.pid)
    const networkLeases = pool.leases
    const staleLeases = networkLeases.filter((l) => l.mac && !ctx.domainByMac.has(l.mac))
    const libvirtRules = n.bridge && netfilter ? libvirtRulesFor(n.bridge, netfilter) : null
    const servesDnsOrDhcp = n.dnsEnabled || (ipv4?.dhcpRanges.length ?? 0) > 0
    const conflicts = !listeners
      ? null
      : !servesDnsOrDhcp
        ? []
        : listeners
            .filter((l) => (l.port === 53 || l.port === 67) && !(l.pid !== undefined && libvirtDnsmasqPids.has(l.pid)))
            .filter((l) => (['0.0.0.0', '::', '*', ''].includes(l.address) && (l.iface === undefined || l.iface === n.bridge)) || l.address === ipv4?.address)
            .map((l) => `${l.process ?? 'unknown process'}${l.pid ? ` (pid ${l.pid})` : ''} on ${l.proto} ${l.address}${l.iface ? `%${l.iface}` : ''}:${l.port}`)
    const overlaps = subnet ? subnetOverlaps(subnet, n, routes ?? []) : []
    const zone = n.bridge && firewalld?.running ? firewalld.zones[n.bridge] : undefined
    return {
      kind: 'network',
      name: n.name,
      context: {host: ctx.hostname, network: n.name, bridge: n.bridge},
      affectedGuests: ctx.guestsByNetwork.running.get(n.name)?.size ?? 0,
      ...(conflicts === null ? {unknownBecause: {portConflictCount: listenersUnknown}} : {}),
      active: n.active,
      autostart: n.autostart,
      persistent: n.persistent,
      forwardMode: n.forwardMode,
      forwardDev: n.forwardDev ?? null,
      bridge: n.bridge ?? null,
      bridgeExists: links ? (n.bridge ? ctx.linkByName.has(n.bridge) : false) : null,
      subnet: subnet ? cidrToString(subnet) : null,
      gateway: ipv4?.address ?? null,
      prefix: ipv4?.prefix ?? null,
      dhcpRangeWidened: subnet && ipv4 ? widenedRange(subnet, ipv4.address, ipv4.dhcpRanges, addressesInUse) : null,
      dhcpEnabled: (ipv4?.dhcpRanges.length ?? 0) > 0,
      dhcpRanges: ipv4?.dhcpRanges.map((r) => `${r.start}-${r.end}`) ?? [],
      dhcpRangeSize: pool.size,
      dhcpServerRunning: processes ? pids !== undefined : null,
      dhcpServerEvidence: `no process with --conf-file=/var/lib/libvirt/dnsmasq/${n.name}.conf`,
      dhcpServerFix: `virsh net-destroy ${n.name} && virsh net-start ${n.name}`,
      dhcpServerNote: 'restarting the network respawns dnsmasq; running guests then need their taps re-attached (systemctl restart libvirtd)',
      dnsmasqPids: pids ?? [],
      masquerade: masq === undefined ? null : masq.length > 0,
      masqueradeRules: masq ?? [],
      definedGuests,
      definedGuestCount: definedGuests.length,
      runningGuests: ctx.guestsByNetwork.running.get(n.name)?.size ?? 0,
      autostartGuests: [...(ctx.guestsByNetwork.autostart.get(n.name) ?? [])].sort(),
      leases: networkLeases.length,
      leasesInRange: pool.leasedInRange,
      dhcpUsagePercent: pool.size > 0 ? Math.round((pool.leasedInRange / pool.size) * 100) : null,
      staleLeases: staleLeases.map((l) => `${l.ip} ${l.mac}${l.hostname ? ` (${l.hostname})` : ''}`),
      staleLeaseCount: staleLeases.length,
      staleLeaseReleases: n.bridge ? staleLeases.map((l) => `dhcp_release ${n.bridge} ${l.ip} ${l.mac}`) : [],
      forwardDevState: n.forwardDev ? (links ? (ctx.linkByName.has(n.forwardDev) ? 'present' : 'absent') : null) : 'none',
      forwardDevIsDefaultRoute: n.forwardDev ? ctx.defaultRouteDevs.includes(n.forwardDev) : null,
      defaultRouteDevs: ctx.defaultRouteDevs,
      routed: n.forwardMode === 'nat' || n.forwardMode === 'route',
      libvirtRules: libvirtRules ?? [],
      libvirtRulesPresent: libvirtRules === null ? null : libvirtRules.length > 0,
      firewallBackend: backend,
      checksumFill: netfilter && n.bridge ? hasChecksumFill(netfilter, n.bridge) : null,
      portConflicts: conflicts ?? [],
      portConflictCount: conflicts === null ? null : conflicts.length,
      subnetOverlaps: overlaps,
      subnetOverlapCount: overlaps.length,
      firewalldRunning: firewalld?.running ?? null,
      firewalldZone: zone === undefined ? null : zone ?? 'no zone',
    }
  })
}

/** Main-table routes over another device that cover part of the network's subnet. */
function subnetOverlaps(subnet: Cidr, n: LibvirtNetwork, routes: NonNullable<DeriveContext['facts']['routes']>): string[] {
  return routes
    .filter((r) => r.family === 'inet' && r.table === 'main' && r.type === 'unicast' && r.dst !== 'default' && r.dev !== n.bridge)
    .filter((r) => {
      const c = parseCidr(r.dst)
      return c !== undefined && c.prefix > 0 && cidrsOverlap(c, subnet)
    })
    .map((r) => `${r.dst} dev ${r.dev ?? '?'}${r.gateway ? ` via ${r.gateway}` : ''}`)
}

/**
 * The first DHCP range at twice its size: grown upwards, else downwards, within the subnet,
 * never over the gateway, the network or broadcast address, or an address in use outside it.
 * null when it cannot grow at all (the subnet itself is too small).
 */
export function widenedRange(subnet: Cidr, gateway: string, ranges: {start: string; end: string}[], inUse: Set<string>): {from: string; to: string; start: string; end: string} | null {
  const r = ranges[0]
  const start = r ? ipv4ToInt(r.start) : undefined
  const end = r ? ipv4ToInt(r.end) : undefined
  if (start === undefined || end === undefined || end < start) return null
  const first = subnet.network + 1
  const last = subnet.network + 2 ** (32 - subnet.prefix) - 2
  const blocked = (x: number) => x === ipv4ToInt(gateway) || inUse.has(intToIpv4(x))
  let grow = end - start + 1
  let newEnd = end
  while (grow > 0 && newEnd + 1 <= last && !blocked(newEnd + 1)) newEnd++, grow--
  let newStart = start
  while (grow > 0 && newStart - 1 >= first && !blocked(newStart - 1)) newStart--, grow--
  if (newStart === start && newEnd === end) return null
  return {from: `<range start='${r.start}' end='${r.end}'/>`, to: `<range start='${intToIpv4(newStart)}' end='${intToIpv4(newEnd)}'/>`, start: intToIpv4(newStart), end: intToIpv4(newEnd)}
}
