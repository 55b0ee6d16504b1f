/**
 * The datapath as a derivation: from probe results to every running guest's
 * flows, and from failing flows to one entity per deciding element (one
 * element, many flows), which rules are evaluated on.
 */
import type {NfRuleset} from '../lib/netfilter.js'
import type {PolicyRuleFacts} from '../../probes/ip-rules.js'
import type {LeaseFacts} from '../../probes/leases.js'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import {ipInPrefix} from '../lib/addr.js'
import type {Link} from '../../probes/links.js'
import type {Listener} from '../../probes/listeners.js'
import {type ProcessFacts, dhcpdState} from '../../probes/processes.js'
import type {Route} from '../../probes/routes.js'
import type {SysctlFacts} from '../../probes/sysctl.js'
import type {Neighbour} from '../../probes/neighbours.js'
import type {FdbFacts} from '../../probes/fdb.js'
import type {BridgeVlanFacts} from '../../probes/bridge-vlan.js'
import type {TcFacts} from '../../probes/tc.js'
import type {OvsFacts} from '../../probes/ovs.js'
import {type ProbeResult, dataOf} from '../../probes/types.js'
import {type Datapath, type DatapathFacts, type Destination, type Flow, type Hop, buildDatapath} from './flows.js'
import type {Element} from './elements.js'
import type {HookFacts} from '../../probes/libvirt-hooks.js'
import type {PublishRequest} from './published.js'

/** Probes the datapath cannot do without; a missing one leaves every flow unknown. */
export const DATAPATH_PROBES = ['netfilter', 'routes', 'ip-rules', 'links', 'sysctl', 'libvirt'] as const

export type DatapathDerivation = {ok: true; datapath: Datapath} | {ok: false; reason: string}

/** What the datapath asks of the other derivations: addresses, their claims, DHCP pools. */
export type GuestFacts = Pick<DatapathFacts, 'guestAddress' | 'guestAddress6' | 'addressConflict' | 'dhcpPoolFullFor' | 'addressClaimants' | 'heardWithoutAddress' | 'guestResolvers' | 'dhcpConfigured'>

export function deriveDatapath(probes: Record<string, ProbeResult>, guests: GuestFacts, options: {internet?: Destination; publish?: PublishRequest[]} = {}): DatapathDerivation {
  const missing = DATAPATH_PROBES.filter((id) => !probes[id]?.ok)
  if (missing.length > 0) {
    return {ok: false, reason: missing.map((id) => `${id}: ${probes[id] && !probes[id].ok ? (probes[id] as {error: string}).error : 'not run'}`).join('; ')}
  }
  const libvirt = dataOf<LibvirtFacts>(probes.libvirt)!
  const processes = dataOf<ProcessFacts>(probes.processes)
  const links = dataOf<Link[]>(probes.links)!
  const leases = dataOf<LeaseFacts>(probes.leases)
  // IPv6 routes come from a probe of their own: without them, IPv6 flows are not followed (IPv4 ones still are).
  const routes6 = dataOf<Route[]>(probes.routes6)
  const datapath = buildDatapath(
    {
      links,
      // `ip route show table all` lists IPv6 routes too on some iproute2 versions: the IPv6 listing replaces them.
      routes: routes6 ? [...dataOf<Route[]>(probes.routes)!.filter((r) => r.family === 'inet'), ...routes6] : dataOf<Route[]>(probes.routes)!,
      ipv6Routes: routes6 !== undefined,
      ipRules: dataOf<PolicyRuleFacts>(probes['ip-rules'])!,
      sysctl: dataOf<SysctlFacts>(probes.sysctl)!.values,
      ruleset: dataOf<NfRuleset>(probes.netfilter)!,
      networks: libvirt.networks,
      domains: libvirt.domains,
      listeners: dataOf<Listener[]>(probes.listeners) ?? null,
      // No process list: whether a listener's process is stopped is not known (a recording made before the states were read: as then).
      ...(probes.processes?.ok === false ? {stopped: null} : processes?.stopped !== undefined ? {stopped: processes.stopped} : {}),
      ...(processes?.freezeUnread ? {freezeUnread: processes.freezeUnread} : {}),
      // Without tc's facts every device's tc hop is undecided, never a pass.
      tc: dataOf<TcFacts>(probes.tc) ?? null,
      ...(probes.tc?.ok ? {} : {tcUnavailable: probes.tc ? (probes.tc as {error: string}).error : 'not run'}),
      // Without Open vSwitch's facts an OVS guest's bridge hop is undecided, never a pass.
      ovs: dataOf<OvsFacts>(probes.ovs) ?? null,
      ...(probes.ovs?.ok ? {} : {ovsUnavailable: probes.ovs ? (probes.ovs as {error: string}).error : 'not run'}),
      neighbours: dataOf<Neighbour[]>(probes.neighbours) ?? null,
      // The fdb read and failed leaves frames to a guest undecided at its bridge; absent from a recording, they are followed without it.
      ...fdbFacts(probes.fdb),
      // A filtering bridge is decided by its ports' VLANs; unread (absent or failed), it stays undecided.
      ...vlanFacts(probes['bridge-vlan']),
      // Hook scripts' forwards; a recording without them (or an unreadable hooks directory) has none to add.
      hooks: dataOf<HookFacts>(probes['libvirt-hooks']) ?? null,
      ...guests,
      bridgeDhcpServers: hostDhcpServers(leases, links, processes),
      // Which bridge this host's dhcpd serves comes from dhcpd.conf, read by the lease probe.
      ...(probes.leases?.ok === false ? {bridgeDhcpUnknown: `leases: ${probes.leases.error}`} : leases?.dhcpdConfUnread ? {bridgeDhcpUnknown: leases.dhcpdConfUnread} : {}),
    },
    options,
  )
  return {ok: true, datapath}
}

