/**
 * --redact: consistent pseudonyms across every file of a bundle, keeping the
 * structure the rules depend on. IPv4 network bits are mapped prefix-preserving
 * (addresses of one subnet land in one mapped subnet) and host bits inside the
 * longest known subnet are kept, so gateway (.1), network and broadcast keep
 * their roles; IPv4-mapped IPv6 (::ffff:a.b.c.d) maps its IPv4 part the same
 * way. MACs keep their vendor prefix. UUIDs get keyed pseudonym UUIDs. Host,
 * guest, network, lease and static DHCP host names become host-N, guest-N,
 * network-N, client-N (also inside libvirt's domain-ID-NAME paths, where
 * libvirt cuts NAME to 20 characters); DNS domains become domain-N.example;
 * home directories /home/user-N. Names that are common words of the outputs
 * kvmdoctor reads (libvirt's "default" network, "nat", "filter" ...) are kept:
 * replacing them would rewrite the data itself. The mapping goes beside the
 * bundle, never in it.
 */
import {createHmac, randomBytes} from 'node:crypto'
import {intToIpv4, ipv4ToInt} from './ipv4.js'
import {getOrCreate} from './collections.js'

export interface RedactionMap {
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

/** First octets a mapped address may start with: unicast, not loopback, not 169. */
const FIRST_OCTETS = Array.from({length: 223}, (_, i) => i + 1).filter((o) => o !== 127 && o !== 169)

export interface RedactorInput {
  /** Known IPv4 subnets (network address and prefix), from addresses, routes and network XML. */
  subnets: {network: number; prefix: number}[]
  /** Names to replace (host, guests, networks, lease and static DHCP hosts), with the pseudonym prefix to use. */
  names: {name: string; kind: NameKind}[]
  /** DNS domains (network XML, dhcpd.conf, host and lease FQDNs). */
  domains?: string[]
  key?: Buffer
}

export class Redactor {
  private readonly key: Buffer
  private readonly prefixes: number[]
  private readonly subnetsByPrefix: Map<number, Set<number>>
  readonly map: RedactionMap = {ipv4: {}, ipv6: {}, mac: {}, uuid: {}, names: {}, domains: {}, users: {}}
  private readonly nics = new Map<string, string>()
  private readonly usedNics = new Set<string>()
  private readonly namePattern: RegExp | undefined
  private readonly domainPattern: RegExp | undefined
  /** Guest pseudonyms by NAME as libvirt writes it in domain-ID-NAME (cut to 20 characters). */
  private readonly shortGuestNames = new Map<string, string>()
  private readonly shortGuestPattern: RegExp | undefined
  private readonly firstOctet: Map<number, number>

