/**
 * The Open vSwitch hop: what a bridge does with a frame entering by one of its ports, from the
 * recorded state (offline): the port is on the bridge and its interface works, the flow tables in
 * priority order (match fields, then actions, following resubmit/goto_table), the table miss as
 * the fail mode and controller decide it, and for NORMAL the VLAN of the port against the port the
 * frame must leave by. A match field or action kvmdoctor does not evaluate makes the hop
 * indeterminate, never a pass.
 */
import {ipInPrefix, parseIp} from '../lib/addr.js'
import type {OvsBridge, OvsFlow, OvsPort} from '../../probes/ovs.js'
import type {Element} from './elements.js'

/** What the OpenFlow pipeline can see of a frame. */
export interface OvsPacket {
  family: 4 | 6
  /** 'arp' for an ARP frame: src and dst are then its sender's and target's protocol addresses. */
  l4proto: string
  src: string
  dst: string
  sport?: number
  dport?: number
  etherSrc?: string
  /** An Ethernet broadcast (DHCP discover, ARP request). */
  broadcast?: boolean
  /** The VLAN tag it carries as it enters the bridge: null untagged; undefined not known. */
  vlan?: number | null
}

export interface OvsVerdict {
  verdict: 'pass' | 'fail' | 'indeterminate'
  detail: string
  element?: Element
  /** Only the sender's ARP is dropped: the frame itself passes while the ARP caches hold the peer's MAC. */
  arpOnly?: boolean
}

/** OpenFlow's number of the bridge's own (internal, "LOCAL") port. */
const LOCAL = 65534
const IP_PROTO: Record<string, number> = {icmp: 1, tcp: 6, udp: 17, icmpv6: 58}
const PROTO_SHORTHAND: Record<string, {family?: 4 | 6; proto?: string; arp?: boolean}> = {
  ip: {family: 4},
  ipv6: {family: 6},
  tcp: {family: 4, proto: 'tcp'},
  udp: {family: 4, proto: 'udp'},
  icmp: {family: 4, proto: 'icmp'},
  tcp6: {family: 6, proto: 'tcp'},
  udp6: {family: 6, proto: 'udp'},
  icmp6: {family: 6, proto: 'icmpv6'},
  arp: {arp: true},
}

type Tri = boolean | 'unknown'

const portNumber = (bridge: OvsBridge, value: string): number | undefined => {
  if (value === 'LOCAL') return LOCAL
  if (/^\d+$/.test(value)) return Number(value)
  const name = value.replace(/^"|"$/g, '')
  for (const p of bridge.ports) for (const i of p.interfaces) if (i.name === name && i.ofport !== null) return i.ofport
  return undefined
}

function addressMatches(value: string, addr: string): Tri {
  if (addr === 'unknown') return 'unknown'
  if (!parseIp(value.split('/')[0])) return 'unknown'
  if (value.includes('/')) {
    // A dotted mask (10.0.0.0/255.0.0.0) is not a prefix length: not read.
    if (!/\/\d+$/.test(value)) return 'unknown'
    return ipInPrefix(addr, value)
  }
  return parseIp(value)?.value === parseIp(addr)?.value
}

/** Whether one match field holds for the packet; 'unknown' for fields and forms not evaluated. */
function fieldMatches(bridge: OvsBridge, m: OvsFlow['match'][number], p: OvsPacket, inPort: number): Tri {
  const arp = p.l4proto === 'arp'
  const shorthand = PROTO_SHORTHAND[m.field]
  if (shorthand && m.value === undefined) {
    if (shorthand.arp || arp) return shorthand.arp === true && arp
    if (shorthand.family !== p.family) return false
    return shorthand.proto === undefined || shorthand.proto === p.l4proto
  }
  const v = m.value
  if (v === undefined) return 'unknown'
  switch (m.field) {
    case 'in_port': {
      const n = portNumber(bridge, v)
      return n === undefined ? 'unknown' : n === inPort
    }
    case 'dl_type':
    case 'eth_type':
      return Number(v) === (arp ? 0x0806 : p.family === 4 ? 0x0800 : 0x86dd)
    case 'nw_proto':
    case 'ip_proto':
      return IP_PROTO[p.l4proto] === undefined ? 'unknown' : Number(v) === IP_PROTO[p.l4proto]
    case 'nw_src':
    case 'ip_src':
    case 'ipv6_src':
      return addressMatches(v, p.src)
    case 'nw_dst':
    case 'ip_dst':
    case 'ipv6_dst':
      return addressMatches(v, p.dst)
    case 'tp_src':
    case 'tcp_src':
    case 'udp_src':
      return /^\d+$/.test(v) && p.sport !== undefined ? Number(v) === p.sport : 'unknown'
    case 'tp_dst':
    case 'tcp_dst':
    case 'udp_dst':
      return /^\d+$/.test(v) && p.dport !== undefined ? Number(v) === p.dport : 'unknown'
    case 'dl_src':
    case 'eth_src':
      return p.etherSrc && /^[0-9a-f:]{17}$/i.test(v) ? v.toLowerCase() === p.etherSrc.toLowerCase() : 'unknown'
    case 'dl_vlan':
    case 'vlan_tci':
      return vlanMatches(m.field, v, p.vlan)
    default:
      return 'unknown'
  }
}

