/**
 * The host as network people draw it: host → uplinks and default route →
 * libvirt networks (mode, subnet, DHCP range, dnsmasq) → bridges → taps →
 * guests (MAC, addresses, verdict), each element marked with the findings on
 * it, and each guest with its flows and the hop where a flow stops. Derived
 * from a Diagnosis alone (its facts, findings and flows), so every report and
 * `kvmdoctor topology` draw the same picture, from a live host or a snapshot.
 */
import type {LeaseFacts} from '../../probes/leases.js'
import type {LibvirtDomain, LibvirtFacts, LibvirtNetwork} from '../../probes/libvirt.js'
import type {OvsFacts} from '../../probes/ovs.js'
import type {Link} from '../../probes/links.js'
import type {ProcessFacts} from '../../probes/processes.js'
import type {Route} from '../../probes/routes.js'
import type {SysctlFacts} from '../../probes/sysctl.js'
import {dataOf} from '../../probes/types.js'
import type {DiagnosisRun} from './diagnose.js'
import {inventoryOf} from './ip-service.js'
import {cidrContains, cidrToString, parseCidr} from '../lib/ipv4.js'
import {isRunning} from '../derive/context.js'
import {severityWeight} from '../lib/severity.js'
import type {IpInventory} from '../result/ip.js'
import {type Finding, findingKey} from '../result/findings.js'
import type {ResultFlow} from '../result/diagnosis.js'
import {type BridgeNode, type FindingMark, type FlowMark, type GuestInterface, type GuestNode, type Health, type NetworkNode, type Topology, type TopologyNode, type UplinkNode, type HostNode, allNodes} from '../result/topology.js'

export type * from '../result/topology.js'
export {allNodes, firstStoppedFlow, topologyJson} from '../result/topology.js'

const GLOBAL_V4 = (l: Link) => l.addresses.filter((a) => a.family === 'inet' && a.scope === 'global').map((a) => `${a.address}/${a.prefix}`)
// A bridge set up whose operstate is DOWN has no port forwarding (none, or all down): no carrier, as
// `ip link` says; only a bridge set down is DOWN.
const linkState = (l: Link | undefined) =>
  !l ? 'absent' : !l.up ? 'DOWN' : l.kind !== 'tap' && (l.kind === 'bridge' ? l.operstate === 'DOWN' : !l.lowerUp) ? 'NO-CARRIER' : l.operstate === 'UNKNOWN' ? 'UP' : l.operstate