  constructor(input: RedactorInput) {
    this.key = input.key ?? randomBytes(32)
    this.subnetsByPrefix = new Map()
    for (const s of input.subnets) {
      if (s.prefix <= 0 || s.prefix >= 32) continue
      getOrCreate(this.subnetsByPrefix, s.prefix, () => new Set<number>()).add(s.network)
    }
    this.prefixes = [...this.subnetsByPrefix.keys()].sort((a, b) => b - a)
    // A keyed permutation of first octets keeps the first 8 bits bijective and out of special ranges.
    const shuffled = [...FIRST_OCTETS].sort((a, b) => this.hmac(`o${a}`).compare(this.hmac(`o${b}`)))
    this.firstOctet = new Map(FIRST_OCTETS.map((o, i) => [o, shuffled[i]]))
    const counters: Record<NameKind, number> = {host: 0, guest: 0, client: 0, network: 0}
    // The first kind given for a name wins (host before guests before networks before clients).
    const unique = new Map<string, {name: string; kind: NameKind}>()
    for (const n of input.names) if (n.name.length >= 2 && !RESERVED_NAMES.has(n.name.toLowerCase()) && !unique.has(n.name)) unique.set(n.name, n)
    const names = [...unique.values()]
    for (const n of names) this.map.names[n.name] = `${n.kind}-${++counters[n.kind]}`
    for (const n of names) if (n.kind === 'guest') this.shortGuestNames.set(n.name.slice(0, LIBVIRT_SHORT_NAME), this.map.names[n.name])
    if (this.shortGuestNames.size > 0) {
      const alternatives = [...this.shortGuestNames.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|')
      this.shortGuestPattern = new RegExp(`(?<![A-Za-z0-9_])(domain-\\d+-)(${alternatives})(?![A-Za-z0-9_-])`, 'g')
    }
    if (names.length > 0) {
      const alternatives = names.map((n) => n.name).sort((a, b) => b.length - a.length).map(escapeRegExp).join('|')
      // Whole tokens only: a guest "web" must not rewrite "webserver" or a path component "web-data".
      this.namePattern = new RegExp(`(?<![A-Za-z0-9_.-])(?:${alternatives})(?![A-Za-z0-9_-])`, 'g')
    }
    const domains = [...new Set((input.domains ?? []).map((d) => d.toLowerCase().replace(/\.$/, '')))].filter((d) => d.length >= 3 && !RESERVED_NAMES.has(d) && !/^[\d.]+$/.test(d))
    domains.forEach((d, i) => (this.map.domains[d] = `domain-${i + 1}.example`))
    if (domains.length > 0) {
      const alternatives = domains.sort((a, b) => b.length - a.length).map(escapeRegExp).join('|')
      // A domain also ends longer names (web01.corp.example.com): a dot may come before it, another label may not follow.
      this.domainPattern = new RegExp(`(?<![A-Za-z0-9_-])(?:${alternatives})(?![A-Za-z0-9_-]|\\.[A-Za-z0-9])`, 'gi')
    }
  }

  private hmac(text: string): Buffer {
    return createHmac('sha256', this.key).update(text).digest()
  }

  /** Prefix length of the longest known subnet holding n (32: none, map every bit). */
  private hostBitsFrom(n: number): number {
    for (const p of this.prefixes) {
      const network = (n & (0xffffffff << (32 - p))) >>> 0
      if (this.subnetsByPrefix.get(p)!.has(network)) return p
    }
    return 32
  }

  ipv4(text: string): string {
    const n = ipv4ToInt(text)
    if (n === undefined || keepIpv4(n)) return text
    const cached = this.map.ipv4[text]
    if (cached) return cached
    // Crypto-PAn style below the first octet: bit i flips by a keyed function of the bits before it,
    // so two addresses sharing a prefix share the mapped prefix; host bits of the longest known subnet stay.
    const keepFrom = this.hostBitsFrom(n)
    let mask = 0
    for (let i = 8; i < keepFrom; i++) if (this.hmac(`b${i}:${n >>> (32 - i)}`)[0] & 1) mask |= 1 << (31 - i)
    const first = this.firstOctet.get(n >>> 24) ?? n >>> 24
    const result = intToIpv4(((first << 24) | ((n ^ mask) & 0x00ffffff)) >>> 0)
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
    if (lower === '::' || lower === '::1' || lower.startsWith('ff')) return text
    const cached = this.map.ipv6[lower]
    if (cached) return cached
    const groups = expandIpv6(lower)
    if (!groups) return text
    // Prefix-preserving over the 4 network groups; small interface ids (::1, ::2) kept, others hashed.
    const out: number[] = []
    // Link-local keeps its fe80::/64 prefix; its interface id (often the MAC, EUI-64) is still mapped.
    const linkLocal = (groups[0] & 0xffc0) === 0xfe80
    for (let i = 0; i < 4; i++) out.push(linkLocal ? groups[i] : groups[i] ^ this.hmac(`v6:${i}:${groups.slice(0, i).join(':')}`).readUInt16BE(0))
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
    return (this.map.users[name] ??= `user-${Object.keys(this.map.users).length + 1}`)
  }

  /** Rewrites one text: addresses, MACs (inside client ids too), UUIDs, names, domains and home directories, in a single pass each. */
  redact(text: string): string {
    let out = text.replace(TOKEN, (match, uuid: string | undefined, ipv4: string | undefined, mappedPrefix: string | undefined, mappedV4: string | undefined, hexRun: string | undefined, ipv6: string | undefined, bridgeId: string | undefined) => {
      if (uuid) return this.uuid(uuid)
      if (ipv4) return this.ipv4(ipv4)
      if (mappedV4) return `${mappedPrefix}${this.ipv4(mappedV4)}`
      if (bridgeId) {
        // ip -d prints bridge ids as PRIO.MAC with unpadded bytes (8000.52:54:0:fc:89:10)
        const [priority, mac] = bridgeId.split('.')
        return `${priority}.${this.mac(mac.split(':').map((b) => b.padStart(2, '0')).join(':'))}`
      }
      if (hexRun) {
        const groups = hexRun.split(':')
        if (groups.length < 6) return match
        // Client ids and DUIDs end with the MAC: keep their type bytes, map the MAC.
        return [...groups.slice(0, groups.length - 6), this.mac(groups.slice(-6).join(':'))].join(':')
      }
      if (ipv6) return this.ipv6(ipv6)
      return match
    })
    // libvirt's per-guest directories (domain-49-NAME, NAME cut to 20 characters): the token rule below skips them.
    if (this.shortGuestPattern) out = out.replace(this.shortGuestPattern, (match, head: string, name: string) => `${head}${this.shortGuestNames.get(name) ?? name}`)
    if (this.namePattern) out = out.replace(this.namePattern, (name) => this.map.names[name] ?? name)
    if (this.domainPattern) out = out.replace(this.domainPattern, (domain) => this.map.domains[domain.toLowerCase()] ?? domain)
    out = out.replace(/(?<=\/home\/)([^/\s'"<>:]+)/g, (name) => this.user(name))
    return out
  }
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

const OCTET = String.raw`(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)`

/**
 * UUIDs, IPv4 (not part of a longer dotted run), IPv4-mapped IPv6 (::ffff:a.b.c.d), colon runs of
 * two-digit hex (MACs, client ids), IPv6 addresses with at least one "::" or eight groups, and
 * bridge ids (8000.52:54:0:fc:89:10).
 */
const TOKEN = new RegExp(
  [
    String.raw`(?<![0-9A-Fa-f-])([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})(?![0-9A-Fa-f-])`,
    String.raw`(?<![\d.])(${OCTET}(?:\.${OCTET}){3})(?![\d.]*\d)`,
    String.raw`(?<![0-9A-Fa-f:.])(::[fF]{4}:|(?:0{1,4}:){5}[fF]{4}:|::)(${OCTET}(?:\.${OCTET}){3})(?![\d.]*\d)`,
    String.raw`(?<![0-9A-Fa-f:])([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5,})(?![0-9A-Fa-f:])`,
    String.raw`(?<![0-9A-Fa-f:])((?:[0-9A-Fa-f]{1,4}:){1,7}:(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6})?|(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|::(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){0,6}))(?![0-9A-Fa-f:])`,
    String.raw`(?<![0-9A-Fa-f.:])([0-9A-Fa-f]{4}\.[0-9A-Fa-f]{1,2}(?::[0-9A-Fa-f]{1,2}){5})(?![0-9A-Fa-f:])`,
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
