import {IP_ADDR} from './first-reads.js'
import {type Obj, type Probe, ParseError, asArray, isObj, num, outputOf, parseJson, str} from './types.js'

export interface Address {
  family: 'inet' | 'inet6'
  address: string
  prefix: number
  scope: string
  /** IPv6 duplicate address detection: still under way (tentative), or failed (another node holds it): not usable. */
  dad?: 'tentative' | 'failed'
}

export type LinkKind = 'loopback' | 'bridge' | 'tap' | 'tun' | 'veth' | 'macvtap' | 'macvlan' | 'vlan' | 'vxlan' | 'bond' | 'dummy' | 'wireguard' | 'ether' | string

export interface Link {
  name: string
  index: number
  kind: LinkKind
  master?: string
  operstate: string
  flags: string[]
  up: boolean
  lowerUp: boolean
  noCarrier: boolean
  mtu: number
  /** The device group (`ip link set DEV group N`): 0 for "default", else its number (absent when ip printed another name). */
  group?: number
  mac?: string
  addresses: Address[]
  /** Only on veths whose other end is in the same namespace: that end's name (iproute2's `link`). */
  peer?: string
  /** Only on bridges. */
  bridge?: {
    stpState: number
    forwardDelayCs: number
    /** The bridge filters by VLAN (then each port's VLANs decide what it sends and takes). */
    vlanFiltering?: boolean
    /**
     * This bridge's own br_netfilter switches (ip link set BR type bridge nf_call_iptables 1): the kernel hands its
     * frames to the IP hooks when either this or the host-wide net.bridge.bridge-nf-call-* sysctl is on.
     */
    nfCallIptables?: boolean
    nfCallIp6tables?: boolean
  }
  /**
   * XDP programs attached (ip prints `xdp` with the mode: 1 driver, 2 generic, 3 offload, 4 several): each runs on every
   * frame the device receives, before tc and netfilter, and may drop, redirect or pass it by BPF code kvmdoctor does not read.
   */
  xdp?: {mode: string; id?: number; name?: string}[]
  /** Only on VRF devices: the routing table their enslaved devices' packets look up (the l3mdev rule); absent when not printed. */
  vrfTable?: number
  /** Only on bridge ports: the port's STP state (forwarding, listening, learning, blocking, disabled). */
  portState?: string
  /** Only on bridge ports: flags that decide what the port sends and takes. */
  port?: {
    /** Broadcast frames (ARP requests, DHCP broadcasts) are flooded to it. */
    bcastFlood?: boolean
    /** Unknown unicast is flooded to it. */
    flood?: boolean
    /** The bridge learns the source MACs of what it sends (off: only static fdb entries name the port). */
    learning?: boolean
    /** 802.1X locking: only MACs with an fdb entry of their own may send. */
    locked?: boolean
    /** Isolated ports talk only to ports that are not isolated. */
    isolated?: boolean
    /** The bridge answers ARP for the port's side and floods nothing to it (broadcasts, unknown unicast). */
    proxyArp?: boolean
  }
}

export function linkKind(raw: Obj): LinkKind {
  const info = isObj(raw.linkinfo) ? raw.linkinfo : undefined
  const infoKind = str(info?.info_kind)
  if (raw.link_type === 'loopback') return 'loopback'
  if (infoKind === 'tun') {
    const type = isObj(info?.info_data) ? str(info.info_data.type) : undefined
    return type === 'tun' ? 'tun' : 'tap'
  }
  return infoKind ?? 'ether'
}

const XDP_MODES = {1: 'driver', 2: 'generic', 3: 'offload'} as const

/** `xdp: {mode, prog: {id, name}}`, or with mode 4 (several) the `attached` list of each mode's program. */
function xdpPrograms(raw: unknown): NonNullable<Link['xdp']> {
  if (!isObj(raw)) return []
  const entries = Array.isArray(raw.attached) && raw.attached.length > 0 ? raw.attached.filter(isObj) : [raw]
  return entries.flatMap((e) => {
    // A mode this reading does not know is still a program on the device: kept, never dropped (that would be a pass).
    const mode: string = XDP_MODES[num(e.mode) as keyof typeof XDP_MODES] ?? `mode ${String(e.mode ?? '?')}`
    const prog = isObj(e.prog) ? e.prog : {}
    return [{mode, ...(num(prog.id) !== undefined ? {id: num(prog.id)} : {}), ...(str(prog.name) ? {name: str(prog.name)} : {})}]
  })
}