export function deriveTopology(d: DiagnosisRun): Topology {
  const links = dataOf<Link[]>(d.facts.links) ?? []
  const routes = dataOf<Route[]>(d.facts.routes) ?? []
  const libvirt = dataOf<LibvirtFacts>(d.facts.libvirt)
  const processes = dataOf<ProcessFacts>(d.facts.processes)
  const sysctl = dataOf<SysctlFacts>(d.facts.sysctl)
  const leases = dataOf<LeaseFacts>(d.facts.leases)
  const networks = libvirt?.networks ?? []
  const domains = libvirt?.domains ?? []
  const linkByName = new Map(links.map((l) => [l.name, l]))
  const ovsBridges = new Map((dataOf<OvsFacts>(d.facts.ovs)?.bridges ?? []).map((b) => [b.name, b]))
  // The OVS bridge a device is a port of (the link table shows ovs-system, or nothing, as its master).
  const ovsBridgeOfPort = new Map([...ovsBridges.values()].flatMap((b) => b.ports.map((p) => [p.name, b.name] as const)))
  let inventory: IpInventory | undefined
  try {
    inventory = libvirt ? inventoryOf(d.facts, d.findings, new Date(d.capturedAt), [], d.host) : undefined
  } catch {
    inventory = undefined
  }

  const defaultRoutes = routes.filter((r) => r.family === 'inet' && r.table === 'main' && r.dst === 'default' && r.type === 'unicast')
  const routeDev = (r: Route) => r.dev ?? r.nexthops[0]?.dev
  const host: HostNode = {
    kind: 'host',
    id: 'host',
    name: d.host,
    health: 'ok',
    findings: [],
    ipForward: sysctl ? (sysctl.values['net.ipv4.ip_forward'] ?? null) : null,
    defaultRoutes: defaultRoutes.map((r) => `default${r.gateway ? ` via ${r.gateway}` : ''}${routeDev(r) ? ` dev ${routeDev(r)}` : ''} metric ${r.metric}`),
  }

  // Uplinks: what the default routes leave by, the host's other L3 interfaces, NAT forward devices, macvtap sources.
  const uplinkNames = new Set<string>()
  for (const r of defaultRoutes) if (routeDev(r)) uplinkNames.add(routeDev(r)!)
  for (const l of links) if (!l.master && !['loopback', 'bridge', 'tap', 'tun', 'macvtap'].includes(l.kind) && GLOBAL_V4(l).length > 0) uplinkNames.add(l.name)
  for (const n of networks) if (n.forwardDev) uplinkNames.add(n.forwardDev)
  const directs = domains.flatMap((dom) => dom.interfaces.filter((i) => i.type === 'direct' && i.source).map((i) => ({guest: dom.name, dev: i.source!})))
  for (const x of directs) uplinkNames.add(x.dev)
  const uplinks: UplinkNode[] = [...uplinkNames].sort().map((name) => {
    const l = linkByName.get(name)
    return {
      kind: 'uplink',
      id: `uplink:${name}`,
      name,
      health: l ? 'ok' : 'unknown',
      findings: [],
      linkKind: l?.kind ?? 'absent',
      state: linkState(l),
      mtu: l?.mtu ?? 0,
      addresses: l ? GLOBAL_V4(l) : [],
      defaultRoutes: defaultRoutes.filter((r) => routeDev(r) === name).map((r) => ({gateway: r.gateway ?? null, metric: r.metric})),
      directGuests: [...new Set(directs.filter((x) => x.dev === name).map((x) => x.guest))].sort(),
      carriesGuests: defaultRoutes.some((r) => routeDev(r) === name) || networks.some((n) => n.active && n.forwardDev === name) || directs.some((x) => x.dev === name),
    }
  })

  const dnsmasqByNetwork = new Map<string, number[]>()
  for (const p of processes?.dnsmasq ?? []) if (p.libvirtNetwork) dnsmasqByNetwork.set(p.libvirtNetwork, [...(dnsmasqByNetwork.get(p.libvirtNetwork) ?? []), p.pid])
  const networkNodes: NetworkNode[] = networks.map((n) => networkNode(n, dnsmasqByNetwork, processes))
  const networkByBridge = new Map(networks.filter((n) => n.bridge).map((n) => [n.bridge!, n]))

  // Bridges: those of libvirt networks, those guests are meant to be on, those with taps on them.
  const ifaceBridge = (i: LibvirtDomain['interfaces'][number]) =>
    i.type === 'network' ? (networks.find((n) => n.name === i.source)?.bridge ?? i.bridge) : i.type === 'bridge' ? (i.source ?? i.bridge) : undefined
  const bridgeNames = new Set<string>(networks.filter((n) => n.bridge).map((n) => n.bridge!))
  for (const dom of domains) for (const i of dom.interfaces) if (ifaceBridge(i)) bridgeNames.add(ifaceBridge(i)!)
  for (const l of links) if (l.kind === 'tap' && l.master && linkByName.get(l.master)?.kind === 'bridge') bridgeNames.add(l.master)
  for (const b of ovsBridges.values()) if (b.ports.some((p) => linkByName.get(p.name)?.kind === 'tap')) bridgeNames.add(b.name)
  const guestTaps = new Set(domains.filter(isRunning).flatMap((dom) => dom.interfaces.flatMap((i) => (i.target ? [i.target] : []))))
  const bridges: BridgeNode[] = [...bridgeNames].sort().map((name) => {
    const l = linkByName.get(name)
    const ovs = ovsBridges.get(name)
    // An OVS bridge's ports are OVS's (its own internal port aside), not the link table's.
    const ports = ovs ? ovs.ports.filter((p) => p.name !== name && !guestTaps.has(p.name)).flatMap((p) => linkByName.get(p.name) ?? []) : links.filter((p) => p.master === name)
    return {
      ...(ovs ? {openvswitch: {failMode: ovs.failMode, controllers: ovs.controllers.map((c) => ({target: c.target, connected: c.connected}))}} : {}),
      kind: 'bridge',
      id: `bridge:${name}`,
      name,
      health: l ? (l.up ? 'ok' : 'fail') : 'off',
      findings: [],
      network: networkByBridge.get(name)?.name ?? null,
      exists: l !== undefined,
      state: linkState(l),
      mtu: l?.mtu ?? null,
      stp: l?.bridge ? {on: l.bridge.stpState > 0, forwardDelaySeconds: l.bridge.forwardDelayCs / 100} : null,
      ports: ports.filter((p) => p.kind !== 'tap' && p.kind !== 'macvtap').map((p) => ({name: p.name, linkKind: p.kind, state: linkState(p), mtu: p.mtu})),
      taps: [],
    }
  })
  const bridgeByName = new Map(bridges.map((b) => [b.name, b]))

  // Indexed once: a thousand guests each filtering every guest's flows was most of a big host's topology.
  const flowsByIface = new Map<string, ResultFlow[]>()
  for (const f of d.flows) {
    const key = `${f.guest}\u0000${f.iface ?? ''}`
    ;(flowsByIface.get(key) ?? flowsByIface.set(key, []).get(key)!).push(f)
  }
  const flowsOf = (guest: string, iface: string | undefined) => flowsByIface.get(`${guest}\u0000${iface ?? ''}`) ?? []
  const guests: GuestNode[] = domains.map((dom) => {
    const running = isRunning(dom)
    const interfaces = dom.interfaces.map((i): GuestInterface => {
      const row = inventory?.rows.find((r) => r.domain === dom.name && r.mac === (i.mac ?? null))
      const bridge = ifaceBridge(i) ?? null
      const tapName = running ? (i.target ?? null) : null
      if (tapName && bridge) {
        const tapLink = linkByName.get(tapName)
        const master = ovsBridgeOfPort.get(tapName) ?? tapLink?.master ?? null
        bridgeByName.get(bridge)?.taps.push({
          kind: 'tap',
          id: `tap:${tapName}`,
          name: tapName,
          guest: dom.name,
          mac: i.mac ?? null,
          exists: tapLink !== undefined,
          state: linkState(tapLink),
          master,
          portState: tapLink?.portState ?? null,
          health: !tapLink || master !== bridge || !tapLink.up ? 'fail' : 'ok',
          findings: [],
        })
      }
      return {
        tap: tapName,
        mac: i.mac ?? null,
        type: i.type,
        network: i.type === 'network' ? (i.source ?? null) : (networkByBridge.get(bridge ?? '')?.name ?? null),
        bridge: i.type === 'direct' ? (i.source ?? null) : bridge,
        addresses: row ? [...row.ipv4, ...row.ipv6].map((a) => a.ip) : [],
        verdict: row?.verdict ?? null,
        flows: running ? flowsOf(dom.name, i.target ?? i.mac).map(flowMark) : [],
      }
    })
    return {kind: 'guest', id: `guest:${dom.name}`, name: dom.name, state: dom.state, running, interfaces, health: running ? 'ok' : 'off', findings: []}
  })

  const topology: Topology = {
    host,
    uplinks,
    networks: networkNodes,
    bridges,
    guests,
    ...(d.datapathUnavailable ? {flowsUnavailable: d.datapathUnavailable} : {}),
    ...(libvirt ? {} : {libvirtUnavailable: d.facts.libvirt && !d.facts.libvirt.ok ? d.facts.libvirt.error : 'libvirt was not read'}),
  }
  const partial = partialSources(d)
  if (partial.length > 0) topology.partial = partial
  markFindings(topology, d, leases)
  const activeNetworks = new Set(networkNodes.filter((n) => n.active).map((n) => n.name))
  for (const node of allNodes(topology)) node.health = healthOf(node, activeNetworks)
  return topology
}