/**
 * dl_vlan=VID matches a frame tagged with that VLAN (0xffff: an untagged one); vlan_tci=TCI[/MASK] the 802.1Q tag
 * control word, 0 for an untagged frame and 0x1000|VID (the CFI bit) for a tagged one (ovs-fields(7)). The priority
 * bits of a tagged frame are not known: a mask that reads them leaves the match undecided.
 */
function vlanMatches(field: string, value: string, vlan: number | null | undefined): Tri {
  if (vlan === undefined) return 'unknown'
  const n = (t: string) => (/^(0x[0-9a-f]+|\d+)$/i.test(t) ? Number(t) : Number.NaN)
  if (field === 'dl_vlan') {
    const vid = n(value)
    if (Number.isNaN(vid)) return 'unknown'
    return vid === 0xffff ? vlan === null : vlan === vid
  }
  const [tciText, maskText] = value.split('/')
  const tci = n(tciText)
  const mask = maskText === undefined ? 0xffff : n(maskText)
  if (Number.isNaN(tci) || Number.isNaN(mask)) return 'unknown'
  const frame = vlan === null ? 0 : 0x1000 | vlan
  if ((frame & mask & 0x1fff) !== (tci & mask & 0x1fff)) return false
  return vlan !== null && (mask & 0xe000) !== 0 ? 'unknown' : (frame & mask) === (tci & mask)
}

function flowMatches(bridge: OvsBridge, f: OvsFlow, p: OvsPacket, inPort: number): Tri {
  let unknown = false
  for (const m of f.match) {
    const r = fieldMatches(bridge, m, p, inPort)
    if (r === false) return false
    if (r === 'unknown') unknown = true
  }
  return unknown ? 'unknown' : true
}

const flowText = (bridge: OvsBridge, f: OvsFlow) => `ovs-ofctl dump-flows ${bridge.name}: table=${f.table}, priority=${f.priority}${f.match.length ? `,${f.match.map((m) => (m.value === undefined ? m.field : `${m.field}=${m.value}`)).join(',')}` : ''} actions=${f.actions.join(',') || 'drop'}`

export const flowMatchText = (f: OvsFlow) => [`table=${f.table}`, `priority=${f.priority}`, ...f.match.map((m) => (m.value === undefined ? m.field : `${m.field}=${m.value}`))].join(',')

/** The ids libvirt and OpenStack set on a guest's port. */
const GUEST_IDS = ['iface-id', 'vm-uuid', 'attached-mac']

/** The guest's port a flow's in_port names: a port whose interface carries the ids libvirt (or OpenStack) sets. */
function guestPortOf(bridge: OvsBridge, f: OvsFlow): string | undefined {
  const value = f.match.find((m) => m.field === 'in_port')?.value
  const n = value === undefined ? undefined : portNumber(bridge, value)
  const port = n === undefined ? undefined : bridge.ports.find((p) => p.interfaces.some((i) => i.ofport === n))
  return port && isGuestPort(port) ? port.name : undefined
}

const isGuestPort = (port: OvsPort) => port.interfaces.some((i) => GUEST_IDS.some((k) => i.externalIds[k] !== undefined))

const flowElement = (bridge: OvsBridge, f: OvsFlow, verdict: 'drop' | 'undecided'): Element => {
  const guestPort = guestPortOf(bridge, f)
  return {
    id: `ovs-flow:${bridge.name} ${flowMatchText(f)}`,
    kind: 'ovs-flow',
    text: flowText(bridge, f),
    device: bridge.name,
    ovsFlow: {bridge: bridge.name, match: flowMatchText(f), drops: verdict === 'drop', ...(guestPort ? {guestPort} : {})},
  }
}

