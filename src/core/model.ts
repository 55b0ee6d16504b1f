/**
 * Joins probe facts into the entities rules are evaluated on (host, networks,
 * links, domains, APIPA sightings). All joins go through indexes by name,
 * MAC and bridge so the cost stays linear in the size of the host.
 */
import type {ApipaFacts} from '../../probes/apipa.js'
import type {HostFacts} from '../../probes/host.js'
import type {NetfilterFacts} from '../../probes/netfilter.js'
import type {LeaseFacts} from '../../probes/leases.js'
import type {LibvirtDomain, LibvirtFacts, LibvirtNetwork} from '../../probes/libvirt.js'
import type {Link} from '../../probes/links.js'
import type {ProcessFacts} from '../../probes/processes.js'
import type {Route} from '../../probes/routes.js'
import type {SysctlFacts} from '../../probes/sysctl.js'
import {type ProbeResult, dataOf as data} from '../../probes/types.js'
import type {ArpScanFacts} from '../../probes/arpscan.js'
import type {FirewalldFacts} from '../../probes/firewalld.js'
import type {LogFacts} from '../../probes/logs.js'
import type {Neighbour} from '../../probes/neighbours.js'
import {hasChecksumFill, iptablesChain, libvirtBackend, libvirtRulesFor, masqueradeFor, ruleCount} from './firewall.js'
import {type Cidr, cidrContains, cidrToString, cidrsOverlap, intToIpv4, ipv4ToInt, parseCidr} from '../lib/ipv4.js'
import {countRepeats, getOrCreate, groupBy} from './collections.js'
import {type DatapathDerivation, deriveDatapath, elementImpacts} from '../datapath/derive.js'
import type {Destination, Flow} from '../datapath/flows.js'

export type EntityKind = 'host' | 'network' | 'link' | 'domain' | 'interface' | 'apipa' | 'address' | 'dhcp-service' | 'element'

/** Names that relate a finding to others (for root-cause grouping and fix templates). */
export interface EntityContext {
  host?: string
  network?: string
  bridge?: string
  domain?: string
  mac?: string
  link?: string
}

export interface EntityView {
  kind: EntityKind
  name: string
  context: EntityContext
  /** Running guests this entity's failure would cut off (blast radius). */
  affectedGuests: number
  [attribute: string]: unknown
}

export interface Model {
  capturedAt: Date
  hostname: string
  probes: Record<string, ProbeResult>
  entities: Record<EntityKind, EntityView[]>
  /** Every running guest's flows through the host, or why they could not be followed. */
  datapath: DatapathDerivation
}

export interface ModelOptions {
  /** What stands for the internet in egress flows. */
  internet?: Destination
}


/** VRRP/CARP virtual MACs legitimately move one address between hosts. */
const VRRP_MAC = /^00:00:5e:00:0[12]:/

const RUNNING = new Set(['running', 'paused', 'idle', 'in shutdown', 'blocked'])
export const isRunning = (d: LibvirtDomain) => RUNNING.has(d.state)

