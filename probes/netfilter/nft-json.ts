/**
 * `nft -j list ruleset` into the netfilter IR: tables, chains, every
 * expression of every rule, named sets and maps. nft leaves some matches
 * implicit (`tcp dport 22` only looks at TCP packets): those dependencies are
 * written out as `implicit` matches so the evaluator sees them.
 * The rule text comes from `nft -a list ruleset` when given, else it is
 * rendered from the JSON.
 */
import {formatIp, parsePrefix} from '../../src/lib/addr.js'
import type {NfBaseChain, NfChain, NfChainType, NfExpr, NfFamily, NfField, NfHook, NfMatch, NfRule, NfScalar, NfSet, NfStatement, NfTable, NfValue} from '../../src/lib/netfilter.js'
import {type Obj, ParseError, isObj, parseJson} from '../types.js'
import {icmpCode, icmpTypeCode, l4protoValue, tcpFlagBits} from './names.js'
import {parseRuleText} from './nft-text.js'
import {SENDER_TTL, UNPARSED_STATEMENT, addressValue, headerRewrite, num, ruleOf, str} from './values.js'

export interface NftJsonOptions {
  /** `nft -a list ruleset` of the same ruleset: rule texts (by handle) and netdev devices come from it. */
  text?: string
}

export interface NftJsonResult {
  tables: NfTable[]
  sets: Record<string, NfSet>
  warnings: string[]
}

const FAMILIES = new Set<NfFamily>(['ip', 'ip6', 'inet', 'bridge', 'arp', 'netdev'])
const HOOKS = new Set<NfHook>(['prerouting', 'input', 'forward', 'output', 'postrouting', 'ingress', 'egress'])
const CHAIN_TYPES = new Set<NfChainType>(['filter', 'nat', 'route'])
/** Top-level objects that hold no rules or set elements: stateful objects, flowtables. */
const KNOWN_OBJECTS = new Set(['metainfo', 'counter', 'quota', 'limit', 'flowtable', 'ct helper', 'ct timeout', 'ct expectation', 'secmark', 'synproxy', 'element'])

export const setKey = (family: string, table: string, name: string) => `${family} ${table} ${name}`

export {UNPARSED_STATEMENT}

// ---------------------------------------------------------------------------
// JSON → nft-like text (rule text when no listing is given; text of opaque expressions)

const jsonText = (x: unknown) => JSON.stringify(x)

/**
 * The key of Object.entries(x)[0] (an nft JSON object is one key and its value), without listing every entry: '' for
 * none (x[''] is then undefined, as JSON objects have no inherited '' key). No [key, value] pair to make and take apart
 * for every statement and expression of every rule.
 */
function firstKey(x: Obj): string {
  for (const key in x) if (Object.hasOwn(x, key)) return key
  return ''
}

/** The fields of a statement whose value is no object (`{"accept": null}`): none, one object for all (only read). */
const NO_FIELDS: Obj = Object.freeze({})
/** Masks and marks read better in hex (nft prints them so). */
const hexIfBig = (x: unknown) => (typeof x === 'number' && x > 255 ? `0x${x.toString(16)}` : renderNftJson(x))

export function renderNftJson(x: unknown): string {
  if (x === null || x === undefined) return ''
  if (typeof x === 'string') return x
  if (typeof x === 'number') return String(x)
  if (typeof x === 'boolean') return x ? 'exists' : 'missing'
  if (Array.isArray(x)) return x.map(renderNftJson).join(',')
  if (!isObj(x)) return jsonText(x)
  const key = firstKey(x)
  const v = x[key]
  const o = isObj(v) ? v : NO_FIELDS
  switch (key) {
    case 'prefix':
      return `${renderNftJson(o.addr)}/${renderNftJson(o.len)}`
    case 'range':
      return Array.isArray(v) ? `${renderNftJson(v[0])}-${renderNftJson(v[1])}` : jsonText(x)
    case 'set':
      // The statement `add @dyn { ip saddr }`, or an anonymous set.
      // With the stateful statements each element carries (`add @flood { ip saddr limit rate over 10/second }`).
      if (isObj(v) && v.op !== undefined) return `${renderNftJson(v.op)} ${renderNftJson(v.set)} { ${[v.elem, ...elementStatements(v)].map(renderNftJson).join(' ')} }`
      return Array.isArray(v) ? `{ ${v.map((e) => (Array.isArray(e) ? `${renderNftJson(e[0])} : ${renderNftJson(e[1])}` : renderNftJson(e))).join(', ')} }` : renderNftJson(v)
    case 'concat':
      return Array.isArray(v) ? v.map(renderNftJson).join(' . ') : jsonText(x)
    case 'elem':
      return renderNftJson(o.val)
    case 'meta':
      return `meta ${renderNftJson(o.key)}`
    case 'payload':
      return o.protocol !== undefined ? `${renderNftJson(o.protocol)} ${renderNftJson(o.field)}` : `@${renderNftJson(o.base)},${renderNftJson(o.offset)},${renderNftJson(o.len)}`
    case 'ct':
      return ['ct', o.dir, o.family, o.key].filter((p) => p !== undefined).map(renderNftJson).join(' ')
    case 'fib':
      return `fib ${Array.isArray(o.flags) ? o.flags.join(' . ') : renderNftJson(o.flags)} ${renderNftJson(o.result)}`
    case 'ct count':
      return `ct count ${o.inv ? 'over ' : ''}${renderNftJson(o.val)}`
    case '&':
    case '|':
    case '^':
    case '<<':
    case '>>':
      return Array.isArray(v) ? `${renderNftJson(v[0])} ${key} ${hexIfBig(v[1])}` : jsonText(x)
    case 'map':
      return `${renderNftJson(o.key)} map ${renderNftJson(o.data)}`
    case 'accept':
    case 'drop':
    case 'continue':
    case 'return':
      return key
    case 'jump':
    case 'goto':
      return `${key} ${renderNftJson(o.target)}`
    case 'match': {
      const op = o.op === undefined || o.op === '==' || o.op === 'in' ? '' : `${renderNftJson(o.op)} `
      return `${renderNftJson(o.left)} ${op}${renderNftJson(o.right)}`
    }
    case 'counter':
      return typeof v === 'string' ? `counter name ${JSON.stringify(v)}` : 'counter'
    case 'reject':
      return o.type === undefined ? 'reject' : `reject with ${renderNftJson(o.type)}${o.expr !== undefined ? ` ${renderNftJson(o.expr)}` : ''}`
    case 'masquerade':
    case 'snat':
    case 'dnat':
    case 'redirect': {
      const family = o.family !== undefined ? ` ${renderNftJson(o.family)}` : ''
      const addr = o.addr !== undefined ? renderNftJson(o.addr) : ''
      const bracketed = o.port !== undefined && addr.includes(':') ? `[${addr}]` : addr
      const to = o.addr !== undefined || o.port !== undefined ? ` to ${bracketed}${o.port !== undefined ? `:${renderNftJson(o.port)}` : ''}` : ''
      const flags = o.flags !== undefined ? ` ${renderNftJson(o.flags)}` : ''
      return `${key}${family}${to}${flags}`
    }
    case 'mangle':
      return `${renderNftJson(o.key)} set ${hexIfBig(o.value)}`
    case 'log': {
      const parts = ['log']
      for (const k of ['prefix', 'group', 'snaplen', 'queue-threshold', 'level', 'flags']) {
        if (o[k] !== undefined) parts.push(k === 'prefix' ? `prefix ${JSON.stringify(o[k])}` : `${k} ${renderNftJson(o[k])}`)
      }
      return parts.join(' ')
    }
    case 'limit':
      return typeof v === 'string'
        ? `limit name ${JSON.stringify(v)}`
        : `limit rate ${o.inv ? 'over ' : ''}${renderNftJson(o.rate)}${o.rate_unit !== undefined && o.rate_unit !== 'packets' ? ` ${renderNftJson(o.rate_unit)}` : ''}/${renderNftJson(o.per)}${o.burst !== undefined ? ` burst ${renderNftJson(o.burst)} ${renderNftJson(o.burst_unit ?? 'packets')}` : ''}`
    case 'quota':
      return typeof v === 'string' ? `quota name ${JSON.stringify(v)}` : `quota ${o.inv ? 'over ' : ''}${renderNftJson(o.val)} ${renderNftJson(o.val_unit)}`
    case 'notrack':
      return 'notrack'
    case 'vmap':
      return `${renderNftJson(o.key)} vmap ${renderNftJson(o.data)}`
    case 'meter':
      return `meter ${renderNftJson(o.name)} { ${renderNftJson(o.key)} ${renderNftJson(o.stmt)} }`
    case 'numgen':
      return `numgen ${renderNftJson(o.mode)} mod ${renderNftJson(o.mod)}${o.offset ? ` offset ${renderNftJson(o.offset)}` : ''}`
    case 'ct helper':
      return typeof v === 'string' ? `ct helper set ${JSON.stringify(v)}` : jsonText(x)
    case 'xt':
      return `xt ${renderNftJson(o.type)} ${renderNftJson(o.name)}`
    case 'queue':
      return `queue${o.num !== undefined ? ` num ${renderNftJson(o.num)}` : ''}${o.flags !== undefined ? ` ${renderNftJson(o.flags)}` : ''}`
    default:
      return jsonText(x)
  }
}

