/**
 * The wire as witness (--listen): what each running guest actually sends, heard passively on
 * its tap with tcpdump. Nothing is sent. Two bounded captures per tap run at once, for all taps
 * together: the ARP, DHCP and ICMPv6 frames decoded (-vv, headers and DHCP options only), and
 * every other frame of the guest quietly (-q, 96-byte snapshots: addresses, never payload).
 */
import {parseIp} from '../src/lib/addr.js'
import {getOrCreate} from '../src/lib/collections.js'
import {markDegraded} from '../src/lib/degraded.js'
import type {LibvirtFacts} from './libvirt.js'
import {type Probe, ProbeUnavailable} from './types.js'

/** Packets and bytes of text kept per capture: a chatty guest cannot make the run unbounded. */
export const WIRE_LIMITS = {
  decoded: {packets: 400, bytes: 256 * 1024},
  quiet: {packets: 200, bytes: 64 * 1024},
} as const

export type ArpKind = 'request' | 'reply' | 'probe' | 'announcement'
export type DhcpMessage = 'discover' | 'offer' | 'request' | 'decline' | 'ack' | 'nak' | 'release' | 'inform'

export interface WirePacket {
  /** Seconds since midnight (tcpdump's time of day): compared within one run only. */
  time: number
  src: string
  dst: string
  arp?: {kind: ArpKind; senderIp: string; targetIp: string; senderMac: string}
  ipv4?: {src: string; dst: string; proto?: 'udp' | 'tcp' | 'icmp'; srcPort?: number; dstPort?: number}
  /** An ICMP error about a host or port (what a router or the destination says about an earlier packet). */
  icmpError?: {host: string; what: string; proto?: 'udp' | 'tcp'; port?: number}
  ipv6?: {src: string; dst: string; icmp6?: string; ndTarget?: string}
  dhcp?: {
    op: 'request' | 'reply'
    message?: DhcpMessage
    xid?: string
    chaddr?: string
    clientIp?: string
    yourIp?: string
    serverId?: string
    requestedIp?: string
    clientId?: string
    hostname?: string
    routers?: string[]
    dnsServers?: string[]
    /** Option 56, the server's reason (dnsmasq: "wrong network", or "wrong address" when it already leases the client another). */
    reason?: string
  }
}

const TIME = /^(\d{2}):(\d{2}):(\d{2}(?:\.\d+)?) /
const MAC = '[0-9a-f]{2}(?::[0-9a-f]{2}){5}'
const IPV4 = '\\d{1,3}(?:\\.\\d{1,3}){3}'
const HEADER = new RegExp(`^\\S+ (${MAC}) > (${MAC}|\\S+), (?:ethertype )?(\\S+)`, 'i')
const ARP_REQUEST = new RegExp(`Request who-has (${IPV4})(?: \\(${MAC}\\))? tell (${IPV4})`, 'i')
const ARP_REPLY = new RegExp(`Reply (${IPV4}) is-at (${MAC})`, 'i')
// "192.0.2.9.53 > 192.0.2.1.40000: UDP" (-q), "... [udp sum ok] BOOTP" (-vv): addresses, ports, then what follows.
const IPV4_ADDRS = new RegExp(`(${IPV4})(?:\\.(\\d+))? > (${IPV4})(?:\\.(\\d+))?: (?:\\[[^\\]]*\\] )?(\\S+)`)
// "ICMP 192.0.2.1 udp port 53 unreachable", "ICMP host 192.0.2.53 unreachable - admin prohibited filter"
const ICMP_ERROR = new RegExp(`ICMP (?:(${IPV4}) (udp|tcp) port (\\d+) unreachable|(host|net) (${IPV4}) unreachable(?: - ([a-z ]+))?)`)
const IPV6_ADDRS = /\s([0-9a-f:]*:[0-9a-f:.]*) > ([0-9a-f:]*:[0-9a-f:.]*):/i
const ICMP6 = /ICMP6, ([a-z ]+?)(?:,|$)/m
const ND_TARGET = /(?:who has|tgt is) ([0-9a-f:.]+)/i
const DHCP_MESSAGES: Record<string, DhcpMessage> = {discover: 'discover', offer: 'offer', request: 'request', decline: 'decline', ack: 'ack', nack: 'nak', nak: 'nak', release: 'release', inform: 'inform'}

