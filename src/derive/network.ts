/** Network views: libvirt networks with their DHCP pool, source NAT, dnsmasq, firewall and address-space facts. */
import type {Lease} from '../../probes/leases.js'
import type {LibvirtNetwork} from '../../probes/libvirt.js'
import type {Listener} from '../../probes/listeners.js'
import {type ProcessFacts, anyAnswers} from '../../probes/processes.js'
import {groupBy} from '../lib/collections.js'
import {type Cidr, cidrHas, cidrToString, ipv4ToInt, parseCidr, prefixRelation} from '../lib/ipv4.js'
import {type DeriveContext, isRunning} from './context.js'
import {hasChecksumFill, libvirtBackend, libvirtRulesFor, sourceNatRulesFor} from './firewall.js'
import type {NetworkView} from './types.js'
import {extraDhcpRanges} from '../lib/dnsmasq-options.js'

export interface DhcpPool {
  /** Addresses in the network's DHCP ranges. */
  size: number
  /** Unexpired leases inside those ranges. */
  leasedInRange: number
  /** Unexpired leases on the network's bridge. */
  leases: Lease[]
  /** MACs holding an unexpired lease on the network's bridge. */
  holders: Set<string>
  /** MACs a host entry (<host mac= ip=>) gives an address no other MAC's lease holds: dnsmasq answers them whatever the range holds. */
  reserved: Set<string>
  /** Why its leases are not all known (the lease probe failed, its status file unread or cut): the counts are a floor. */
  unread?: string
}

/** Each network's IPv4 DHCP pool and how much of it is leased, computed once per network. */
export function dhcpPools(ctx: DeriveContext): Map<string, DhcpPool> {
  const leasesByBridge = groupBy(ctx.facts.leases?.leases ?? [], (l) => l.bridge)
  return new Map(
    ctx.networks.map((n) => {
      const v4 = n.ips.find((ip) => ip.family === 'ipv4')
      const current = n.bridge ? (leasesByBridge.get(n.bridge) ?? []).filter((l) => !l.expired) : []
      // The network's own ranges and those its dnsmasq options add.
      const ranges = [...(v4?.dhcpRanges ?? []), ...extraDhcpRanges(n.dnsmasqOptions)]
        .map((r) => ({start: ipv4ToInt(r.start), end: ipv4ToInt(r.end)}))
        .filter((r): r is {start: number; end: number} => r.start !== undefined && r.end !== undefined && r.end >= r.start)
      const inRange = (ip: string) => {
        const x = ipv4ToInt(ip)
        return x !== undefined && ranges.some((r) => x >= r.start && x <= r.end)
      }
      const statusFile = n.bridge ? ctx.facts.leases?.files.find((f) => f.path.endsWith(`/${n.bridge}.status`) && f.error !== undefined) : undefined
      const unread = ctx.facts.leases === undefined ? 'the lease files could not be read' : statusFile ? statusFile.error : undefined
      return [
        n.name,
        {
          size: ranges.reduce((sum, r) => sum + r.end - r.start + 1, 0),
          leasedInRange: current.filter((l) => inRange(l.ip)).length,
          leases: current,
          holders: new Set(current.map((l) => l.mac).filter((m): m is string => Boolean(m))),
          reserved: new Set(
            (v4?.dhcpHosts ?? []).flatMap((h) => {
              const mac = h.mac?.toLowerCase()
              return mac && h.ip && !current.some((l) => l.ip === h.ip && l.mac !== mac) ? [mac] : []
            }),
          ),
          ...(unread !== undefined ? {unread} : {}),
        },
      ]
    }),
  )
}

/**
 * Whether a network's dnsmasq answers: not when the processes that hold its sockets (libvirt's dnsmasq runs as two, one
 * only runs the lease script), or all of them when the sockets are not known, are stopped or frozen; null when the
 * cgroup freezer of those still running could not be read.
 */