// ---------------------------------------------------------------------------
// Left-hand expressions → fields

interface Ctx {
  family: NfFamily
  table: string
}

interface FieldInfo {
  field: NfField
  deps: NfMatch[]
  mask?: number
  iface?: 'iif' | 'oif'
  fibMark?: true
  /** meta iif/oif: an interface index, printed as a name while the interface exists. */
  ifindex?: boolean
}

/**
 * The fields of nft's implicit matches: the only facts a rule's RuleState.known is asked about, so the only ones it
 * notes (a key made for every match of every rule was most of what noting cost).
 */
const DEP_FIELDS: ReadonlySet<NfField> = new Set<NfField>(['nfproto', 'ether type', 'l4proto'])

function dep(field: NfField, value: string): NfMatch {
  if (!DEP_FIELDS.has(field)) throw new Error(`an implicit match of ${field} would not be noted as known`)
  return {kind: 'cmp', field, op: 'eq', value: str(value), implicit: true}
}

/**
 * The implicit matches nft adds (`meta nfproto ipv4` before `ip saddr`, `meta l4proto tcp` before `tcp dport`), made
 * once each: thousands of rules repeat them, and the IR is only read after the parse (pushDeps only reads the lists).
 */
const NETWORK_DEPS = {
  inet: [[dep('nfproto', 'ipv4')], [dep('nfproto', 'ipv6')]],
  ether: [[dep('ether type', 'ip')], [dep('ether type', 'ip6')]],
}
const NO_DEPS: NfMatch[] = []
const L4_DEPS = new Map<string, NfMatch[]>()

/** [l4proto PROTOCOL], PROTOCOL one of the few nft names a header (tcp, udp, icmp ...). */
function l4Dep(protocol: string): NfMatch[] {
  let deps = L4_DEPS.get(protocol)
  if (deps === undefined) L4_DEPS.set(protocol, (deps = [dep('l4proto', protocol)]))
  return deps
}

/** The match nft adds before reading an IPv4/IPv6 header in a table that sees both (or non-IP) packets. */
function networkDep(ctx: Ctx, v6: boolean): NfMatch[] {
  if (ctx.family === 'inet') return NETWORK_DEPS.inet[v6 ? 1 : 0]
  if (ctx.family === 'bridge' || ctx.family === 'netdev') return NETWORK_DEPS.ether[v6 ? 1 : 0]
  return NO_DEPS
}

const META_FIELDS: Record<string, NfField> = {
  iifname: 'iifname', oifname: 'oifname', iif: 'iifname', oif: 'oifname', l4proto: 'l4proto', nfproto: 'nfproto',
  protocol: 'ether type', mark: 'mark', pkttype: 'pkttype', ibrname: 'ibrname', obrname: 'obrname',
  ibridgename: 'ibrname', obridgename: 'obrname', iifkind: 'iifkind', oifkind: 'oifkind', iifgroup: 'iifgroup', oifgroup: 'oifgroup',
}
const NONDETERMINISTIC_META = new Set(['random', 'hour', 'day', 'time'])
const PORT_PROTOCOLS = new Set(['tcp', 'udp', 'sctp', 'dccp', 'udplite'])

type LeftResult = FieldInfo | {nondeterministic: string} | undefined

