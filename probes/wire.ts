/**
 * The wire as witness (--listen): what each running guest actually sends, heard passively on
 * its tap with tcpdump. Nothing is sent. Two bounded captures per tap run at once, for all taps
 * together: the ARP, DHCP and ICMPv6 frames decoded (-vv, headers and DHCP options only), and
 * every other frame of the guest quietly (-q, 96-byte snapshots: addresses, never payload).
 */
import {parseIp} from '../src/lib/addr.js'
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
  src: string
  dst: string
  arp?: {kind: ArpKind; senderIp: string; targetIp: string; senderMac: string}
  ipv4?: {src: string; dst: string}
  ipv6?: {src: string; dst: string; icmp6?: string}
  dhcp?: {
    op: 'request' | 'reply'
    message?: DhcpMessage
    chaddr?: string
    clientIp?: string
    yourIp?: string
    serverId?: string
    requestedIp?: string
    clientId?: string
    hostname?: string
  }
}

const TIME = /^\d{2}:\d{2}:\d{2}\.\d+ /
const MAC = '[0-9a-f]{2}(?::[0-9a-f]{2}){5}'
const IPV4 = '\\d{1,3}(?:\\.\\d{1,3}){3}'
const HEADER = new RegExp(`^\\S+ (${MAC}) > (${MAC}|\\S+), (?:ethertype )?(\\S+)`, 'i')
const DHCP_MESSAGES: Record<string, DhcpMessage> = {discover: 'discover', offer: 'offer', request: 'request', decline: 'decline', ack: 'ack', nack: 'nak', nak: 'nak', release: 'release', inform: 'inform'}

/**
 * Parses `tcpdump -n -e -l` output (with -vv or -q): one packet per timestamped line plus its
 * indented continuation lines. Lines it does not understand are skipped, never guessed at.
 */
export function parseTcpdump(text: string): WirePacket[] {
  const packets: WirePacket[] = []
  let block: string[] = []
  const flush = () => {
    if (block.length > 0) {
      const p = parsePacket(block)
      if (p) packets.push(p)
    }
    block = []
  }
  for (const line of text.split('\n')) {
    if (TIME.test(line)) {
      flush()
      block.push(line)
    } else if (block.length > 0 && /^\s/.test(line)) {
      block.push(line)
    }
  }
  flush()
  return packets
}