/** Where a frame must leave the bridge for the path to go on: a port (name), or undefined when any forwarding will do. */
export interface OvsTarget {
  port?: string
  /** The VLAN is checked on the other direction of the same path (a reply enters by the trunk, tagged). */
  skipVlan?: boolean
}

type Outcome = {kind: 'forward'; how: string; normal: boolean; outPort?: string} | {kind: 'stop'; verdict: OvsVerdict}

/** The actions of one flow, in order; resubmits run the table named. */
function runActions(bridge: OvsBridge, f: OvsFlow, p: OvsPacket, inPort: number, target: OvsTarget, depth: number): Outcome {
  if (f.actions.length === 0) return {kind: 'stop', verdict: {verdict: 'fail', detail: `dropped by ${flowText(bridge, f)}`, element: flowElement(bridge, f, 'drop')}}
  let dropped: Outcome | undefined
  const undecided = (what: string): Outcome => ({kind: 'stop', verdict: {verdict: 'indeterminate', detail: `${flowText(bridge, f)}: action ${what} is not evaluated`, element: flowElement(bridge, f, 'undecided')}})
  for (const a of f.actions) {
    const upper = a.toUpperCase()
    if (upper === 'NORMAL' || upper === 'FLOOD' || upper === 'ALL') return {kind: 'forward', how: `${a} (${flowText(bridge, f)})`, normal: true}
    const table = /^resubmit\(\s*(\d*)\s*,\s*(\d+)\s*\)$/.exec(a) ?? /^goto_table:(\d+)$/.exec(a)
    if (table) {
      if (table[0].startsWith('resubmit') && table[1] !== '') return undecided(a)
      // The table's actions run, then this flow's remaining ones: a drop there leaves them to decide.
      const next = runTable(bridge, Number(table.at(-1)), p, inPort, target, depth + 1)
      if (next.kind === 'forward' || next.verdict.verdict !== 'fail') return next
      dropped = next
      continue
    }
    const output = /^output:(\S+)$/.exec(a) ?? (/^(\d+|LOCAL|IN_PORT|in_port)$/.test(a) ? [a, a] : null)
    if (output) {
      const value = output[1]
      if (/^(IN_PORT|in_port)$/.test(value)) return undecided(a)
      const n = portNumber(bridge, value)
      const out = bridge.ports.find((port) => port.interfaces.some((i) => i.ofport === n))
      if (!out || target.port === undefined) return undecided(a)
      if (out.name === target.port) return {kind: 'forward', how: `${a} (${flowText(bridge, f)})`, normal: false, outPort: out.name}
      return undecided(`${a} (to ${out.name}, not ${target.port})`)
    }
    // Rewrites of the VLAN or addresses, and notes, do not decide whether the frame goes on.
    if (/^(mod_vlan_vid|mod_vlan_pcp|strip_vlan|pop_vlan|push_vlan|note|mod_dl_src|mod_dl_dst)\b/.test(a)) continue
    return undecided(a)
  }
  return dropped ?? {kind: 'stop', verdict: {verdict: 'fail', detail: `${flowText(bridge, f)}: no action sends the frame on`, element: flowElement(bridge, f, 'drop')}}
}

function runTable(bridge: OvsBridge, table: number, p: OvsPacket, inPort: number, target: OvsTarget, depth = 0): Outcome {
  if (depth > 16) return {kind: 'stop', verdict: {verdict: 'indeterminate', detail: `the flows of ${bridge.name} resubmit too deep to follow`}}
  const flows = (bridge.flows ?? []).filter((f) => f.table === table).sort((a, b) => b.priority - a.priority)
  for (let i = 0; i < flows.length; i++) {
    const f = flows[i]
    const hit = flowMatches(bridge, f, p, inPort)
    if (hit === false) continue
    const outcome = runActions(bridge, f, p, inPort, target, depth)
    if (hit === true) return outcome
    // A match kvmdoctor cannot tell: both ways must agree.
    const skipped = runTableFrom(bridge, flows, i + 1, table, p, inPort, target, depth)
    if (outcome.kind === 'forward' && skipped.kind === 'forward') return outcome
    if (outcome.kind === 'stop' && skipped.kind === 'stop' && outcome.verdict.verdict === 'fail' && skipped.verdict.verdict === 'fail') return outcome
    const says = (o: Outcome) => (o.kind === 'forward' ? 'forwarded' : o.verdict.detail)
    return {kind: 'stop', verdict: {verdict: 'indeterminate', detail: `${flowText(bridge, f)}: a match kvmdoctor does not evaluate decides (${says(outcome)} if it matches, ${says(skipped)} if not)`, element: flowElement(bridge, f, 'undecided')}}
  }
  return tableMiss(bridge, table)
}