function fieldOf(left: unknown, ctx: Ctx): LeftResult {
  if (!isObj(left)) return undefined
  if (isObj(left.meta)) {
    const key = String(left.meta.key)
    if (NONDETERMINISTIC_META.has(key)) return {nondeterministic: `meta ${key}`}
    const field = META_FIELDS[key]
    return field && {field, deps: [], ifindex: key === 'iif' || key === 'oif' || undefined}
  }
  if (isObj(left.numgen) && left.numgen.mode === 'random') return {nondeterministic: 'numgen random'}
  if (isObj(left.payload)) {
    const {protocol, field} = left.payload
    if (protocol === 'ip' || protocol === 'ip6') {
      const v6 = protocol === 'ip6'
      if (field === 'saddr' || field === 'daddr') return {field, deps: networkDep(ctx, v6)}
      if (field === (v6 ? 'nexthdr' : 'protocol')) return {field: 'l4proto', deps: networkDep(ctx, v6)}
      if (field === 'dscp') return {field: 'dscp', deps: networkDep(ctx, v6)}
      return undefined
    }
    if (typeof protocol === 'string' && PORT_PROTOCOLS.has(protocol) && (field === 'sport' || field === 'dport')) return {field, deps: l4Dep(protocol)}
    if (protocol === 'th' && (field === 'sport' || field === 'dport')) return {field, deps: []}
    if (protocol === 'tcp' && field === 'flags') return {field: 'tcp flags', deps: l4Dep('tcp')}
    if ((protocol === 'icmp' || protocol === 'icmpv6') && (field === 'type' || field === 'code')) {
      const v6 = protocol === 'icmpv6'
      return {field: `${protocol} ${field}` as NfField, deps: [...networkDep(ctx, v6), ...l4Dep(protocol)]}
    }
    if (protocol === 'ether' && (field === 'saddr' || field === 'daddr' || field === 'type')) return {field: `ether ${field}` as NfField, deps: []}
    return undefined
  }
  if (isObj(left.ct)) {
    const {dir} = left.ct
    // nft 1.0.6 writes the family into the key ("ip daddr"), later ones apart ({"family": "ip", "key": "daddr"}).
    const [family, key] = typeof left.ct.key === 'string' && /^ip6? [sd]addr$/.test(left.ct.key) ? left.ct.key.split(' ') : [left.ct.family, left.ct.key]
    // `ct original ip daddr`, `ct original proto-dst`: the connection's original tuple (the reply tuple is not modelled).
    if (dir === 'original') {
      const original = ({saddr: 'ct original saddr', daddr: 'ct original daddr', 'proto-src': 'ct original sport', 'proto-dst': 'ct original dport'} as Record<string, NfField>)[String(key)]
      const addr = key === 'saddr' || key === 'daddr'
      // An address of one family: a connection of the other breaks the rule (nft_ct_get_eval checks nf_ct_l3num), `!=` too.
      const deps = addr && family !== undefined ? NETWORK_DEPS.inet[family === 'ip6' ? 1 : 0] : NO_DEPS
      return original && (addr ? family === undefined || family === 'ip' || family === 'ip6' : family === undefined) ? {field: original, deps} : undefined
    }
    if (dir !== undefined || family !== undefined) return undefined
    const field = ({state: 'ct state', status: 'ct status', direction: 'ct direction', mark: 'ct mark'} as Record<string, NfField>)[String(key)]
    return field && {field, deps: []}
  }
  if (isObj(left.fib)) {
    const flags = Array.isArray(left.fib.flags) ? left.fib.flags.map(String) : [String(left.fib.flags)]
    const result = left.fib.result
    // The route's device (oif, oifname): the lookup may take the mark; the address type never does (nft refuses it).
    const route = result === 'oif' || result === 'oifname'
    if (result !== 'type' && !route) return undefined
    const addr = flags.filter((f) => f === 'saddr' || f === 'daddr')
    const iface = flags.filter((f) => f === 'iif' || f === 'oif')
    const mark = route && flags.includes('mark')
    if (addr.length !== 1 || iface.length > 1 || addr.length + iface.length + (mark ? 1 : 0) !== flags.length) return undefined
    return {field: `fib ${addr[0]} ${route ? 'oif' : 'type'}` as NfField, deps: [], ...(iface.length ? {iface: iface[0] as 'iif' | 'oif'} : {}), ...(mark ? {fibMark: true as const} : {})}
  }
  if (Array.isArray(left['&']) && left['&'].length === 2) {
    const inner = fieldOf(left['&'][0], ctx)
    if (!inner || 'nondeterministic' in inner) return inner
    if (inner.mask !== undefined) return undefined
    const m = left['&'][1]
    if ((inner.field === 'mark' || inner.field === 'ct mark') && typeof m === 'number') return {...inner, mask: m}
    if (inner.field === 'tcp flags') {
      const bits = typeof m === 'number' ? m : tcpFlagBits((Array.isArray(m) ? m : [m]).map(String))
      return bits === undefined ? undefined : {...inner, mask: bits}
    }
    return undefined
  }
  return undefined
}

// ---------------------------------------------------------------------------
// Right-hand values

const FLAG_FIELDS = new Set<NfField>(['ct state', 'ct status', 'fib saddr type', 'fib daddr type'])
const ADDR_FIELDS = new Set<NfField>(['saddr', 'daddr', 'ct original saddr', 'ct original daddr'])

function scalarOf(x: unknown, field: NfField | undefined): NfScalar | undefined {
  if (typeof x !== 'string' && typeof x !== 'number') return undefined
  switch (field) {
    case 'saddr':
    case 'daddr':
    case 'ct original saddr':
    case 'ct original daddr': {
      const v = typeof x === 'string' ? addressValue(x) : undefined
      return v?.t === 'addr' ? v : undefined
    }
    case 'ether saddr':
    case 'ether daddr':
      return typeof x === 'string' ? {t: 'addr', v: x.toLowerCase()} : undefined
    case 'sport':
    case 'dport':
    case 'ct original sport':
    case 'ct original dport':
    case 'mark':
    case 'ct mark':
      return typeof x === 'number' ? num(x) : /^\d+$/.test(x) ? num(Number(x)) : undefined
    // Group 0 is named "default" everywhere; another name's number is in the host's /etc/iproute2/group, not read: not understood.
    case 'iifgroup':
    case 'oifgroup':
      return x === 'default' ? num(0) : typeof x === 'number' ? num(x) : /^\d+$/.test(x) ? num(Number(x)) : undefined
    case 'l4proto': {
      const p = l4protoValue(x)
      return p === undefined ? undefined : typeof p === 'number' ? num(p) : str(p)
    }
    case 'icmp type':
    case 'icmpv6 type': {
      const tc = typeof x === 'number' ? [x] : icmpTypeCode(x, field === 'icmpv6 type')
      return tc && tc[1] === undefined ? num(tc[0]) : undefined
    }
    case 'icmp code':
    case 'icmpv6 code': {
      const c = icmpCode(x, field === 'icmpv6 code')
      return c === undefined ? undefined : num(c)
    }
    case 'tcp flags': {
      const bits = typeof x === 'number' ? x : tcpFlagBits([x])
      return bits === undefined ? undefined : num(bits)
    }
    case undefined: {
      if (typeof x === 'number') return num(x)
      const a = addressValue(x)
      return a?.t === 'addr' ? a : str(x)
    }
    default:
      return typeof x === 'number' ? num(x) : str(x)
  }
}

function valueOf(x: unknown, field: NfField | undefined, ctx: Ctx, fields?: NfField[]): NfValue | undefined {
  if (typeof x === 'string' && x.startsWith('@')) return {t: 'setref', name: setKey(ctx.family, ctx.table, x.slice(1))}
  if (field !== undefined && FLAG_FIELDS.has(field)) {
    const names = flagNames(x)
    return names && {t: 'flags', v: names}
  }
  if (isObj(x)) {
    if (isObj(x.elem)) return valueOf(x.elem.val, field, ctx, fields)
    if (isObj(x.prefix)) {
      if (field !== undefined && !ADDR_FIELDS.has(field)) return undefined
      return addressValue(`${x.prefix.addr}/${x.prefix.len}`)
    }
    if (Array.isArray(x.range) && x.range.length === 2) {
      const lo = scalarOf(x.range[0], field)
      const hi = scalarOf(x.range[1], field)
      return lo && hi && {t: 'range', lo, hi}
    }
    if (Array.isArray(x.set)) {
      const elems = x.set.map((e) => valueOf(e, field, ctx, fields))
      return elems.every((e) => e !== undefined) ? {t: 'set', elems: elems as NfValue[]} : undefined
    }
    if (Array.isArray(x.concat)) {
      if (!fields || fields.length !== x.concat.length) return undefined
      const parts = x.concat.map((p, i) => valueOf(p, fields[i], ctx))
      return parts.every((p) => p !== undefined) ? {t: 'concat', parts: parts as NfValue[]} : undefined
    }
    return undefined
  }
  return scalarOf(x, field)
}

