/**
 * --redact: consistent pseudonyms across every file of a bundle, keeping the
 * structure the rules depend on. IPv4 keeps its class: 10/8, 172.16/12 and
 * 192.168/16 map into themselves; other unicast stays outside them (its first
 * octet permuted among wholly public octets; 169, 172 and 192 keep theirs and
 * permute the field that tells their special block apart). Below that, network
 * bits are mapped prefix-preserving (addresses of one subnet land in one mapped
 * subnet) and host bits inside the longest known subnet are kept, so gateway
 * (.1), network and broadcast keep their roles. A subnet as large as its block
 * (192.168.0.0/16) has no bits left to hide but host bits: only its network and
 * broadcast address (192.168.0.0, 192.168.255.255) stay. IPv4-mapped IPv6
 * (::ffff:a.b.c.d) maps its IPv4 part the same way; IPv6 keeps ULA in its /8
 * of fc00::/7, global unicast in 2000::/3 and link-local prefixes. An IPv4
 * address written with dashes after a label (ip-10-0-1-23) or as one number in
 * a URL host (http://3232266762/, http://0xC0A87A0A/) is mapped alike. MACs keep
 * their vendor prefix, written as they were (colons, dashes, Cisco's dots, none).
 * UUIDs, with or without dashes, get keyed pseudonym UUIDs. Host, guest, network,
 * lease, static DHCP and libvirt DNS host names become host-N, guest-N,
 * network-N, client-N, in any letter case and inside longer names
 * (web01-disk0.qcow2; also inside libvirt's domain-ID-NAME paths, where libvirt
 * cuts NAME to 20 characters, and its machine names qemu-ID-NAME,
 * systemd-escaped in scope units); DNS domains become domain-N.example; user
 * names become user-N (home directories, USER=, uid=N(NAME), sshd and sudo
 * logs, NAME@host of ssh). Names that are common words of the outputs
 * kvmdoctor reads (libvirt's "default" network, "nat", "filter" ...) are kept:
 * replacing them would rewrite the data itself. Other names are replaced where
 * they stand as values, never as a word of the format (an XML element or
 * attribute, a JSON key, the KEY of KEY=VALUE), and a name without a digit is
 * the format's word in a letter case not its own (virsh's column "Name",
 * iptables' "-A"): a redacted capture parses as the original did. The mapping goes beside the
 * bundle, never in it; it holds the key, so a later run given the same map
 * (--redact-map) keeps every pseudonym and maps new addresses consistently.
 */
import {createHmac, randomBytes} from 'node:crypto'
import {z} from 'zod'
import {UserError} from './errors.js'
import {cidrToString, intToIpv4, ipv4ToInt, parseCidr} from '../lib/ipv4.js'
import {getOrCreate} from '../lib/collections.js'

export const REDACTION_MAP_FORMAT = 'kvmdoctor-redaction-map'

export interface RedactionMap {
  format: typeof REDACTION_MAP_FORMAT
  formatVersion: 1
  /** The HMAC key (hex): with it a later run maps new addresses, MACs and UUIDs as this one did. */
  key: string
  /** Known IPv4 subnets (original CIDRs) whose structure the mapping keeps. */
  subnets: string[]
  ipv4: Record<string, string>
  ipv6: Record<string, string>
  mac: Record<string, string>
  uuid: Record<string, string>
  names: Record<string, string>
  domains: Record<string, string>
  users: Record<string, string>
}

export type NameKind = 'host' | 'guest' | 'client' | 'network'

/** Names kept as they are: words the outputs use for themselves (a guest "nat" must not rewrite iptables -t nat). */
export const RESERVED_NAMES = new Set([
  'default', 'localhost', 'none', 'all', 'any', 'lo', 'root', 'nat', 'route', 'bridge', 'open', 'isolated', 'filter', 'mangle', 'raw', 'security',
  'host', 'network', 'domain', 'interface', 'inet', 'inet6', 'link', 'forward', 'input', 'output', 'accept', 'drop', 'reject', 'state', 'running',
  'active', 'inactive', 'yes', 'no', 'on', 'off', 'true', 'false', 'unknown', 'up', 'down', 'libvirt', 'dnsmasq', 'dhcp', 'dns', 'virbr0',
])

/** libvirt shortens NAME in its domain-ID-NAME directories to this many characters. */
const LIBVIRT_SHORT_NAME = 20

/** Never mapped: loopback, link-local (APIPA), unspecified, multicast, broadcast. */
function keepIpv4(n: number): boolean {
  const first = n >>> 24
  return first === 127 || first === 0 || first >= 224 || n >>> 16 === ((169 << 8) | 254)
}

