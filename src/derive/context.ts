/**
 * The parsed facts every derivation reads, and the indexes they share, built
 * once per analysis (by name, bridge, MAC) so each derivation stays linear.
 */
import type {ApipaFacts} from '../../probes/apipa.js'
import type {ArpScanFacts} from '../../probes/arpscan.js'
import type {FirewalldFacts} from '../../probes/firewalld.js'
import type {GuestAgentFacts} from '../../probes/guest-agent.js'
import type {HostFacts} from '../../probes/host.js'
import type {LeaseFacts} from '../../probes/leases.js'
import type {LibvirtDomain, LibvirtFacts, LibvirtNetwork} from '../../probes/libvirt.js'
import type {Link} from '../../probes/links.js'
import type {Listener} from '../../probes/listeners.js'
import type {LogFacts} from '../../probes/logs.js'
import type {ModuleFacts} from '../../probes/modules.js'
import type {Neighbour} from '../../probes/neighbours.js'
import type {NetfilterFacts} from '../../probes/netfilter.js'
import type {ProcessFacts} from '../../probes/processes.js'
import type {ServiceFacts} from '../../probes/services.js'
import type {Route} from '../../probes/routes.js'
import type {SysctlFacts} from '../../probes/sysctl.js'
import type {WireFacts} from '../../probes/wire.js'
import {type ProbeResult, dataOf} from '../../probes/types.js'
import {countRepeats, getOrCreate, groupBy} from '../lib/collections.js'
import {type GuestAddress, addressClaims, guestAddressIndex} from './addresses.js'
import {deviceKey} from '../lib/sysctl-key.js'

export type DomainInterface = LibvirtDomain['interfaces'][number]

const RUNNING = new Set(['running', 'paused', 'idle', 'in shutdown', 'blocked'])
export const isRunning = (d: LibvirtDomain) => RUNNING.has(d.state)

export interface Facts {
  probes: Record<string, ProbeResult>
  host?: HostFacts
  links?: Link[]
  routes?: Route[]
  routes6?: Route[]
  sysctl?: SysctlFacts
  netfilter?: NetfilterFacts
  libvirt?: LibvirtFacts
  leases?: LeaseFacts
  processes?: ProcessFacts
  listeners?: Listener[]
  apipa?: ApipaFacts
  neighbours?: Neighbour[]
  arpScan?: ArpScanFacts
  firewalld?: FirewalldFacts
  logs?: LogFacts
  modules?: ModuleFacts
  services?: ServiceFacts
  /** What guests sent, heard on their taps (--listen). */
  wire?: WireFacts
  /** What the guests' QEMU agents report (`kvmdoctor ip` asks them; diagnose does not). */
  guestAgent?: GuestAgentFacts
}

export function readFacts(probes: Record<string, ProbeResult>): Facts {
  return {
    probes,
    host: dataOf(probes.host),
    links: dataOf(probes.links),
    routes: dataOf(probes.routes),
    routes6: dataOf(probes.routes6),
    sysctl: dataOf(probes.sysctl),
    netfilter: dataOf(probes.netfilter),
    libvirt: dataOf(probes.libvirt),
    leases: dataOf(probes.leases),
    processes: dataOf(probes.processes),
    listeners: dataOf(probes.listeners),
    apipa: dataOf(probes.apipa),
    neighbours: dataOf(probes.neighbours),
    arpScan: dataOf(probes['arp-scan']),
    firewalld: dataOf(probes.firewalld),
    logs: dataOf(probes.logs),
    modules: dataOf(probes.modules),
    services: dataOf(probes.services),
    wire: dataOf(probes.wire),
    guestAgent: dataOf(probes['guest-agent']),
  }
}