/** "established", ["established", "related"], {set: [...]} → names. */
function flagNames(x: unknown): string[] | undefined {
  if (typeof x === 'string') return [x]
  if (Array.isArray(x)) return x.every((e) => typeof e === 'string') ? (x as string[]) : undefined
  if (isObj(x) && Array.isArray(x.set)) {
    const names = x.set.map(flagNames)
    return names.every((n) => n !== undefined) ? (names as string[][]).flat() : undefined
  }
  return undefined
}

const OPS: Record<string, 'eq' | 'ne' | 'lt' | 'gt' | 'le' | 'ge'> = {'==': 'eq', in: 'eq', '!=': 'ne', '<': 'lt', '>': 'gt', '<=': 'le', '>=': 'ge'}

// ---------------------------------------------------------------------------
// Rule expressions

interface RuleState {
  ctx: Ctx
  /** Protocol facts already checked by an earlier match ("l4proto tcp"), so no dependency is repeated. */
  known: Set<string>
  counters?: {packets: number; bytes: number}
}

/** The known-fact key of each dependency met (they are the few shared matches above, and rules repeat them). */
const DEP_KEYS = new Map<NfMatch, string>()

function pushDeps(out: NfExpr[], deps: NfMatch[], st: RuleState) {
  for (let i = 0; i < deps.length; i++) {
    const d = deps[i]
    if (d.kind !== 'cmp' || d.value.t !== 'str') continue
    let k = DEP_KEYS.get(d)
    if (k === undefined) {
      k = `${d.field}=${d.value.v}`
      if (DEP_KEYS.size < 1024) DEP_KEYS.set(d, k)
    }
    if (st.known.has(k)) continue
    st.known.add(k)
    out.push(d)
  }
}

function noteKnown(m: NfMatch, st: RuleState) {
  if (m.kind === 'cmp' && m.op === 'eq' && m.mask === undefined && !m.concat && (m.value.t === 'str' || m.value.t === 'num') && DEP_FIELDS.has(m.field)) st.known.add(`${m.field}=${m.value.v}`)
}

/** The match X of a statement whose text is TEXT. */
function parseMatch(x: Obj, st: RuleState, text: string): NfExpr[] {
  // Made only when returned: most matches are understood.
  const opaque = (): NfExpr[] => [{kind: 'opaque', text}]
  const op = x.op === undefined ? '==' : String(x.op)
  const left = x.left
  const concat = isObj(left) && Array.isArray(left.concat) ? left.concat : undefined
  // One field (most matches) is read without a list around it.
  const one = concat === undefined ? fieldOf(left, st.ctx) : undefined
  const infos = concat === undefined ? undefined : concat.map((l) => fieldOf(l, st.ctx))
  const nondeterministic = (infos === undefined ? (one && 'nondeterministic' in one ? one : undefined) : infos.find((i) => i && 'nondeterministic' in i)) as {nondeterministic: string} | undefined
  if (nondeterministic) return [{kind: 'nondeterministic', what: nondeterministic.nondeterministic, text}]
  if (infos === undefined ? one === undefined : infos.some((i) => i === undefined)) return opaque()
  const out: NfExpr[] = []
  if (infos !== undefined) {
    const fields = infos as FieldInfo[]
    if (fields.some((f) => f.mask !== undefined || f.iface || f.ifindex)) return opaque()
    const names = fields.map((f) => f.field)
    const value = valueOf(x.right, undefined, st.ctx, names)
    const cop = OPS[op]
    if (!value || !cop) return opaque()
    for (const f of fields) pushDeps(out, f.deps, st)
    out.push({kind: 'cmp', field: names[0], op: cop, value, concat: names})
    return out
  }
  const info = one as FieldInfo
  let value: NfValue | undefined
  let cop = OPS[op]
  let mask = info.mask
  if (info.field === 'tcp flags') {
    // Unmasked "tcp flags syn" (op in) means "has any of"; "==" with a mask or alone compares the bits exactly.
    if (op === '!' && mask === undefined) {
      mask = tcpFlagBits(flagNames(x.right) ?? [''])
      value = mask === undefined ? undefined : num(0)
      cop = 'eq'
    } else if (mask === undefined && (op === 'in' || Array.isArray(x.right))) {
      const names = flagNames(x.right)
      value = names && tcpFlagBits(names) !== undefined ? {t: 'flags', v: names} : undefined
      if (op === '!=') cop = 'ne'
    } else {
      const bits = typeof x.right === 'number' ? x.right : tcpFlagBits(flagNames(x.right) ?? [''])
      value = bits === undefined ? undefined : num(bits)
    }
  } else if (info.field === 'fib saddr oif' || info.field === 'fib daddr oif') {
    // `oif missing` is false, `oif exists` true: the device found is none (''), or some.
    if (op !== '==' && op !== '!=') return opaque()
    if (typeof x.right === 'boolean') {
      value = str('')
      cop = (op === '==') === x.right ? 'ne' : 'eq'
    } else value = typeof x.right === 'string' && /\D/.test(x.right) ? str(x.right) : undefined
  } else if (op === '!') {
    if (!FLAG_FIELDS.has(info.field) || mask !== undefined) return opaque()
    value = valueOf(x.right, info.field, st.ctx)
    cop = 'ne'
  } else {
    value = valueOf(x.right, info.field, st.ctx)
  }
  if (!value || !cop) return opaque()
  // An interface that no longer exists is listed by index ("2"): no name to compare with.
  if (info.ifindex && value.t === 'str' && /^\d+$/.test(value.v)) return opaque()
  pushDeps(out, info.deps, st)
  const m: NfMatch = {kind: 'cmp', field: info.field, op: cop, value}
  if (mask !== undefined) m.mask = mask
  if (info.iface) m.iface = info.iface
  if (info.fibMark) m.fibMark = true
  noteKnown(m, st)
  out.push(m)
  return out
}

function markKey(x: unknown): 'mark' | 'ct mark' | undefined {
  if (isObj(x) && isObj(x.meta) && x.meta.key === 'mark') return 'mark'
  if (isObj(x) && isObj(x.ct) && x.ct.key === 'mark' && x.ct.dir === undefined) return 'ct mark'
  return undefined
}

/**
 * Header fields a rewrite of leaves the packet's path as it was: its class of service, a TTL or hop limit of SENDER_TTL
 * or more, and an IPv4 UDP checksum of 0 ("none": what admins write for libvirt's CHECKSUM --checksum-fill on DHCP
 * answers; IPv6 has no such value, its receivers drop the datagram).
 */
function harmlessRewrite(protocol: unknown, field: unknown, value: unknown, st: RuleState): boolean {
  if (field === 'dscp' || field === 'ecn' || (protocol === 'ip6' && field === 'flowlabel')) return true
  if (protocol === 'udp' && field === 'checksum' && value === 0) return st.ctx.family === 'ip' || st.known.has('nfproto=ipv4')
  return (field === 'ttl' || field === 'hoplimit') && typeof value === 'number' && value >= SENDER_TTL
}

