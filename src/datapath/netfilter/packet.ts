/**
 * The packet the evaluator walks through the hooks: the header fields rules can
 * match, the connection-tracking state, and the devices of the current hook.
 * `'unknown'` marks a value the host's state cannot tell (a mark set outside the
 * path): a rule reading it is undecidable, never guessed.
 */
import type {TraceStep} from './evaluate.js'

export type Unknown = 'unknown'
export type CtState = 'new' | 'established' | 'related' | 'invalid' | 'untracked'

export interface NfPacket {
  family: 4 | 6
  /** Devices as the current hook sees them: for bridged frames handed to iptables (br_netfilter) both are the bridge. */
  iifname?: string
  oifname?: string
  /** Bridge family hooks: the bridge the ports belong to. */
  ibrname?: string
  obrname?: string
  /** br_netfilter: the bridge ports a bridged frame enters and leaves by (iptables -m physdev). */
  physIn?: string
  physOut?: string
  /** A frame bridged between two ports, seen by the IP hooks through br_netfilter. */
  bridged?: boolean
  src: string
  dst: string
  /** tcp, udp, icmp, icmpv6, or a protocol number as text. */
  l4proto: string
  /** Absent for a TCP or UDP packet: a port NAT picked at random (see natPort), which a rule reading it cannot decide. */
  sport?: number
  dport?: number
  icmpType?: number
  icmpCode?: number
  /** TCP flag bits (fin 0x01, syn 0x02, rst 0x04, psh 0x08, ack 0x10): a connection's first packet is a bare SYN. */
  tcpFlags?: number
  ct: {
    state: CtState
    status: string[]
    direction: 'original' | 'reply'
    mark: number | Unknown
    /**
     * What conntrack's NAT binding does to this packet of a connection already bound (a reply, or a later
     * packet): the destination at the NAT core of prerouting/output (priority -100), the source at the
     * one of postrouting/input (100). Chains before the core see the packet as it came, those after translated.
     */
    translate?: {dst?: string; dport?: number; src?: string; sport?: number}
    /**
     * The conntrack zone the packet is looked up in, as it counts for a connection's reply-direction tuple (absent: 0;
     * a zone of the original direction alone counts as 0 there): what a reply's lookup compares.
     */
    zone?: number | Unknown
    /**
     * A packet of an existing connection (a reply): the zone that connection was made in, and the rule that set it.
     * Looked up in another zone (conntrack's priority, -200), it finds no entry: it is a new connection's first packet.
     */
    conn?: {zone: number | Unknown; by?: TraceStep}
    /** The original tuple of a new connection: its first packet as it came, whatever NAT does to it later. */
    orig?: {src: string; dst: string; sport?: number; dport?: number}
  }
  mark: number | Unknown
  /**
   * Which address of a DNAT address range this walk follows (index, default the first): the kernel gives each
   * connection one by a hash of its client's and the rule's addresses (find_best_ips_proto), so each is followed apart.
   */
  natMember?: number
  pkttype: 'host' | 'broadcast' | 'multicast' | 'other'
  etherSrc?: string
  etherDst?: string
}

export const PROTO_NUMBERS: Record<string, number> = {icmp: 1, igmp: 2, tcp: 6, udp: 17, gre: 47, esp: 50, ah: 51, icmpv6: 58, 'ipv6-icmp': 58, sctp: 132, udplite: 136}

export function protoNumber(p: string | number): number | undefined {
  if (typeof p === 'number') return p
  if (/^\d+$/.test(p)) return Number(p)
  return PROTO_NUMBERS[p.toLowerCase()]
}

