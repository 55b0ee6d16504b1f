/** Small IPv4 helpers: addresses as unsigned 32-bit numbers. */

export function ipv4ToInt(ip: string): number | undefined {
  // Dotted quad: four parts of one to three ASCII digits, each at most 255. Read by char code: the
  // datapath parses addresses for every route lookup of every flow (split and a regex each cost more).
  let n = 0
  let part = 0
  let digits = 0
  let dots = 0
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i)
    if (c === 0x2e) {
      if (digits === 0 || part > 255 || ++dots > 3) return undefined
      n = n * 256 + part
      part = 0
      digits = 0
    } else if (c >= 0x30 && c <= 0x39 && digits < 3) {
      part = part * 10 + (c - 0x30)
      digits++
    } else {
      return undefined
    }
  }
  if (dots !== 3 || digits === 0 || part > 255) return undefined
  return n * 256 + part
}

export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

export interface Cidr {
  network: number
  prefix: number
}

export function parseCidr(text: string): Cidr | undefined {
  const [ip, prefixText] = text.split('/')
  const addr = ipv4ToInt(ip)
  const prefix = prefixText === undefined ? 32 : Number(prefixText)
  if (addr === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) return undefined
  return {network: mask(addr, prefix), prefix}
}

function mask(addr: number, prefix: number): number {
  return prefix === 0 ? 0 : (addr & (0xffffffff << (32 - prefix))) >>> 0
}

export function cidrContains(cidr: Cidr, ip: string): boolean {
  const n = ipv4ToInt(ip)
  return n !== undefined && cidrHas(cidr, n)
}

/** cidrContains for an address already parsed (ipv4ToInt). */
export const cidrHas = (cidr: Cidr, n: number): boolean => mask(n, cidr.prefix) === cidr.network

export function cidrToString(cidr: Cidr): string {
  return `${intToIpv4(cidr.network)}/${cidr.prefix}`
}

/** Whether two prefixes share any address. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix)
  return mask(a.network, p) === mask(b.network, p)
}

/**
 * How a route's prefix meets a subnet: `covers` it (the subnet's prefix or a wider one holding it: the subnet is
 * in use there), lies `inside` it (a narrower prefix carved out of it: only those addresses go there), or neither.
 */
export function prefixRelation(route: Cidr, subnet: Cidr): 'covers' | 'inside' | undefined {
  if (!cidrsOverlap(route, subnet)) return undefined
  return route.prefix <= subnet.prefix ? 'covers' : 'inside'
}

/** Netmask (255.255.255.0) to prefix length. */
export function netmaskToPrefix(netmask: string): number | undefined {
  const n = ipv4ToInt(netmask)
  if (n === undefined) return undefined
  const bits = n.toString(2).padStart(32, '0')
  return /^1*0*$/.test(bits) ? bits.indexOf('0') === -1 ? 32 : bits.indexOf('0') : undefined
}

const APIPA = parseCidr('169.254.0.0/16')!
/** Link-local IPv4 (RFC 3927) except the cloud metadata address, which is not a DHCP failure. */
export function isApipa(ip: string): boolean {
  return cidrContains(APIPA, ip) && ip !== '169.254.169.254'
}