function runTableFrom(bridge: OvsBridge, sorted: OvsFlow[], from: number, table: number, p: OvsPacket, inPort: number, target: OvsTarget, depth: number): Outcome {
  const rest = {...bridge, flows: [...sorted.slice(from), ...(bridge.flows ?? []).filter((f) => f.table !== table)]}
  return runTable(rest, table, p, inPort, target, depth)
}

/**
 * No flow matches. With a controller connected the frame is the controller's to decide. Without
 * one, a standalone bridge falls back to a learning switch; a secure one (and any bridge without a
 * controller at all: OpenFlow's table miss) drops it.
 */
function tableMiss(bridge: OvsBridge, table: number): Outcome {
  const connected = bridge.controllers.some((c) => c.connected)
  if (connected) return {kind: 'stop', verdict: {verdict: 'indeterminate', detail: `no flow of table ${table} on ${bridge.name} matches: the connected controller decides`}}
  const secure = bridge.failMode === 'secure'
  if (bridge.controllers.length > 0 && !secure) return {kind: 'forward', how: `no flow matches and the controller is not connected: ${bridge.name} falls back to a learning switch (fail_mode standalone)`, normal: true}
  const why = bridge.controllers.length === 0 ? 'no controller is set' : `its controller ${bridge.controllers.map((c) => c.target).join(', ')} is not connected`
  return {
    kind: 'stop',
    verdict: {
      verdict: 'fail',
      detail: `no flow of table ${table} on ${bridge.name} matches and ${why}${secure ? ' (fail_mode secure)' : ''}: the frame is dropped`,
      element: secure
        ? {id: `ovs-controller:${bridge.name}`, kind: 'ovs-controller', text: `${bridge.name}: fail_mode secure, ${why}`, device: bridge.name}
        : {id: `ovs-flow:${bridge.name} table=${table} miss`, kind: 'ovs-flow', text: `${bridge.name}: no flow of table ${table} matches (table miss drops)`, device: bridge.name, ovsFlow: {bridge: bridge.name, match: `table=${table}`, drops: true}},
    },
  }
}

/** Ports of a bridge that lead off the host or to other switches: not internal, not a guest's (by its ids, or a running guest's tap). */
export function uplinkPorts(bridge: OvsBridge, guestTaps: Set<string>): OvsPort[] {
  return bridge.ports.filter((p) => p.name !== bridge.name && !guestTaps.has(p.name) && p.interfaces.every((i) => i.type !== 'internal') && !isGuestPort(p))
}

type VlanMode = 'access' | 'trunk' | 'native-tagged' | 'native-untagged'
const VLAN_MODES: readonly VlanMode[] = ['access', 'trunk', 'native-tagged', 'native-untagged']

/**
 * The VLAN modes a port may be in: its vlan_mode, else (unset) OVS's default, access when it has a tag, trunk when not
 * (ovs-vswitchd.conf.db(5)). Not read (a sosreport's `ovs-vsctl show` does not print it): the modes that use every
 * column show printed and need no other (a tag alone: access or native; a tag and trunks: native; trunks alone or
 * neither: trunk), as OVS ignores a tag on a trunk port and trunks on an access port.
 */
export function portModes(port: OvsPort): VlanMode[] {
  const mode = port.vlanMode
  if (VLAN_MODES.includes(mode as VlanMode)) return [mode as VlanMode]
  if (mode !== undefined || port.tag === null) return [port.tag !== null ? 'access' : 'trunk']
  return port.trunks.length > 0 ? ['native-tagged', 'native-untagged'] : ['access', 'native-tagged', 'native-untagged']
}

/** The answer every mode the port may be in gives; undefined when they differ (its vlan_mode decides and was not read). */
function agreed<T>(port: OvsPort, answer: (mode: VlanMode) => T): T | undefined {
  const answers = new Set(portModes(port).map(answer))
  return answers.size === 1 ? [...answers][0] : undefined
}

/** The VLAN a port puts an untagged frame in: an access port's tag, a native port's native VLAN (its tag), none on a trunk (trunk is never one of several modes a port may be in). */
export const portVlan = (port: OvsPort): number | null => (portModes(port)[0] === 'trunk' ? null : port.tag)