export const ICMP_TYPES: Record<string, number> = {
  'echo-reply': 0,
  'destination-unreachable': 3,
  'source-quench': 4,
  redirect: 5,
  'echo-request': 8,
  'router-advertisement': 9,
  'router-solicitation': 10,
  'time-exceeded': 11,
  'parameter-problem': 12,
  'timestamp-request': 13,
  'timestamp-reply': 14,
}
export const ICMPV6_TYPES: Record<string, number> = {
  'destination-unreachable': 1,
  'packet-too-big': 2,
  'time-exceeded': 3,
  'parameter-problem': 4,
  'echo-request': 128,
  'echo-reply': 129,
  'mld-listener-query': 130,
  'mld-listener-report': 131,
  'nd-router-solicit': 133,
  'router-solicitation': 133,
  'nd-router-advert': 134,
  'router-advertisement': 134,
  'nd-neighbor-solicit': 135,
  'neighbour-solicitation': 135,
  'neighbor-solicitation': 135,
  'nd-neighbor-advert': 136,
  'neighbour-advertisement': 136,
  'neighbor-advertisement': 136,
  'nd-redirect': 137,
  'mld2-listener-report': 143,
}

/** A new connection's first packet. */
type PacketFields = Omit<NfPacket, 'ct' | 'mark' | 'pkttype'> & Partial<Pick<NfPacket, 'pkttype' | 'mark'>>

export function newPacket(p: PacketFields): NfPacket {
  return packetOf(p, 0x02, {state: 'new', status: [], direction: 'original', mark: 0, translate: undefined, zone: undefined, conn: undefined, orig: {src: p.src, dst: p.dst, sport: p.sport, dport: p.dport}})
}

/** A reply within an established connection. */
export function replyPacket(p: PacketFields, status: string[] = []): NfPacket {
  return packetOf(p, 0x10, {state: 'established', status, direction: 'reply', mark: 0, translate: undefined, zone: undefined, conn: undefined, orig: undefined})
}

/**
 * Every packet with every field, in one order (absent ones undefined), and so its conntrack state: one hidden class,
 * which copies made by spreading keep. Thousands of packets of a dozen shapes made every read of a field (class keys,
 * rebasing, the hooks' device views) a slow lookup. `tcpFlags`, `mark` and `pkttype` default as a spread over the
 * defaults did: a field P holds, even undefined, wins.
 */
function packetOf(p: PacketFields, tcpFlags: number, ct: NfPacket['ct'] & EveryField<NfPacket['ct']>): NfPacket {
  return {
    family: p.family,
    iifname: p.iifname,
    oifname: p.oifname,
    ibrname: p.ibrname,
    obrname: p.obrname,
    physIn: p.physIn,
    physOut: p.physOut,
    bridged: p.bridged,
    src: p.src,
    dst: p.dst,
    l4proto: p.l4proto,
    sport: p.sport,
    dport: p.dport,
    icmpType: p.icmpType,
    icmpCode: p.icmpCode,
    tcpFlags: 'tcpFlags' in p ? p.tcpFlags : p.l4proto === 'tcp' ? tcpFlags : undefined,
    ct,
    mark: 'mark' in p ? p.mark! : 0,
    natMember: p.natMember,
    pkttype: 'pkttype' in p ? p.pkttype! : 'host',
    etherSrc: p.etherSrc,
    etherDst: p.etherDst,
  } satisfies EveryField<NfPacket>
}

/** T with each of its fields present (optional ones may be undefined): a field added to T and not written here fails to compile, rather than vanishing from every packet. */
type EveryField<T> = {[K in keyof Required<T>]: T[K] | undefined}

/** `src`, `dst`: the addresses as shown, where they are not the packet's own (a flow's "any" or "(no address)"). */
export function describePacket(p: NfPacket, src = p.src, dst = p.dst): string {
  const port = (port?: number) => (port !== undefined ? `:${port}` : '')
  const l4 = p.l4proto === 'icmp' || p.l4proto === 'icmpv6' ? `${p.l4proto}${p.icmpType !== undefined ? ` type ${p.icmpType}` : ''}` : p.l4proto
  return `${l4} ${src}${port(p.sport)} > ${dst}${port(p.dport)} ct ${p.ct.state}`
}