/**
 * A rewrite of the packet's own header (`ip daddr set 10.0.0.2`, `tcp dport set 22`, `ether daddr set ...`): stateless
 * NAT that conntrack does not know of. Every rule, route and reply after it sees the rewritten packet, which the
 * evaluator does not follow: the path is undecided from there, not walked on with the packet as it came.
 */
function payloadRewrite(o: Obj, st: RuleState, text: string): NfStatement | undefined {
  const key = isObj(o.key) && isObj(o.key.payload) ? o.key.payload : undefined
  if (!key || harmlessRewrite(key.protocol, key.field, o.value, st)) return undefined
  return headerRewrite(text, key.protocol !== undefined ? `${renderNftJson(key.protocol)} ${renderNftJson(key.field)}` : 'raw bytes')
}

/** `meta mark set ...` / `ct mark set ...`: a value, a copy of the other mark, or a bit operation on itself. */
function parseMangle(o: Obj, st: RuleState, text: string): NfStatement {
  const rewrite = payloadRewrite(o, st, text)
  if (rewrite) return rewrite
  if (isObj(o.key) && isObj(o.key.ct) && o.key.ct.key === 'zone') {
    const d = o.key.ct.dir
    const dir = d === 'original' || d === 'reply' ? {dir: d as 'original' | 'reply'} : {}
    return {kind: 'ct-zone', zone: typeof o.value === 'number' ? o.value : 'unknown', ...dir, text}
  }
  const what = markKey(o.key)
  if (!what) return {kind: 'effect', text}
  const v = o.value
  if (typeof v === 'number') return {kind: 'mark', what, op: 'set', value: v, text}
  const from = markKey(v)
  if (from && from !== what) return {kind: 'mark-copy', from, to: what, text}
  if (isObj(v)) {
    const op = firstKey(v)
    const args = v[op]
    if (Array.isArray(args) && args.length === 2 && typeof args[1] === 'number') {
      const b = args[1]
      const inner = args[0]
      // `meta mark set ct mark and 0x1`: the other mark's bits the mask selects, the rest cleared.
      if (op === '&' && markKey(inner) !== undefined && markKey(inner) !== what) return {kind: 'mark-copy', from: markKey(inner)!, to: what, fromMask: b >>> 0, text}
      if (markKey(inner) === what) {
        if (op === '&') return {kind: 'mark', what, op: 'and', value: b, text}
        if (op === '|') return {kind: 'mark', what, op: 'or', value: b, text}
        if (op === '^') return {kind: 'mark', what, op: 'xor', value: b, text}
      }
      // (mark & a) | b, (mark & a) ^ b: bits outside a are replaced: mark = (mark & ~m) ^ v.
      if (isObj(inner) && Array.isArray(inner['&']) && markKey(inner['&'][0]) === what && typeof inner['&'][1] === 'number') {
        const a = inner['&'][1] >>> 0
        if (op === '^') return {kind: 'mark', what, op: 'set', value: b, mask: ~a >>> 0, text}
        if (op === '|') return {kind: 'mark', what, op: 'set', value: b, mask: (~a | b) >>> 0, text}
      }
    }
  }
  return {kind: 'mark-unknown', what, text}
}

function natAddr(addr: unknown): {addr?: string; addrEnd?: string} | undefined {
  if (addr === undefined) return {}
  if (typeof addr === 'string') {
    const v = addressValue(addr)
    return v?.t === 'addr' ? {addr: v.v} : undefined
  }
  if (isObj(addr) && Array.isArray(addr.range) && typeof addr.range[0] === 'string' && typeof addr.range[1] === 'string') {
    const [lo, hi] = addr.range.map((a) => addressValue(a as string))
    return lo?.t === 'addr' && hi?.t === 'addr' ? {addr: lo.v, addrEnd: hi.v} : undefined
  }
  if (isObj(addr) && isObj(addr.prefix)) {
    const r = parsePrefix(`${addr.prefix.addr}/${addr.prefix.len}`)
    return r && {addr: formatIp(r.family, r.lo), addrEnd: formatIp(r.family, r.hi)}
  }
  // From a map (`dnat to tcp dport map @ports`): the address depends on the packet.
  if (isObj(addr) && isObj(addr.map)) return {}
  return undefined
}

/**
 * A NAT address map: its key (one field or a concatenation) and its entries, inline or a named map (read with
 * the sets). An inline entry's data is an address, or an address and a port (`addr . port to`).
 */
function natMap(map: Obj, st: RuleState): {map: NonNullable<Extract<NfStatement, {kind: 'nat'}>['map']>; deps: NfExpr[]} | undefined {
  return keyedMap(map, st, (data) => {
    const target = typeof data === 'string' ? {addr: addressValue(data)} : isObj(data) && Array.isArray(data.concat) && data.concat.length === 2 && typeof data.concat[0] === 'string' && typeof data.concat[1] === 'number' ? {addr: addressValue(data.concat[0]), port: data.concat[1]} : undefined
    return target?.addr?.t === 'addr' ? {addr: target.addr.v, ...(target.port !== undefined ? {port: target.port} : {})} : undefined
  })
}

/** A map keyed by the packet's fields (`KEY map { k : DATA, ... }` or `map @name`), each entry's data read by `data`. */
function keyedMap<T>(map: Obj, st: RuleState, data: (d: unknown) => T | undefined): {map: {field: NfField; concat?: NfField[]; entries: (T & {key: NfValue})[] | {t: 'setref'; name: string}}; deps: NfExpr[]} | undefined {
  const concat = isObj(map.key) && Array.isArray(map.key.concat) ? map.key.concat : undefined
  const infos = (concat ?? [map.key]).map((k) => fieldOf(k, st.ctx))
  if (infos.some((i) => i === undefined || 'nondeterministic' in i || i.mask !== undefined || i.iface)) return undefined
  const names = (infos as FieldInfo[]).map((f) => f.field)
  const deps: NfExpr[] = []
  for (const f of infos as FieldInfo[]) pushDeps(deps, f.deps, st)
  const field = names[0]
  const extra = concat ? {concat: names} : {}
  if (typeof map.data === 'string' && map.data.startsWith('@')) return {map: {field, ...extra, entries: {t: 'setref', name: setKey(st.ctx.family, st.ctx.table, map.data.slice(1))}}, deps}
  if (!isObj(map.data) || !Array.isArray(map.data.set)) return undefined
  const entries: (T & {key: NfValue})[] = []
  for (const entry of map.data.set) {
    if (!Array.isArray(entry) || entry.length !== 2) return undefined
    const key = concat ? valueOf(entry[0], undefined, st.ctx, names) : valueOf(entry[0], field, st.ctx)
    const value = data(entry[1])
    if (!key || value === undefined) return undefined
    entries.push({key, ...value})
  }
  return {map: {field, ...extra, entries}, deps}
}