/**
 * A port carries a VLAN (none: untagged, VLAN 0): an access port its tag only; a trunk its list (empty: all); a native
 * port its native VLAN and its list. undefined: its vlan_mode decides and was not read.
 */
export function portCarries(port: OvsPort, vlan: number | null): boolean | undefined {
  const trunked = port.trunks.length === 0 || port.trunks.includes(vlan ?? 0)
  return agreed(port, (mode) => (mode === 'access' ? port.tag === vlan : mode === 'trunk' ? trunked : port.tag === vlan || trunked))
}

/** Whether a port trunks (its list can gain a VLAN): false when it is, or may be, an access port. */
export const portTrunks = (port: OvsPort): boolean => !portModes(port).includes('access')

/** A port's VLANs as ovs-vsctl sets them. */
export function portVlans(port: OvsPort): string {
  const list = port.trunks.length > 0 ? `VLANs ${port.trunks.join(',')}` : 'all VLANs'
  const modes = portModes(port)
  const words = (mode: VlanMode) => (mode === 'access' ? `access port in ${port.tag === null ? 'no VLAN' : `VLAN ${port.tag}`}` : mode === 'trunk' ? `trunk of ${list}` : `${mode} port: native VLAN ${port.tag ?? 'none'}, trunk of ${list}`)
  return modes.length === 1 ? words(modes[0]) : `tag ${port.tag ?? 'none'}${port.trunks.length > 0 ? `, trunks ${port.trunks.join(',')}` : ''} (vlan_mode not read: ${modes.join(' or ')})`
}

/**
 * A frame entering `bridge` by port `inPortName`, which must leave by `target.port` (when known).
 * `bridge` undefined: the OVS state could not be read (`unknownReason`).
 */
export function ovsVerdict(bridge: OvsBridge | undefined, unknownReason: string | undefined, bridgeName: string, inPortName: string, p: OvsPacket, target: OvsTarget = {}): OvsVerdict {
  if (!bridge) {
    if (unknownReason === undefined) return {verdict: 'fail', detail: `Open vSwitch has no bridge ${bridgeName}`, element: {id: `ovs-port:${bridgeName} ${inPortName}`, kind: 'ovs-port', text: `ovs-vsctl: no bridge ${bridgeName} (port ${inPortName} is not on it)`, device: inPortName, master: bridgeName}}
    return {verdict: 'indeterminate', detail: `Open vSwitch bridge ${bridgeName} not read (${unknownReason})`, element: {id: 'ovs:not-read', kind: 'ovs-port', text: `Open vSwitch not read: ${unknownReason}`}}
  }
  const port = bridge.ports.find((x) => x.name === inPortName)
  if (!port) return {verdict: 'fail', detail: `${inPortName} is not a port of Open vSwitch bridge ${bridge.name}`, element: {id: `ovs-port:${bridge.name} ${inPortName}`, kind: 'ovs-port', text: `ovs-vsctl list-ports ${bridge.name}: no ${inPortName}`, device: inPortName, master: bridge.name}}
  const broken = port.interfaces.find((i) => i.error !== null || i.ofport === -1)
  if (broken) return {verdict: 'fail', detail: `OVS interface ${broken.name}: ${broken.error ?? 'ofport -1 (not opened)'}`, element: {id: `ovs-interface:${broken.name}`, kind: 'ovs-interface', text: `ovs-vsctl list interface ${broken.name}: ${broken.error ? `error "${broken.error}"` : ''} ofport ${broken.ofport ?? '[]'}`.replace('  ', ' '), device: broken.name, master: bridge.name}}
  if (bridge.flows === null) return {verdict: 'indeterminate', detail: `the flows of ${bridge.name} could not be dumped (${bridge.flowsUnread ?? 'unknown'})`, element: {id: `ovs-flows:${bridge.name}`, kind: 'ovs-flow', text: `ovs-ofctl dump-flows ${bridge.name}: not read`, device: bridge.name}}
  const inPort = port.interfaces[0]?.ofport
  if (inPort === null || inPort === undefined) return {verdict: 'indeterminate', detail: `${inPortName} has no OpenFlow port number yet`}
  p = {...p, vlan: enteringVlan(bridge, port, target)}
  const verdict = frameVerdict(bridge, port, inPort, p, target)
  if (verdict.verdict !== 'pass' || p.family !== 4 || p.broadcast === true || p.l4proto === 'arp') return verdict
  // A unicast IPv4 frame follows its sender's ARP through the same port (the request for the next hop's MAC, or the
  // answer to the peer's): flows that drop ARP cut the path once the caches run out. Its addresses are not known here.
  const arp = frameVerdict(bridge, port, inPort, {family: 4, l4proto: 'arp', src: 'unknown', dst: 'unknown', ...(p.etherSrc ? {etherSrc: p.etherSrc} : {}), broadcast: true, vlan: p.vlan}, target)
  if (arp.verdict === 'pass') return verdict
  return {...arp, detail: `ARP entering by ${inPortName}: ${arp.detail}`, ...(arp.verdict === 'fail' ? {arpOnly: true} : {})}
}