/** Shared indexes and lookups over the facts. */
export interface DeriveContext {
  facts: Facts
  hostname: string
  linkByName: Map<string, Link>
  /** Ports of each bridge (links by master). */
  portsOf: Map<string | undefined, Link[]>
  tapCountOf: Map<string | undefined, number>
  networks: LibvirtNetwork[]
  domains: LibvirtDomain[]
  networkByName: Map<string, LibvirtNetwork>
  networkByBridge: Map<string, LibvirtNetwork>
  /** The first domain interface holding each MAC. */
  domainByMac: Map<string, {domain: LibvirtDomain; iface: DomainInterface}>
  /** The network a domain interface belongs to (by name, or through its bridge). */
  ifaceNetwork(i: DomainInterface): string | undefined
  guestsByNetwork: {running: Map<string, Set<string>>; defined: Map<string, Set<string>>; autostart: Map<string, Set<string>>}
  /** Current IPv4 addresses of each MAC, from every source the host has. */
  addressesByMac: Map<string, GuestAddress[]>
  /** MACs claiming each address, with the sources that say so (VRRP MACs excluded): made once, the address views read it too. */
  claims: Map<string, Map<string, Set<GuestAddress['source']>>>
  /** Main-table IPv4 default routes. */
  defaultRoutes: Route[]
  defaultRouteDevs: string[]
  sysctlValue(key: string): number | null
  /** net.bridge.bridge-nf-call-iptables: 0 where br_netfilter is not loaded (no such key: bridged frames never reach iptables), null if unread. */
  bridgeNfCallIptables: number | null
  /** The kernel uses the larger of conf/all and conf/IF for rp_filter, arp_ignore and arp_announce. */
  effective(iface: string, name: string): number | null
  /** The last few log lines of a pattern, quoted as evidence. */
  logLines(id: string): string[]
}

export function buildContext(facts: Facts): DeriveContext {
  const {links, libvirt, routes, sysctl, logs} = facts
  const networks = libvirt?.networks ?? []
  const domains = libvirt?.domains ?? []
  const portsOf = groupBy(links ?? [], (l) => l.master)
  const networkByBridge = new Map(networks.filter((n) => n.bridge).map((n) => [n.bridge!, n]))
  const ifaceNetwork = (i: DomainInterface) => (i.type === 'network' ? i.source : i.bridge ? networkByBridge.get(i.bridge)?.name : undefined)
  const guestsByNetwork = {running: new Map<string, Set<string>>(), defined: new Map<string, Set<string>>(), autostart: new Map<string, Set<string>>()}
  const domainByMac = new Map<string, {domain: LibvirtDomain; iface: DomainInterface}>()
  const add = (m: Map<string, Set<string>>, k: string, v: string) => getOrCreate(m, k, () => new Set<string>()).add(v)
  for (const d of domains) {
    for (const i of d.interfaces) {
      if (i.mac && !domainByMac.has(i.mac)) domainByMac.set(i.mac, {domain: d, iface: i})
      const net = ifaceNetwork(i)
      if (!net) continue
      add(guestsByNetwork.defined, net, d.name)
      if (isRunning(d)) add(guestsByNetwork.running, net, d.name)
      if (d.autostart) add(guestsByNetwork.autostart, net, d.name)
    }
  }
  const addressesByMac = guestAddressIndex(facts.leases, facts.neighbours, facts.arpScan, facts.wire, facts.guestAgent, facts.links)
  const defaultRoutes = (routes ?? []).filter((r) => r.family === 'inet' && r.dst === 'default' && r.table === 'main' && r.type === 'unicast')
  const sysctlValue = (key: string): number | null => (sysctl ? (sysctl.values[key] ?? null) : null)
  return {
    facts,
    hostname: facts.host?.hostname ?? 'localhost',
    linkByName: new Map((links ?? []).map((l) => [l.name, l])),
    portsOf,
    // Counted once per bridge: every one of a thousand taps asks for its bridge's count.
    tapCountOf: new Map([...portsOf].map(([bridge, ports]) => [bridge, ports.filter((p) => p.kind === 'tap').length])),
    networks,
    domains,
    networkByName: new Map(networks.map((n) => [n.name, n])),
    networkByBridge,
    domainByMac,
    ifaceNetwork,
    guestsByNetwork,
    addressesByMac,
    claims: addressClaims(addressesByMac),
    defaultRoutes,
    defaultRouteDevs: [...new Set(defaultRoutes.flatMap((r) => [r.dev, ...r.nexthops.map((h) => h.dev)]).filter((d): d is string => Boolean(d)))],
    sysctlValue,
    bridgeNfCallIptables: sysctl && sysctl.values['net.bridge.bridge-nf-call-iptables'] === null ? 0 : sysctlValue('net.bridge.bridge-nf-call-iptables'),
    effective(iface, name) {
      const keys = [`net.ipv4.conf.all.${name}`, deviceKey('ipv4', iface, name)]
      // A key with no value could not be read (null: absent, 0): the larger of the two is then unknown.
      if (!sysctl || keys.some((k) => sysctl.values[k] === undefined)) return null
      const [all, own] = keys.map((k) => sysctl.values[k])
      return all === null && own === null ? null : Math.max(all ?? 0, own ?? 0)
    },
    logLines: (id) => countRepeats((logs?.notable ?? []).filter((n) => n.id === id).map((n) => `${n.source}: ${n.line}`)).slice(-3),
  }
}