function dnsmasqAnswers(pids: number[], processes: ProcessFacts, listeners: Listener[] | null | undefined): boolean | null {
  if (!processes.stopped) return true
  const holders = pids.filter((pid) => listeners?.some((l) => l.pid === pid))
  return anyAnswers(holders.length > 0 ? holders : pids, processes)
}

export function networkViews(ctx: DeriveContext, pools: Map<string, DhcpPool>): NetworkView[] {
  const {netfilter, processes, listeners, firewalld, routes, links} = ctx.facts
  // Every IPv4 address something answers from or holds a lease on.
  const addressesInUse = new Set<string>([...ctx.addressesByMac.values()].flatMap((list) => list.map((a) => a.ip)))
  for (const l of links ?? []) for (const a of l.addresses) if (a.family === 'inet') addressesInUse.add(a.address)
  // Parsed once: every network filters them all (networks x addresses string parses otherwise).
  const inUse = [...addressesInUse].map((ip) => ({ip, n: ipv4ToInt(ip)}))
  // Grouped once: each network asked every domain for its taps (networks x domains otherwise).
  const runningTapsByNetwork = groupBy(
    ctx.domains.filter(isRunning).flatMap((d) => d.interfaces.flatMap((i) => (i.target ? [{domain: d.name, tap: i.target, network: ctx.ifaceNetwork(i)}] : []))),
    (t) => t.network,
  )
  const dnsmasqByNetwork = groupBy(processes?.dnsmasq ?? [], (d) => d.libvirtNetwork)
  const libvirtDnsmasqPids = new Set((processes?.dnsmasq ?? []).filter((d) => d.libvirtNetwork).map((d) => d.pid))
  const backend = netfilter ? libvirtBackend(netfilter) : null
  const listenersUnknown = ctx.facts.probes.listeners && !ctx.facts.probes.listeners.ok ? ctx.facts.probes.listeners.error : 'listeners were not read'
  const autostartUnread = ctx.facts.libvirt?.domainAutostartUnread

  return ctx.networks.map((n): NetworkView => {
    const ipv4 = n.ips.find((ip) => ip.family === 'ipv4')
    const subnet = ipv4 ? parseCidr(`${ipv4.address}/${ipv4.prefix}`) : undefined
    const definedGuests = [...(ctx.guestsByNetwork.defined.get(n.name) ?? [])].sort()
    const pool = pools.get(n.name)!
    const pids = dnsmasqByNetwork.get(n.name)?.map((d) => d.pid)
    const staleLeases = pool.leases.filter((l) => l.mac && !ctx.domainByMac.has(l.mac))
    const servesDnsOrDhcp = n.dnsEnabled || (ipv4?.dhcpRanges.length ?? 0) > 0
    const holders = !listeners
      ? null
      : !servesDnsOrDhcp
        ? []
        : listeners
            .filter((l) => (l.port === 53 || l.port === 67) && !(l.pid !== undefined && libvirtDnsmasqPids.has(l.pid)))
            .filter((l) => (['0.0.0.0', '::', '*', ''].includes(l.address) && (l.iface === undefined || l.iface === n.bridge)) || l.address === ipv4?.address)
    const conflicts = holders?.map((l) => `${l.process ?? 'unknown process'}${l.pid ? ` (pid ${l.pid})` : ''} on ${l.proto} ${l.address}${l.iface ? `%${l.iface}` : ''}:${l.port}`)
    const zone = n.bridge && firewalld?.running ? firewalld.zones[n.bridge] : undefined
    return {
      kind: 'network',
      name: n.name,
      context: {host: ctx.hostname, network: n.name, bridge: n.bridge},
      affectedGuests: ctx.guestsByNetwork.running.get(n.name)?.size ?? 0,
      ...(conflicts === undefined || autostartUnread ? {unknownBecause: {...(conflicts === undefined ? {portConflicts: listenersUnknown} : {}), ...(autostartUnread ? {guestAutostartRead: autostartUnread} : {})}} : {}),
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
      dhcpEnabled: (ipv4?.dhcpRanges.length ?? 0) > 0,
      dhcpRanges: [...(ipv4?.dhcpRanges.map((r) => `${r.start}-${r.end}`) ?? []), ...extraDhcpRanges(n.dnsmasqOptions).map((r) => `${r.start}-${r.end} (dnsmasq option)`)],
      dhcpRangeList: ipv4?.dhcpRanges.map((r) => ({start: r.start, end: r.end})) ?? [],
      dhcpRangeSize: pool.size,
      addressesInSubnet: subnet ? inUse.filter((a) => a.n !== undefined && cidrHas(subnet, a.n)).map((a) => a.ip) : [],
      // A stopped dnsmasq (kill -STOP, a debugger) holds its sockets and answers nothing: it serves no more than a dead one.
      dhcpServerRunning: processes ? pids !== undefined && dnsmasqAnswers(pids, processes, listeners) : null,
      dnsmasqPids: pids ?? [],
      dnsmasqStopped: pids && processes?.stopped ? processes.stopped.filter((p) => pids.includes(p.pid)) : [],
      sourceNatRules: subnet && netfilter ? sourceNatRulesFor(netfilter, cidrToString(subnet)) : null,
      definedGuests,
      runningGuests: ctx.guestsByNetwork.running.get(n.name)?.size ?? 0,
      portHolderPids: [...new Set((holders ?? []).flatMap((l) => (l.pid !== undefined ? [l.pid] : [])))].sort((a, b) => a - b),
      portHoldersKnown: (holders ?? []).every((l) => l.pid !== undefined),
      runningTaps: (runningTapsByNetwork.get(n.name) ?? []).map(({domain, tap}) => ({domain, tap})).sort((a, b) => a.domain.localeCompare(b.domain) || a.tap.localeCompare(b.tap)),
      autostartGuests: [...(ctx.guestsByNetwork.autostart.get(n.name) ?? [])].sort(),
      guestAutostartRead: autostartUnread ? null : true,
      leases: pool.leases.length,
      leasesInRange: pool.leasedInRange,
      staleLeases: staleLeases.map((l) => ({ip: l.ip, mac: l.mac!, hostname: l.hostname ?? null})),
      forwardDevState: n.forwardDev ? (links ? (ctx.linkByName.has(n.forwardDev) ? 'present' : 'absent') : null) : 'none',
      forwardDevIsDefaultRoute: n.forwardDev ? ctx.defaultRouteDevs.includes(n.forwardDev) : null,
      defaultRouteDevs: ctx.defaultRouteDevs,
      routed: n.forwardMode === 'nat' || n.forwardMode === 'route',
      libvirtRules: n.bridge && netfilter ? libvirtRulesFor(n.bridge, netfilter) : null,
      firewallBackend: backend,
      checksumFill: netfilter && n.bridge ? hasChecksumFill(netfilter, n.bridge) : null,
      portConflicts: conflicts ?? null,
      subnetOverlaps: subnet ? subnetOverlaps(subnet, n, routes ?? []) : [],
      firewalldRunning: firewalld?.running ?? null,
      firewalldZone: zone === undefined ? null : zone ?? 'no zone',
    }
  })
}

/**
 * Main-table routes over another device with the network's prefix or a wider one that holds it: the subnet is
 * in use elsewhere. A narrower route carved out of the subnet takes only some guests' addresses: the
 * datapath names it on those guests' flows (one judgement, not two).
 */
function subnetOverlaps(subnet: Cidr, n: LibvirtNetwork, routes: NonNullable<DeriveContext['facts']['routes']>): string[] {
  return routes
    .filter((r) => r.family === 'inet' && r.table === 'main' && r.type === 'unicast' && r.dst !== 'default' && r.dev !== n.bridge)
    .filter((r) => {
      const c = parseCidr(r.dst)
      return c !== undefined && c.prefix > 0 && prefixRelation(c, subnet) === 'covers'
    })
    .map((r) => `${r.dst} dev ${r.dev ?? '?'}${r.gateway ? ` via ${r.gateway}` : ''}`)
}