function natPort(port: unknown): {port?: number; portEnd?: number} | undefined {
  if (port === undefined) return {}
  if (typeof port === 'number') return {port}
  if (isObj(port) && Array.isArray(port.range) && typeof port.range[0] === 'number' && typeof port.range[1] === 'number') return {port: port.range[0], portEnd: port.range[1]}
  return undefined
}

// TTL and HL are not among them: whether one lowers the TTL is in options an xt target's JSON does not show.
const XT_EFFECT_TARGETS = new Set(['CHECKSUM', 'LOG', 'NFLOG', 'ULOG', 'TCPMSS', 'TRACE', 'AUDIT', 'DSCP', 'TOS', 'ECN', 'CLASSIFY', 'CONNSECMARK', 'SECMARK', 'IDLETIMER', 'LED', 'RATEEST', 'TEE', 'SET', 'TCPOPTSTRIP', 'CONNLABEL', 'MARK', 'CONNMARK', 'CT', 'NOTRACK'])
const XT_TERMINAL_TARGETS = new Set(['MASQUERADE', 'SNAT', 'DNAT', 'REDIRECT', 'NETMAP', 'REJECT', 'NFQUEUE', 'QUEUE'])

const VERDICTS = ['accept', 'drop', 'continue', 'return'] as const
const CHAIN_VERDICTS = ['jump', 'goto'] as const

function verdictOf(x: unknown): NfStatement | undefined {
  if (!isObj(x)) return undefined
  for (let i = 0; i < VERDICTS.length; i++) if (VERDICTS[i] in x) return {kind: 'verdict', verdict: VERDICTS[i]}
  for (let i = 0; i < CHAIN_VERDICTS.length; i++) {
    const k = CHAIN_VERDICTS[i]
    const t = x[k]
    if (isObj(t) && typeof t.target === 'string') return {kind: k, target: t.target}
  }
  return undefined
}

function parseVmap(o: Obj, st: RuleState, text: string): NfExpr[] {
  const opaque: NfExpr[] = [{kind: 'opaque-statement', text, terminal: 'unknown'}]
  const concat = isObj(o.key) && Array.isArray(o.key.concat) ? o.key.concat : undefined
  const infos = (concat ?? [o.key]).map((k) => fieldOf(k, st.ctx))
  if (infos.some((i) => i === undefined || 'nondeterministic' in i || i.mask !== undefined || i.iface)) return opaque
  const fields = infos as FieldInfo[]
  const names = fields.map((f) => f.field)
  const deps: NfExpr[] = []
  for (const f of fields) pushDeps(deps, f.deps, st)
  const field = names[0]
  const extra = concat ? {concat: names} : {}
  if (typeof o.data === 'string' && o.data.startsWith('@')) {
    return [...deps, {kind: 'vmap', field, ...extra, map: {t: 'setref', name: setKey(st.ctx.family, st.ctx.table, o.data.slice(1))}, text}]
  }
  if (!isObj(o.data) || !Array.isArray(o.data.set)) return opaque
  const map: {key: NfValue; then: NfStatement}[] = []
  for (const entry of o.data.set) {
    if (!Array.isArray(entry) || entry.length !== 2) return opaque
    const key = concat ? valueOf(entry[0], undefined, st.ctx, names) : valueOf(entry[0], field, st.ctx)
    const then = verdictOf(entry[1])
    if (!key || !then) return opaque
    map.push({key, then})
  }
  return [...deps, {kind: 'vmap', field, ...extra, map, text}]
}

/** The stateful statements of a set statement's element (nft 1.0 lists them as `stmt`, a list). */
const elementStatements = (o: Obj): unknown[] => (Array.isArray(o.stmt) ? o.stmt : o.stmt !== undefined ? [o.stmt] : [])

/**
 * `add @set { KEY [STATEMENTS] }`, `update @set { ... }`, `delete @set { ... }` (nft_dynset). Adding or updating fills the
 * set as packets pass (NfSet.filledBy). A limit, quota or ct count in the element is evaluated per key and its verdict
 * ends the rule where it does not match (`add @flood { ip saddr limit rate over 10/second } drop` drops only over the
 * rate): by the rates and counts of that moment, which no listing holds.
 */
function setStatement(o: Obj, st: RuleState, text: string): NfExpr[] {
  const name = typeof o.set === 'string' && o.set.startsWith('@') ? o.set.slice(1) : undefined
  const fills = name !== undefined && o.op !== 'delete' ? {fills: setKey(st.ctx.family, st.ctx.table, name)} : {}
  const gates = elementStatements(o)
    .map((x) => (isObj(x) ? firstKey(x) : 'statement'))
    .filter((k) => k !== 'counter' && k !== 'last')
  return [gates.length === 0 ? {kind: 'effect', text, ...fills} : {kind: 'nondeterministic', what: `${gates.join(', ')} of each element of ${renderNftJson(o.set)}`, text, ...fills}]
}

/** The expressions of statement X, whose text (renderNftJson) is TEXT. */
function parseStatement(x: unknown, st: RuleState, text: string): NfExpr[] {
  if (!isObj(x)) return [{kind: 'opaque', text: jsonText(x)}]
  const key = firstKey(x)
  const v = x[key]
  const o = isObj(v) ? v : NO_FIELDS
  switch (key) {
    case 'match':
      return parseMatch(o, st, text)
    case 'counter':
      if (isObj(v) && st.counters === undefined && typeof v.packets === 'number' && typeof v.bytes === 'number') st.counters = {packets: v.packets, bytes: v.bytes}
      return [{kind: 'effect', text}]
    case 'accept':
    case 'drop':
    case 'continue':
    case 'return':
    case 'jump':
    case 'goto':
      return [verdictOf(x) ?? {kind: 'opaque-statement', text: jsonText(x), terminal: 'unknown'}]
    case 'reject':
      return [{kind: 'verdict', verdict: 'reject', text}]
    case 'masquerade':
    case 'snat':
    case 'dnat':
    case 'redirect': {
      const addr = natAddr(o.addr)
      const port = natPort(o.port)
      if (!addr || !port) return [{kind: 'opaque-statement', text, terminal: true}]
      const flags = Array.isArray(o.flags) ? o.flags : [o.flags]
      const random = flags.includes('random') || flags.includes('fully-random') ? {random: true as const} : {}
      const family = o.family === 'ip' ? {family: 4 as const} : o.family === 'ip6' ? {family: 6 as const} : {}
      if (isObj(o.addr) && isObj(o.addr.map)) {
        const map = natMap(o.addr.map, st)
        if (!map) return [{kind: 'opaque-statement', text, terminal: true}]
        return [...map.deps, {kind: 'nat', type: key, ...port, ...random, ...family, map: map.map, text}]
      }
      return [{kind: 'nat', type: key, ...addr, ...port, ...random, ...family, text}]
    }
    case 'mangle': {
      // A mark from a map of the packet's fields: the evaluator looks the entry up.
      const what = markKey(o.key)
      const m = what && isObj(o.value) && isObj(o.value.map) ? keyedMap(o.value.map, st, (d) => (typeof d === 'number' ? {value: d} : undefined)) : undefined
      if (what && m) return [...m.deps, {kind: 'mark-map', what, ...m.map, text}]
      return [parseMangle(o, st, text)]
    }
    case 'set':
      return setStatement(o, st, text)
    case 'log':
    case 'dup':
    case 'flow':
    case 'last':
    case 'ct helper':
    case 'ct timeout':
    case 'ct expectation':
    case 'secmark':
      return [{kind: 'effect', text}]
    case 'limit':
    case 'quota':
    case 'meter':
      return [{kind: 'nondeterministic', what: key, text}]
    // How many connections of the key conntrack holds now (nft_connlimit): the host's live table, not a fact read.
    case 'ct count':
      return [{kind: 'nondeterministic', what: 'ct count: the connections conntrack holds at that moment', text}]
    case 'notrack':
      return [{kind: 'notrack', text}]
    case 'vmap':
      return parseVmap(o, st, text)
    case 'queue':
    case 'fwd':
      return [{kind: 'opaque-statement', text, terminal: true}]
    case 'xt': {
      const name = String(o.name)
      if (o.type === 'match') return [{kind: 'opaque', text}]
      return [{kind: 'opaque-statement', text, terminal: XT_TERMINAL_TARGETS.has(name) ? true : XT_EFFECT_TARGETS.has(name) ? false : 'unknown'}]
    }
    case 'tproxy':
    case 'synproxy':
      return [{kind: 'opaque-statement', text, terminal: 'unknown'}]
    case UNPARSED_STATEMENT:
      return [{kind: 'opaque', text: String(v)}, {kind: 'opaque-statement', text: String(v), terminal: 'unknown'}]
    default:
      return [{kind: 'opaque', text: jsonText(x)}]
  }
}

