/** The host as network people draw it: what the topology outputs and the pictures read. */
import type {FlowKind, HopVerdict} from '../datapath/flows.js'
import type {Severity} from '../lib/severity.js'
import type {Verdict} from './ip.js'

/** fail: something on it stops guests; warn: a lesser finding; off: not running (by design or not); unknown: not seen. */
export type Health = 'ok' | 'warn' | 'fail' | 'off' | 'unknown'

export interface FindingMark {
  key: string
  id: string
  severity: Severity
  rank: number
  title: string
  rootCause: boolean
}

interface NodeBase {
  /** Unique in the topology: `host`, `uplink:eth0`, `network:default`, `bridge:virbr0`, `tap:vnet0`, `guest:web01`. */
  id: string
  name: string
  health: Health
  findings: FindingMark[]
}

export interface HostNode extends NodeBase {
  kind: 'host'
  ipForward: number | null
  /** "default via 10.0.2.2 dev eth0 metric 100", one per main-table IPv4 default route. */
  defaultRoutes: string[]
}

export interface UplinkNode extends NodeBase {
  kind: 'uplink'
  linkKind: string
  state: string
  mtu: number
  addresses: string[]
  /** The main-table default routes through it. */
  defaultRoutes: {gateway: string | null; metric: number}[]
  /** Guests attached to it directly (macvtap, type=direct). */
  directGuests: string[]
  /** Guest traffic depends on it: a default route, a NAT network's forward device or a macvtap source. */
  carriesGuests: boolean
}

export interface NetworkNode extends NodeBase {
  kind: 'network'
  mode: string
  active: boolean
  autostart: boolean
  subnet: string | null
  gateway: string | null
  dhcpRanges: string[]
  /** null: the process list could not be read. */
  dnsmasq: {running: boolean | null; pids: number[]}
  bridge: string | null
  forwardDev: string | null
}

export interface PortNode {
  name: string
  linkKind: string
  state: string
  mtu: number
}

export interface BridgeNode extends NodeBase {
  kind: 'bridge'
  /** The libvirt network it belongs to, if any. */
  network: string | null
  exists: boolean
  state: string
  mtu: number | null
  stp: {on: boolean; forwardDelaySeconds: number} | null
  /** Ports that are not guest taps: the physical uplink of a bridged LAN, veths. */
  ports: PortNode[]
  taps: TapNode[]
  /** An Open vSwitch bridge: its fail mode and controllers (absent: a Linux bridge). */
  openvswitch?: {failMode: string | null; controllers: {target: string; connected: boolean}[]}
}

export interface TapNode extends NodeBase {
  kind: 'tap'
  guest: string
  mac: string | null
  exists: boolean
  state: string
  /** The bridge it is really a port of (may differ from the one it belongs on). */
  master: string | null
  portState: string | null
}

export interface FlowMark {
  kind: FlowKind
  verdict: HopVerdict
  description: string
  hops: {name: string; verdict: HopVerdict; detail: string}[]
  /** The hop that decides a flow that does not pass, by index into hops. */
  decidedBy?: {index: number; name: string; detail: string; element?: string}
}

export interface GuestInterface {
  tap: string | null
  mac: string | null
  type: string
  network: string | null
  bridge: string | null
  addresses: string[]
  /** The `kvmdoctor ip` verdict (Verdict: ok, no address, unknown, APIPA, foreign address, conflict, silent, DHCP unanswered, gateway unanswered, wrong netmask, stale, shut off). */
  verdict: Verdict | null
  flows: FlowMark[]
}

export interface GuestNode extends NodeBase {
  kind: 'guest'
  state: string
  running: boolean
  interfaces: GuestInterface[]
}

export interface Topology {
  host: HostNode
  uplinks: UplinkNode[]
  networks: NetworkNode[]
  bridges: BridgeNode[]
  guests: GuestNode[]
  /** Why guests' flows could not be followed, when they could not. */
  flowsUnavailable?: string
  /** Why the libvirt side is missing, when it is. */
  libvirtUnavailable?: string
  /**
   * What the picture lacks, when it lacks anything: each source it is drawn from (libvirt's networks and
   * guests, the links, the routes) that could not be read or was read in part, and the guests' flows when
   * they were not followed. A partial picture exits 4 (not checked), like any run that could not read all.
   */
  partial?: string[]
}

export type TopologyNode = HostNode | UplinkNode | NetworkNode | BridgeNode | TapNode | GuestNode

/** Every node, host first, in a stable order. */
export function allNodes(t: Topology): TopologyNode[] {
  return [t.host, ...t.uplinks, ...t.networks, ...t.bridges, ...t.bridges.flatMap((b) => b.taps), ...t.guests]
}

/** A guest's flow that does not pass, the failing one first: what the pictures mark. */
export function firstStoppedFlow(g: GuestNode): FlowMark | undefined {
  const flows = g.interfaces.flatMap((i) => i.flows)
  return flows.find((f) => f.verdict === 'fail') ?? flows.find((f) => f.verdict === 'indeterminate')
}

/** The topology as JSON for `kvmdoctor topology --json`: the same shape, versioned. */
export function topologyJson(t: Topology) {
  return {topologyVersion: 1, ...t}
}