/**
 * Parses `tcpdump -n -e -l` output (with -vv or -q): one packet per timestamped line plus its
 * indented continuation lines. Lines it does not understand are skipped, never guessed at.
 */
export function parseTcpdump(text: string): WirePacket[] {
  const packets: WirePacket[] = []
  let block: string[] = []
  let time = 0
  let lastTime = -1
  let days = 0
  const flush = () => {
    if (block.length > 0) {
      const p = parsePacket(block, time)
      if (p) packets.push(p)
    }
    block = []
  }
  for (const line of text.split('\n')) {
    const t = TIME.exec(line)
    if (t) {
      flush()
      const ofDay = Number(t[1]) * 3600 + Number(t[2]) * 60 + Number(t[3])
      // A capture running over midnight: the clock starts again at 0.
      if (lastTime >= 0 && ofDay + 43_200 < lastTime - days * 86_400) days++
      time = ofDay + days * 86_400
      lastTime = time
      block.push(line)
    } else if (block.length > 0 && /^\s/.test(line)) {
      block.push(line)
    }
  }
  flush()
  return packets
}

function parsePacket(lines: string[], time: number): WirePacket | undefined {
  const head = HEADER.exec(lines[0])
  if (!head) return undefined
  const packet: WirePacket = {time, src: head[1].toLowerCase(), dst: head[2].toLowerCase()}
  const type = head[3].replace(/,$/, '')
  const text = lines.length === 1 ? lines[0] : lines.join('\n')
  if (type === 'ARP') {
    const req = ARP_REQUEST.exec(text)
    const rep = req ? null : ARP_REPLY.exec(text)
    if (req) {
      const [, target, sender] = req
      // RFC 5227: a probe asks with sender 0.0.0.0; an announcement asks for its own address.
      const kind: ArpKind = sender === '0.0.0.0' ? 'probe' : sender === target ? 'announcement' : 'request'
      packet.arp = {kind, senderIp: sender, targetIp: target, senderMac: packet.src}
    } else if (rep) {
      packet.arp = {kind: 'reply', senderIp: rep[1], targetIp: '', senderMac: rep[2].toLowerCase()}
    }
    return packet
  }
  if (type === 'IPv4') {
    // -vv puts the addresses on the line after "(tos ...)"; -q right after the header.
    const rest = text.slice(text.indexOf(': ') + 1)
    const addrs = IPV4_ADDRS.exec(rest)
    if (addrs) {
      const [, src, srcPort, dst, dstPort, next] = addrs
      const proto = /^(UDP|BOOTP)/.test(next) || /proto UDP/.test(text) ? 'udp' : /^tcp/i.test(next) || /proto TCP/.test(text) ? 'tcp' : /^ICMP/.test(next) ? 'icmp' : undefined
      packet.ipv4 = {src, dst, ...(proto ? {proto} : {}), ...(srcPort ? {srcPort: Number(srcPort)} : {}), ...(dstPort ? {dstPort: Number(dstPort)} : {})}
      if (proto === 'icmp') {
        const e = ICMP_ERROR.exec(rest)
        if (e) packet.icmpError = e[1] ? {host: e[1], what: `${e[2]} port ${e[3]} unreachable`, proto: e[2] as 'udp' | 'tcp', port: Number(e[3])} : {host: e[5], what: `${e[4]} unreachable${e[6] ? ` (${e[6].trim()})` : ''}`}
      }
    }
    if (/BOOTP\/DHCP/.test(text)) packet.dhcp = parseDhcp(text)
    return packet
  }
  if (type === 'IPv6') {
    const addrs = IPV6_ADDRS.exec(text.slice(text.indexOf(': ') + 1))
    const src = addrs && ipv6Address(addrs[1])
    const dst = addrs && ipv6Address(addrs[2])
    if (src && dst) {
      packet.ipv6 = {src, dst}
      const icmp6 = ICMP6.exec(text)
      if (icmp6) {
        packet.ipv6.icmp6 = icmp6[1]
        const target = icmp6[1].startsWith('neighbor ') ? ND_TARGET.exec(text) : null
        const ndTarget = target && ipv6Address(target[1])
        if (ndTarget) packet.ipv6.ndTarget = ndTarget
      }
    }
    return packet
  }
  return packet
}