/** The IR expressions of one rule's JSON `expr` array, with its anonymous counter. */
export function parseNftRuleExprs(exprs: unknown[], ctx: {family: NfFamily; table: string}): {exprs: NfExpr[]; counters?: {packets: number; bytes: number}} {
  return readRuleExprs(exprs, ctx, undefined)
}

/** parseNftRuleExprs, adding each statement's text to TEXTS when given: the rule's text, when no listing gives it, is theirs joined. */
function readRuleExprs(exprs: unknown[], ctx: Ctx, texts: string[] | undefined): {exprs: NfExpr[]; counters?: {packets: number; bytes: number}} {
  const st: RuleState = {ctx, known: new Set()}
  const out: NfExpr[] = []
  for (let i = 0; i < exprs.length; i++) {
    const x = exprs[i]
    // Rendered once, for the statement's expressions and the rule's text.
    const text = renderNftJson(x)
    texts?.push(text)
    const parsed = parseStatement(x, st, text)
    for (let k = 0; k < parsed.length; k++) out.push(parsed[k])
  }
  // At its exact length: every rule keeps its array, and one grown by push keeps room for a dozen more.
  return st.counters ? {exprs: out.slice(), counters: st.counters} : {exprs: out.slice()}
}

// ---------------------------------------------------------------------------
// Sets and maps

const TYPE_FIELDS: Record<string, NfField> = {
  ipv4_addr: 'saddr', ipv6_addr: 'saddr', inet_service: 'dport', ifname: 'iifname', inet_proto: 'l4proto', ether_addr: 'ether saddr',
  mark: 'mark', ether_type: 'ether type', icmp_type: 'icmp type', icmpv6_type: 'icmpv6 type', ct_state: 'ct state', pkt_type: 'pkttype',
  nf_proto: 'nfproto', fib_addrtype: 'fib daddr type', ct_status: 'ct status',
}

function parseSet(kind: 'set' | 'map', o: Obj, warnings: string[]): NfSet | undefined {
  const family = String(o.family) as NfFamily
  const table = String(o.table)
  const name = String(o.name)
  if (!FAMILIES.has(family)) return undefined
  const types = (Array.isArray(o.type) ? o.type : [o.type]).map((t) => (typeof t === 'string' ? t : jsonText(t)))
  const fields = types.map((t) => TYPE_FIELDS[t])
  const ctx: Ctx = {family, table}
  const set: NfSet = {backend: 'nft', family, table, name, type: types, flags: Array.isArray(o.flags) ? o.flags.map(String) : typeof o.flags === 'string' ? [o.flags] : [], elems: [], complete: true}
  const keyOf = (e: unknown) => (types.length > 1 ? valueOf(e, undefined, ctx, fields as NfField[]) : valueOf(e, fields[0], ctx))
  // Map data types read "ipv4_addr . inet_service" for a concatenation.
  const dataTypes = typeof o.map === 'string' ? o.map.split(' . ') : []
  const dataFields = dataTypes.map((t) => TYPE_FIELDS[t])
  const dataOf = (d: unknown) =>
    dataTypes[0] === 'verdict' ? verdictOf(d) : dataTypes.length > 1 ? valueOf(d, undefined, ctx, dataFields as NfField[]) : valueOf(d, dataFields[0], ctx)
  if (kind === 'map') set.data = []
  for (const e of Array.isArray(o.elem) ? o.elem : []) {
    const [k, d] = kind === 'map' && Array.isArray(e) ? e : [e, undefined]
    const key = fields.some((f) => f === undefined) ? undefined : keyOf(k)
    const data = kind === 'map' ? dataOf(d) : undefined
    if (!key || (kind === 'map' && !data)) {
      set.complete = false
      warnings.push(`nft ${kind} ${setKey(family, table, name)}: element ${jsonText(e).slice(0, 80)} not understood`)
      continue
    }
    set.elems.push(key)
    if (data) set.data!.push(data)
  }
  return set
}

// ---------------------------------------------------------------------------
// Text listing (nft -a list ruleset)

interface Listing {
  rules: Map<string, string>
  devices: Map<string, string>
}

const listingKey = (...parts: (string | number)[]) => parts.join('\u0000')
const unquote = (s: string) => (s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s)

/**
 * An ebtables-nft or arptables-nft rule (an admin's `ebtables -p IPv4 --ip-dport 53`, libvirt's nwfilter rules) is
 * `xt match "ip"` in nft's JSON, without its parameters; nft linked with libxtables prints it translated in its text
 * listing (`udp dport 53`), the extension's own translation. Such a rule is read from that text when all of it reads
 * back; otherwise the JSON stands (the xt match: undecided). iptables-nft's rules (ip, ip6) are read from
 * iptables-save, which prints every match as written.
 */
function translatedXt(exprs: unknown[], listed: string | undefined, family: NfFamily): unknown[] {
  if ((family !== 'bridge' && family !== 'arp') || listed === undefined || !exprs.some((e) => isObj(e) && 'xt' in e) || /(^|\s)xt (match|target)\b/.test(listed)) return exprs
  const fromText = parseRuleText(listed)
  if (fromText.expr.some((e) => UNPARSED_STATEMENT in e)) return exprs
  // The listing's texts drop counter values (they change with every packet): the JSON's counter keeps them.
  const counter = exprs.find((e) => isObj(e) && 'counter' in e)
  return counter === undefined ? fromText.expr : fromText.expr.map((e) => ('counter' in e ? counter : e))
}