const maskOf = (prefix: number) => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0)

/** RFC 1918 blocks: each maps into itself. */
const PRIVATE_BLOCKS = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].map((c) => parseCidr(c)!)

/**
 * First octets that also hold a special block (169.254/16, 172.16/12, 192.168/16): the octet
 * stays and the field after it (bits wide) is permuted among its values other than the special one.
 */
const MIXED_OCTETS = new Map([
  [169, {bits: 8, special: 254}],
  [172, {bits: 4, special: 1}],
  [192, {bits: 8, special: 168}],
])

/** First octets wholly public unicast: permuted among themselves. */
const PUBLIC_OCTETS = Array.from({length: 223}, (_, i) => i + 1).filter((o) => o !== 10 && o !== 127 && !MIXED_OCTETS.has(o))

/** Pseudonyms the map may hold: anything else in a map file is refused, so a map cannot write arbitrary text into a bundle. */
const IPV4_TEXT = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/
const section = (value: RegExp) => z.record(z.string().max(4096), z.string().regex(value)).default({})
const mapSchema = z.object({
  format: z.literal(REDACTION_MAP_FORMAT),
  formatVersion: z.literal(1),
  key: z.string().regex(/^[0-9a-f]{64}$/),
  subnets: z.array(z.string().refine((c) => parseCidr(c) !== undefined && c.includes('/'), 'not an IPv4 CIDR')).default([]),
  ipv4: section(IPV4_TEXT),
  ipv6: section(/^[0-9a-f:]{2,39}$/),
  mac: section(/^(?:[0-9a-f]{2}:){5}[0-9a-f]{2}$/),
  uuid: section(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
  names: section(/^(?:host|guest|client|network)-\d{1,9}$/),
  domains: section(/^domain-\d{1,9}\.example$/),
  users: section(/^user-\d{1,9}$/),
})

/** Parses and validates a redaction map; every problem is a UserError naming the field. */
export function parseRedactionMap(text: string, where: string): RedactionMap {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (error) {
    throw new UserError(`${where}: not a kvmdoctor redaction map (not valid JSON: ${(error as Error).message})`)
  }
  const parsed = mapSchema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const field = issue.path.join('.') || '(root)'
    // Maps written before --redact-map existed have no key: their pseudonyms cannot be extended consistently.
    const hint = field === 'format' || field === 'key' ? ' (a map written before --redact-map existed cannot be extended: start a new one)' : ''
    throw new UserError(`${where}: not a usable kvmdoctor redaction map: ${field}: ${issue.message}${hint}`)
  }
  return parsed.data as RedactionMap
}

export interface RedactorInput {
  /** Known IPv4 subnets (network address and prefix), from addresses, routes and network XML. */
  subnets: {network: number; prefix: number}[]
  /** Names to replace (host, guests, networks, lease and static DHCP hosts), with the pseudonym prefix to use. */
  names: {name: string; kind: NameKind}[]
  /** DNS domains (network XML, dhcpd.conf, host and lease FQDNs). */
  domains?: string[]
  key?: Buffer
  /** A map from earlier runs to extend: its key and subnets are used and its pseudonyms kept. */
  previous?: RedactionMap
}

export class Redactor {
  private readonly key: Buffer
  private readonly prefixes: number[]
  private readonly subnetsByPrefix: Map<number, Set<number>>
  readonly map: RedactionMap
  private readonly nics = new Map<string, string>()
  private readonly usedNics = new Set<string>()
  /** IPv4 pseudonyms already given (block boundaries aside): a new one must differ from them all. */
  private readonly usedIpv4 = new Set<string>()
  private readonly namePattern: RegExp | undefined
  /** Pseudonyms by the lower-case spelling of their name. */
  private readonly namesByCase = new Map<string, string>()
  private readonly domainPattern: RegExp | undefined
  /** Guest pseudonyms by NAME as libvirt writes it in domain-ID-NAME (cut to 20 characters). */
  private readonly shortGuestNames = new Map<string, string>()
  private readonly shortGuestPattern: RegExp | undefined
  /** libvirt's machine names qemu-ID-NAME (cgroup paths) and systemd's escaped qemu\x2dID\x2dNAME (scope units). */
  private readonly machineNamePattern: RegExp | undefined
  /** Guest names by their systemd-escaped form. */
  private readonly guestsBySystemdName = new Map<string, string>()
  private readonly firstOctet: Map<number, number>
  private readonly fields = new Map<number, Map<number, number>>()
  private readonly nextUser: (kind: string) => number