export function buildModel(probes: Record<string, ProbeResult>, capturedAt: Date, options: ModelOptions = {}): Model {
  const host = data<HostFacts>(probes.host)
  const links = data<Link[]>(probes.links)
  const routes = data<Route[]>(probes.routes)
  const sysctl = data<SysctlFacts>(probes.sysctl)
  const netfilter = data<NetfilterFacts>(probes.netfilter)
  const libvirt = data<LibvirtFacts>(probes.libvirt)
  const leases = data<LeaseFacts>(probes.leases)
  const processes = data<ProcessFacts>(probes.processes)
  const apipa = data<ApipaFacts>(probes.apipa)
  const neighbours = data<Neighbour[]>(probes.neighbours)
  const arpScan = data<ArpScanFacts>(probes['arp-scan'])
  const firewalld = data<FirewalldFacts>(probes.firewalld)
  const logs = data<LogFacts>(probes.logs)
  /** The last few log lines proving a pattern, quoted as evidence. */
  const logLines = (id: string) => countRepeats((logs?.notable ?? []).filter((n) => n.id === id).map((n) => `${n.source}: ${n.line}`)).slice(-3)
  const sysctlValue = (key: string): number | null => (sysctl ? (sysctl.values[key] ?? null) : null)
  /** The kernel uses the larger of conf/all and conf/IF for rp_filter, arp_ignore and arp_announce. */
  const effective = (iface: string, name: string): number | null => {
    const all = sysctlValue(`net.ipv4.conf.all.${name}`)
    const own = sysctlValue(`net.ipv4.conf.${iface}.${name}`)
    return all === null && own === null ? null : Math.max(all ?? 0, own ?? 0)
  }
  const hostname = host?.hostname ?? 'localhost'
  const addressesByMac = guestAddressIndex(leases, neighbours, arpScan)
  // Who claims each address (VRRP MACs move addresses on purpose), and which DHCP ranges are full: the datapath asks.
  const claimsOf = addressClaimsByIp(addressesByMac)
  // Per network, once: is its DHCP range fully leased, and which MACs hold a lease in it.
  const pools = new Map<string, {full: boolean; holders: Set<string>}>()
  const poolOf = (network: string) => {
    let pool = pools.get(network)
    if (!pool) {
      const n = (libvirt?.networks ?? []).find((x) => x.name === network)
      const v4 = n?.ips.find((ip) => ip.family === 'ipv4')
      const current = n?.bridge && leases ? leases.leases.filter((l) => l.bridge === n.bridge && !l.expired) : []
      const ranges = (v4?.dhcpRanges ?? []).map((r) => ({start: ipv4ToInt(r.start) ?? 0, end: ipv4ToInt(r.end) ?? -1}))
      const size = ranges.reduce((sum, r) => sum + Math.max(0, r.end - r.start + 1), 0)
      const inRange = current.filter((l) => {
        const ip = ipv4ToInt(l.ip) ?? -1
        return ranges.some((r) => ip >= r.start && ip <= r.end)
      }).length
      pool = {full: size > 0 && inRange >= size, holders: new Set(current.map((l) => l.mac).filter((m): m is string => Boolean(m)))}
      pools.set(network, pool)
    }
    return pool
  }
  const poolFull = (network: string, mac: string): boolean => {
    const pool = poolOf(network)
    return pool.full && !pool.holders.has(mac)
  }
  const datapath = deriveDatapath(probes, {
    guestAddress: (mac) => addressesByMac.get(mac)?.find((a) => !a.ip.startsWith('169.254.'))?.ip,
    addressConflict: (mac) => addressesByMac.get(mac)?.find((a) => (claimsOf.get(a.ip)?.size ?? 0) > 1)?.ip,
    dhcpPoolFullFor: poolFull,
  }, options)
  const flows = datapath.ok ? datapath.datapath.flows : []
  const flowsByBridge = groupBy(flows, (f) => f.bridge)

  const linkByName = new Map((links ?? []).map((l) => [l.name, l]))
  const portsOf = groupBy(links ?? [], (l) => l.master)
  // Counted once per bridge: every one of a thousand taps asks for its bridge's count.
  const tapCountOf = new Map([...portsOf].map(([bridge, ports]) => [bridge, ports.filter((p) => p.kind === 'tap').length]))

  const networks = libvirt?.networks ?? []
  const domains = libvirt?.domains ?? []
  const networkByName = new Map(networks.map((n) => [n.name, n]))
  const networkByBridge = new Map(networks.filter((n) => n.bridge).map((n) => [n.bridge!, n]))

  /** Network (or bridge) each domain interface belongs to, resolved once. */
  const ifaceNetwork = (i: LibvirtDomain['interfaces'][number]) => (i.type === 'network' ? i.source : i.bridge ? networkByBridge.get(i.bridge)?.name : undefined)
  const runningGuestsByNetwork = new Map<string, Set<string>>()
  const definedGuestsByNetwork = new Map<string, Set<string>>()
  const autostartGuestsByNetwork = new Map<string, Set<string>>()
  const domainByMac = new Map<string, {domain: LibvirtDomain; iface: LibvirtDomain['interfaces'][number]}>()
  const add = (m: Map<string, Set<string>>, k: string, v: string) => getOrCreate(m, k, () => new Set<string>()).add(v)
  for (const d of domains) {
    for (const i of d.interfaces) {
      if (i.mac && !domainByMac.has(i.mac)) domainByMac.set(i.mac, {domain: d, iface: i})
      const net = ifaceNetwork(i)
      if (!net) continue
      add(definedGuestsByNetwork, net, d.name)
      if (isRunning(d)) add(runningGuestsByNetwork, net, d.name)
      if (d.autostart) add(autostartGuestsByNetwork, net, d.name)
    }
  }
  const runningGuests = domains.filter(isRunning).length
  const routedNetworks = networks.filter((n) => n.active && (n.forwardMode === 'nat' || n.forwardMode === 'route'))
  const routedGuests = new Set(routedNetworks.flatMap((n) => [...(runningGuestsByNetwork.get(n.name) ?? [])])).size

  const defaultRoutes = (routes ?? []).filter((r) => r.family === 'inet' && r.dst === 'default' && r.table === 'main' && r.type === 'unicast')
  const metrics = defaultRoutes.map((r) => r.metric)
  const defaultRouteDevs = [...new Set(defaultRoutes.flatMap((r) => [r.dev, ...r.nexthops.map((h) => h.dev)]).filter((d): d is string => Boolean(d)))]
  const backend = netfilter ? libvirtBackend(netfilter) : null
  const mainBackend = netfilter?.iptablesVariant === 'legacy' ? 'iptables-legacy' : 'iptables-nft'
  const conntrackCount = sysctlValue('net.netfilter.nf_conntrack_count')
  const conntrackMax = sysctlValue('net.netfilter.nf_conntrack_max')
  const conntrackRatio = conntrackCount !== null && conntrackMax ? conntrackCount / conntrackMax : null
  // Interfaces that carry the host's own IPv4 (no bridge ports, no loopback).
  const l3Links = (links ?? []).filter((l) => !l.master && l.kind !== 'loopback' && l.addresses.some((a) => a.family === 'inet' && a.scope === 'global'))
  const multiHomed = defaultRouteDevs.length >= 2 || networks.some((n) => n.active && n.forwardMode === 'route')
  const rpStrict = l3Links.filter((l) => effective(l.name, 'rp_filter') === 1).map((l) => `${l.name} (rp_filter ${effective(l.name, 'rp_filter')})`)
  const arpFluxPairs: string[] = []
  for (let i = 0; i < l3Links.length; i++) {
    for (let j = i + 1; j < l3Links.length; j++) {
      for (const a of l3Links[i].addresses.filter((x) => x.family === 'inet' && x.scope === 'global')) {
        for (const b of l3Links[j].addresses.filter((x) => x.family === 'inet' && x.scope === 'global')) {
          const ca = parseCidr(`${a.address}/${a.prefix}`)
          const cb = parseCidr(`${b.address}/${b.prefix}`)
          const loose = [l3Links[i].name, l3Links[j].name].some((n) => effective(n, 'arp_ignore') === 0 && effective(n, 'arp_announce') === 0)
          if (ca && cb && ca.prefix === cb.prefix && ca.network === cb.network && loose) arpFluxPairs.push(`${l3Links[i].name} ${a.address}/${a.prefix} and ${l3Links[j].name} ${b.address}/${b.prefix}`)
        }
      }
    }
  }
  // Where a default route would go: the host's own L3 interfaces that are not guest bridges.
  const uplinkCandidates = l3Links.filter((l) => l.kind !== 'bridge' && l.kind !== 'tap')
  // A default route kept in another table (a VPN's or a backup one) names a gateway we know.
  const knownGateways = (routes ?? []).filter((r) => r.family === 'inet' && r.dst === 'default' && r.table !== 'main' && r.type === 'unicast' && r.gateway && r.dev)
  const kvmVirtioGuests = domains.filter((d) => isRunning(d) && d.type === 'kvm' && d.interfaces.some((i) => i.model === 'virtio')).map((d) => d.name)
  const forwardChain = netfilter ? iptablesChain(netfilter, 'FORWARD') : undefined

  const hostView: EntityView = {
    kind: 'host',
    name: hostname,
    context: {host: hostname},
    affectedGuests: routedGuests,
    ipForward: sysctl ? (sysctl.values['net.ipv4.ip_forward'] ?? null) : null,
    routedNetworks: routedNetworks.map((n) => n.name),
    routedNetworkCount: routedNetworks.length,
    runningGuests,
    routedGuests,
    defaultRouteCount: defaultRoutes.length,
    defaultRoutes: defaultRoutes.map((r) => `default${r.gateway ? ` via ${r.gateway}` : ''}${r.dev ? ` dev ${r.dev}` : ''} metric ${r.metric}`),
    defaultRouteSameMetric: new Set(metrics).size < metrics.length,
    bridgeNfCallIptables: sysctlValue('net.bridge.bridge-nf-call-iptables'),
    conntrackCount,
    conntrackMax,
    conntrackRatio,
    conntrackPercent: conntrackRatio === null ? null : Math.floor(conntrackRatio * 100),
    conntrackHigh: conntrackRatio !== null && conntrackRatio >= 0.95,
    /** What to raise nf_conntrack_max to: twice the current maximum. */
    conntrackNewMax: conntrackMax === null ? null : conntrackMax * 2,
    routedSubnets: routedNetworks.flatMap((n) => n.ips.filter((ip) => ip.family === 'ipv4').map((ip) => cidrToString(parseCidr(`${ip.address}/${ip.prefix}`) ?? {network: 0, prefix: 0}))),
    /** Main-table IPv4 default routes, first one first: the kernel prefers it among equal metrics. */
    defaultRouteList: defaultRoutes.map((r) => ({gateway: r.gateway ?? null, dev: r.dev ?? r.nexthops[0]?.dev ?? null, metric: r.metric})),
    uplinkCandidates: uplinkCandidates.map((l) => `${l.name} ${l.addresses.filter((a) => a.family === 'inet' && a.scope === 'global').map((a) => `${a.address}/${a.prefix}`).join(', ')}`),
    uplinkNames: uplinkCandidates.map((l) => l.name),
    knownGateways: knownGateways.map((r) => ({gateway: r.gateway!, dev: r.dev!, table: r.table})),
    multiHomed,
    rpStrictInterfaces: rpStrict,
    rpStrictNames: l3Links.filter((l) => effective(l.name, 'rp_filter') === 1).map((l) => l.name),
    arpFluxPairs,
    arpFluxCount: arpFluxPairs.length,
    vhostNet: host ? host.vhostNet : null,
    kvmVirtioGuests,
    kvmVirtioGuestCount: kvmVirtioGuests.length,
    firewallBackend: backend,
    firewallBackendSetting: libvirt?.firewallBackendSetting ?? null,
    iptablesVariant: netfilter?.iptablesVariant ?? null,
    legacyTablesWarning: netfilter?.legacyTablesWarning ?? false,
    legacyRuleCount: netfilter ? ruleCount(netfilter, 'iptables-legacy') : 0,
    mainRuleCount: netfilter ? ruleCount(netfilter, mainBackend) : 0,
    // Both firewalls doing something. Without iptables-legacy-save, the warning is the only evidence.
    backendMismatch:
      netfilter?.iptablesVariant === 'nf_tables' &&
      ruleCount(netfilter, 'iptables-nft') > 0 &&
      (netfilter.tables.some((t) => t.backend === 'iptables-legacy') ? ruleCount(netfilter, 'iptables-legacy') > 0 : netfilter.legacyTablesWarning),
    forwardPolicy: forwardChain?.base ? forwardChain.base.policy.toUpperCase() : null,
    logNoAddressAvailable: logLines('dhcp-no-address-available'),
    logConntrackFull: logLines('conntrack-table-full'),
    logAddressInUse: logLines('address-in-use'),
    logNftIncompatible: logLines('nft-incompatible'),
    logNetworkInUse: logLines('network-in-use'),
    dockerUserChain: Boolean(netfilter && iptablesChain(netfilter, 'DOCKER-USER')),
  }

  // Every IPv4 address something answers from or holds a lease on: a widened DHCP range must stop short of them.
  const addressesInUse = new Set<string>([...addressesByMac.values()].flatMap((list) => list.map((a) => a.ip)))
  for (const l of links ?? []) for (const a of l.addresses) if (a.family === 'inet') addressesInUse.add(a.address)
  const dnsmasqByNetwork = groupBy(processes?.dnsmasq ?? [], (d) => d.libvirtNetwork)
  const libvirtDnsmasqPids = new Set((processes?.dnsmasq ?? []).filter((d) => d.libvirtNetwork).map((d) => d.pid))
  const leasesByBridge = groupBy(leases?.leases ?? [], (l) => l.bridge)

  const networkViews: EntityView[] = networks.map((n) => {
    const ipv4 = n.ips.find((ip) => ip.family === 'ipv4')
    const subnet = ipv4 ? parseCidr(`${ipv4.address}/${ipv4.prefix}`) : undefined
    const bridgeLink = n.bridge ? linkByName.get(n.bridge) : undefined
    const definedGuests = [...(definedGuestsByNetwork.get(n.name) ?? [])].sort()
    const running = runningGuestsByNetwork.get(n.name)?.size ?? 0
    const masq = subnet && netfilter ? masqueradeFor(netfilter, cidrToString(subnet)) : undefined
    const pids = dnsmasqByNetwork.get(n.name)?.map((d) => d.pid)
    const networkLeases = (n.bridge ? leasesByBridge.get(n.bridge) ?? [] : []).filter((l) => !l.expired)
    const ranges = (ipv4?.dhcpRanges ?? []).map((r) => ({start: ipv4ToInt(r.start) ?? 0, end: ipv4ToInt(r.end) ?? -1}))
    const inRange = (ip: string) => {
      const n = ipv4ToInt(ip)
      return n !== undefined && ranges.some((r) => n >= r.start && n <= r.end)
    }
    const leasesInRange = networkLeases.filter((l) => inRange(l.ip)).length
    const rangeSizeTotal = ipv4 ? ipv4.dhcpRanges.reduce((sum, r) => sum + rangeSize(r.start, r.end), 0) : 0
    const staleLeases = networkLeases.filter((l) => l.mac && !domainByMac.has(l.mac)).map((l) => `${l.ip} ${l.mac}${l.hostname ? ` (${l.hostname})` : ''}`)
    const forwardDevLink = n.forwardDev ? linkByName.get(n.forwardDev) : undefined
    const routed = n.forwardMode === 'nat' || n.forwardMode === 'route'
    const libvirtRules = n.bridge && netfilter ? libvirtRulesFor(n.bridge, netfilter) : null
    const servesDnsOrDhcp = n.dnsEnabled || (ipv4?.dhcpRanges.length ?? 0) > 0
    const conflicts = !processes?.listeners
      ? null
      : !servesDnsOrDhcp
        ? []
        : processes.listeners
            .filter((l) => (l.port === 53 || l.port === 67) && !(l.pid !== undefined && libvirtDnsmasqPids.has(l.pid)))
            .filter((l) => (['0.0.0.0', '::', '*', ''].includes(l.address) && (l.iface === undefined || l.iface === n.bridge)) || l.address === ipv4?.address)
            .map((l) => `${l.process ?? 'unknown process'}${l.pid ? ` (pid ${l.pid})` : ''} on ${l.proto} ${l.address}${l.iface ? `%${l.iface}` : ''}:${l.port}`)
    const overlaps = subnet
      ? (routes ?? [])
          .filter((r) => r.family === 'inet' && r.table === 'main' && r.type === 'unicast' && r.dst !== 'default' && r.dev !== n.bridge)
          .filter((r) => {
            const c = parseCidr(r.dst)
            return c !== undefined && c.prefix > 0 && cidrsOverlap(c, subnet)
          })
          .map((r) => `${r.dst} dev ${r.dev ?? '?'}${r.gateway ? ` via ${r.gateway}` : ''}`)
      : []
    const zone = n.bridge && firewalld?.running ? firewalld.zones[n.bridge] : undefined
    return {
      kind: 'network',
      name: n.name,
      context: {host: hostname, network: n.name, bridge: n.bridge},
      affectedGuests: running,
      active: n.active,
      autostart: n.autostart,
      persistent: n.persistent,
      forwardMode: n.forwardMode,
      forwardDev: n.forwardDev ?? null,
      bridge: n.bridge ?? null,
      bridgeExists: links ? bridgeLink !== undefined : null,
      subnet: subnet ? cidrToString(subnet) : null,
      gateway: ipv4?.address ?? null,
      prefix: ipv4?.prefix ?? null,
      dhcpRangeWidened: subnet && ipv4 ? widenedRange(subnet, ipv4.address, ipv4.dhcpRanges, addressesInUse) : null,
      dhcpEnabled: (ipv4?.dhcpRanges.length ?? 0) > 0,
      dhcpRanges: ipv4?.dhcpRanges.map((r) => `${r.start}-${r.end}`) ?? [],
      dhcpRangeSize: ipv4 ? ipv4.dhcpRanges.reduce((sum, r) => sum + rangeSize(r.start, r.end), 0) : 0,
      dhcpServerRunning: processes ? pids !== undefined : null,
      dhcpServerEvidence: `no process with --conf-file=/var/lib/libvirt/dnsmasq/${n.name}.conf`,
      dhcpServerFix: `virsh net-destroy ${n.name} && virsh net-start ${n.name}`,
      dhcpServerNote: 'restarting the network respawns dnsmasq; running guests then need their taps re-attached (systemctl restart libvirtd)',
      dnsmasqPids: pids ?? [],
      masquerade: masq === undefined ? null : masq.length > 0,
      masqueradeRules: masq ?? [],
      definedGuests,
      definedGuestCount: definedGuests.length,
      runningGuests: running,
      autostartGuests: [...(autostartGuestsByNetwork.get(n.name) ?? [])].sort(),
      leases: networkLeases.length,
      leasesInRange,
      dhcpUsagePercent: rangeSizeTotal > 0 ? Math.round((leasesInRange / rangeSizeTotal) * 100) : null,
      dhcpExhausted: rangeSizeTotal > 0 && leasesInRange >= rangeSizeTotal,
      dhcpNearlyFull: rangeSizeTotal > 0 && leasesInRange < rangeSizeTotal && leasesInRange / rangeSizeTotal >= 0.9,
      staleLeases,
      staleLeaseCount: staleLeases.length,
      staleLeaseReleases: n.bridge ? networkLeases.filter((l) => l.mac && !domainByMac.has(l.mac)).map((l) => `dhcp_release ${n.bridge} ${l.ip} ${l.mac}`) : [],
      forwardDevState: n.forwardDev ? (links ? (forwardDevLink ? 'present' : 'absent') : null) : 'none',
      forwardDevIsDefaultRoute: n.forwardDev ? defaultRouteDevs.includes(n.forwardDev) : null,
      defaultRouteDevs,
      routed,
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
      firewalldZoneWrong: firewalld?.running && n.active && n.bridge ? zone !== 'libvirt' : false,
    }
  })

  const linkViews: EntityView[] = (links ?? []).map((l) => {
    const net = networkByBridge.get(l.name) ?? (l.master ? networkByBridge.get(l.master) : undefined)
    const ports = portsOf.get(l.name) ?? []
    const guestPorts = ports.filter((p) => p.kind === 'tap' || p.kind === 'macvtap')
    const isDefaultRouteDev = defaultRoutes.some((r) => r.dev === l.name || r.nexthops.some((h) => h.dev === l.name))
    const isUplinkOfGuestBridge = Boolean(l.master) && l.kind !== 'tap' && (tapCountOf.get(l.master!) ?? 0) > 0
    const isActiveNetworkBridge = net !== undefined && net.bridge === l.name && net.active
    const matters = isActiveNetworkBridge || isUplinkOfGuestBridge || isDefaultRouteDev
    // An empty bridge reports NO-CARRIER and taps report UNKNOWN: both normal. So is a bridge
    // whose ports are still in STP listening/learning: that is stp-forward-delay, not a dead link.
    const stpTransition = ports.some((p) => p.portState === 'listening' || p.portState === 'learning')
    // A bridge has carrier through its ports: one whose ports are all set down lost it because of them (that is their finding).
    const carrierLost = l.kind === 'bridge' ? ports.some((p) => p.up) && !l.lowerUp && !stpTransition : l.kind !== 'tap' && (!l.lowerUp || l.operstate === 'DOWN')
    const isGuestBridge = l.kind === 'bridge' && (guestPorts.length > 0 || isActiveNetworkBridge)
    // Traffic the FORWARD chain sees from this bridge: routed for libvirt NAT/route networks, bridged frames (br_netfilter) otherwise.
    const routedNet = net && net.bridge === l.name && (net.forwardMode === 'nat' || net.forwardMode === 'route') ? net : undefined
    // What the datapath saw happen to the guests' traffic on this bridge in the forward path (routed, or bridged through br_netfilter).
    const forwardBlock = forwardBlockOn(flowsByBridge.get(l.name) ?? [])
    const bridgeNf = sysctlValue('net.bridge.bridge-nf-call-iptables')
    const portMtus = [...new Set(ports.map((p) => p.mtu))].sort((a, b) => a - b)
    const uplinks = ports.filter((p) => p.kind !== 'tap' && p.kind !== 'macvtap')
    // Lowering to the smallest MTU on the bridge never cuts anything off; raising needs every guest's consent.
    const mtuTarget = Math.min(l.mtu, ...ports.map((p) => p.mtu))
    const why = [isActiveNetworkBridge && `bridge of active network ${net!.name}`, isUplinkOfGuestBridge && `uplink of guest bridge ${l.master}`, isDefaultRouteDev && 'device of the default route'].filter(Boolean)
    return {
      kind: 'link',
      name: l.name,
      context: {host: hostname, link: l.name, bridge: l.kind === 'bridge' ? l.name : l.master, network: net?.name},
      affectedGuests: l.kind === 'bridge' ? guestPorts.length : l.master ? (tapCountOf.get(l.master) ?? 0) : isDefaultRouteDev ? routedGuests : 0,
      linkKind: l.kind,
      master: l.master ?? null,
      operstate: l.operstate,
      flags: l.flags.join(','),
      adminUp: l.up,
      carrierLost,
      down: !l.up || carrierLost,
      matters,
      mattersBecause: why.join(', '),
      portCount: ports.length,
      mtu: l.mtu,
      isGuestBridge,
      guestPortCount: guestPorts.length,
      plainBridge: l.kind === 'bridge' && !routedNet,
      bridgeNfCallIptables: bridgeNf,
      forwardVerdict: !datapath.ok || l.kind !== 'bridge' ? null : forwardBlock ? 'drop' : 'accept',
      forwardDecidedBy: forwardBlock?.decidedBy?.element?.text ?? (datapath.ok ? 'nothing on the forward path drops it' : null),
      forwardDrops: forwardBlock !== undefined,
      stpState: l.bridge?.stpState ?? null,
      forwardDelayCs: l.bridge?.forwardDelayCs ?? null,
      forwardDelaySeconds: l.bridge ? l.bridge.forwardDelayCs / 100 : null,
      // libvirt's stp='on' delay='0' comes out as the kernel's 2 s minimum: only more than that is a finding.
      stpDelayTooLong: l.kind === 'bridge' && isGuestBridge && (l.bridge?.stpState ?? 0) > 0 && (l.bridge?.forwardDelayCs ?? 0) > 200,
      portsInTransition: ports.filter((p) => p.portState === 'listening' || p.portState === 'learning').map((p) => `${p.name} (${p.portState})`),
      portMtus: ports.map((p) => `${p.name} ${p.mtu}`),
      mtuMismatch: l.kind === 'bridge' && isGuestBridge && (portMtus.length > 1 || uplinks.some((u) => u.mtu > l.mtu)),
      mtuTarget,
      mtuChanges: [l, ...ports].filter((p) => p.mtu > mtuTarget).map((p) => p.name),
      rpFilter: effective(l.name, 'rp_filter'),
    }
  })

  const domainViews: EntityView[] = domains.map((d) => {
    const nets = [...new Set(d.interfaces.map(ifaceNetwork).filter((n): n is string => Boolean(n)))]
    const addresses = [...new Set(d.interfaces.flatMap((i) => (i.mac ? addressesByMac.get(i.mac) ?? [] : []).map((a) => a.ip)))].sort()
    return {
      kind: 'domain',
      name: d.name,
      context: {host: hostname, domain: d.name, network: nets[0], mac: d.interfaces[0]?.mac, bridge: d.interfaces[0]?.bridge},
      affectedGuests: isRunning(d) ? 1 : 0,
      state: d.state,
      running: isRunning(d),
      autostart: d.autostart,
      interfaceCount: d.interfaces.length,
      networks: nets,
      guestAgentChannel: d.guestAgentChannel,
      domainType: d.type,
      /** IPv4 addresses its MACs hold now: unexpired leases, live neighbour entries, arp-scan replies. */
      addresses,
    }
  })

  const runningByMac = groupBy(
    domains.filter(isRunning).flatMap((d) => d.interfaces.map((i) => ({domain: d.name, mac: i.mac}))),
    (x) => x.mac,
  )
  const interfaceViews: EntityView[] = domains.flatMap((d) =>
    d.interfaces.map((i, index) => {
      const network = i.type === 'network' ? networkByName.get(i.source ?? '') : undefined
      const expectedBridge = i.type === 'bridge' ? i.source : network?.bridge ?? i.bridge
      const tap = i.target ? linkByName.get(i.target) : undefined
      const running = isRunning(d)
      return {
        kind: 'interface',
        name: `${d.name}/${i.target ?? i.mac ?? `net${index}`}`,
        context: {host: hostname, domain: d.name, network: ifaceNetwork(i), bridge: expectedBridge, mac: i.mac, link: i.target},
        affectedGuests: running ? 1 : 0,
        domain: d.name,
        running,
        type: i.type,
        source: i.source ?? null,
        mac: i.mac ?? null,
        target: i.target ?? null,
        linkState: i.linkState,
        expectedBridge: expectedBridge ?? null,
        // Only taps of running guests on a bridge can be checked against the link table, and only when
        // that table shows the bridge (or its network is down): otherwise we see another namespace.
        tapCheckable:
          running && links !== undefined && (i.type === 'network' || i.type === 'bridge') && i.target !== undefined && expectedBridge !== undefined &&
          (linkByName.has(expectedBridge) || network?.active === false),
        tapExists: tap !== undefined,
        tapMaster: tap?.master ?? null,
        tapAttached: tap !== undefined && tap.master === expectedBridge,
        macSharedWith: running && i.mac ? (runningByMac.get(i.mac) ?? []).filter((x) => x.domain !== d.name).map((x) => x.domain) : [],
        isDirect: i.type === 'direct',
      }
    }),
  )

  const dhcpServiceViews = dhcpServices(leases, processes, links, portsOf, hostname)
  const addressViews = addressClaims(leases, neighbours, arpScan, domainByMac, networks, hostname)

  const apipaViews: EntityView[] = apipaSightings(apipa, links, domainByMac, networkByBridge, networkByName, hostname)

  return {
    capturedAt,
    hostname,
    probes,
    entities: {host: [hostView], network: networkViews, link: linkViews, domain: domainViews, interface: interfaceViews, apipa: apipaViews, address: addressViews, 'dhcp-service': dhcpServiceViews, element: elementViews(flows, hostname)},
    datapath,
  }
}

