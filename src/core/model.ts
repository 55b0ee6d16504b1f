/**
 * Joins probe facts into the entities rules are evaluated on (host, networks,
 * links, domains, APIPA sightings). All joins go through indexes by name,
 * MAC and bridge so the cost stays linear in the size of the host.
 */
import type {ApipaFacts} from '../../probes/apipa.js'
import type {HostFacts} from '../../probes/host.js'
import {type IptablesRuleset, type IptRule, type IptablesFacts} from '../../probes/iptables.js'
import type {LeaseFacts, Lease} from '../../probes/leases.js'
import type {LibvirtDomain, LibvirtFacts, LibvirtNetwork} from '../../probes/libvirt.js'
import type {Link} from '../../probes/links.js'
import type {NftFacts} from '../../probes/nftables.js'
import type {ProcessFacts} from '../../probes/processes.js'
import type {Route} from '../../probes/routes.js'
import type {SysctlFacts} from '../../probes/sysctl.js'
import type {ProbeResult} from '../../probes/types.js'
import {type Cidr, cidrContains, cidrToString, intToIpv4, ipv4ToInt, parseCidr} from './ipv4.js'

export type EntityKind = 'host' | 'network' | 'link' | 'domain' | 'interface' | 'apipa'

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
}

const data = <T>(r: ProbeResult | undefined): T | undefined => (r?.ok ? (r.data as T) : undefined)

const RUNNING = new Set(['running', 'paused', 'idle', 'in shutdown', 'blocked'])
export const isRunning = (d: LibvirtDomain) => RUNNING.has(d.state)

export function buildModel(probes: Record<string, ProbeResult>, capturedAt: Date): Model {
  const host = data<HostFacts>(probes.host)
  const links = data<Link[]>(probes.links)
  const routes = data<Route[]>(probes.routes)
  const sysctl = data<SysctlFacts>(probes.sysctl)
  const iptables = data<IptablesFacts>(probes.iptables)
  const nft = data<NftFacts>(probes.nftables)
  const libvirt = data<LibvirtFacts>(probes.libvirt)
  const leases = data<LeaseFacts>(probes.leases)
  const processes = data<ProcessFacts>(probes.processes)
  const apipa = data<ApipaFacts>(probes.apipa)
  const hostname = host?.hostname ?? 'localhost'

  const linkByName = new Map((links ?? []).map((l) => [l.name, l]))
  const portsOf = new Map<string, Link[]>()
  for (const l of links ?? []) if (l.master) (portsOf.get(l.master) ?? portsOf.set(l.master, []).get(l.master)!).push(l)

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
  const add = (m: Map<string, Set<string>>, k: string, v: string) => (m.get(k) ?? m.set(k, new Set()).get(k)!).add(v)
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
  }

  const dnsmasqByNetwork = new Map<string, number[]>()
  for (const d of processes?.dnsmasq ?? []) if (d.libvirtNetwork) (dnsmasqByNetwork.get(d.libvirtNetwork) ?? dnsmasqByNetwork.set(d.libvirtNetwork, []).get(d.libvirtNetwork)!).push(d.pid)
  const nat = natIndex(iptables?.main, nft)
  const leasesByBridge = new Map<string, Lease[]>()
  for (const l of leases?.leases ?? []) if (l.bridge) (leasesByBridge.get(l.bridge) ?? leasesByBridge.set(l.bridge, []).get(l.bridge)!).push(l)

  const networkViews: EntityView[] = networks.map((n) => {
    const ipv4 = n.ips.find((ip) => ip.family === 'ipv4')
    const subnet = ipv4 ? parseCidr(`${ipv4.address}/${ipv4.prefix}`) : undefined
    const bridgeLink = n.bridge ? linkByName.get(n.bridge) : undefined
    const definedGuests = [...(definedGuestsByNetwork.get(n.name) ?? [])].sort()
    const running = runningGuestsByNetwork.get(n.name)?.size ?? 0
    const masq = subnet && (iptables || nft) ? nat.masqueradeFor(subnet) : undefined
    const pids = dnsmasqByNetwork.get(n.name)
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
      dhcpEnabled: (ipv4?.dhcpRanges.length ?? 0) > 0,
      dhcpRanges: ipv4?.dhcpRanges.map((r) => `${r.start}-${r.end}`) ?? [],
      dhcpRangeSize: ipv4 ? ipv4.dhcpRanges.reduce((sum, r) => sum + rangeSize(r.start, r.end), 0) : 0,
      dnsmasqRunning: processes ? pids !== undefined : null,
      dnsmasqPids: pids ?? [],
      masquerade: masq === undefined ? null : masq.length > 0,
      masqueradeRules: masq ?? [],
      definedGuests,
      definedGuestCount: definedGuests.length,
      runningGuests: running,
      autostartGuests: [...(autostartGuestsByNetwork.get(n.name) ?? [])].sort(),
      leases: (n.bridge ? leasesByBridge.get(n.bridge) ?? [] : []).filter((l) => !l.expired).length,
    }
  })

  const linkViews: EntityView[] = (links ?? []).map((l) => {
    const net = networkByBridge.get(l.name) ?? (l.master ? networkByBridge.get(l.master) : undefined)
    const ports = portsOf.get(l.name) ?? []
    const guestPorts = ports.filter((p) => p.kind === 'tap' || p.kind === 'macvtap')
    const isDefaultRouteDev = defaultRoutes.some((r) => r.dev === l.name || r.nexthops.some((h) => h.dev === l.name))
    const masterPorts = l.master ? portsOf.get(l.master) ?? [] : []
    const isUplinkOfGuestBridge = Boolean(l.master) && l.kind !== 'tap' && masterPorts.some((p) => p.kind === 'tap')
    const isActiveNetworkBridge = net !== undefined && net.bridge === l.name && net.active
    const matters = isActiveNetworkBridge || isUplinkOfGuestBridge || isDefaultRouteDev
    // An empty bridge reports NO-CARRIER and taps report UNKNOWN: both normal. So is a bridge
    // whose ports are still in STP listening/learning: that is stp-forward-delay, not a dead link.
    const stpTransition = ports.some((p) => p.portState === 'listening' || p.portState === 'learning')
    const carrierLost = l.kind === 'bridge' ? ports.length > 0 && !l.lowerUp && !stpTransition : l.kind !== 'tap' && (!l.lowerUp || l.operstate === 'DOWN')
    const why = [isActiveNetworkBridge && `bridge of active network ${net!.name}`, isUplinkOfGuestBridge && `uplink of guest bridge ${l.master}`, isDefaultRouteDev && 'device of the default route'].filter(Boolean)
    return {
      kind: 'link',
      name: l.name,
      context: {host: hostname, link: l.name, bridge: l.kind === 'bridge' ? l.name : l.master, network: net?.name},
      affectedGuests: l.kind === 'bridge' ? guestPorts.length : l.master ? (portsOf.get(l.master) ?? []).filter((p) => p.kind === 'tap').length : isDefaultRouteDev ? routedGuests : 0,
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
    }
  })

  const domainViews: EntityView[] = domains.map((d) => {
    const nets = [...new Set(d.interfaces.map(ifaceNetwork).filter((n): n is string => Boolean(n)))]
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
    }
  })

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
      }
    }),
  )

  const apipaViews: EntityView[] = apipaSightings(apipa, links, domainByMac, networkByBridge, networkByName, hostname)

  return {
    capturedAt,
    hostname,
    probes,
    entities: {host: [hostView], network: networkViews, link: linkViews, domain: domainViews, interface: interfaceViews, apipa: apipaViews},
  }
}