/**
 * tcpdump joins a port to an IPv6 address with a dot ("fe80::1.546"), and a dot is also part of an
 * address's embedded IPv4 form ("::ffff:192.0.2.1"): the address is what parses as IPv6, as printed or
 * without its last ".N".
 */
function ipv6Address(printed: string): string | undefined {
  // A capture repeats a handful of addresses thousands of times: each is validated once.
  if (IPV6_SEEN.has(printed)) return IPV6_SEEN.get(printed)
  if (IPV6_SEEN.size > 4096) IPV6_SEEN.clear()
  const address = validIpv6(printed)
  IPV6_SEEN.set(printed, address)
  return address
}
const IPV6_SEEN = new Map<string, string | undefined>()

function validIpv6(printed: string): string | undefined {
  const text = printed.toLowerCase()
  if (parseIp(text)?.family === 6) return text
  const bare = text.replace(/\.\d+$/, '')
  return bare !== text && parseIp(bare)?.family === 6 ? bare : undefined
}

function parseDhcp(text: string): NonNullable<WirePacket['dhcp']> {
  const field = (re: RegExp) => re.exec(text)?.[1]
  const dhcp: NonNullable<WirePacket['dhcp']> = {op: /BOOTP\/DHCP, Reply/.test(text) ? 'reply' : 'request'}
  const message = field(/DHCP-Message \(53\), length \d+: (\w+)/)
  if (message && DHCP_MESSAGES[message.toLowerCase()]) dhcp.message = DHCP_MESSAGES[message.toLowerCase()]
  const assign = <K extends keyof typeof dhcp>(key: K, value: (typeof dhcp)[K] | undefined) => {
    if (value !== undefined) dhcp[key] = value
  }
  assign('chaddr', field(new RegExp(`Client-Ethernet-Address (${MAC})`, 'i'))?.toLowerCase())
  assign('clientIp', field(new RegExp(`Client-IP (${IPV4})`)))
  assign('yourIp', field(new RegExp(`Your-IP (${IPV4})`)))
  assign('serverId', field(new RegExp(`Server-ID \\(54\\), length \\d+: (${IPV4})`)))
  assign('requestedIp', field(new RegExp(`Requested-IP \\(50\\), length \\d+: (${IPV4})`)))
  assign('hostname', field(/Hostname \(12\), length \d+: "([^"\n]*)"/))
  assign('xid', field(/, xid (0x[0-9a-f]+)/))
  assign('reason', field(/MSG \(56\), length \d+: "([^"\n]*)"/))
  const addresses = (re: RegExp) => field(re)?.match(new RegExp(IPV4, 'g')) ?? undefined
  assign('routers', addresses(/Default-Gateway \(3\), length \d+: ([^\n]+)/))
  assign('dnsServers', addresses(/Domain-Name-Server \(6\), length \d+: ([^\n]+)/))
  const clientId = field(/Client-ID \(61\), length \d+: ([^\n]+)/)
  if (clientId) dhcp.clientId = normaliseClientId(clientId.trim())
  return dhcp
}

/**
 * tcpdump's client id as dnsmasq writes it in its lease file (hex bytes with colons), so one
 * id compares across the wire and the leases: "ether M" is type 1 and M; "hardware-type N, X"
 * is N and X; anything else (a text id) is kept as printed.
 */
