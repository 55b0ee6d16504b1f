/**
 * Address math for IPv4 and IPv6 on top of ipaddr.js: addresses as bigints so
 * prefixes and ranges compare the same way in both families.
 */
import ipaddr from 'ipaddr.js'

export type IpFamily = 4 | 6

export interface IpRange {
  family: IpFamily
  /** First and last address, inclusive. */
  lo: bigint
  hi: bigint
}

const bits = (family: IpFamily) => (family === 4 ? 32 : 128)

/** Parses an address ("192.0.2.1", "fe80::1", "::ffff:192.0.2.1" stays IPv6); undefined when invalid. */
export function parseIp(text: string): {family: IpFamily; value: bigint} | undefined {
  if (!text.includes(':')) {
    const value = fourPartDecimal(text)
    return value === undefined ? undefined : {family: 4, value: BigInt(value)}
  }
  const bare = text.replace(/%.*$/, '')
  if (!ipaddr.isValid(bare)) return undefined
  const addr = ipaddr.parse(bare)
  let value = 0n
  for (const byte of addr.toByteArray()) value = (value << 8n) | BigInt(byte)
  return {family: addr.kind() === 'ipv4' ? 4 : 6, value}
}

/** An IPv4 address as parseIp reads one (fourPartDecimal), as a number: no BigInt for a caller that needs none. */
export const parseIpv4 = (text: string): number | undefined => fourPartDecimal(text)

/**
 * The only IPv4 form that is an address here: ipaddr.js's four-part decimal (no shorthand like "10.1",
 * no octal or hex parts, no leading zeros), each part at most 255; its 32-bit value. Read by hand: every
 * rule, route and packet address passes through parseIp, and ipaddr.js parses a text three times to say so.
 */
function fourPartDecimal(text: string): number | undefined {
  let value = 0
  let part = 0
  let digits = 0
  let parts = 0
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e
    if (c === 0x2e) {
      // A part ends: one to three digits, no leading zero, at most 255.
      if (digits === 0 || part > 255 || ++parts > 4) return undefined
      value = value * 256 + part
      part = 0
      digits = 0
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && part === 0) return undefined
      if (++digits > 3) return undefined
      part = part * 10 + (c - 0x30)
    } else {
      return undefined
    }
  }
  return parts === 4 ? value : undefined
}

export function formatIp(family: IpFamily, value: bigint): string {
  // IPv4 is its four bytes in decimal (what ipaddr.js prints); IPv6 needs ipaddr.js's compression rules.
  if (family === 4) return formatIpv4(Number(value & 0xffffffffn))
  const bytes: number[] = []
  for (let i = 15; i >= 0; i--) bytes.push(Number((value >> BigInt(i * 8)) & 0xffn))
  return ipaddr.fromByteArray(bytes).toString()
}

export const formatIpv4 = (n: number) => `${Math.floor(n / 0x1000000)}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`

/** "10.0.0.0/8", "10.0.0.1" (a /32 or /128), "fd00::/64"; undefined when invalid. */
export function parsePrefix(text: string): IpRange | undefined {
  // text.split('/')'s first two parts, without the list.
  const slash = text.indexOf('/')
  const second = slash < 0 ? -1 : text.indexOf('/', slash + 1)
  const ip = slash < 0 ? text : text.slice(0, slash)
  const len = slash < 0 ? undefined : text.slice(slash + 1, second < 0 ? text.length : second)
  const addr = parseIp(ip)
  if (!addr) return undefined
  const width = bits(addr.family)
  const prefix = len === undefined ? width : /^\d+$/.test(len) ? Number(len) : Number.NaN
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > width) return undefined
  const host = (1n << BigInt(width - prefix)) - 1n
  return {family: addr.family, lo: addr.value & ~host, hi: (addr.value & ~host) | host}
}

/**
 * An IPv4 address or prefix ("10.0.0.1", "10.0.0.0/8") as numbers: its first address and the one after its
 * last, exactly parsePrefix's bounds without bigints; undefined for any other text (parsePrefix decides those).
 */
export function ipv4Bounds(text: string): [number, number] | undefined {
  const slash = text.indexOf('/')
  const value = fourPartDecimal(slash < 0 ? text : text.slice(0, slash))
  if (value === undefined) return undefined
  let len = 32
  if (slash >= 0) {
    const rest = text.slice(slash + 1)
    if (!/^\d{1,2}$/.test(rest) || Number(rest) > 32) return undefined
    len = Number(rest)
  }
  const size = 2 ** (32 - len)
  const lo = value - (value % size)
  return [lo, lo + size]
}

/** An address range "a-b" or a prefix. */
export function parseRange(text: string): IpRange | undefined {
  if (!text.includes('-')) return parsePrefix(text)
  const [a, b] = text.split('-').map((x) => parseIp(x.trim()))
  if (!a || !b || a.family !== b.family || b.value < a.value) return undefined
  return {family: a.family, lo: a.value, hi: b.value}
}

export const rangeContains = (r: IpRange, family: IpFamily, value: bigint) => r.family === family && value >= r.lo && value <= r.hi
/** a lies entirely inside b. */
export const rangeWithin = (a: IpRange, b: IpRange) => a.family === b.family && a.lo >= b.lo && a.hi <= b.hi

export function ipInPrefix(ip: string, prefix: string): boolean {
  // IPv4 in an IPv4 prefix (every guest's address in its network's subnet) as numbers, without bigints.
  const bounds = ipv4Bounds(prefix)
  if (bounds !== undefined && !ip.includes(':')) {
    const value = fourPartDecimal(ip)
    return value !== undefined && value >= bounds[0] && value < bounds[1]
  }
  const a = parseIp(ip)
  const p = parsePrefix(prefix)
  return a !== undefined && p !== undefined && rangeContains(p, a.family, a.value)
}

/** The network a prefix written with a host address stands for: 192.168.122.1/24 is 192.168.122.0/24. */
export function networkOf(prefix: string): string {
  // An IPv4 prefix (each interface's network subnet) as numbers, without bigints.
  const bounds = ipv4Bounds(prefix)
  if (bounds !== undefined) {
    const slash = prefix.indexOf('/')
    return slash < 0 ? prefix : `${formatIpv4(bounds[0])}${prefix.slice(slash)}`
  }
  const range = parsePrefix(prefix)
  const len = prefix.split('/')[1]
  return range && len !== undefined ? `${formatIp(range.family, range.lo)}/${len}` : prefix
}