export function parseIpAddr(text: string): Link[] {
  const rows = asArray(parseJson(text, 'ip -j -d addr show'), 'ip -j -d addr show')
  return rows.map((row, i) => {
    if (!isObj(row) || typeof row.ifname !== 'string') throw new ParseError(`ip -j -d addr show: entry ${i} has no ifname`)
    const flags = Array.isArray(row.flags) ? row.flags.filter((f): f is string => typeof f === 'string') : []
    const info = isObj(row.linkinfo) ? row.linkinfo : {}
    const link: Link = {
      name: row.ifname,
      index: num(row.ifindex) ?? 0,
      kind: linkKind(row),
      operstate: str(row.operstate) ?? 'UNKNOWN',
      flags,
      up: flags.includes('UP'),
      lowerUp: flags.includes('LOWER_UP'),
      noCarrier: flags.includes('NO-CARRIER'),
      mtu: num(row.mtu) ?? 0,
      addresses: (Array.isArray(row.addr_info) ? row.addr_info : []).filter(isObj).flatMap((a) => {
        const family = a.family
        const address = str(a.local)
        if ((family !== 'inet' && family !== 'inet6') || !address) return []
        const dad = a.dadfailed === true ? 'failed' : a.tentative === true ? 'tentative' : undefined
        return [{family, address, prefix: num(a.prefixlen) ?? (family === 'inet' ? 32 : 128), scope: str(a.scope) ?? 'global', ...(dad ? {dad} : {})}]
      }),
    }
    // ip prints a group's number as text ("5"), 0 as "default", and a name when /etc/iproute2/group has one.
    const group = row.group === 'default' ? 0 : typeof row.group === 'string' && /^\d+$/.test(row.group) ? Number(row.group) : num(row.group)
    if (group !== undefined) link.group = group
    const master = str(row.master)
    if (master) link.master = master
    // A veth's `link` names its peer; with link_netnsid the peer is in another namespace, where the name means nothing here.
    const peer = str(row.link)
    if (peer && info.info_kind === 'veth' && row.link_netnsid === undefined) link.peer = peer
    const xdp = xdpPrograms(row.xdp)
    if (xdp.length > 0) link.xdp = xdp
    const mac = str(row.address)
    if (mac && row.link_type === 'ether') link.mac = mac.toLowerCase()
    if (link.kind === 'vrf' && isObj(info.info_data) && num(info.info_data.table) !== undefined) link.vrfTable = num(info.info_data.table)
    if (link.kind === 'bridge' && isObj(info.info_data)) {
      link.bridge = {stpState: num(info.info_data.stp_state) ?? 0, forwardDelayCs: num(info.info_data.forward_delay) ?? 0}
      if (info.info_data.vlan_filtering === 1 || info.info_data.vlan_filtering === true) link.bridge.vlanFiltering = true
      if (info.info_data.nf_call_iptables === 1) link.bridge.nfCallIptables = true
      if (info.info_data.nf_call_ip6tables === 1) link.bridge.nfCallIp6tables = true
    }
    if (info.info_slave_kind === 'bridge' && isObj(info.info_slave_data)) {
      const slave = info.info_slave_data
      const state = str(slave.state)
      if (state) link.portState = state
      const flag = (v: unknown) => (typeof v === 'boolean' ? v : undefined)
      const port: NonNullable<Link['port']> = {}
      if (flag(slave.bcast_flood) !== undefined) port.bcastFlood = flag(slave.bcast_flood)
      if (flag(slave.flood) !== undefined) port.flood = flag(slave.flood)
      if (flag(slave.learning) !== undefined) port.learning = flag(slave.learning)
      if (flag(slave.locked) !== undefined) port.locked = flag(slave.locked)
      if (flag(slave.isolated) !== undefined) port.isolated = flag(slave.isolated)
      if (flag(slave.proxy_arp) !== undefined) port.proxyArp = flag(slave.proxy_arp)
      if (Object.keys(port).length > 0) link.port = port
    }
    return link
  })
}

export const linksProbe: Probe<Link[]> = {
  id: 'links',
  title: 'Links and addresses',
  reads: ['ip -j -d addr show'],
  async collect({runner}) {
    return parseIpAddr(outputOf(await runner.run(IP_ADDR)))
  },
}