export function normaliseClientId(printed: string): string {
  const ether = new RegExp(`^ether (${MAC})$`, 'i').exec(printed)
  if (ether) return `01:${ether[1].toLowerCase()}`
  const typed = /^hardware-type (\d+), ([0-9a-f]{2}(?::[0-9a-f]{2})*)$/i.exec(printed)
  if (typed) return `${Number(typed[1]).toString(16).padStart(2, '0')}:${typed[2].toLowerCase()}`
  return printed
}

export interface DhcpAnswer {
  message: 'offer' | 'ack' | 'nak'
  /** The server's identifier (option 54), else the reply's source address. */
  server: string
  serverMac: string
  /** The address offered or acknowledged. */
  address?: string
  /** The gateway and DNS servers it hands out (options 3 and 6). */
  routers?: string[]
  dnsServers?: string[]
}

/** One DHCPREQUEST of the guest (its retries share a transaction id) and the answer to it. */
export interface DhcpRequestSeen {
  /**
   * RFC 2131 4.3.2: selecting (takes an OFFER: names its server), init-reboot (asks to keep a
   * remembered address: option 50 alone), renewing (from its address, unicast), rebinding (from
   * its address, broadcast).
   */
  state: 'selecting' | 'init-reboot' | 'renewing' | 'rebinding'
  address: string
  firstAt: number
  lastAt: number
  /** Transmissions of this request. */
  sent: number
  answer?: {message: 'ack' | 'nak'; server: string; serverMac: string; reason?: string}
}

/** What the guest asked for one neighbour address (ARP requests, IPv6 neighbour solicitations), and who answered. */
export interface NeighbourAsk {
  ip: string
  asks: number
  firstAt: number
  lastAt: number
  /** The addresses it asked from (ARP sender; IPv6 source). */
  from: string[]
  /** MACs that answered (ARP replies, neighbour advertisements to it). */
  answeredBy: string[]
}

/** The guest's DNS queries to one server (UDP port 53) and what came back. */
export interface DnsExchange {
  server: string
  queries: number
  firstAt: number
  lastAt: number
  /** Frames from the server's port 53 back to the guest. */
  answers: number
  /** ICMP errors about the server that came back ("udp port 53 unreachable from 192.0.2.1"). */
  errors: string[]
}

/** What one guest interface did on the wire during the listening time. */
export interface WireInterface {
  domain: string
  tap: string
  mac: string
  /** Frames the guest sent (source MAC its own). */
  sent: number
  /** Frames addressed to it (unicast to its MAC). */
  received: number
  /** A capture stopped at its packet or byte cap: the counts are a floor, not the whole. */
  capped: boolean
  /**
   * The capture took the answers it gets (DNS replies, ICMP errors, others' multicast neighbour
   * advertisements); false in recordings made before kvmdoctor captured them: what needs them is not judged.
   */
  answersHeard: boolean
  /** Every IPv4 address the guest used as its own, and where: ARP sender of its requests and announcements, IPv4 source. */
  addresses: {ip: string; via: ('arp' | 'ip')[]}[]
  arp: Record<ArpKind, number>
  /** The addresses it asked ARP for (not its own), and who answered. */
  arpAsked: NeighbourAsk[]
  /** The addresses it answered ARP for, and how often: its own, or others' (proxy ARP, a VIP). */
  arpAnsweredFor: {ip: string; replies: number}[]
  /** Unicast IPv4 destinations of its frames, and the MAC each went to (its gateway's for what leaves the subnet). */
  ipv4Destinations: {ip: string; mac: string; frames: number}[]
  dns: DnsExchange[]
  dhcp: {
    discovers: number
    requests: number
    /** Addresses it asked for by DHCPREQUEST (option 50 or ciaddr). */
    requested: string[]
    /** Each DHCPREQUEST with its state and answer. */
    requestsSeen: DhcpRequestSeen[]
    answers: DhcpAnswer[]
    clientIds: string[]
    hostnames: string[]
  }
  /** Other MACs claiming (ARP reply or announcement) an address this guest uses. */
  contested: {ip: string; mac: string}[]
  ipv6: {
    linkLocal: string[]
    routerSolicitations: number
    routerAdvertisements: number
    /** Its neighbour solicitations (not duplicate address detection), and who answered. */
    solicited: NeighbourAsk[]
    /** Duplicate address detection: the tentative addresses it probed (solicitations from ::). */
    dad: {ip: string; at: number}[]
    /** Neighbour advertisements heard on its tap, its own and multicast ones of others: who claims which IPv6 address. */
    advertised: {ip: string; mac: string; at: number}[]
  }
}