/** A guest flow on a bridge stopped in the forward path (routed forward hook, or br_netfilter for bridged frames). */
function forwardBlockOn(flows: Flow[]): Flow | undefined {
  return flows.find((f) => f.verdict === 'fail' && f.decidedBy !== undefined && /netfilter forward/.test(f.decidedBy.name))
}

/** One entity per element that stops (or leaves undecided) guest flows: what the datapath rules are checked on. */
function elementViews(flows: Flow[], hostname: string): EntityView[] {
  return elementImpacts(flows).map(({element, verdict, hop, flows: hit}) => {
    const guests = [...new Set(hit.map((f) => f.guest))].sort()
    const bridges = [...new Set(hit.map((f) => f.bridge).filter((b): b is string => Boolean(b)))].sort()
    const networks = [...new Set(hit.map((f) => f.network).filter((n): n is string => Boolean(n)))].sort()
    return {
      kind: 'element' as const,
      name: element.text,
      context: {host: hostname, bridge: bridges[0], network: networks[0], domain: guests[0], link: element.device},
      affectedGuests: guests.length,
      elementId: element.id,
      elementKind: element.kind,
      verdict,
      hop: hop.name,
      detail: hop.detail,
      hook: element.hook ?? null,
      backend: element.backend ?? null,
      nfFamily: element.family ?? null,
      nfTable: element.nfTable ?? null,
      chain: element.chain ?? null,
      libvirtOwned: element.libvirtOwned ?? false,
      sysctlKey: element.sysctl?.key ?? null,
      routeTable: element.table ?? null,
      rulePriority: element.rulePriority ?? null,
      baseChain: element.baseChain ?? null,
      device: element.device ?? null,
      flows: hit.map((f) => `${f.guest} ${f.kind}: ${f.description}`),
      flowKinds: [...new Set(hit.map((f) => f.kind))].sort(),
      guests,
      bridges,
      networks,
      undo: element.undo,
      undecided: (hop.undecided ?? []).map((u) => `${u.rule}${u.note ? ` (${u.note})` : ''}: if it matches, ${u.ifMatches}; if not, ${u.ifNot}`),
    }
  })
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
  const blocked = (n: number) => n === ipv4ToInt(gateway) || inUse.has(intToIpv4(n))
  let grow = end - start + 1
  let newEnd = end
  while (grow > 0 && newEnd + 1 <= last && !blocked(newEnd + 1)) newEnd++, grow--
  let newStart = start
  while (grow > 0 && newStart - 1 >= first && !blocked(newStart - 1)) newStart--, grow--
  if (newStart === start && newEnd === end) return null
  return {from: `<range start='${r.start}' end='${r.end}'/>`, to: `<range start='${intToIpv4(newStart)}' end='${intToIpv4(newEnd)}'/>`, start: intToIpv4(newStart), end: intToIpv4(newEnd)}
}