function parsePacket(lines: string[]): WirePacket | undefined {
  const head = HEADER.exec(lines[0])
  if (!head) return undefined
  const packet: WirePacket = {src: head[1].toLowerCase(), dst: head[2].toLowerCase()}
  const type = head[3].replace(/,$/, '')
  const text = lines.join('\n')
  if (type === 'ARP') {
    const req = new RegExp(`Request who-has (${IPV4})(?: \\(${MAC}\\))? tell (${IPV4})`, 'i').exec(text)
    const rep = new RegExp(`Reply (${IPV4}) is-at (${MAC})`, 'i').exec(text)
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
    const addrs = new RegExp(`(${IPV4})(?:\\.\\d+)? > (${IPV4})(?:\\.\\d+)?:`).exec(text.slice(text.indexOf(': ') + 1))
    if (addrs) packet.ipv4 = {src: addrs[1], dst: addrs[2]}
    if (/BOOTP\/DHCP/.test(text)) packet.dhcp = parseDhcp(text)
    return packet
  }
  if (type === 'IPv6') {
    const addrs = /\s([0-9a-f:]*:[0-9a-f:.]*) > ([0-9a-f:]*:[0-9a-f:.]*):/i.exec(text.slice(text.indexOf(': ') + 1))
    const src = addrs && ipv6Address(addrs[1])
    const dst = addrs && ipv6Address(addrs[2])
    if (src && dst) {
      packet.ipv6 = {src, dst}
      const icmp6 = /ICMP6, ([a-z ]+?)(?:,|$)/m.exec(text)
      if (icmp6) packet.ipv6.icmp6 = icmp6[1]
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
  /** Every IPv4 address the guest used as its own, and where: ARP sender, IPv4 source. */
  addresses: {ip: string; via: ('arp' | 'ip')[]}[]
  arp: Record<ArpKind, number>
  dhcp: {
    discovers: number
    requests: number
    /** Addresses it asked for by DHCPREQUEST (option 50 or ciaddr). */
    requested: string[]
    answers: DhcpAnswer[]
    clientIds: string[]
    hostnames: string[]
  }
  /** Other MACs claiming (ARP reply or announcement) an address this guest uses. */
  contested: {ip: string; mac: string}[]
  ipv6: {linkLocal: string[]; routerSolicitations: number; routerAdvertisements: number}
}

export interface WireFacts {
  seconds: number
  interfaces: WireInterface[]
  /** Taps that could not be listened on, with why. */
  errors: Record<string, string>
}

const isBroadcast = (mac: string) => mac === 'ff:ff:ff:ff:ff:ff'

/** One guest interface's facts from the packets heard on its tap. */
export function summarise(domain: string, tap: string, mac: string, packets: WirePacket[], capped: boolean): WireInterface {
  const mine = mac.toLowerCase()
  const addresses = new Map<string, Set<'arp' | 'ip'>>()
  const use = (ip: string, via: 'arp' | 'ip') => {
    if (ip === '0.0.0.0' || ip === '255.255.255.255') return
    ;(addresses.get(ip) ?? addresses.set(ip, new Set()).get(ip)!).add(via)
  }
  const facts: WireInterface = {
    domain,
    tap,
    mac: mine,
    sent: 0,
    received: 0,
    capped,
    addresses: [],
    arp: {request: 0, reply: 0, probe: 0, announcement: 0},
    dhcp: {discovers: 0, requests: 0, requested: [], answers: [], clientIds: [], hostnames: []},
    contested: [],
    ipv6: {linkLocal: [], routerSolicitations: 0, routerAdvertisements: 0},
  }
  const claimsByOthers: {ip: string; mac: string}[] = []
  const push = <T>(list: T[], value: T) => list.includes(value) || list.push(value)
  for (const p of packets) {
    const fromGuest = p.src === mine
    if (fromGuest) facts.sent++
    else if (p.dst === mine) facts.received++
    if (p.arp) {
      if (fromGuest) {
        facts.arp[p.arp.kind]++
        if (p.arp.kind !== 'probe') use(p.arp.senderIp, 'arp')
      } else if (p.arp.kind === 'reply' || p.arp.kind === 'announcement') {
        if (p.arp.senderMac !== mine) claimsByOthers.push({ip: p.arp.senderIp, mac: p.arp.senderMac})
      }
    }
    if (p.ipv4 && fromGuest) use(p.ipv4.src, 'ip')
    if (p.ipv6) {
      if (fromGuest && p.ipv6.src.startsWith('fe80:')) push(facts.ipv6.linkLocal, p.ipv6.src)
      if (fromGuest && p.ipv6.icmp6 === 'router solicitation') facts.ipv6.routerSolicitations++
      if (!fromGuest && p.ipv6.icmp6 === 'router advertisement') facts.ipv6.routerAdvertisements++
    }
    const d = p.dhcp
    if (d && d.op === 'request' && (d.chaddr === mine || fromGuest)) {
      if (d.message === 'discover') facts.dhcp.discovers++
      if (d.message === 'request') {
        facts.dhcp.requests++
        const asked = d.requestedIp ?? d.clientIp
        if (asked) push(facts.dhcp.requested, asked)
      }
      if (d.clientId) push(facts.dhcp.clientIds, d.clientId)
      if (d.hostname) push(facts.dhcp.hostnames, d.hostname)
    }
    if (d && d.op === 'reply' && d.chaddr === mine && (d.message === 'offer' || d.message === 'ack' || d.message === 'nak')) {
      const answer: DhcpAnswer = {message: d.message, server: d.serverId ?? p.ipv4?.src ?? '', serverMac: p.src}
      if (d.yourIp) answer.address = d.yourIp
      if (!facts.dhcp.answers.some((a) => a.message === answer.message && a.server === answer.server && a.serverMac === answer.serverMac && a.address === answer.address)) facts.dhcp.answers.push(answer)
    }
  }
  facts.addresses = [...addresses].map(([ip, via]) => ({ip, via: [...via].sort()})).sort((a, b) => a.ip.localeCompare(b.ip, undefined, {numeric: true}))
  const own = new Set(addresses.keys())
  for (const c of claimsByOthers) if (own.has(c.ip) && !isBroadcast(c.mac) && !facts.contested.some((x) => x.ip === c.ip && x.mac === c.mac)) facts.contested.push(c)
  return facts
}

/** The two captures of one tap; the guest's MAC limits them to its own frames (a bridged tap also carries the LAN's broadcasts). */
export function captureArgv(tap: string, mac: string): {decoded: string[]; quiet: string[]} {
  const dhcp = 'udp port 67 or udp port 68'
  return {
    decoded: ['tcpdump', '-i', tap, '-n', '-e', '-vv', '-l', '-s', '600', '-c', String(WIRE_LIMITS.decoded.packets), `(ether host ${mac} and (arp or icmp6)) or (${dhcp})`],
    quiet: ['tcpdump', '-i', tap, '-n', '-e', '-q', '-l', '-s', '96', '-c', String(WIRE_LIMITS.quiet.packets), `ether src ${mac} and not (arp or icmp6 or ${dhcp})`],
  }
}

const RUNNING = new Set(['running', 'paused', 'idle', 'in shutdown', 'blocked'])

export const wireProbe: Probe<WireFacts> = {
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
        const argv = captureArgv(t.tap, t.mac)
        const [decoded, quiet] = await Promise.all([
          runner.run(argv.decoded, {listenMs, maxOutputBytes: WIRE_LIMITS.decoded.bytes}),
          runner.run(argv.quiet, {listenMs, maxOutputBytes: WIRE_LIMITS.quiet.bytes}),
        ])
        // Cut at the byte cap, a capture is still what was heard: kept, marked capped.
        const failed = [decoded, quiet].find((c) => c.error !== undefined && c.errorCode !== 'too-large')
        if (failed) {
          facts.errors[t.tap] = failed.error!
          return
        }
        const packets = [...parseTcpdump(decoded.output), ...parseTcpdump(quiet.output)]
        const capped =
          decoded.truncated || quiet.truncated || parseTcpdump(decoded.output).length >= WIRE_LIMITS.decoded.packets || parseTcpdump(quiet.output).length >= WIRE_LIMITS.quiet.packets
        facts.interfaces.push(summarise(t.domain, t.tap, t.mac, packets, capped))
      }),
    )
    if (targets.length > 0 && facts.interfaces.length === 0) throw new ProbeUnavailable(`cannot listen: ${Object.values(facts.errors)[0]}`)
    facts.interfaces.sort((a, b) => a.domain.localeCompare(b.domain) || a.tap.localeCompare(b.tap))
    return markDegraded(facts, Object.entries(facts.errors).map(([tap, error]) => `${tap}: ${error}`))
  },
}