export interface WireFacts {
  seconds: number
  interfaces: WireInterface[]
  /** Taps that could not be listened on, with why. */
  errors: Record<string, string>
}

const isBroadcast = (mac: string) => mac === 'ff:ff:ff:ff:ff:ff'
/** Group (broadcast and multicast) MACs have the low bit of the first octet set. */
const isGroupMac = (mac: string) => (Number.parseInt(mac.slice(0, 2), 16) & 1) === 1
const isUnicastIpv4 = (ip: string) => {
  const first = Number.parseInt(ip, 10)
  return ip !== '0.0.0.0' && ip !== '255.255.255.255' && !(first >= 224 && first <= 239)
}

/** One guest interface's facts from the packets heard on its tap. */
export function summarise(domain: string, tap: string, mac: string, packets: WirePacket[], capped: boolean, answersHeard = true): WireInterface {
  const mine = mac.toLowerCase()
  const addresses = new Map<string, Set<'arp' | 'ip'>>()
  const use = (ip: string, via: 'arp' | 'ip') => {
    if (ip === '0.0.0.0' || ip === '255.255.255.255') return
    getOrCreate(addresses, ip, () => new Set()).add(via)
  }
  const facts: WireInterface = {
    domain,
    tap,
    mac: mine,
    sent: 0,
    received: 0,
    capped,
    answersHeard,
    addresses: [],
    arp: {request: 0, reply: 0, probe: 0, announcement: 0},
    arpAsked: [],
    arpAnsweredFor: [],
    ipv4Destinations: [],
    dns: [],
    dhcp: {discovers: 0, requests: 0, requested: [], requestsSeen: [], answers: [], clientIds: [], hostnames: []},
    contested: [],
    ipv6: {linkLocal: [], routerSolicitations: 0, routerAdvertisements: 0, solicited: [], dad: [], advertised: []},
  }
  const claimsByOthers: {ip: string; mac: string}[] = []
  const push = <T>(list: T[], value: T) => list.includes(value) || list.push(value)
  const arpAsked = new Map<string, NeighbourAsk>()
  const ndAsked = new Map<string, NeighbourAsk>()
  const arpAnswers = new Map<string, Set<string>>()
  const ndAnswers = new Map<string, Set<string>>()
  const answeredFor = new Map<string, number>()
  const destinations = new Map<string, {ip: string; mac: string; frames: number}>()
  const dns = new Map<string, DnsExchange>()
  const dnsErrors: {host: string; text: string}[] = []
  const requests = new Map<string, DhcpRequestSeen>()
  const replies: {xid: string; answer: NonNullable<DhcpRequestSeen['answer']>}[] = []
  const ask = (index: Map<string, NeighbourAsk>, ip: string, from: string, at: number) => {
    const a = getOrCreate(index, ip, () => ({ip, asks: 0, firstAt: at, lastAt: at, from: [], answeredBy: []}))
    a.asks++
    a.lastAt = at
    if (from) push(a.from, from)
  }
  for (const p of packets) {
    const fromGuest = p.src === mine
    if (fromGuest) facts.sent++
    else if (p.dst === mine) facts.received++
    if (p.arp) {
      if (fromGuest) {
        facts.arp[p.arp.kind]++
        if (p.arp.kind === 'request' || p.arp.kind === 'announcement') use(p.arp.senderIp, 'arp')
        if (p.arp.kind === 'request') ask(arpAsked, p.arp.targetIp, p.arp.senderIp, p.time)
        if (p.arp.kind === 'reply') answeredFor.set(p.arp.senderIp, (answeredFor.get(p.arp.senderIp) ?? 0) + 1)
      } else if (p.arp.kind === 'reply' || p.arp.kind === 'announcement') {
        if (p.arp.senderMac !== mine) claimsByOthers.push({ip: p.arp.senderIp, mac: p.arp.senderMac})
        if (p.arp.kind === 'reply' && p.dst === mine) getOrCreate(arpAnswers, p.arp.senderIp, () => new Set()).add(p.arp.senderMac)
      }
    }
    if (p.ipv4) {
      if (fromGuest) {
        use(p.ipv4.src, 'ip')
        if (!isGroupMac(p.dst) && isUnicastIpv4(p.ipv4.dst)) {
          const d = getOrCreate(destinations, `${p.ipv4.dst} ${p.dst}`, () => ({ip: p.ipv4!.dst, mac: p.dst, frames: 0}))
          d.frames++
        }
        if (p.ipv4.proto === 'udp' && p.ipv4.dstPort === 53) {
          const q = getOrCreate(dns, p.ipv4.dst, () => ({server: p.ipv4!.dst, queries: 0, firstAt: p.time, lastAt: p.time, answers: 0, errors: []}))
          q.queries++
          q.lastAt = p.time
        }
      } else if (p.dst === mine) {
        if (p.ipv4.srcPort === 53 && (p.ipv4.proto === 'udp' || p.ipv4.proto === 'tcp')) {
          const q = dns.get(p.ipv4.src)
          if (q) q.answers++
        }
        if (p.icmpError) dnsErrors.push({host: p.icmpError.host, text: `${p.icmpError.what} from ${p.ipv4.src}`})
      }
    }
    if (p.ipv6) {
      const {icmp6, ndTarget} = p.ipv6
      if (fromGuest && p.ipv6.src.startsWith('fe80:')) push(facts.ipv6.linkLocal, p.ipv6.src)
      if (fromGuest && icmp6 === 'router solicitation') facts.ipv6.routerSolicitations++
      if (!fromGuest && icmp6 === 'router advertisement') facts.ipv6.routerAdvertisements++
      if (ndTarget && icmp6 === 'neighbor solicitation' && fromGuest) {
        // RFC 4862 5.4.2: duplicate address detection asks from the unspecified address for the tentative one.
        if (p.ipv6.src === '::') facts.ipv6.dad.push({ip: ndTarget, at: p.time})
        else ask(ndAsked, ndTarget, p.ipv6.src, p.time)
      }
      if (ndTarget && icmp6 === 'neighbor advertisement') {
        facts.ipv6.advertised.push({ip: ndTarget, mac: p.src, at: p.time})
        if (!fromGuest && p.dst === mine) getOrCreate(ndAnswers, ndTarget, () => new Set()).add(p.src)
      }
    }
    const d = p.dhcp
    if (d && d.op === 'request' && (d.chaddr === mine || fromGuest)) {
      if (d.message === 'discover') facts.dhcp.discovers++
      if (d.message === 'request') {
        facts.dhcp.requests++
        const asked = d.requestedIp ?? d.clientIp
        if (asked) {
          push(facts.dhcp.requested, asked)
          const state: DhcpRequestSeen['state'] = d.serverId ? 'selecting' : !d.clientIp || d.clientIp === '0.0.0.0' ? 'init-reboot' : p.ipv4?.dst === '255.255.255.255' ? 'rebinding' : 'renewing'
          const key = `${d.xid ?? p.time} ${asked}`
          const r = getOrCreate(requests, key, () => ({state, address: asked, firstAt: p.time, lastAt: p.time, sent: 0}))
          r.sent++
          r.lastAt = p.time
        }
      }
      if (d.clientId) push(facts.dhcp.clientIds, d.clientId)
      if (d.hostname) push(facts.dhcp.hostnames, d.hostname)
    }
    if (d && d.op === 'reply' && d.chaddr === mine && (d.message === 'offer' || d.message === 'ack' || d.message === 'nak')) {
      const answer: DhcpAnswer = {message: d.message, server: d.serverId ?? p.ipv4?.src ?? '', serverMac: p.src}
      if (d.yourIp) answer.address = d.yourIp
      if (d.routers) answer.routers = d.routers
      if (d.dnsServers) answer.dnsServers = d.dnsServers
      if (!facts.dhcp.answers.some((a) => a.message === answer.message && a.server === answer.server && a.serverMac === answer.serverMac && a.address === answer.address)) facts.dhcp.answers.push(answer)
      if (d.xid && d.message !== 'offer') replies.push({xid: d.xid, answer: {message: d.message, server: answer.server, serverMac: p.src, ...(d.reason ? {reason: d.reason} : {})}})
    }
  }
  facts.addresses = [...addresses].map(([ip, via]) => ({ip, via: [...via].sort()})).sort((a, b) => a.ip.localeCompare(b.ip, undefined, {numeric: true}))
  const own = new Set(addresses.keys())
  for (const c of claimsByOthers) if (own.has(c.ip) && !isBroadcast(c.mac) && !facts.contested.some((x) => x.ip === c.ip && x.mac === c.mac)) facts.contested.push(c)
  const asked = (index: Map<string, NeighbourAsk>, answers: Map<string, Set<string>>) =>
    [...index.values()].map((a) => ({...a, answeredBy: [...(answers.get(a.ip) ?? [])].sort()})).sort((a, b) => a.ip.localeCompare(b.ip, undefined, {numeric: true}))
  facts.arpAsked = asked(arpAsked, arpAnswers)
  facts.ipv6.solicited = asked(ndAsked, ndAnswers)
  facts.arpAnsweredFor = [...answeredFor].map(([ip, replies]) => ({ip, replies})).sort((a, b) => a.ip.localeCompare(b.ip, undefined, {numeric: true}))
  facts.ipv4Destinations = [...destinations.values()].sort((a, b) => a.ip.localeCompare(b.ip, undefined, {numeric: true}) || a.mac.localeCompare(b.mac))
  for (const e of dnsErrors) {
    const q = dns.get(e.host)
    if (q) push(q.errors, e.text)
  }
  facts.dns = [...dns.values()].sort((a, b) => a.server.localeCompare(b.server, undefined, {numeric: true}))
  const byXid = new Map(replies.map((r) => [r.xid, r.answer]))
  for (const [key, r] of requests) {
    const answer = byXid.get(key.slice(0, key.indexOf(' ')))
    if (answer) r.answer = answer
    facts.dhcp.requestsSeen.push(r)
  }
  return facts
}