/**
 * The tag a frame carries entering by `port` on its way to `target.port`: none by an access port or a guest's (a guest
 * sends untagged); by a trunk, the VLAN of the port it is for (the trunk's native VLAN untagged on a native-untagged port);
 * not known when that port is not.
 */
function enteringVlan(bridge: OvsBridge, port: OvsPort, target: OvsTarget): number | null | undefined {
  if (isGuestPort(port)) return null
  const out = target.port === undefined ? undefined : bridge.ports.find((x) => x.name === target.port)
  const vlan = out ? portVlan(out) : undefined
  return agreed(port, (mode) => {
    if (mode === 'access') return null
    if (vlan === undefined) return undefined
    return vlan === null || (mode === 'native-untagged' && port.tag === vlan) ? null : vlan
  })
}

/** What a bridge's flows do with a guest's IPv4 unicast frame: send it on, drop it by a flow, leave it to the table miss. */
export type UnicastFate = 'forwarded' | 'dropped-by-flow' | 'table-miss' | 'unknown'

/**
 * The fate of an IPv4 unicast frame a guest sends by this port (a TCP segment to an address not known, anywhere):
 * 'unknown' where a match or action kvmdoctor does not evaluate decides, the flows were not read, or the port has no
 * OpenFlow number. A table miss is the controller's to decide, or (none connected, fail_mode secure) a drop.
 */
export function guestUnicastFate(bridge: OvsBridge, portName: string): UnicastFate {
  const inPort = bridge.ports.find((x) => x.name === portName)?.interfaces[0]?.ofport
  if (bridge.flows === null || inPort === null || inPort === undefined) return 'unknown'
  // The guest sends untagged: its frame enters untagged by its own port, whatever the port's VLAN mode.
  const outcome = runTable(bridge, 0, {family: 4, l4proto: 'tcp', src: 'unknown', dst: 'unknown', vlan: null}, inPort, {})
  if (outcome.kind === 'forward') return 'forwarded'
  if (outcome.verdict.verdict !== 'fail') return 'unknown'
  return outcome.verdict.element?.kind === 'ovs-controller' ? 'table-miss' : 'dropped-by-flow'
}

/** One frame through the bridge's tables, then (forwarded by NORMAL) the VLAN of the port it must leave by. */
function frameVerdict(bridge: OvsBridge, port: OvsPort, inPort: number, p: OvsPacket, target: OvsTarget): OvsVerdict {
  const outcome = runTable(bridge, 0, p, inPort, target)
  if (outcome.kind === 'stop') return outcome.verdict
  if (outcome.normal && target.port !== undefined && !target.skipVlan) {
    const out = bridge.ports.find((x) => x.name === target.port)
    const vlan = portVlan(port)
    const carries = out ? portCarries(out, vlan) : true
    if (out && carries === undefined) {
      return {verdict: 'indeterminate', detail: `whether ${out.name} (${portVlans(out)}) carries the VLAN of ${port.name} (${portVlans(port)}) depends on a vlan_mode not read`, element: {id: `ovs-vlan:${bridge.name} ${port.name}`, kind: 'ovs-vlan', text: `${bridge.name}: port ${port.name} ${portVlans(port)}, ${out.name} ${portVlans(out)}`, device: port.name, master: bridge.name}}
    }
    if (out && !carries) {
      const where = portVlans(out)
      return {
        verdict: 'fail',
        detail: `${port.name} puts the frame in ${vlan === null ? 'no VLAN' : `VLAN ${vlan}`}, and ${out.name} (${where}) does not carry it`,
        element: {id: `ovs-vlan:${bridge.name} ${port.name}`, kind: 'ovs-vlan', text: `${bridge.name}: port ${port.name} tag ${vlan ?? 'none'}, ${out.name} ${where}`, device: port.name, master: bridge.name},
      }
    }
  }
  return {verdict: 'pass', detail: `Open vSwitch ${bridge.name}: ${outcome.how}`}
}