/** Rule texts by (family, table, chain, handle) and base-chain devices, from `nft -a list ruleset`. */
export function parseNftListing(text: string): Listing {
  const listing: Listing = {rules: new Map(), devices: new Map()}
  const stack: string[] = []
  let family = ''
  let table = ''
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const code = line.replace(/\s*# handle \d+$/, '')
    const tableHead = stack.length === 0 ? /^table (\S+) (\S+) \{$/.exec(code) : null
    const chainHead = stack.length === 1 ? /^chain (\S+) \{$/.exec(code) : null
    if (tableHead) {
      ;[family, table] = [tableHead[1], unquote(tableHead[2])]
      stack.push('table')
      continue
    }
    if (chainHead) {
      stack.push(`chain ${unquote(chainHead[1])}`)
      continue
    }
    const balance = braceBalance(code)
    const top = stack.at(-1) ?? ''
    if (stack.length === 2 && top.startsWith('chain ') && balance === 0) {
      const chain = top.slice('chain '.length)
      const hook = /^type \S+ hook \S+ (?:device (\S+)|devices = \{([^}]*)\}) priority/.exec(code)
      if (hook) listing.devices.set(listingKey(family, table, chain), hook[1] !== undefined ? unquote(hook[1]) : hook[2].split(',').map((d) => unquote(d.trim())).join(','))
      const rule = /^(.*?)\s*# handle (\d+)$/.exec(line)
      // Counter values change with every packet: a rule's text (and the name of what it decides) must not.
      if (rule) listing.rules.set(listingKey(family, table, chain, rule[2]), rule[1].replace(/\bcounter packets \d+ bytes \d+/g, 'counter'))
    }
    for (let i = 0; i < balance; i++) stack.push('block')
    for (let i = 0; i < -balance && stack.length > 0; i++) stack.pop()
  }
  return listing
}

/** Opening minus closing braces outside double quotes. */
function braceBalance(line: string): number {
  let n = 0
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]
    if (ch === '\\' && quoted) i++
    else if (ch === '"') quoted = !quoted
    else if (!quoted && ch === '{') n++
    else if (!quoted && ch === '}') n--
  }
  return n
}

// ---------------------------------------------------------------------------
// Whole ruleset

export function parseNftJsonIR(jsonText: string, options: NftJsonOptions = {}): NftJsonResult {
  const doc = parseJson<unknown>(jsonText, 'nft -j list ruleset')
  if (!isObj(doc) || !Array.isArray(doc.nftables)) throw new ParseError('nft -j list ruleset: no "nftables" array')
  const listing = options.text !== undefined ? parseNftListing(options.text) : undefined
  const result: NftJsonResult = {tables: [], sets: {}, warnings: []}
  const tables = new Map<string, NfTable>()
  const items: unknown[] = doc.nftables
  for (let i = 0; i < items.length; i++) {
    const item = items[i]
    // Let go of each item once read: what the IR does not keep of the listing need not outlive it (a scavenge copies
    // every object still reachable, and the listing's are most of them).
    items[i] = undefined
    if (!isObj(item)) {
      result.warnings.push(`nft -j list ruleset: item ${i} is not an object`)
      continue
    }
    const kind = firstKey(item)
    const value = item[kind]
    if (kind === 'table' || kind === 'chain' || kind === 'rule' || kind === 'set' || kind === 'map') {
      if (!isObj(value)) throw new ParseError(`nft -j list ruleset: item ${i} (${kind}) is not an object`)
      const family = String(value.family) as NfFamily
      if (!FAMILIES.has(family)) {
        result.warnings.push(`nft -j list ruleset: ${kind} of unknown family ${String(value.family)} skipped`)
        continue
      }
      const tableName = String(kind === 'table' ? value.name : value.table)
      const tkey = listingKey(family, tableName)
      if (kind === 'table') {
        tables.set(tkey, {backend: 'nft', family, name: tableName, chains: {}, ...(typeof value.handle === 'number' ? {handle: value.handle} : {})})
        continue
      }
      const table = tables.get(tkey)
      if (!table) throw new ParseError(`nft -j list ruleset: ${kind} ${String(value.name ?? value.chain)} in unknown table ${family} ${tableName}`)
      if (kind === 'set' || kind === 'map') {
        const set = parseSet(kind, value, result.warnings)
        if (set) result.sets[setKey(family, tableName, set.name)] = set
      } else if (kind === 'chain') {
        const chain = parseChain(value, table, listing, result.warnings)
        table.chains[chain.name] = chain
      } else {
        const chainName = String(value.chain)
        const chain = table.chains[chainName]
        if (!chain) throw new ParseError(`nft -j list ruleset: rule in unknown chain ${family} ${tableName} ${chainName}`)
        chain.rules.push(parseRule(value, chain, listing))
      }
      continue
    }
    if (!KNOWN_OBJECTS.has(kind)) result.warnings.push(`nft -j list ruleset: unknown object "${kind}" skipped`)
  }
  result.tables = [...tables.values()]
  return result
}

function parseChain(c: Obj, table: NfTable, listing: Listing | undefined, warnings: string[]): NfChain {
  const name = String(c.name)
  const chain: NfChain = {backend: 'nft', family: table.family, table: table.name, name, rules: []}
  if (c.hook !== undefined) {
    const hook = String(c.hook) as NfHook
    const type = String(c.type ?? 'filter') as NfChainType
    const priority = typeof c.prio === 'number' ? c.prio : Number(c.prio)
    if (!HOOKS.has(hook) || !CHAIN_TYPES.has(type) || !Number.isFinite(priority)) {
      warnings.push(`nft chain ${table.family} ${table.name} ${name}: hook ${String(c.hook)} type ${String(c.type)} prio ${String(c.prio)} not understood; read as a user chain`)
      return chain
    }
    const base: NfBaseChain = {type, hook, priority, policy: c.policy === 'drop' ? 'drop' : 'accept'}
    const dev = Array.isArray(c.dev) ? c.dev.map(String).join(',') : typeof c.dev === 'string' ? c.dev : listing?.devices.get(listingKey(table.family, table.name, name))
    if (dev !== undefined) base.device = dev
    chain.base = base
  }
  return chain
}

function parseRule(r: Obj, chain: NfChain, listing: Listing | undefined): NfRule {
  const handle = typeof r.handle === 'number' ? r.handle : undefined
  const listed = handle !== undefined ? listing?.rules.get(listingKey(chain.family, chain.table, chain.name, handle)) : undefined
  const exprs = translatedXt(Array.isArray(r.expr) ? r.expr : [], listed, chain.family)
  const texts = listed === undefined ? [] : undefined
  const parsed = readRuleExprs(exprs, {family: chain.family, table: chain.table}, texts)
  const comment = typeof r.comment === 'string' ? r.comment : undefined
  const {backend, family, table, name} = chain
  const index = chain.rules.length
  return ruleOf(
    handle !== undefined ? {backend, family, table, chain: name, index, handle} : {backend, family, table, chain: name, index},
    listed ?? texts!.join(' ') + (comment !== undefined ? ` comment ${JSON.stringify(comment)}` : ''),
    parsed.exprs,
    parsed.counters,
    comment,
  )
}