/**
 * The two captures of one tap; the guest's MAC limits them to its own frames and the answers it
 * gets (a bridged tap also carries the LAN's broadcasts). Decoded: its ARP and ICMPv6, every DHCP
 * frame, and others' multicast neighbour advertisements (the answer to its duplicate address
 * detection). Quiet: everything else it sends, and the DNS answers and ICMP errors that come back.
 * `ownFrames` is the narrower pair kvmdoctor captured before it took the answers: replaying a
 * recording made then runs these (and judges nothing that needs the answers).
 */
export function captureArgv(tap: string, mac: string, scope: 'with-answers' | 'own-frames' = 'with-answers'): {decoded: string[]; quiet: string[]} {
  const dhcp = 'udp port 67 or udp port 68'
  const decoded = ['tcpdump', '-i', tap, '-n', '-e', '-vv', '-l', '-s', '600', '-c', String(WIRE_LIMITS.decoded.packets)]
  const quiet = ['tcpdump', '-i', tap, '-n', '-e', '-q', '-l', '-s', '96', '-c', String(WIRE_LIMITS.quiet.packets)]
  if (scope === 'own-frames') return {decoded: [...decoded, `(ether host ${mac} and (arp or icmp6)) or (${dhcp})`], quiet: [...quiet, `ether src ${mac} and not (arp or icmp6 or ${dhcp})`]}
  return {
    decoded: [...decoded, `(ether host ${mac} and (arp or icmp6)) or (${dhcp}) or (icmp6 and ip6 multicast and ip6[40] == 136)`],
    quiet: [...quiet, `(ether src ${mac} and not (arp or icmp6 or ${dhcp})) or (ether dst ${mac} and (udp src port 53 or tcp src port 53 or icmp))`],
  }
}

