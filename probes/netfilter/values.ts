/** Value builders shared by the parsers: one spelling per thing, whichever tool printed it. */
import {formatIp, formatIpv4, parseIp, parseIpv4} from '../../src/lib/addr.js'
import type {NfExpr, NfField, NfMatch, NfRule, NfRuleRef, NfScalar, NfStatement, NfValue} from '../../src/lib/netfilter.js'

/** A statement of a text listing that could not be read back (nft-text.ts): any match, any verdict. nft never prints this key. */
export const UNPARSED_STATEMENT = 'kvmdoctor-unparsed'

/**
 * A rewrite of the packet's own header, which the evaluator does not follow: undecided from there (its note says which
 * field). A TTL or hop limit set to a sender's own default or more (SENDER_TTL) leaves the path as it was: fewer may
 * run out on the way.
 */
export const headerRewrite = (text: string, what: string): NfStatement => ({kind: 'opaque-statement', text, terminal: 'unknown', note: `rewrites the packet's ${what}: what later rules, routes and the reply see of it is not followed`})
export const SENDER_TTL = 64

export const str = (v: string): NfScalar => ({t: 'str', v})
export const num = (v: number): NfScalar => ({t: 'num', v})

/** "10.0.0.0/8" → prefix, "10.0.0.1" or "10.0.0.1/32" → addr, "10.0.0.0/255.0.0.0" → prefix; undefined when not an address. */
export function addressValue(text: string): NfValue | undefined {
  const slash = text.indexOf('/')
  if (slash >= 0 && text.indexOf('/', slash + 1) >= 0) return undefined
  const ip = slash < 0 ? text : text.slice(0, slash)
  const v4 = ipv4Value(text, ip, slash)
  if (v4 !== NOT_IPV4) return v4
  const mask = slash < 0 ? undefined : text.slice(slash + 1)
  const addr = parseIp(ip)
  if (!addr) return undefined
  const width = addr.family === 4 ? 32 : 128
  let len = width
  if (mask !== undefined) {
    if (/^\d+$/.test(mask)) len = Number(mask)
    else {
      const m = parseIp(mask)
      if (!m || m.family !== addr.family) return undefined
      const bits = m.value.toString(2).padStart(width, '0')
      if (!/^1*0*$/.test(bits)) return undefined // a non-contiguous netmask is no prefix
      len = bits.indexOf('0') === -1 ? width : bits.indexOf('0')
    }
    if (len > width) return undefined
  }
  // An IPv4 address parseIp accepts is already written as formatIp writes it.
  if (len === width) return {t: 'addr', v: addr.family === 4 ? ip : formatIp(addr.family, addr.value)}
  const host = (1n << BigInt(width - len)) - 1n
  return {t: 'prefix', v: `${formatIp(addr.family, addr.value & ~host)}/${len}`}
}

/** What ipv4Value leaves to addressValue's general reading. */
const NOT_IPV4: NfValue = {t: 'str', v: ''}

/**
 * addressValue of an IPv4 address with a prefix length (or none), in numbers: a ruleset names thousands of
 * addresses, and a BigInt per address was most of reading one. NOT_IPV4 for anything else (IPv6, a netmask).
 */
function ipv4Value(text: string, ip: string, slash: number): NfValue | undefined {
  const value = parseIpv4(ip)
  if (value === undefined) return NOT_IPV4
  let len = 32
  if (slash >= 0) {
    if (slash + 1 === text.length) return NOT_IPV4
    len = 0
    for (let k = slash + 1; k < text.length; k++) {
      const digit = text.charCodeAt(k) - 0x30
      if (digit < 0 || digit > 9) return NOT_IPV4
      len = len * 10 + digit
    }
    if (len > 32) return undefined
  }
  if (len === 32) return {t: 'addr', v: ip}
  // The network: the address's first LEN bits (a shift by 32 is no shift in JavaScript).
  const network = len === 0 ? 0 : (value & (~0 << (32 - len))) >>> 0
  return {t: 'prefix', v: `${formatIpv4(network)}/${len}`}
}

/** "a-b" of two addresses → range; undefined otherwise. */
export function addressRange(text: string): NfValue | undefined {
  const parts = text.split('-')
  if (parts.length !== 2) return undefined
  const [lo, hi] = parts.map(parseIp)
  if (!lo || !hi || lo.family !== hi.family) return undefined
  return {t: 'range', lo: {t: 'addr', v: formatIp(lo.family, lo.value)}, hi: {t: 'addr', v: formatIp(hi.family, hi.value)}}
}

/** A port or port range as iptables writes it ("22", "1024:65535", ":1023", "1024:"); undefined when not numeric. */
export function portValue(text: string, sep = ':'): NfValue | undefined {
  if (/^\d+$/.test(text)) return num(Number(text))
  const i = text.indexOf(sep)
  if (i < 0) return undefined
  const lo = text.slice(0, i) || '0'
  const hi = text.slice(i + 1) || '65535'
  if (!/^\d+$/.test(lo) || !/^\d+$/.test(hi)) return undefined
  return {t: 'range', lo: num(Number(lo)), hi: num(Number(hi))}
}

/** Interface name; iptables' trailing "+" wildcard becomes nft's "*". */
export const ifaceValue = (text: string): NfValue => str(text.endsWith('+') ? `${text.slice(0, -1)}*` : text)

/** "0x10", "16" → 16; undefined otherwise. */
export function parseNumber(text: string): number | undefined {
  if (/^0x[0-9a-f]+$/i.test(text)) return Number.parseInt(text.slice(2), 16)
  if (/^\d+$/.test(text)) return Number(text)
  return undefined
}

/** Without EXTRA, no empty object to make and spread: tens of thousands of rules make their matches here. */
export const cmp = (field: NfField, negated: boolean, value: NfValue, extra?: Partial<Extract<NfMatch, {kind: 'cmp'}>>): NfMatch =>
  extra === undefined ? {kind: 'cmp', field, op: negated ? 'ne' : 'eq', value} : {kind: 'cmp', field, op: negated ? 'ne' : 'eq', value, ...extra}

/**
 * A rule in its final shape, counters and comment only when it has them: a property added afterwards is one
 * more allocation for each of a listing's rules.
 */
export function ruleOf(ref: NfRuleRef, text: string, exprs: NfExpr[], counters: NfRule['counters'], comment: string | undefined): NfRule {
  if (comment === undefined) return counters ? {ref, text, exprs, counters} : {ref, text, exprs}
  return counters ? {ref, text, exprs, counters, comment} : {ref, text, exprs, comment}
}