/** The sources the picture is drawn from, by what each draws. */
const DRAWN_FROM = [
  ['libvirt', "libvirt's networks and guests"],
  ['links', 'uplinks, bridges and taps'],
  ['routes', 'default routes and uplinks'],
] as const

/** What the picture lacks: its sources unread or read in part, and guests' flows not followed. */
function partialSources(d: DiagnosisRun): string[] {
  const out: string[] = []
  for (const [id, what] of DRAWN_FROM) {
    const r = d.facts[id]
    if (!r || !r.ok) out.push(`${what} not read (${id}: ${r && !r.ok ? r.error : 'not run'})`)
    else if (r.degraded?.length) out.push(`${what} read in part (${id}: ${r.degraded.join('; ')})`)
  }
  if (d.datapathUnavailable) out.push(`guest flows not followed (${d.datapathUnavailable})`)
  return out
}

function networkNode(n: LibvirtNetwork, dnsmasqByNetwork: Map<string, number[]>, processes: ProcessFacts | undefined): NetworkNode {
  const v4 = n.ips.find((ip) => ip.family === 'ipv4')
  const cidr = v4 ? parseCidr(`${v4.address}/${v4.prefix}`) : undefined
  const pids = dnsmasqByNetwork.get(n.name) ?? []
  return {
    kind: 'network',
    id: `network:${n.name}`,
    name: n.name,
    health: n.active ? 'ok' : 'off',
    findings: [],
    mode: n.forwardMode,
    active: n.active,
    autostart: n.autostart,
    subnet: cidr ? cidrToString(cidr) : null,
    gateway: v4?.address ?? null,
    dhcpRanges: (v4?.dhcpRanges ?? []).map((r) => `${r.start}-${r.end}`),
    dnsmasq: {running: processes ? pids.length > 0 : null, pids},
    bridge: n.bridge ?? null,
    forwardDev: n.forwardDev ?? null,
  }
}