const RUNNING = new Set(['running', 'paused', 'idle', 'in shutdown', 'blocked'])

export const wireProbe: Probe<WireFacts> = {
  // A capture cut at its byte cap is still what was heard (the interface is marked capped).
  expectedFailure: (c) => c.errorCode === 'too-large',
  id: 'wire',
  title: "What guests send on their taps (--listen, passive)",
  reads: ['tcpdump -i TAP -n -e -vv (ARP, DHCP, ICMPv6)', 'tcpdump -i TAP -n -e -q (other frames of the guest)'],
  async collect({runner, options, get}) {
    if (!options.listen) throw new ProbeUnavailable('listening is off (use --listen SECONDS to hear what guests send)', true)
    const libvirt = await get<LibvirtFacts>('libvirt')
    if (!libvirt.ok) throw new ProbeUnavailable(`needs libvirt: ${libvirt.error}`)
    const targets = libvirt.data.domains
      .filter((d) => RUNNING.has(d.state))
      .flatMap((d) => d.interfaces.filter((i) => i.target && i.mac).map((i) => ({domain: d.name, tap: i.target!, mac: i.mac!.toLowerCase()})))
    const listenMs = options.listen * 1000
    const facts: WireFacts = {seconds: options.listen, interfaces: [], errors: {}}
    // Every capture starts now: the run lasts about the listening time, whatever the number of guests.
    await Promise.all(
      targets.map(async (t) => {
        const capture = (argv: {decoded: string[]; quiet: string[]}) =>
          Promise.all([
            runner.run(argv.decoded, {listenMs, maxOutputBytes: WIRE_LIMITS.decoded.bytes}),
            runner.run(argv.quiet, {listenMs, maxOutputBytes: WIRE_LIMITS.quiet.bytes}),
          ])
        let [decoded, quiet] = await capture(captureArgv(t.tap, t.mac))
        // A recording made before the answers were captured holds the narrower pair (only a replay answers "not recorded").
        const answersHeard = !(decoded.errorCode === 'not-recorded' && quiet.errorCode === 'not-recorded')
        if (!answersHeard) [decoded, quiet] = await capture(captureArgv(t.tap, t.mac, 'own-frames'))
        // Cut at the byte cap, a capture is still what was heard: kept, marked capped.
        const failed = [decoded, quiet].find((c) => c.error !== undefined && c.errorCode !== 'too-large')
        if (failed) {
          facts.errors[t.tap] = failed.error!
          return
        }
        const heardDecoded = parseTcpdump(decoded.output)
        const heardQuiet = parseTcpdump(quiet.output)
        const capped = decoded.truncated || quiet.truncated || heardDecoded.length >= WIRE_LIMITS.decoded.packets || heardQuiet.length >= WIRE_LIMITS.quiet.packets
        facts.interfaces.push(summarise(t.domain, t.tap, t.mac, [...heardDecoded, ...heardQuiet], capped, answersHeard))
      }),
    )
    if (targets.length > 0 && facts.interfaces.length === 0) throw new ProbeUnavailable(`cannot listen: ${Object.values(facts.errors)[0]}`)
    facts.interfaces.sort((a, b) => a.domain.localeCompare(b.domain) || a.tap.localeCompare(b.tap))
    return markDegraded(facts, Object.entries(facts.errors).map(([tap, error]) => `${tap}: ${error}`))
  },
}