function fdbFacts(r: ProbeResult | undefined): Pick<DatapathFacts, 'fdb' | 'fdbUnavailable'> {
  // Not run at all (a narrower set of probes): as absent.
  if (!r) return {}
  if (!r.ok) return {fdb: null, fdbUnavailable: r.error}
  const fdb = r.data as FdbFacts
  return fdb.notRead === undefined ? {fdb: fdb.entries} : {}
}

function vlanFacts(r: ProbeResult | undefined): Pick<DatapathFacts, 'vlans' | 'vlansUnread'> {
  if (!r) return {vlansUnread: 'not run'}
  if (!r.ok) return {vlansUnread: r.error}
  const read = r.data as BridgeVlanFacts
  return read.notRead === undefined ? {vlans: read.ports} : {vlansUnread: `not in this recording (${read.notRead})`}
}

/** ISC dhcpd configured on this host (the seed article's setup): the bridge whose address lies in one of its subnets. */
function hostDhcpServers(leases: LeaseFacts | undefined, links: Link[], processes: ProcessFacts | undefined) {
  if (!leases?.dhcpdConfigured) return []
  const subnets = leases.dhcpdSubnets
  const served = links.find((l) => l.kind === 'bridge' && l.addresses.some((a) => a.family === 'inet' && subnets.some((s) => ipInPrefix(a.address, s))))
  const state = processes ? dhcpdState(processes) : undefined
  // Why whether it answers is not known: no process list, or dhcpd listed with its state unread.
  const unread = !state ? 'processes could not be listed' : state.answers === null ? (processes?.stopped === null ? 'dhcpd runs, but whether it is stopped could not be read (ps -eo pid=,stat=)' : "dhcpd runs, but whether its cgroup is frozen could not be read (its /proc/PID/cgroup, cgroup.events, freezer.state)") : undefined
  return served ? [{name: 'isc-dhcp-server', bridge: served.name, running: state ? state.answers : null, ...(unread ? {unread} : {}), ...(state?.stopped.length ? {stopped: state.stopped} : {})}] : []
}

/** One deciding element and every flow it stops (or leaves undecided). */
export interface ElementImpact {
  element: Element
  /** fail / indeterminate: the flow's deciding hop; divert: a policy rule routes it elsewhere (the flow may pass). */
  verdict: 'fail' | 'indeterminate' | 'divert'
  hop: Hop
  flows: Flow[]
}

/** Groups failing and undecided flows by the element that decides them. */
export function elementImpacts(flows: Flow[]): ElementImpact[] {
  // One impact per element, whatever it does to each flow (diverts a request, fails its reply): one fault, one
  // judgement. The impact is the strongest it has on any flow.
  const strength = {fail: 3, indeterminate: 2, divert: 1} as Record<string, number>
  const byId = new Map<string, ElementImpact>()
  const add = (element: Element, verdict: ElementImpact['verdict'], hop: Hop, flow: Flow) => {
    const seen = byId.get(element.id)
    if (!seen) byId.set(element.id, {element, verdict, hop, flows: [flow]})
    else {
      seen.flows.push(flow)
      if ((strength[verdict] ?? 0) > (strength[seen.verdict] ?? 0)) Object.assign(seen, {element, verdict, hop})
    }
  }
  for (let i = 0; i < flows.length; i++) {
    const flow = flows[i]
    if (flow.divertedBy) add(flow.divertedBy, 'divert', flow.hops.find((h) => h.name === 'routing') ?? flow.hops[0], flow)
    const hop = flow.decidedBy
    if (!hop || hop.verdict === 'pass') continue
    const element = hop.element ?? {id: `hop:${hop.name}`, kind: 'nf-undecided' as const, text: `${hop.name}: ${hop.detail}`}
    add(element, hop.verdict, hop, flow)
  }
  return [...byId.values()]
}
