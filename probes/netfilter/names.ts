/**
 * Protocol, ICMP and flag vocabularies shared by the iptables and nft parsers,
 * so both write the same value for the same thing: l4proto as a name
 * (numbers only for protocols without one), ICMP types and codes as numbers,
 * tcp flags as a bitmask.
 */

/** IP protocol numbers by the names iptables-save and nft print (/etc/protocols). */
const PROTO_NUMBERS: Record<string, number> = {
  hopopt: 0, icmp: 1, igmp: 2, ggp: 3, ipencap: 4, st: 5, tcp: 6, egp: 8, igp: 9, pup: 12, udp: 17, hmp: 20, 'xns-idp': 22,
  rdp: 27, 'iso-tp4': 29, dccp: 33, xtp: 36, ddp: 37, 'idpr-cmtp': 38, ipv6: 41, 'ipv6-route': 43, 'ipv6-frag': 44, idrp: 45,
  rsvp: 46, gre: 47, esp: 50, ah: 51, skip: 57, icmpv6: 58, 'ipv6-nonxt': 59, 'ipv6-opts': 60, rspf: 73, vmtp: 81, eigrp: 88,
  ospf: 89, 'ax.25': 93, ipip: 94, etherip: 97, encap: 98, pim: 103, ipcomp: 108, vrrp: 112, l2tp: 115, isis: 124, sctp: 132,
  fc: 133, 'mobility-header': 135, udplite: 136, 'mpls-in-ip': 137, manet: 138, hip: 139, shim6: 140, wesp: 141, rohc: 142,
  ethernet: 143, mptcp: 262,
}
const PROTO_ALIASES: Record<string, string> = {'ipv6-icmp': 'icmpv6', icmp6: 'icmpv6', 'ipv6-mh': 'mobility-header', mh: 'mobility-header', ospfigp: 'ospf'}
const PROTO_NAMES = new Map(Object.entries(PROTO_NUMBERS).map(([name, n]) => [n, name]))

/** Canonical l4proto: the protocol's name ("icmpv6" for 58), or its number when it has no name; undefined when unknown text. */
export function l4protoValue(text: string | number): string | number | undefined {
  if (typeof text === 'number' || /^\d+$/.test(text)) {
    const n = Number(text)
    return PROTO_NAMES.get(n) ?? n
  }
  const name = text.toLowerCase()
  const canonical = PROTO_ALIASES[name] ?? name
  return canonical in PROTO_NUMBERS ? canonical : undefined
}

export const l4protoNumber = (name: string): number | undefined => PROTO_NUMBERS[PROTO_ALIASES[name] ?? name]

/** tcp flag bits, as iptables --tcp-flags and nft `tcp flags` name them. */
export const TCP_FLAGS: Record<string, number> = {fin: 0x01, syn: 0x02, rst: 0x04, psh: 0x08, ack: 0x10, urg: 0x20, ecn: 0x40, cwr: 0x80}

/** "SYN,RST" / ["syn", "rst"] → 0x06; undefined when a name is unknown. ALL and NONE are iptables' words. */
export function tcpFlagBits(names: string[]): number | undefined {
  let bits = 0
  for (const raw of names) {
    const name = raw.toLowerCase()
    if (name === 'none') continue
    if (name === 'all') bits |= 0x3f
    else if (name in TCP_FLAGS) bits |= TCP_FLAGS[name]
    else return undefined
  }
  return bits
}

export const tcpFlagNames = (bits: number): string[] => Object.entries(TCP_FLAGS).filter(([, b]) => (bits & b) !== 0).map(([n]) => n)

