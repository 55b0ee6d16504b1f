/**
 * Open vSwitch: its bridges, ports and interfaces, controllers and fail modes (`ovs-vsctl -f json
 * list`), and each bridge's OpenFlow flows (`ovs-ofctl dump-flows`, OpenFlow 1.3 when the bridge
 * speaks nothing older). A host without ovs-vsctl is not an OVS host (facts with `installed`
 * false), which is not a failure; an installed OVS whose database does not answer is `running`
 * false with the reason. Read-only: list and dump only.
 */
import type {CommandCapture} from '../src/lib/runner.js'
import type {LibvirtFacts} from './libvirt.js'
import type {Link} from './links.js'
import type {ProcessFacts} from './processes.js'
import {type ShowBridge, parseOvsShow} from './ovs-text.js'
import {type Obj, type Probe, type ProbeContext, ParseError, isObj, parseJson, str, unavailableIfNotRecorded} from './types.js'

export interface OvsInterface {
  name: string
  /** "" (a system device: a tap, a NIC), internal, patch, vxlan, dpdk ... */
  type: string
  /** OpenFlow port number; -1 when OVS could not open the device; null when not assigned yet. */
  ofport: number | null
  /** Why OVS could not set the interface up ("could not open network device vnet3 (No such device)"). */
  error: string | null
  linkState: string | null
  adminState: string | null
  /** libvirt's (and OpenStack's) keys: iface-id, vm-uuid, attached-mac, iface-status. */
  externalIds: Record<string, string>
  macInUse: string | null
}

export interface OvsPort {
  name: string
  interfaces: OvsInterface[]
  /** Access VLAN; null: none (the port trunks). */
  tag: number | null
  /** VLANs a trunk port carries; empty: all of them. */
  trunks: number[]
  /** null: unset (OVS then takes access with a tag, trunk without); undefined: not read (a sosreport's `ovs-vsctl show` does not print it). */
  vlanMode: string | null | undefined
}

export interface OvsController {
  target: string
  connected: boolean
  /** The connection's state and last error as OVS records them (BACKOFF, "Connection refused"). */
  state: string | null
  lastError: string | null
}

export interface OvsFlow {
  table: number
  priority: number
  /** Match fields in the order printed: `ip`, `in_port=2`, `nw_dst=10.0.0.0/8` (a bare protocol has no value). */
  match: {field: string; value?: string}[]
  /** Actions in order, as printed ("drop", "NORMAL", "output:3", "resubmit(,1)"); empty: the flow drops. */
  actions: string[]
  packets: number | null
  /** The line as ovs-ofctl printed it. */
  text: string
}

export interface OvsBridge {
  name: string
  /** standalone, secure; null when unset (OVS then behaves as standalone). */
  failMode: string | null
  datapathType: string | null
  controllers: OvsController[]
  ports: OvsPort[]
  /** The bridge's flows; null when they could not be dumped (`flowsUnread` says why). */
  flows: OvsFlow[] | null
  flowsUnread?: string
}

export interface OvsFacts {
  /** ovs-vsctl exists on the host: without it this is not an OVS host. */
  installed: boolean
  /** Its database answered. */
  running: boolean
  /** Why it is not installed or not running. */
  reason?: string
  bridges: OvsBridge[]
  /** Set when the ports and controllers come from `ovs-vsctl show` (a sosreport): what that leaves unknown, and why. */
  showOnly?: string
}

/** One OVSDB JSON value: an atom, ["uuid", id], ["set", [...]] or ["map", [[k, v]...]]. */
type OvsdbValue = string | number | boolean | [string, unknown]

const uuidOf = (v: unknown): string | undefined => (Array.isArray(v) && v[0] === 'uuid' && typeof v[1] === 'string' ? v[1] : undefined)

/** A set column: its atoms (a set of one is printed as the bare atom). */
function setOf(v: unknown): unknown[] {
  if (Array.isArray(v) && v[0] === 'set') return Array.isArray(v[1]) ? v[1] : []
  return v === undefined ? [] : [v]
}

function mapOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (Array.isArray(v) && v[0] === 'map' && Array.isArray(v[1])) for (const kv of v[1]) if (Array.isArray(kv) && typeof kv[0] === 'string') out[kv[0]] = String(kv[1])
  return out
}

/** An optional scalar column: an empty set is "unset". */
const optional = (v: unknown): string | number | boolean | undefined => {
  const atoms = setOf(v)
  const a = atoms[0]
  return typeof a === 'string' || typeof a === 'number' || typeof a === 'boolean' ? a : undefined
}

/** `ovs-vsctl -f json list TABLE`: rows keyed by heading. */
export function parseOvsdbTable(text: string, table: string): Obj[] {
  const doc = parseJson<unknown>(text, `ovs-vsctl list ${table}`)
  if (!isObj(doc) || !Array.isArray(doc.headings) || !Array.isArray(doc.data)) throw new ParseError(`ovs-vsctl list ${table}: no headings and data`)
  const headings = doc.headings.map(String)
  return doc.data.map((row, i) => {
    if (!Array.isArray(row) || row.length !== headings.length) throw new ParseError(`ovs-vsctl list ${table}: row ${i} does not fit the headings`)
    return Object.fromEntries(headings.map((h, j) => [h, row[j] as OvsdbValue]))
  })
}

const numberOf = (v: unknown): number | null => {
  const a = optional(v)
  return typeof a === 'number' ? a : null
}
const stringOf = (v: unknown): string | null => {
  const a = optional(v)
  return typeof a === 'string' && a !== '' ? a : null
}

/** `ovs-vsctl list Interface` rows by UUID. */
function parseInterfaces(text: string): Map<string, OvsInterface> {
  const interfaces = new Map<string, OvsInterface>()
  for (const r of parseOvsdbTable(text, 'Interface')) {
    const id = uuidOf(r._uuid)
    const name = str(r.name)
    if (!id || !name) throw new ParseError('ovs-vsctl list Interface: a row without _uuid or name')
    interfaces.set(id, {
      name,
      type: str(r.type) ?? '',
      ofport: numberOf(r.ofport),
      error: stringOf(r.error),
      linkState: stringOf(r.link_state),
      adminState: stringOf(r.admin_state),
      externalIds: mapOf(r.external_ids),
      macInUse: stringOf(r.mac_in_use),
    })
  }
  return interfaces
}

/** The four listings joined: bridges with their controllers, ports and interfaces (flows are added later). */
export function parseOvsTables(texts: {bridge: string; port: string; iface: string; controller: string}): OvsBridge[] {
  const interfaces = parseInterfaces(texts.iface)
  const ports = new Map<string, OvsPort>()
  for (const r of parseOvsdbTable(texts.port, 'Port')) {
    const id = uuidOf(r._uuid)
    const name = str(r.name)
    if (!id || !name) throw new ParseError('ovs-vsctl list Port: a row without _uuid or name')
    ports.set(id, {
      name,
      interfaces: setOf(r.interfaces).flatMap((u) => interfaces.get(uuidOf(u) ?? '') ?? []),
      tag: numberOf(r.tag),
      trunks: setOf(r.trunks).filter((t): t is number => typeof t === 'number'),
      vlanMode: stringOf(r.vlan_mode),
    })
  }
  const controllers = new Map<string, OvsController>()
  for (const r of parseOvsdbTable(texts.controller, 'Controller')) {
    const id = uuidOf(r._uuid)
    if (!id) throw new ParseError('ovs-vsctl list Controller: a row without _uuid')
    const status = mapOf(r.status)
    controllers.set(id, {target: str(r.target) ?? '', connected: r.is_connected === true, state: status.state ?? null, lastError: status.last_error ?? null})
  }
  return parseOvsdbTable(texts.bridge, 'Bridge').map((r) => {
    const name = str(r.name)
    if (!name) throw new ParseError('ovs-vsctl list Bridge: a row without a name')
    return {
      name,
      failMode: stringOf(r.fail_mode),
      datapathType: stringOf(r.datapath_type),
      controllers: setOf(r.controller).flatMap((u) => controllers.get(uuidOf(u) ?? '') ?? []),
      ports: setOf(r.ports)
        .flatMap((u) => ports.get(uuidOf(u) ?? '') ?? [])
        .sort((a, b) => a.name.localeCompare(b.name)),
      flows: null,
    }
  })
}

