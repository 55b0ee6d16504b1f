/** The host entity: forwarding, default routes, conntrack, firewall backends, multi-homing, logs. */
import {cidrToString, parseCidr} from '../lib/ipv4.js'
import {iptablesChain, libvirtBackend, ruleCount} from './firewall.js'
import {type DeriveContext, isRunning} from './context.js'
import {firewallAfterLibvirt, incompatibleTables, ipv6RoutedNetworks, missingModules, modulesFromLogLines, neededModules} from './incidents.js'
import {moduleAvailable} from '../../probes/modules.js'
import type {EntityView} from './types.js'

export function hostView(ctx: DeriveContext): EntityView {
  const {netfilter, libvirt, host, routes, links} = ctx.facts
  const {networks, domains, defaultRoutes, sysctlValue, effective} = ctx
  const routedNetworks = networks.filter((n) => n.active && (n.forwardMode === 'nat' || n.forwardMode === 'route'))
  const routedGuests = new Set(routedNetworks.flatMap((n) => [...(ctx.guestsByNetwork.running.get(n.name) ?? [])])).size
  const metrics = defaultRoutes.map((r) => r.metric)
  const conntrackCount = sysctlValue('net.netfilter.nf_conntrack_count')
  const conntrackMax = sysctlValue('net.netfilter.nf_conntrack_max')
  // Interfaces that carry the host's own IPv4 (no bridge ports, no loopback).
  const l3Links = (links ?? []).filter((l) => !l.master && l.kind !== 'loopback' && l.addresses.some((a) => a.family === 'inet' && a.scope === 'global'))
  const globalV4 = (l: (typeof l3Links)[number]) => l.addresses.filter((a) => a.family === 'inet' && a.scope === 'global')
  const arpFluxPairs: string[] = []
  for (let i = 0; i < l3Links.length; i++) {
    for (let j = i + 1; j < l3Links.length; j++) {
      const loose = [l3Links[i].name, l3Links[j].name].some((n) => effective(n, 'arp_ignore') === 0 && effective(n, 'arp_announce') === 0)
      if (!loose) continue
      for (const a of globalV4(l3Links[i])) {
        for (const b of globalV4(l3Links[j])) {
          const ca = parseCidr(`${a.address}/${a.prefix}`)
          const cb = parseCidr(`${b.address}/${b.prefix}`)
          if (ca && cb && ca.prefix === cb.prefix && ca.network === cb.network) arpFluxPairs.push(`${l3Links[i].name} ${a.address}/${a.prefix} and ${l3Links[j].name} ${b.address}/${b.prefix}`)
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
  const rpStrict = l3Links.filter((l) => effective(l.name, 'rp_filter') === 1)
  const mainBackend = netfilter?.iptablesVariant === 'legacy' ? 'iptables-legacy' : 'iptables-nft'
  // iptables-nft warns that legacy tables exist (empty ones too): when a legacy listing was there to
  // read and could not be (a gap, not an absent tool), whether they hold rules is unknown.
  const legacyGap = netfilter?.gaps.find((g) => /^ip6?tables-legacy-save:/.test(g))
  const legacyRulesUnknown = netfilter !== undefined && netfilter.legacyTablesWarning && !netfilter.tables.some((t) => t.backend === 'iptables-legacy') && legacyGap !== undefined
  const serviceOrder = firewallAfterLibvirt(ctx.facts.services)
  return {
    kind: 'host',
    name: ctx.hostname,
    context: {host: ctx.hostname},
    affectedGuests: routedGuests,
    ipForward: sysctlValue('net.ipv4.ip_forward'),
    routedNetworks: routedNetworks.map((n) => n.name),
    routedNetworkCount: routedNetworks.length,
    runningGuests: domains.filter(isRunning).length,
    routedGuests,
    defaultRouteCount: defaultRoutes.length,
    defaultRoutes: defaultRoutes.map((r) => `default${r.gateway ? ` via ${r.gateway}` : ''}${r.dev ? ` dev ${r.dev}` : ''} metric ${r.metric}`),
    defaultRouteSameMetric: new Set(metrics).size < metrics.length,
    bridgeNfCallIptables: sysctlValue('net.bridge.bridge-nf-call-iptables'),
    conntrackCount,
    conntrackMax,
    routedSubnets: routedNetworks.flatMap((n) => n.ips.filter((ip) => ip.family === 'ipv4').map((ip) => cidrToString(parseCidr(`${ip.address}/${ip.prefix}`) ?? {network: 0, prefix: 0}))),
    /** Main-table IPv4 default routes, first one first: the kernel prefers it among equal metrics. */
    defaultRouteList: defaultRoutes.map((r) => ({gateway: r.gateway ?? null, dev: r.dev ?? r.nexthops[0]?.dev ?? null, metric: r.metric})),
    uplinkCandidates: uplinkCandidates.map((l) => `${l.name} ${globalV4(l).map((a) => `${a.address}/${a.prefix}`).join(', ')}`),
    uplinkNames: uplinkCandidates.map((l) => l.name),
    knownGateways: knownGateways.map((r) => ({gateway: r.gateway!, dev: r.dev!, table: r.table})),
    multiHomed: ctx.defaultRouteDevs.length >= 2 || networks.some((n) => n.active && n.forwardMode === 'route'),
    rpStrictInterfaces: rpStrict.map((l) => `${l.name} (rp_filter ${effective(l.name, 'rp_filter')})`),
    rpStrictNames: rpStrict.map((l) => l.name),
    arpFluxPairs,
    arpFluxCount: arpFluxPairs.length,
    vhostNet: host ? host.vhostNet : null,
    kvmVirtioGuests,
    kvmVirtioGuestCount: kvmVirtioGuests.length,
    firewallBackend: netfilter ? libvirtBackend(netfilter) : null,
    firewallBackendSetting: libvirt?.firewallBackendSetting ?? null,
    iptablesVariant: netfilter?.iptablesVariant ?? null,
    legacyTablesWarning: netfilter?.legacyTablesWarning ?? false,
    /** Whether iptables-legacy-save could be read: without it the warning is the only sign of legacy rules. */
    legacyTablesListed: netfilter ? netfilter.tables.some((t) => t.backend === 'iptables-legacy') : false,
    legacyRuleCount: netfilter ? ruleCount(netfilter, 'iptables-legacy') : 0,
    legacyRulesKnown: legacyRulesUnknown ? null : true,
    ...(legacyRulesUnknown ? {unknownBecause: {legacyRulesKnown: `iptables-nft warns that legacy tables are present and ${legacyGap}`}} : {}),
    nftBackendRuleCount: netfilter ? ruleCount(netfilter, 'iptables-nft') : 0,
    mainRuleCount: netfilter ? ruleCount(netfilter, mainBackend) : 0,
    forwardPolicy: forwardChain?.base ? forwardChain.base.policy.toUpperCase() : null,
    logNoAddressAvailable: ctx.logLines('dhcp-no-address-available'),
    logConntrackFull: ctx.logLines('conntrack-table-full'),
    logAddressInUse: ctx.logLines('address-in-use'),
    logNftIncompatible: ctx.logLines('nft-incompatible'),
    logNetworkInUse: ctx.logLines('network-in-use'),
    dockerUserChain: Boolean(netfilter && iptablesChain(netfilter, 'DOCKER-USER')),
    ipv6RoutedNetworks: ipv6RoutedNetworks(networks),
    ipv6Forwarding: sysctlValue('net.ipv6.conf.all.forwarding'),
    firewallAfterLibvirt: serviceOrder.events,
    libvirtStarted: serviceOrder.libvirt,
    incompatibleTables: incompatibleTables(netfilter),
  }
}

/** Kernel modules netfilter needs for what this host runs (NAT networks without MASQUERADE, physdev rules), and which are missing. */
export function moduleFacts(ctx: DeriveContext, networks: EntityView[]): Record<string, unknown> {
  const {netfilter, modules} = ctx.facts
  const needed = neededModules(
    networks.map((n) => ({name: n.name, nat: n.active === true && n.forwardMode === 'nat', masquerade: n.masquerade as boolean | null})),
    netfilter ? libvirtBackend(netfilter) : null,
    netfilter,
  )
  const missing = missingModules(needed, modules)
  // A log line whose modules are all in the kernel now is history (modprobe ran since): no longer a fact.
  const moduleLogLines = ctx.logLines('netfilter-extension-missing').filter((line) => {
    const names = modulesFromLogLines([line])
    return !modules || names.length === 0 || !names.every((name) => moduleAvailable(modules, name) === true)
  })
  return {
    modulesMissing: missing.map((m) => `${m.anyOf.join(' or ')}: ${m.why}`),
    // The first name of each is what modprobe loads; names the logs ask for come too.
    modulesToLoad: [...new Set([...missing.map((m) => m.anyOf[0]), ...modulesFromLogLines(moduleLogLines)])],
    modulesMissingNetworks: [...new Set(missing.map((m) => m.network).filter((n): n is string => n !== undefined))],
    logModuleMissing: moduleLogLines,
  }
}