function flowMark(f: ResultFlow): FlowMark {
  const index = f.decidedBy ? f.hops.indexOf(f.decidedBy) : -1
  return {
    kind: f.kind,
    verdict: f.verdict,
    description: f.description,
    hops: f.hops.map((h) => ({name: h.name, verdict: h.verdict, detail: h.detail})),
    ...(f.decidedBy && index >= 0 ? {decidedBy: {index, name: f.decidedBy.name, detail: f.decidedBy.detail, ...(f.decidedBy.element ? {element: f.decidedBy.element.text} : {})}} : {}),
  }
}

/** Each finding goes on the elements it is about: its entity, and the guests it stops. */
function markFindings(t: Topology, d: DiagnosisRun, leases: LeaseFacts | undefined): void {
  const byId = new Map(allNodes(t).map((n) => [n.id, n]))
  const guestOfAddress = (ip: string) => t.guests.filter((g) => g.interfaces.some((i) => i.addresses.includes(ip))).map((g) => g.id)
  const linkNode = (name: string) => [`bridge:${name}`, `tap:${name}`, `uplink:${name}`].find((id) => byId.has(id))
  const targets = (f: Finding): string[] => {
    const {kind, name} = f.entity
    switch (kind) {
      case 'host':
        return ['host']
      case 'network':
        return [`network:${name}`]
      case 'link':
        return [linkNode(name) ?? 'host']
      case 'domain':
        return [`guest:${name}`]
      case 'interface': {
        const [guest, iface] = name.split('/')
        return [`guest:${guest}`, ...(byId.has(`tap:${iface}`) ? [`tap:${iface}`] : [])]
      }
      case 'apipa': {
        const [who, ip] = name.split(' ')
        return byId.has(`guest:${who}`) ? [`guest:${who}`] : [linkNode(who) ?? 'host', ...guestOfAddress(ip)]
      }
      case 'address':
        return [...guestOfAddress(name), ...t.networks.filter((n) => n.subnet && cidrContains(parseCidr(n.subnet)!, name)).map((n) => n.id)]
      case 'dhcp-service': {
        const subnets = (leases?.dhcpdSubnets ?? []).map((s) => parseCidr(s)).filter((c) => c !== undefined)
        const served = t.bridges.filter((b) => d.facts.links?.ok && (dataOf<Link[]>(d.facts.links) ?? []).some((l) => l.name === b.name && l.addresses.some((a) => subnets.some((c) => cidrContains(c!, a.address)))))
        return ['host', ...served.map((b) => b.id)]
      }
      case 'forward':
        // A published port: the host that publishes it, and the guest it leads to (or that held its target).
        return ['host', ...(f.context?.domain && byId.has(`guest:${f.context.domain}`) ? [`guest:${f.context.domain}`] : [])]
      case 'element': {
        // The guests whose flows it decides, and the device it is on when that is drawn.
        const hit = d.flows.filter((fl) => fl.decidedBy?.element?.text === name || fl.divertedBy?.text === name)
        const device = hit.map((fl) => fl.decidedBy?.element?.device ?? fl.divertedBy?.device).find((x) => x !== undefined)
        // A guest's own lack of an address is drawn on the guest, not on the host.
        const onGuestOnly = hit.length > 0 && hit.every((fl) => (fl.decidedBy?.element?.kind ?? fl.divertedBy?.kind) === 'guest-address' && !fl.decidedBy?.element?.network)
        return [...(onGuestOnly ? [] : [(device && linkNode(device)) || 'host']), ...new Set(hit.map((fl) => `guest:${fl.guest}`))]
      }
    }
  }
  for (const f of d.findings) {
    const mark: FindingMark = {key: findingKey(f), id: f.id, severity: f.severity, rank: f.rank, title: f.title, rootCause: !f.explainedBy}
    for (const id of new Set(targets(f))) byId.get(id)?.findings.push(mark)
  }
}