function rangeSize(start: string, end: string): number {
  const a = ipv4ToInt(start)
  const b = ipv4ToInt(end)
  return a === undefined || b === undefined || b < a ? 0 : b - a + 1
}

function apipaSightings(
  apipa: ApipaFacts | undefined,
  links: Link[] | undefined,
  domainByMac: Map<string, {domain: LibvirtDomain; iface: LibvirtDomain['interfaces'][number]}>,
  networkByBridge: Map<string, LibvirtNetwork>,
  networkByName: Map<string, LibvirtNetwork>,
  hostname: string,
): EntityView[] {
  if (!apipa) return []
  const linkByName = new Map((links ?? []).map((l) => [l.name, l]))
  // A lease on file proves nothing about what the guest uses now; a reply from a real address does.
  const macsWithRealAddress = new Set(apipa.macsWithRealAddress)
  const views = new Map<string, EntityView>()
  for (const s of apipa.sightings) {
    const owner = s.mac ? domainByMac.get(s.mac) : undefined
    const link = linkByName.get(s.dev)
    const bridge = link?.kind === 'bridge' ? link.name : link?.master ?? s.dev
    const network = owner?.iface.type === 'network' ? networkByName.get(owner.iface.source ?? '') : networkByBridge.get(bridge)
    const isHostAddress = s.source === 'host-address'
    // A second address that is real means DHCP (or static config) works on that interface.
    const alsoHasRealAddress = isHostAddress
      ? (link?.addresses ?? []).some((a) => a.family === 'inet' && !a.address.startsWith('169.254.') && a.scope === 'global')
      : s.mac !== undefined && macsWithRealAddress.has(s.mac)
    const name = owner ? `${owner.domain.name} ${s.ip}` : `${s.dev} ${s.ip}`
    const existing = views.get(name)
    if (existing) {
      ;(existing.seenBy as string[]).push(s.source)
      continue
    }
    views.set(name, {
      kind: 'apipa',
      name,
      context: {host: hostname, domain: owner?.domain.name, network: network?.name, bridge, mac: s.mac, link: isHostAddress ? s.dev : undefined},
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

/**
 * Who claims each IPv4 address now: unexpired leases, live neighbour entries
 * and arp-scan replies. Two MACs for one address is a conflict.
 */
function addressClaims(
  leases: LeaseFacts | undefined,
  neighbours: Neighbour[] | undefined,
  arpScan: ArpScanFacts | undefined,
  domainByMac: Map<string, {domain: LibvirtDomain}>,
  networks: LibvirtNetwork[],
  hostname: string,
): EntityView[] {
  const claims = new Map<string, Map<string, Set<string>>>()
  for (const [mac, addresses] of guestAddressIndex(leases, neighbours, arpScan)) {
    if (VRRP_MAC.test(mac)) continue
    for (const a of addresses) {
      getOrCreate(getOrCreate(claims, a.ip, () => new Map<string, Set<string>>()), mac, () => new Set<string>()).add(a.source)
    }
  }
  const subnets = networks.flatMap((n) => n.ips.filter((ip) => ip.family === 'ipv4').map((ip) => ({network: n, cidr: parseCidr(`${ip.address}/${ip.prefix}`)})))
  const views: EntityView[] = []
  for (const [ip, byMac] of claims) {
    if (byMac.size < 2) continue
    const network = subnets.find((s) => s.cidr && cidrContains(s.cidr, ip))?.network
    const macs = [...byMac.keys()].sort()
    const leaseMac = macs.find((m) => byMac.get(m)!.has('lease'))
    const otherMac = macs.find((m) => m !== leaseMac) ?? macs[1]
    const owner = (mac: string) => domainByMac.get(mac)?.domain.name
    views.push({
      kind: 'address',
      name: ip,
      context: {host: hostname, network: network?.name, bridge: network?.bridge, mac: leaseMac ?? macs[0]},
      affectedGuests: macs.filter((m) => owner(m)).length,
      ip,
      macCount: macs.length,
      claims: macs.map((m) => `${m}${owner(m) ? ` (${owner(m)})` : ''} via ${[...byMac.get(m)!].sort().join(', ')}`),
      network: network?.name ?? null,
      prefix: network?.ips.find((ip) => ip.family === 'ipv4')?.prefix ?? null,
      leaseMac: leaseMac ?? null,
      otherMac,
      otherDomain: owner(otherMac) ?? null,
    })
  }
  return views.sort((a, b) => a.name.localeCompare(b.name))
}

export interface GuestAddress {
  ip: string
  source: 'lease' | 'neighbour' | 'arp-scan' | 'agent'
  /** Lease expiry (epoch seconds), when the source is a lease. */
  expiry?: number | null
}

/**
 * Who claims each IPv4 address: the MACs the address index ties it to. VRRP/CARP virtual MACs move
 * one address between hosts on purpose and claim nothing. `kvmdoctor ip` and diagnose both ask this.
 */
export function addressClaimsByIp(index: Map<string, GuestAddress[]>): Map<string, Set<string>> {
  const claims = new Map<string, Set<string>>()
  for (const [mac, list] of index) if (!VRRP_MAC.test(mac)) for (const a of list) getOrCreate(claims, a.ip, () => new Set<string>()).add(mac)
  return claims
}

/** Current IPv4 addresses by MAC, from every source the host has. */
export function guestAddressIndex(leases: LeaseFacts | undefined, neighbours: Neighbour[] | undefined, arpScan: ArpScanFacts | undefined): Map<string, GuestAddress[]> {
  const index = new Map<string, GuestAddress[]>()
  const add = (mac: string | undefined, a: GuestAddress) => {
    if (!mac || !a.ip.includes('.')) return
    const list = getOrCreate(index, mac, () => [])
    if (!list.some((x) => x.ip === a.ip && x.source === a.source)) list.push(a)
  }
  for (const l of leases?.leases ?? []) if (!l.expired) add(l.mac, {ip: l.ip, source: 'lease', expiry: l.expiry})
  for (const n of neighbours ?? []) if (!n.state.includes('FAILED') && !n.state.includes('INCOMPLETE')) add(n.mac, {ip: n.ip, source: 'neighbour'})
  for (const r of arpScan?.replies ?? []) add(r.mac, {ip: r.ip, source: 'arp-scan'})
  return index
}

/**
 * An external ISC dhcpd (the seed article's setup): configured in /etc/dhcp/dhcpd.conf.
 * It serves the host bridge whose address lies in one of its subnets.
 */
function dhcpServices(leases: LeaseFacts | undefined, processes: ProcessFacts | undefined, links: Link[] | undefined, portsOf: Map<string, Link[]>, hostname: string): EntityView[] {
  if (!leases?.dhcpdConfigured) return []
  const subnets = leases.dhcpdSubnets.map((s) => parseCidr(s)).filter((c): c is Cidr => c !== undefined)
  const served = (links ?? []).find((l) => l.addresses.some((a) => a.family === 'inet' && subnets.some((c) => cidrContains(c, a.address))))
  const guests = served ? (portsOf.get(served.name) ?? []).filter((p) => p.kind === 'tap').length : 0
  return [
    {
      kind: 'dhcp-service',
      name: 'isc-dhcp-server',
      context: {host: hostname, bridge: served?.name, link: served?.name},
      affectedGuests: guests,
      active: true,
      dhcpEnabled: true,
      dhcpRanges: leases.dhcpdSubnets,
      servedInterface: served?.name ?? null,
      dhcpServerRunning: processes ? processes.dhcpdRunning : null,
      dhcpServerEvidence: `no dhcpd process runs, yet /etc/dhcp/dhcpd.conf declares ${leases.dhcpdSubnets.join(', ')}`,
      dhcpServerFix: 'systemctl restart isc-dhcp-server && journalctl -u isc-dhcp-server -n 50',
      dhcpServerNote: 'without systemd: /etc/init.d/isc-dhcp-server restart, then read its log',
    },
  ]
}