  constructor(input: RedactorInput) {
    const previous = input.previous
    if (previous && input.key && input.key.toString('hex') !== previous.key) throw new Error('Redactor: a key and a map with another key')
    this.key = previous ? Buffer.from(previous.key, 'hex') : (input.key ?? randomBytes(32))
    const subnets = [...input.subnets, ...(previous?.subnets ?? []).map((c) => parseCidr(c)!)]
    this.subnetsByPrefix = new Map()
    for (const s of subnets) {
      if (s.prefix <= 0 || s.prefix >= 32) continue
      getOrCreate(this.subnetsByPrefix, s.prefix, () => new Set<number>()).add(s.network)
    }
    this.prefixes = [...this.subnetsByPrefix.keys()].sort((a, b) => b - a)
    const known = [...this.subnetsByPrefix].flatMap(([prefix, networks]) => [...networks].map((network) => ({network, prefix})))
    this.map = {
      format: REDACTION_MAP_FORMAT,
      formatVersion: 1,
      key: this.key.toString('hex'),
      subnets: known.sort((a, b) => a.network - b.network || a.prefix - b.prefix).map(cidrToString),
      ipv4: {...previous?.ipv4},
      ipv6: {...previous?.ipv6},
      mac: {...previous?.mac},
      uuid: {...previous?.uuid},
      names: {...previous?.names},
      domains: {...previous?.domains},
      users: {...previous?.users},
    }
    this.nextUser = nextNumbers(Object.values(this.map.users), /^(user)-(\d+)$/)
    for (const [original, mapped] of Object.entries(this.map.ipv4)) if (original !== mapped) this.usedIpv4.add(mapped)
    for (const [original, mapped] of Object.entries(this.map.mac)) {
      this.nics.set(original.slice(9), mapped.slice(9))
      this.usedNics.add(mapped.slice(9))
    }
    // Keyed permutations keep the first octet (or the field after a mixed one) bijective and within its class.
    const shuffle = (values: number[], tag: string) => [...values].sort((a, b) => this.hmac(`${tag}${a}`).compare(this.hmac(`${tag}${b}`)))
    const shuffled = shuffle(PUBLIC_OCTETS, 'o')
    this.firstOctet = new Map(PUBLIC_OCTETS.map((o, i) => [o, shuffled[i]]))
    for (const [octet, field] of MIXED_OCTETS) {
      const values = Array.from({length: 1 << field.bits}, (_, i) => i).filter((v) => v !== field.special)
      const order = shuffle(values, `f${octet}:`)
      this.fields.set(octet, new Map(values.map((v, i) => [v, order[i]])))
    }
    // The first kind given for a name wins (host before guests before networks before clients); a name the map holds keeps its pseudonym.
    const next = nextNumbers(Object.values(this.map.names), /^(host|guest|client|network)-(\d+)$/)
    const unique = new Map<string, {name: string; kind: NameKind}>()
    for (const n of input.names) if (n.name.length >= 2 && !RESERVED_NAMES.has(n.name.toLowerCase()) && !unique.has(n.name)) unique.set(n.name, n)
    const names = [...unique.values()]
    for (const n of names) this.map.names[n.name] ??= `${n.kind}-${next(n.kind)}`
    for (const n of names) if (n.kind === 'guest') this.shortGuestNames.set(n.name.slice(0, LIBVIRT_SHORT_NAME), this.map.names[n.name])
    if (this.shortGuestNames.size > 0) {
      const alternatives = [...this.shortGuestNames.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|')
      this.shortGuestPattern = new RegExp(`(?<![A-Za-z0-9_])(domain-\\d+-)(${alternatives})(?![A-Za-z0-9_-])`, 'g')
    }
    const guests = names.filter((n) => n.kind === 'guest').map((n) => n.name).sort((a, b) => b.length - a.length)
    if (guests.length > 0) {
      const plain = guests.map(escapeRegExp).join('|')
      for (const g of guests) this.guestsBySystemdName.set(systemdEscape(g), g)
      const escaped = [...this.guestsBySystemdName.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|')
      // The token rule below skips a name after "-"; systemd's escaping hides one with "-" in it from it.
      this.machineNamePattern = new RegExp(`(?<![A-Za-z0-9_])(qemu-\\d+-)(${plain})(?![A-Za-z0-9_-])|(?<![A-Za-z0-9_])(qemu\\\\x2d\\d+\\\\x2d)(${escaped})(?![A-Za-z0-9_]|\\\\x)`, 'g')
    }
    // In any letter case (WEB01, Web01): the first name given for a spelling wins.
    for (const n of names) if (!this.namesByCase.has(n.name.toLowerCase())) this.namesByCase.set(n.name.toLowerCase(), this.map.names[n.name])
    if (names.length > 0) {
      const alternatives = (list: string[]) => list.sort((a, b) => b.length - a.length).map(escapeRegExp).join('|')
      // Whole tokens: a guest "web" must not rewrite "webserver". A name of four characters or more is also found
      // as a part of a longer name, after or before "-" or "_" (web01-disk0.qcow2, backup_web01): a short one
      // would rewrite unrelated words (a guest "br" and the bridge br-lan).
      const long = names.filter((n) => n.name.length >= 4).map((n) => n.name)
      const short = names.filter((n) => n.name.length < 4).map((n) => n.name)
      const patterns = [
        ...(long.length > 0 ? [`(?<![A-Za-z0-9.])(?:${alternatives(long)})(?![A-Za-z0-9])`] : []),
        ...(short.length > 0 ? [`(?<![A-Za-z0-9_.-])(?:${alternatives(short)})(?![A-Za-z0-9_-])`] : []),
      ]
      this.namePattern = new RegExp(patterns.join('|'), 'gi')
    }
    const domains = [...new Set((input.domains ?? []).map((d) => d.toLowerCase().replace(/\.$/, '')))].filter((d) => d.length >= 3 && !RESERVED_NAMES.has(d) && !/^[\d.]+$/.test(d))
    const nextDomain = nextNumbers(Object.values(this.map.domains), /^(domain)-(\d+)\.example$/)
    for (const d of domains) this.map.domains[d] ??= `domain-${nextDomain('domain')}.example`
    if (domains.length > 0) {
      const alternatives = domains.sort((a, b) => b.length - a.length).map(escapeRegExp).join('|')
      // A domain also ends longer names (web01.corp.example.com): a dot may come before it, another label may not follow.
      this.domainPattern = new RegExp(`(?<![A-Za-z0-9_-])(?:${alternatives})(?![A-Za-z0-9_-]|\\.[A-Za-z0-9])`, 'gi')
    }
  }

  private hmac(text: string): Buffer {
    return createHmac('sha256', this.key).update(text).digest()
  }

  /** Prefix length of the longest known subnet holding n that is longer than `above` (32: none, map every bit). */
  private hostBitsFrom(n: number, above: number): number {
    for (const p of this.prefixes) {
      if (p <= above) break
      if (this.subnetsByPrefix.get(p)!.has((n & maskOf(p)) >>> 0)) return p
    }
    return 32
  }

  /**
   * The mapped address and whether it is a block boundary kept as it is. Salt > 0 gives
   * another candidate within the same mapped subnet, for when the first is taken.
   */
  private mapIpv4(n: number, salt: number): {value: number; boundary: boolean} {
    const first = n >>> 24
    // `fixed` leading bits are kept or permuted as a whole: the class stays what it was.
    let fixed: number
    let top: number
    const block = PRIVATE_BLOCKS.find((b) => ((n & maskOf(b.prefix)) >>> 0) === b.network)
    const mixed = MIXED_OCTETS.get(first)
    if (block) {
      fixed = block.prefix
      top = n & maskOf(fixed)
    } else if (mixed) {
      fixed = 8 + mixed.bits
      const field = (n >>> (32 - fixed)) & ((1 << mixed.bits) - 1)
      top = (first << 24) | (this.fields.get(first)!.get(field)! << (32 - fixed))
    } else {
      fixed = 8
      top = this.firstOctet.get(first)! << 24
    }
    const low = ~maskOf(fixed) >>> 0
    const keepFrom = this.hostBitsFrom(n, fixed)
    // A block's own network and broadcast address (10.0.0.0, 192.168.255.255) identify nothing: they stay, so 10.0.0.0/8 still reads so.
    const rest = (n & low) >>> 0
    if (keepFrom === 32 && salt === 0 && (rest === 0 || rest === low)) return {value: ((top | rest) >>> 0), boundary: true}
    // Crypto-PAn below the class: bit i flips by a keyed function of the bits before it, so two addresses
    // sharing a prefix share the mapped prefix; host bits of the longest known subnet stay.
    let flip = 0
    for (let i = fixed; i < keepFrom; i++) if (this.hmac(`b${i}:${n >>> (32 - i)}`)[0] & 1) flip |= 1 << (31 - i)
    if (salt > 0) for (let i = keepFrom < 32 ? keepFrom : fixed; i < 32; i++) if (this.hmac(`s${salt}:${i}:${n >>> (32 - i)}`)[0] & 1) flip ^= 1 << (31 - i)
    return {value: ((top | ((n ^ flip) & low)) >>> 0), boundary: false}
  }

  ipv4(text: string): string {
    const n = ipv4ToInt(text)
    if (n === undefined || keepIpv4(n)) return text
    const cached = this.map.ipv4[text]
    if (cached) return cached
    let mapped = this.mapIpv4(n, 0)
    // Two originals never share a pseudonym: when nested subnets make one meet another, it moves within its own subnet.
    for (let salt = 1; !mapped.boundary && this.usedIpv4.has(intToIpv4(mapped.value)); salt++) {
      if (salt > 256) throw new Error(`redaction: no free pseudonym for ${text}`)
      mapped = this.mapIpv4(n, salt)
    }
    const result = intToIpv4(mapped.value)
    if (!mapped.boundary) this.usedIpv4.add(result)
    this.map.ipv4[text] = result
    return result
  }

  mac(text: string): string {
    const lower = text.toLowerCase()
    // Broadcast, all-zero and multicast (I/G bit set) addresses identify no machine.
    if (/^(00:){5}00$|^(ff:){5}ff$/.test(lower) || parseInt(lower.slice(0, 2), 16) & 1) return lower
    const cached = this.map.mac[lower]
    if (cached) return cached
    // The NIC part is mapped on its own, so a guest MAC 52:54:00:x and its tap fe:54:00:x stay related.
    const parts = lower.split(':')
    const nic = parts.slice(3).join(':')
    let mappedNic = this.nics.get(nic)
    for (let salt = 0; mappedNic === undefined; salt++) {
      const h = this.hmac(`m${salt}:${nic}`)
      const candidate = [h[0], h[1], h[2]].map((b) => b.toString(16).padStart(2, '0')).join(':')
      if (this.usedNics.has(candidate)) continue
      mappedNic = candidate
      this.nics.set(nic, candidate)
      this.usedNics.add(candidate)
    }
    const result = `${parts.slice(0, 3).join(':')}:${mappedNic}`
    this.map.mac[lower] = result
    return result
  }

  ipv6(text: string): string {
    const lower = text.toLowerCase()
    if (lower.startsWith('ff')) return text
    const cached = this.map.ipv6[lower]
    if (cached) return cached
    const groups = expandIpv6(lower)
    if (!groups) return text
    // The unspecified and loopback addresses identify nobody, however written: '::', '::1', and '0::', which begins
    // every cgroup v2 line of /proc/PID/cgroup ('0::/PATH').
    if (groups.slice(0, 7).every((g) => g === 0) && groups[7] <= 1) return text
    // Prefix-preserving over the 4 network groups; small interface ids (::1, ::2) kept, others hashed.
    const out: number[] = []
    // Link-local keeps its fe80::/64 prefix; its interface id (often the MAC, EUI-64) is still mapped.
    const linkLocal = (groups[0] & 0xffc0) === 0xfe80
    // Bits of the first group that stay: ULA within its /8 of fc00::/7, global unicast within 2000::/3, other ranges whole.
    const kept = linkLocal ? 0xffff : (groups[0] & 0xfe00) === 0xfc00 ? 0xff00 : (groups[0] & 0xe000) === 0x2000 ? 0xe000 : 0xffff
    for (let i = 0; i < 4; i++) {
      const flipped = linkLocal ? groups[i] : groups[i] ^ this.hmac(`v6:${i}:${groups.slice(0, i).join(':')}`).readUInt16BE(0)
      out.push(i === 0 ? (groups[0] & kept) | (flipped & ~kept & 0xffff) : flipped)
    }
    const iid = groups.slice(4)
    const small = iid[0] === 0 && iid[1] === 0 && iid[2] === 0
    for (let i = 0; i < 4; i++) out.push(small ? iid[i] : this.hmac(`v6iid:${i}:${iid.join(':')}`).readUInt16BE(0))
    const result = compressIpv6(out)
    this.map.ipv6[lower] = result
    return result
  }

  /** A keyed pseudonym UUID (random-version format), the same for the same UUID. */
  uuid(text: string): string {
    const lower = text.toLowerCase()
    const cached = this.map.uuid[lower]
    if (cached) return cached
    const h = this.hmac(`u:${lower}`)
    h[6] = (h[6] & 0x0f) | 0x40
    h[8] = (h[8] & 0x3f) | 0x80
    const hex = h.subarray(0, 16).toString('hex')
    const result = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
    this.map.uuid[lower] = result
    return result
  }

  /** /home/NAME becomes /home/user-N. */
  private user(name: string): string {
    return (this.map.users[name] ??= `user-${this.nextUser('user')}`)
  }

  /** Rewrites one text: addresses, MACs (inside client ids too), UUIDs, names, domains and user names, in a single pass each. */
  redact(text: string): string {
    let out = text.replace(TOKEN, (match: string, ...args: unknown[]) => {
      const g = args.at(-1) as Record<string, string | undefined>
      if (g.uuid) return this.uuid(g.uuid)
      if (g.bareUuid) return sameCase(g.bareUuid, this.uuid(dashedUuid(g.bareUuid)).replaceAll('-', ''))
      if (g.ipv4) return this.ipv4(g.ipv4)
      if (g.mappedV4) return `${g.mappedPrefix}${this.ipv4(g.mappedV4)}`
      if (g.dashedV4) return `${g.dashedHead}${this.ipv4(g.dashedV4.replaceAll('-', '.')).replaceAll('.', '-')}`
      if (g.urlV4) return `${g.urlHead}${this.numericIpv4(g.urlV4)}`
      if (g.bridgeId) {
        // ip -d prints bridge ids as PRIO.MAC with unpadded bytes (8000.52:54:0:fc:89:10)
        const [priority, mac] = g.bridgeId.split('.')
        return `${priority}.${this.mac(mac.split(':').map((b) => b.padStart(2, '0')).join(':'))}`
      }
      if (g.hexRun) {
        const groups = g.hexRun.split(':')
        if (groups.length < 6) return match
        // Client ids and DUIDs end with the MAC: keep their type bytes, map the MAC.
        return [...groups.slice(0, groups.length - 6), this.mac(groups.slice(-6).join(':'))].join(':')
      }
      // MACs as other tools write them (52-54-00-6b-64-01, 5254.006b.6401, 5254006b6401): mapped alike, written as they were.
      const otherMac = g.dashedMac ?? g.ciscoMac ?? g.bareMac
      if (otherMac) {
        const hex = otherMac.replace(/[-.]/g, '')
        const mapped = this.mac(hex.match(/../g)!.join(':')).replaceAll(':', '')
        let i = 0
        return sameCase(otherMac, otherMac.replace(/[0-9A-Fa-f]/g, () => mapped[i++]))
      }
      if (g.ipv6) return this.ipv6(g.ipv6)
      return match
    })
    // libvirt's per-guest directories (domain-49-NAME, NAME cut to 20 characters): the token rule below skips them.
    if (this.shortGuestPattern) out = out.replace(this.shortGuestPattern, (match, head: string, name: string) => `${head}${this.shortGuestNames.get(name) ?? name}`)
    if (this.machineNamePattern) {
      out = out.replace(this.machineNamePattern, (match, head: string | undefined, name: string | undefined, escapedHead: string | undefined, escapedName: string | undefined) => {
        if (head && name) return `${head}${this.map.names[name] ?? name}`
        const original = this.guestsBySystemdName.get(escapedName!)
        return original ? `${escapedHead}${systemdEscape(this.map.names[original] ?? original)}` : match
      })
    }
    if (this.namePattern) {
      out = out.replace(this.namePattern, (name: string, at: number, whole: string) => {
        const exact = this.map.names[name]
        if (isFormatWord(whole, at, at + name.length)) return name
        // A name without a digit is also a word: in a letter case not its own, lower case or, from four characters,
        // capitals (WEB-SERVER), it is the format's word (a guest "name" and virsh's column "Name", "-a" and
        // iptables' "-A"), not the name.
        if (exact === undefined && !/\d/.test(name) && name !== name.toLowerCase() && !(name.length >= 4 && name === name.toUpperCase())) return name
        return exact ?? this.namesByCase.get(name.toLowerCase()) ?? name
      })
    }
    if (this.domainPattern) out = out.replace(this.domainPattern, (domain) => this.map.domains[domain.toLowerCase()] ?? domain)
    out = out.replace(USER, (match, ...args: unknown[]) => {
      const g = args.at(-1) as Record<string, string | undefined>
      const name = g.home ?? g.assigned ?? g.uid ?? g.said ?? g.ssh
      return name === undefined || SYSTEM_USERS.has(name) ? match : match.replace(name, this.user(name))
    })
    return out
  }

  /** An IPv4 address in a URL host written as one number (http://3232266762/, http://0xC0A87A0A/), mapped and written alike. */
  private numericIpv4(text: string): string {
    const hex = /^0x/i.test(text)
    const n = hex ? Number.parseInt(text.slice(2), 16) : Number(text)
    if (!Number.isSafeInteger(n) || n > 0xffffffff) return text
    const mapped = ipv4ToInt(this.ipv4(intToIpv4(n)))!
    return hex ? `${text.slice(0, 2)}${sameCase(text.slice(2), mapped.toString(16).padStart(text.length - 2, '0'))}` : String(mapped)
  }
}

/** The characters of a key, an element or an attribute name (XML, JSON, KEY=VALUE). */
const KEY_CHAR = /[\w.:-]/

/**
 * Whether text[start, end) lies in a word of the format, not of the host: an XML element or attribute name
 * (<target dev=…>, </name>), a JSON key ("mac-address":), the KEY of KEY=VALUE. A guest, network or host
 * named like one (target, dev, name, mac) is a name only where a value stands: rewriting the format's own
 * words would leave a capture its parser no longer reads.
 */
function isFormatWord(text: string, start: number, end: number): boolean {
  let from = start
  while (from > 0 && KEY_CHAR.test(text[from - 1])) from--
  let to = end
  while (to < text.length && KEY_CHAR.test(text[to])) to++
  const before = text[from - 1]
  if (before === '<' || (before === '/' && text[from - 2] === '<')) return true
  let after = to
  while (text[after] === ' ' || text[after] === '\t') after++
  if (text[after] === '=' && text[after + 1] !== '=') return true
  return before === '"' && text[to] === '"' && /^"\s*:/.test(text.slice(to, to + 16))
}

/** `mapped` in the letter case of `original` (all upper when the original's hex letters were). */
const sameCase = (original: string, mapped: string) => (/[A-F]/.test(original) && !/[a-f]/.test(original) ? mapped.toUpperCase() : mapped)
const dashedUuid = (hex: string) => `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`.toLowerCase()

/** Accounts of the system itself, not of a person: kept (the outputs name them as data: dnsmasq --user=dnsmasq). */
const SYSTEM_USERS = new Set(['root', 'nobody', 'daemon', 'bin', 'sys', 'adm', 'sync', 'games', 'man', 'lp', 'mail', 'news', 'uucp', 'proxy', 'www-data', 'backup', 'list', 'irc', 'gnats', 'systemd-network', 'systemd-resolve', 'systemd-timesync', 'messagebus', 'sshd', 'polkitd', 'tss', 'dnsmasq', 'libvirt-qemu', 'libvirt-dnsmasq', 'qemu', 'syslog', '_apt', 'avahi', 'ntp', 'chrony', 'postfix', 'nslcd', 'sssd', 'user', 'USER', 'invalid'])

/**
 * User names where the outputs show them: home directories (/home, /var/home, /export/home,
 * /Users), USER=, LOGNAME=, SUDO_USER=, user= and username= assignments, uid=N(NAME) and gid=N(NAME), what sshd,
 * PAM and sudo log ("for user NAME", "Accepted publickey for NAME from", "sudo: NAME :"), and
 * ssh-style NAME@host arguments and URLs (qemu+ssh://NAME@host, also NAME:PASSWORD@host).
 */
const USER = new RegExp(
  [
    String.raw`(?<=\/(?:home|var\/home|export\/home|Users|usr\/home)\/)(?<home>[^/\s'"<>:]+)`,
    String.raw`(?<![\w.-])(?:USER|LOGNAME|SUDO_USER|user|username|User)=(?<assigned>[A-Za-z_][\w.-]{0,31})(?![\w.-])`,
    String.raw`\b[ug]id=\d+\((?<uid>[^)\s]{1,32})\)`,
    String.raw`\b(?:for user|for invalid user|Accepted \w+ for|Failed \w+ for|Invalid user|by user|sudo:)\s+(?<said>[A-Za-z_][\w.-]{0,31})(?=[\s:(]|$)`,
    String.raw`(?:\b(?:ssh|scp|sftp|rsync|ssh-copy-id)\b[^\n;|]{0,256}?\s|\+ssh:\/\/|ssh:\/\/|sftp:\/\/|rsync:\/\/)(?<ssh>[A-Za-z_][\w.-]{0,31})(?=(?::[^@\s/]{0,256})?@[A-Za-z0-9[])`,
  ].join('|'),
  'g',
)

/** systemd's unit-name escaping (systemd-escape): bytes other than ASCII letters, digits, ":", "_" and "." become \xNN. */
function systemdEscape(name: string): string {
  return [...Buffer.from(name, 'utf8')].map((b) => (/[A-Za-z0-9:_.]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('')
}

/** Numbers pseudonyms per kind on from the highest a map already holds, so a new one never repeats an old one. */
function nextNumbers(pseudonyms: string[], pattern: RegExp): (kind: string) => number {
  const last = new Map<string, number>()
  for (const p of pseudonyms) {
    const m = pattern.exec(p)
    if (m) last.set(m[1], Math.max(last.get(m[1]) ?? 0, Number(m[2])))
  }
  return (kind) => {
    const n = (last.get(kind) ?? 0) + 1
    last.set(kind, n)
    return n
  }
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

const OCTET = String.raw`(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)`

/**
 * UUIDs (with or without dashes), IPv4 (not part of a longer dotted run, tcpdump's ADDR.PORT aside;
 * also written with dashes after a label, ip-10-0-1-23, or as one number in a URL host),
 * IPv4-mapped IPv6 (::ffff:a.b.c.d), colon runs of two-digit hex (MACs, client ids), MACs with
 * dashes, in Cisco's dotted form or without separators, IPv6 addresses with at least one "::" or
 * eight groups, and bridge ids (8000.52:54:0:fc:89:10).
 */
const TOKEN = new RegExp(
  [
    String.raw`(?<![0-9A-Fa-f-])(?<uuid>[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})(?![0-9A-Fa-f-])`,
    String.raw`(?<![0-9A-Za-z])(?<bareUuid>[0-9A-Fa-f]{32})(?![0-9A-Za-z])`,
    // tcpdump writes ADDR.PORT (192.168.122.5.68 > 255.255.255.255.67:): the port does not make it a longer dotted run.
    String.raw`(?<![\d.])(?<ipv4>${OCTET}(?:\.${OCTET}){3})(?!(?!\.\d{1,5}(?: >|:))[\d.]*\d)`,
    String.raw`(?<![0-9A-Fa-f:.])(?<mappedPrefix>::[fF]{4}:|(?:0{1,4}:){5}[fF]{4}:|::)(?<mappedV4>${OCTET}(?:\.${OCTET}){3})(?![\d.]*\d)`,
    String.raw`(?<![A-Za-z0-9-])(?<dashedHead>[A-Za-z][A-Za-z0-9]{0,30}-)(?<dashedV4>${OCTET}(?:-${OCTET}){3})(?![\w-])`,
    String.raw`(?<urlHead>\b[a-z][a-z0-9+.-]{1,31}:\/\/(?:[^\s/@'"<>]{1,256}@)?)(?<urlV4>0[xX][0-9A-Fa-f]{1,8}|[1-9]\d{6,9})(?=[:/?#\s'"]|$)`,
    String.raw`(?<![0-9A-Fa-f:])(?<hexRun>[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5,})(?![0-9A-Fa-f:])`,
    String.raw`(?<![0-9A-Fa-f-])(?<dashedMac>[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5})(?![0-9A-Fa-f-])`,
    String.raw`(?<![0-9A-Fa-f.])(?<ciscoMac>[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})(?![0-9A-Fa-f.])`,
    // Twelve hex digits alone are a MAC when they hold a letter or a hypervisor's prefix (a number of twelve digits is a count).
    String.raw`(?<![0-9A-Za-z])(?<bareMac>(?=[0-9]{0,11}[A-Fa-f]|525400|[fF][eE]5400)[0-9A-Fa-f]{12})(?![0-9A-Za-z])`,
    String.raw`(?<![0-9A-Fa-f:])(?<ipv6>(?:[0-9A-Fa-f]{1,4}:){1,7}:(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})?|(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|::(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6}))(?![0-9A-Fa-f:])`,
    String.raw`(?<![0-9A-Fa-f.:])(?<bridgeId>[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{1,2}(?::[0-9A-Fa-f]{1,2}){5})(?![0-9A-Fa-f:])`,
  ].join('|'),
  'g',
)

export function expandIpv6(text: string): number[] | undefined {
  const [head, tail, extra] = text.split('::')
  if (extra !== undefined) return undefined
  const h = head ? head.split(':') : []
  const t = tail !== undefined && tail !== '' ? tail.split(':') : []
  const missing = tail === undefined ? 0 : 8 - h.length - t.length
  if (missing < 0 || (tail === undefined && h.length !== 8)) return undefined
  const groups = [...h, ...Array(missing).fill('0'), ...t].map((g) => parseInt(g, 16))
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined
}

function compressIpv6(groups: number[]): string {
  const hex = groups.map((g) => g.toString(16))
  // Compress the longest run of zero groups (RFC 5952), as ip prints it.
  let best = {at: -1, len: 0}
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > best.len && j - i > 1) best = {at: i, len: j - i}
    i = j
  }
  if (best.at < 0) return hex.join(':')
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`
}