function rangeSize(start: string, end: string): number {
  const a = ipv4ToInt(start)
  const b = ipv4ToInt(end)
  return a === undefined || b === undefined || b < a ? 0 : b - a + 1
}

/** Finds source-NAT rules (iptables nat POSTROUTING and what it jumps to, or nft) covering a subnet. */
function natIndex(ipt: IptablesRuleset | undefined, nft: NftFacts | undefined) {
  const iptRules: IptRule[] = []
  if (ipt?.tables.nat) {
    const chains = ipt.tables.nat.chains
    const seen = new Set<string>()
    const visit = (name: string) => {
      if (seen.has(name) || !chains[name]) return
      seen.add(name)
      for (const r of chains[name].rules) {
        if (r.target === 'MASQUERADE' || r.target === 'SNAT') iptRules.push(r)
        else if (r.target && chains[r.target]) visit(r.target)
      }
    }
    visit('POSTROUTING')
  }
  const nftRules = (nft?.chains ?? []).flatMap((c) => c.rules.filter((r) => r.verdict === 'masquerade' || r.verdict === 'snat').map((r) => ({chain: c, rule: r})))
  const covers = (source: string | undefined, negated: boolean, subnet: Cidr) => {
    if (source === undefined) return true
    if (negated) return false
    const cidr = parseCidr(source)
    return cidr !== undefined && cidr.prefix <= subnet.prefix && cidrContains(cidr, intToIpv4(subnet.network))
  }
  return {
    masqueradeFor(subnet: Cidr): string[] {
      return [
        ...iptRules.filter((r) => covers(r.source, r.negated.includes('source'), subnet)).map((r) => `iptables -t nat ${r.text}`),
        ...nftRules.filter(({rule}) => covers(rule.saddr, rule.negated.includes('saddr'), subnet)).map(({chain, rule}) => `nft ${chain.family} ${chain.table} ${chain.name}: ${rule.summary}`),
      ]
    },
  }
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
