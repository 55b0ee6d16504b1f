/** The host view: forwarding, default routes, conntrack, firewall backends, multi-homing, kernel modules, logs. */
import {cidrToString, parseCidr} from '../lib/ipv4.js'
import {iptablesWords} from '../lib/netfilter.js'
import {iptablesChain, libvirtBackend, ruleCount} from './firewall.js'
import {type DeriveContext, isRunning} from './context.js'
import {firewallAfterLibvirt, incompatibleTables, ipv6RoutedNetworks, modulesFromLogLines, physdevRules} from './incidents.js'
import {moduleAvailable} from '../../probes/modules.js'
import type {HostView, NetworkView} from './types.js'
import {forwardsIpv4PerDevice} from '../lib/forwarding.js'
import {deviceKey} from '../lib/sysctl-key.js'

export function hostView(ctx: DeriveContext, networks: NetworkView[]): HostView {
  const {netfilter, libvirt, host, routes, links, modules} = ctx.facts
  const {networks: libvirtNetworks, domains, defaultRoutes, sysctlValue, effective} = ctx
  const routedNetworks = libvirtNetworks.filter((n) => n.active && (n.forwardMode === 'nat' || n.forwardMode === 'route'))
  const routedGuests = new Set(routedNetworks.flatMap((n) => [...(ctx.guestsByNetwork.running.get(n.name) ?? [])])).size
  // Interfaces that carry the host's own IPv4 (no bridge ports, no loopback).
  const l3Links = (links ?? []).filter((l) => !l.master && l.kind !== 'loopback' && l.addresses.some((a) => a.family === 'inet' && a.scope === 'global'))
  const globalV4 = (l: (typeof l3Links)[number]) => l.addresses.filter((a) => a.family === 'inet' && a.scope === 'global')
  const sharedSubnets: HostView['sharedSubnets'] = []
  const holder = (name: string, a: {address: string; prefix: number}) => ({name, cidr: `${a.address}/${a.prefix}`, arpIgnore: effective(name, 'arp_ignore'), arpAnnounce: effective(name, 'arp_announce')})
  for (let i = 0; i < l3Links.length; i++) {
    for (let j = i + 1; j < l3Links.length; j++) {
      for (const a of globalV4(l3Links[i])) {
        for (const b of globalV4(l3Links[j])) {
          const ca = parseCidr(`${a.address}/${a.prefix}`)
          const cb = parseCidr(`${b.address}/${b.prefix}`)
          if (ca && cb && ca.prefix === cb.prefix && ca.network === cb.network) sharedSubnets.push({a: holder(l3Links[i].name, a), b: holder(l3Links[j].name, b)})
        }
      }
    }
  }
  // Where a default route would go: the host's own L3 interfaces that are not guest bridges.
  const uplinkCandidates = l3Links.filter((l) => l.kind !== 'bridge' && l.kind !== 'tap')
  // A default route kept in another table (a VPN's or a backup one) names a gateway we know.
  const knownGateways = (routes ?? []).filter((r) => r.family === 'inet' && r.dst === 'default' && r.table !== 'main' && r.type === 'unicast' && r.gateway && r.dev)
  const forwardChain = netfilter ? iptablesChain(netfilter, 'FORWARD') : undefined
  const mainBackend = netfilter?.iptablesVariant === 'legacy' ? 'iptables-legacy' : 'iptables-nft'
  // iptables-nft warns that legacy tables exist (empty ones too): when a legacy listing was there to
  // read and could not be (a gap, not an absent tool), whether they hold rules is unknown.
  const legacyGap = netfilter?.gaps.find((g) => /^ip6?tables-legacy-save:/.test(g))
  const l3Interfaces = l3Links.map((l) => ({name: l.name, rpFilter: effective(l.name, 'rp_filter')}))
  // No interface known strict and one unknown: whether any is strict cannot be told.
  const rpFilterUnknown = ctx.facts.sysctl !== undefined && !l3Interfaces.some((i) => i.rpFilter === 1) && l3Interfaces.some((i) => i.rpFilter === null)
  const rpFilterUnread = Object.entries(ctx.facts.sysctl?.unreadable ?? {}).filter(([k]) => k.endsWith('.rp_filter')).map(([, why]) => why)
  const legacyRulesUnknown = netfilter !== undefined && netfilter.legacyTablesWarning && !netfilter.tables.some((t) => t.backend === 'iptables-legacy') && legacyGap !== undefined
  const serviceOrder = firewallAfterLibvirt(ctx.facts.services)
  // A log line whose modules are all in the kernel now is history (modprobe ran since): no longer a fact.
  const moduleLogLines = ctx.logLines('netfilter-extension-missing').filter((line) => {
    const names = modulesFromLogLines([line])
    return !modules || names.length === 0 || !names.every((name) => moduleAvailable(modules, name) === true)
  })
  // Routed networks whose bridge is not known to forward on its own key (what arrives there is routed by that key).
  const notForwarding = routedNetworks.filter((n) => !n.bridge || sysctlValue(deviceKey('ipv4', n.bridge, 'forwarding')) !== 1)
  return {
    kind: 'host',
    name: ctx.hostname,
    context: {host: ctx.hostname},
    affectedGuests: routedGuests,
    ipForward: sysctlValue('net.ipv4.ip_forward'),
    routedNetworks: routedNetworks.map((n) => n.name),
    routedNetworksNotForwarding: notForwarding.map((n) => n.name),
    routedBridgesNotForwarding: notForwarding.flatMap((n) => (n.bridge ? [n.bridge] : [])),
    forwardsPerDevice: forwardsIpv4PerDevice(ctx.facts.sysctl?.values ?? {}),
    runningGuests: domains.filter(isRunning).length,
    routedGuests,
    defaultRoutes: defaultRoutes.map((r) => `default${r.gateway ? ` via ${r.gateway}` : ''}${r.dev ? ` dev ${r.dev}` : ''} metric ${r.metric}`),
    defaultRouteList: defaultRoutes.map((r) => ({gateway: r.gateway ?? null, dev: r.dev ?? r.nexthops[0]?.dev ?? null, metric: r.metric})),
    bridgeNfCallIptables: ctx.bridgeNfCallIptables,
    conntrackCount: sysctlValue('net.netfilter.nf_conntrack_count'),
    conntrackMax: sysctlValue('net.netfilter.nf_conntrack_max'),
    conntrackBuckets: sysctlValue('net.netfilter.nf_conntrack_buckets'),
    routedSubnets: routedNetworks.flatMap((n) => n.ips.filter((ip) => ip.family === 'ipv4').map((ip) => cidrToString(parseCidr(`${ip.address}/${ip.prefix}`) ?? {network: 0, prefix: 0}))),
    uplinkCandidates: uplinkCandidates.map((l) => `${l.name} ${globalV4(l).map((a) => `${a.address}/${a.prefix}`).join(', ')}`),
    uplinkNames: uplinkCandidates.map((l) => l.name),
    knownGateways: knownGateways.map((r) => ({gateway: r.gateway!, dev: r.dev!, table: r.table})),
    multiHomed: ctx.defaultRouteDevs.length >= 2 || libvirtNetworks.some((n) => n.active && n.forwardMode === 'route'),
    l3Interfaces,
    rpFilterDecided: rpFilterUnknown ? null : true,
    sharedSubnets,
    vhostNet: host ? host.vhostNet : null,
    kvmVirtioGuests: domains.filter((d) => isRunning(d) && d.type === 'kvm' && d.interfaces.some((i) => i.model === 'virtio')).map((d) => d.name),
    firewallBackend: netfilter ? libvirtBackend(netfilter) : null,
    firewallBackendSetting: libvirt?.firewallBackendSetting ?? null,
    iptablesVariant: netfilter?.iptablesVariant ?? null,
    legacyTablesWarning: netfilter?.legacyTablesWarning ?? false,
    legacyTablesListed: netfilter ? netfilter.tables.some((t) => t.backend === 'iptables-legacy') : false,
    legacyRuleCount: netfilter ? ruleCount(netfilter, 'iptables-legacy') : 0,
    legacyRules: (netfilter?.tables ?? [])
      .filter((t) => t.backend === 'iptables-legacy')
      .flatMap((t) =>
        Object.entries(t.chains).flatMap(([chain, c]) =>
          c.rules.map((r) => {
            const words = iptablesWords(r.text)
            const jump = words.findIndex((w) => w === '-j' || w === '-g')
            const same = (netfilter?.tables ?? []).some((n) => n.backend === 'iptables-nft' && n.family === t.family && n.name === t.name && (n.chains[chain]?.rules ?? []).some((x) => x.text === r.text))
            return {family: t.family === 'ip6' ? ('ip6' as const) : ('ip' as const), table: t.name, chain, spec: words.slice(2), builtinChain: c.base !== undefined, target: jump < 0 ? null : (words[jump + 1] ?? null), inNft: same}
          }),
        ),
      ),
    legacyRulesKnown: legacyRulesUnknown ? null : true,
    ...(legacyRulesUnknown || rpFilterUnknown
      ? {
          unknownBecause: {
            ...(legacyRulesUnknown ? {legacyRulesKnown: `iptables-nft warns that legacy tables are present and ${legacyGap}`} : {}),
            ...(rpFilterUnknown ? {rpFilterDecided: `rp_filter of ${l3Interfaces.filter((i) => i.rpFilter === null).map((i) => i.name).join(', ')} could not be read${rpFilterUnread.length > 0 ? ` (${rpFilterUnread.join('; ')})` : ''}`} : {}),
          },
        }
      : {}),
    nftBackendRuleCount: netfilter ? ruleCount(netfilter, 'iptables-nft') : 0,
    mainRuleCount: netfilter ? ruleCount(netfilter, mainBackend) : 0,
    forwardPolicy: forwardChain?.base ? forwardChain.base.policy.toUpperCase() : null,
    logNoAddressAvailable: ctx.logLines('dhcp-no-address-available'),
    logConntrackFull: ctx.logLines('conntrack-full'),
    logAddressInUse: ctx.logLines('address-in-use'),
    logNftIncompatible: ctx.logLines('nft-incompatible'),
    logNetworkInUse: ctx.logLines('network-in-use'),
    logModuleMissing: moduleLogLines,
    modulesNamedInLog: modulesFromLogLines(moduleLogLines),
    dockerUserChain: Boolean(netfilter && iptablesChain(netfilter, 'DOCKER-USER')),
    ipv6RoutedNetworks: ipv6RoutedNetworks(libvirtNetworks),
    ipv6Forwarding: sysctlValue('net.ipv6.conf.all.forwarding'),
    firewallAfterLibvirt: serviceOrder.events,
    libvirtStarted: serviceOrder.libvirt,
    incompatibleTables: incompatibleTables(netfilter),
    natNetworksWithoutSourceNat: networks.filter((n) => n.active && n.forwardMode === 'nat' && n.sourceNatRules !== null && n.sourceNatRules.length === 0).map((n) => n.name),
    physdevRules: physdevRules(netfilter),
    kernelModules: modules ?? null,
    systemd: ctx.facts.services?.systemd ?? null,
    libvirtNetworkDaemon: networkDaemonOf(ctx.facts.processes?.processes ?? []),
  }
}

/**
 * libvirt's modular daemons split the network driver off into virtnetworkd, which exits when idle (--timeout 120) and is
 * started again by its socket: a host is modular when virtnetworkd runs, or another modular driver daemon runs without
 * libvirtd (virtlogd and virtlockd run beside either).
 */
function networkDaemonOf(processes: readonly {args: string}[]): 'libvirtd' | 'virtnetworkd' {
  const runs = (daemon: RegExp) => processes.some((p) => new RegExp(`(^|/)${daemon.source}(\\s|$)`).test(p.args))
  return runs(/virtnetworkd/) || (runs(/virt(qemu|proxy|interface|nodedev|nwfilter|secret|storage)d/) && !runs(/libvirtd/)) ? 'virtnetworkd' : 'libvirtd'
}