/**
 * The bridges as `ovs-vsctl show` lists them (a sosreport holds no `list Port` or `list Controller`), each interface
 * with its row of `list Interface` joined by name (an interface show names and the listing lacks keeps what show
 * says, its OpenFlow port unknown). show prints no vlan_mode (left undefined) and no controller's state.
 */
export function ovsBridgesFromShow(show: ShowBridge[], ifaceText: string): OvsBridge[] {
  const byName = new Map([...parseInterfaces(ifaceText).values()].map((i) => [i.name, i]))
  return show.map((b) => ({
    name: b.name,
    failMode: b.failMode,
    datapathType: b.datapathType,
    controllers: b.controllers.map((c) => ({target: c.target, connected: c.connected, state: null, lastError: null})),
    ports: b.ports
      .map((p) => ({
        name: p.name,
        interfaces: p.interfaces.map((i) => byName.get(i.name) ?? {name: i.name, type: i.type, ofport: null, error: i.error, linkState: null, adminState: null, externalIds: {}, macInUse: null}),
        tag: p.tag,
        trunks: p.trunks,
        vlanMode: undefined,
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    flows: null,
  }))
}

/** Per-flow fields ovs-ofctl prints before the match: statistics, timeouts and flags, not part of what matches. */
const FLOW_META = new Set(['cookie', 'duration', 'table', 'n_packets', 'n_bytes', 'idle_age', 'hard_age', 'idle_timeout', 'hard_timeout', 'importance', 'reset_counts', 'send_flow_rem', 'check_overlap', 'no_packet_counts', 'no_byte_counts', 'out_port', 'out_group'])

/** Splits on commas outside parentheses and brackets ("ct(commit,table=1),output:2"). */
export function splitTopLevel(text: string): string[] {
  const parts: string[] = []
  let depth = 0
  let current = ''
  for (const ch of text) {
    if (ch === '(' || ch === '[' || ch === '{') depth++
    else if (ch === ')' || ch === ']' || ch === '}') depth = Math.max(0, depth - 1)
    if (ch === ',' && depth === 0) {
      parts.push(current)
      current = ''
    } else current += ch
  }
  if (current !== '') parts.push(current)
  return parts.map((p) => p.trim()).filter((p) => p !== '')
}

/** `ovs-ofctl dump-flows BR` (OpenFlow 1.0 or 1.3 replies): one flow per line after the reply header. */
export function parseFlows(text: string): OvsFlow[] {
  const flows: OvsFlow[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || /^(NXST|OFPST)_FLOW reply/.test(line)) continue
    const at = line.search(/(^|[\s,])actions=/)
    if (at < 0) throw new ParseError(`ovs-ofctl dump-flows: a line without actions: ${line.slice(0, 120)}`)
    const head = line.slice(0, at)
    const actionText = line.slice(line.indexOf('actions=', at) + 'actions='.length)
    const flow: OvsFlow = {table: 0, priority: 32768, match: [], actions: [], packets: null, text: line}
    for (const token of head.split(/[\s,]+/).filter((t) => t !== '')) {
      const eq = token.indexOf('=')
      const field = eq < 0 ? token : token.slice(0, eq)
      const value = eq < 0 ? undefined : token.slice(eq + 1)
      if (field === 'priority') flow.priority = Number(value)
      else if (field === 'table') flow.table = Number(value)
      else if (field === 'n_packets') flow.packets = Number(value)
      else if (!FLOW_META.has(field)) flow.match.push(value === undefined ? {field} : {field, value})
    }
    if (!Number.isFinite(flow.priority) || !Number.isFinite(flow.table)) throw new ParseError(`ovs-ofctl dump-flows: bad priority or table: ${line.slice(0, 120)}`)
    flow.actions = splitTopLevel(actionText).filter((a) => a !== 'drop')
    flows.push(flow)
  }
  return flows
}

const LISTINGS = {
  bridge: ['Bridge', '_uuid,name,ports,fail_mode,controller,datapath_type'],
  port: ['Port', '_uuid,name,interfaces,tag,trunks,vlan_mode'],
  iface: ['Interface', '_uuid,name,type,ofport,error,link_state,admin_state,external_ids,mac_in_use'],
  controller: ['Controller', '_uuid,target,is_connected,role,status'],
} as const

/** The database socket is absent when OVS is installed and not started. */
const ovsNotStarted = (c: CommandCapture) => /database connection failed|No such file or directory/.test(c.stderr)
/** A bridge that speaks only newer OpenFlow: asked again in OpenFlow 1.3. */
const versionRefused = (c: CommandCapture) => /version negotiation failed/.test(c.stderr)

/** Where ovsdb-server (started by ovs-ctl or its systemd unit) writes its pid, beside the socket ovs-vsctl asks. */
const OVSDB_PID_FILE = '/run/openvswitch/ovsdb-server.pid'

/** Whether an Open vSwitch device or guest port is in libvirt's XML or the link table; undefined when either is unread. */
async function ovsInUse(get: ProbeContext['get']): Promise<boolean | undefined> {
  const [libvirt, links] = await Promise.all([get<LibvirtFacts>('libvirt'), get<Link[]>('links')])
  if (!libvirt.ok || !links.ok) return undefined
  const ovsPorts = libvirt.data.domains.some((d) => d.interfaces.some((i) => i.virtualport?.type === 'openvswitch')) || libvirt.data.networks.some((n) => n.virtualport === 'openvswitch')
  return ovsPorts || links.data.some((l) => l.kind === 'openvswitch' || l.name === 'ovs-system')
}

/**
 * Whether ovs-vsctl can be left unasked: no pid file of ovsdb-server, no such process, no OVS device or guest port.
 * Then its database cannot answer, and OVS plays no part in the guests' networking. A recording made before the
 * pid file was read holds ovs-vsctl's answer instead (the file is not recorded): that is read.
 */
async function ovsAbsent(runner: ProbeContext['runner'], get: ProbeContext['get']): Promise<boolean> {
  if ((await runner.readFile(OVSDB_PID_FILE)).errorCode !== 'not-found') return false
  const processes = await get<ProcessFacts>('processes')
  if (!processes.ok || processes.data.processes.some((p) => /^(\S*\/)?ovsdb-server(\s|$)/.test(p.args))) return false
  return (await ovsInUse(get)) === false
}

export const ovsProbe: Probe<OvsFacts> = {
  expectedFailure: (c) => (c.kind === 'command' && ((c.argv[0] === 'ovs-vsctl' && ovsNotStarted(c)) || (c.argv[0] === 'ovs-ofctl' && versionRefused(c)))) || (c.kind === 'file' && c.path === OVSDB_PID_FILE),
  id: 'ovs',
  title: 'Open vSwitch bridges, ports, controllers and flows',
  reads: [`${OVSDB_PID_FILE} (with the processes, libvirt and links probes: whether OVS can run at all)`, 'ovs-vsctl -f json list Bridge|Port|Interface|Controller', 'ovs-vsctl show (only where Port and Controller were not recorded: a sosreport)', 'ovs-ofctl dump-flows BR (-O OpenFlow13 when the bridge speaks only that)'],
  async collect({runner, get}) {
    // Most hosts run no Open vSwitch: one process less.
    if (await ovsAbsent(runner, get)) return {installed: false, running: false, reason: 'no ovsdb-server runs (no process, no pid file) and no Open vSwitch device or guest port is there: ovs-vsctl not asked', bridges: []}
    const keys = Object.keys(LISTINGS) as (keyof typeof LISTINGS)[]
    const list = (k: keyof typeof LISTINGS) => runner.run(['ovs-vsctl', '--timeout=5', '-f', 'json', `--columns=${LISTINGS[k][1]}`, 'list', LISTINGS[k][0]])
    // Most hosts have no Open vSwitch running: the first listing says so, and the other three are not spawned.
    const first = await list(keys[0])
    const captures = first.error === undefined ? [first, ...(await Promise.all(keys.slice(1).map(list)))] : [first]
    const texts = Object.fromEntries(keys.map((k, i) => [k, captures[i]?.output ?? ''])) as Record<keyof typeof LISTINGS, string>
    let bridges: OvsBridge[] | undefined
    let showOnly: string | undefined
    const unlisted = keys.filter((k, i) => captures[i]?.errorCode === 'not-recorded')
    if (captures[0].error === undefined && captures[2]?.error === undefined && unlisted.length > 0 && unlisted.every((k) => k === 'port' || k === 'controller')) {
      // A sosreport lists bridges and interfaces, and the ports and controllers only in `ovs-vsctl show`.
      const show = await runner.run(['ovs-vsctl', '--timeout=5', 'show'])
      if (show.error === undefined) {
        bridges = ovsBridgesFromShow(parseOvsShow(show.output), texts.iface)
        showOnly = `ports and controllers read from \`ovs-vsctl show\` (${unlisted.map((k) => `ovs-vsctl list ${LISTINGS[k][0]}`).join(', ')} not recorded): a port's vlan_mode and a controller's state are unknown`
      }
    }
    if (!bridges && captures.some((c) => c.errorCode === 'not-recorded')) {
      // A recording made before this probe: OVS matters only where a guest is plugged into it, which libvirt's
      // XML says (<virtualport type='openvswitch'>) and the link table shows (openvswitch devices). Without
      // either, OVS plays no part in this host's guest networking; with one, it is unknown.
      if ((await ovsInUse(get)) !== false) for (const c of captures) unavailableIfNotRecorded(c)
      return {installed: false, running: false, reason: 'Open vSwitch was not recorded (a recording that predates the ovs probe, a sosreport without its openvswitch plugin) and no Open vSwitch device or guest port shows', bridges: []}
    }
    if (!bridges && captures.some((c) => c.errorCode === 'not-found')) return {installed: false, running: false, reason: 'ovs-vsctl is not installed: not an Open vSwitch host', bridges: []}
    const down = bridges ? undefined : captures.find((c) => c.error !== undefined)
    if (down) {
      // The database socket is absent when OVS is installed and not started: a state of the host, not a failed read.
      if (ovsNotStarted(down)) return {installed: true, running: false, reason: down.stderr.trim().split('\n')[0].slice(0, 200), bridges: []}
      throw new ParseError(`ovs-vsctl: ${down.error}`)
    }
    bridges ??= parseOvsTables(texts)
    await Promise.all(
      bridges.map(async (b) => {
        let dump = await runner.run(['ovs-ofctl', '--timeout=5', 'dump-flows', b.name])
        // A bridge limited to newer OpenFlow versions refuses ovs-ofctl's default 1.0 handshake.
        if (dump.error !== undefined && versionRefused(dump)) dump = await runner.run(['ovs-ofctl', '--timeout=5', '-O', 'OpenFlow13', 'dump-flows', b.name])
        if (dump.error !== undefined) {
          b.flowsUnread = dump.error
          return
        }
        try {
          b.flows = parseFlows(dump.output)
        } catch (error) {
          b.flowsUnread = (error as Error).message
        }
      }),
    )
    return {installed: true, running: true, bridges, ...(showOnly ? {showOnly} : {})}
  },
}

/** The OpenFlow port numbers of a bridge's interfaces, by number ("LOCAL" is the bridge's own port). */
export function portByOfport(bridge: OvsBridge): Map<number, {port: OvsPort; iface: OvsInterface}> {
  const m = new Map<number, {port: OvsPort; iface: OvsInterface}>()
  for (const port of bridge.ports) for (const iface of port.interfaces) if (iface.ofport !== null && iface.ofport >= 0) m.set(iface.ofport, {port, iface})
  return m
}