/** ICMP type[/code] by name: iptables (`iptables -p icmp -h`) and nft names. */
const ICMP_TYPES: Record<string, [number, number?]> = {
  'echo-reply': [0], pong: [0], 'destination-unreachable': [3], 'network-unreachable': [3, 0], 'host-unreachable': [3, 1],
  'protocol-unreachable': [3, 2], 'port-unreachable': [3, 3], 'fragmentation-needed': [3, 4], 'source-route-failed': [3, 5],
  'network-unknown': [3, 6], 'host-unknown': [3, 7], 'network-prohibited': [3, 9], 'host-prohibited': [3, 10],
  'tos-network-unreachable': [3, 11], 'tos-host-unreachable': [3, 12], 'communication-prohibited': [3, 13],
  'host-precedence-violation': [3, 14], 'precedence-cutoff': [3, 15], 'source-quench': [4], redirect: [5],
  'network-redirect': [5, 0], 'host-redirect': [5, 1], 'tos-network-redirect': [5, 2], 'tos-host-redirect': [5, 3],
  'echo-request': [8], ping: [8], 'router-advertisement': [9], 'router-solicitation': [10], 'time-exceeded': [11],
  'ttl-exceeded': [11], 'ttl-zero-during-transit': [11, 0], 'ttl-zero-during-reassembly': [11, 1], 'parameter-problem': [12],
  'ip-header-bad': [12, 0], 'required-option-missing': [12, 1], 'timestamp-request': [13], 'timestamp-reply': [14],
  'info-request': [15], 'info-reply': [16], 'address-mask-request': [17], 'address-mask-reply': [18],
}
const ICMPV6_TYPES: Record<string, [number, number?]> = {
  'destination-unreachable': [1], 'no-route': [1, 0], 'communication-prohibited': [1, 1], 'beyond-scope': [1, 2],
  'address-unreachable': [1, 3], 'port-unreachable': [1, 4], 'failed-policy': [1, 5], 'reject-route': [1, 6],
  'packet-too-big': [2], 'time-exceeded': [3], 'ttl-exceeded': [3], 'ttl-zero-during-transit': [3, 0],
  'ttl-zero-during-reassembly': [3, 1], 'parameter-problem': [4], 'bad-header': [4, 0], 'unknown-header-type': [4, 1],
  'unknown-option': [4, 2], 'echo-request': [128], ping: [128], 'echo-reply': [129], pong: [129], 'mld-listener-query': [130],
  'mld-listener-report': [131], 'mld-listener-done': [132], 'mld-listener-reduction': [132], 'router-solicitation': [133],
  'nd-router-solicit': [133], 'router-advertisement': [134], 'nd-router-advert': [134], 'neighbour-solicitation': [135],
  'neighbor-solicitation': [135], 'nd-neighbor-solicit': [135], 'neighbour-advertisement': [136], 'neighbor-advertisement': [136],
  'nd-neighbor-advert': [136], 'nd-redirect': [137], 'router-renumbering': [138], 'ind-neighbor-solicit': [141],
  'ind-neighbor-advert': [142], 'mld2-listener-report': [143],
}
/** nft `icmp code` / `icmpv6 code` / `icmpx code` names. */
const ICMP_CODES: Record<string, number> = {
  'net-unreachable': 0, 'host-unreachable': 1, 'prot-unreachable': 2, 'port-unreachable': 3, 'frag-needed': 4,
  'net-prohibited': 9, 'host-prohibited': 10, 'admin-prohibited': 13,
}
const ICMPV6_CODES: Record<string, number> = {
  'no-route': 0, 'admin-prohibited': 1, 'addr-unreachable': 3, 'port-unreachable': 4, 'policy-fail': 5, 'reject-route': 6,
}

/** "8", "3/4", "echo-request", "port-unreachable" → [type, code?]; undefined when unknown. */
export function icmpTypeCode(text: string, v6: boolean): [number, number?] | undefined {
  const m = /^(\d+)(?:\/(\d+))?$/.exec(text)
  if (m) return m[2] === undefined ? [Number(m[1])] : [Number(m[1]), Number(m[2])]
  return (v6 ? ICMPV6_TYPES : ICMP_TYPES)[text.toLowerCase()]
}

export function icmpCode(text: string | number, v6: boolean): number | undefined {
  if (typeof text === 'number') return text
  if (/^\d+$/.test(text)) return Number(text)
  return (v6 ? ICMPV6_CODES : ICMP_CODES)[text]
}