function healthOf(node: TopologyNode, activeNetworks: Set<string>): Health {
  const worst = Math.max(-1, ...node.findings.filter((f) => f.severity !== 'info').map((f) => severityWeight(f.severity)))
  const findingHealth: Health = worst >= severityWeight('high') ? 'fail' : worst >= 0 ? 'warn' : 'ok'
  // A tap or bridge missing from the link table with no finding saying why is not drawn as a failure: the topology
  // marks ✗ only with the finding behind it (a namespace host's taps and bridges live where its link table cannot see).
  const missing = (node.kind === 'tap' || node.kind === 'bridge') && !node.exists
  const own = missing && ownHealth(node, activeNetworks) === 'fail' && findingHealth !== 'fail' ? 'unknown' : ownHealth(node, activeNetworks)
  const rank: Health[] = ['unknown', 'ok', 'off', 'warn', 'fail']
  return findingHealth !== 'ok' && rank.indexOf(findingHealth) > rank.indexOf(own) ? findingHealth : own
}

/** What the element's own state says, findings aside. */
function ownHealth(node: TopologyNode, activeNetworks: Set<string>): Health {
  switch (node.kind) {
    case 'host':
      return 'ok'
    case 'uplink':
      if (node.state !== 'absent' && node.state !== 'DOWN' && node.state !== 'NO-CARRIER') return 'ok'
      return node.carriesGuests ? 'fail' : 'warn'
    case 'network':
      return node.active ? 'ok' : 'off'
    case 'bridge':
      // An empty bridge (no guest running on it) has no carrier by nature; with ports or taps it is a warning
      // (the ports show their own state).
      // An active network's bridge missing from the link table is not "off": it is not seen (unknown) unless a finding says why.
      return !node.exists ? (node.network !== null && activeNetworks.has(node.network) ? 'unknown' : 'off') : node.state === 'DOWN' ? 'fail' : node.state === 'NO-CARRIER' ? (node.ports.length + node.taps.length > 0 ? 'warn' : 'ok') : 'ok'
    case 'tap':
      return node.health
    case 'guest': {
      if (!node.running) return 'off'
      const flows = node.interfaces.flatMap((i) => i.flows)
      const verdicts = node.interfaces.map((i) => i.verdict)
      if (flows.some((f) => f.verdict === 'fail') || verdicts.some((v) => v === 'APIPA' || v === 'conflict' || v === 'gateway unanswered')) return 'fail'
      if (flows.some((f) => f.verdict === 'indeterminate') || verdicts.some((v) => v === 'no address' || v === 'unknown' || v === 'stale' || v === 'wrong netmask')) return 'warn'
      return 'ok'
    }
  }
}
