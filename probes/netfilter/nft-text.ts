/**
 * `nft list ruleset` (with or without -a) read back into the JSON `nft -j list ruleset`
 * prints, for sources that kept only the text (a sosreport). The text and the JSON are two
 * renderings of one netlink dump, so most of the listing converts exactly (tested against
 * the paired listings of every recording). What this reader cannot parse is never guessed:
 * the statement becomes UNPARSED_STATEMENT, which the JSON reader takes as "any match, any
 * verdict", so every flow through it is indeterminate with the listing's own text.
 *
 * One difference is by design: nft built with xtables support prints an iptables-nft
 * extension translated (`tcp option maxseg size set rt mtu` for -j TCPMSS), where its JSON
 * says only `xt target TCPMSS`; the text then says more than the JSON.
 */
import {type Obj, ParseError} from '../types.js'
import {UNPARSED_STATEMENT} from './values.js'

/** Standard priority names (nft(8), "PRIORITY"): the bridge family has its own scale. */
const PRIORITIES: Record<string, number> = {raw: -300, mangle: -150, dstnat: -100, filter: 0, security: 50, srcnat: 100}
const BRIDGE_PRIORITIES: Record<string, number> = {dstnat: -300, filter: -200, out: 100, srcnat: 300}

/** Meta keys nft prints without `meta`. */
const UNQUALIFIED_META = new Set(['iif', 'oif', 'iifname', 'oifname', 'iiftype', 'oiftype', 'mark', 'skuid', 'skgid', 'nftrace', 'rtclassid', 'ibriport', 'obriport', 'ibrname', 'obrname', 'ibridgename', 'obridgename', 'pkttype', 'cpu', 'iifgroup', 'oifgroup', 'cgroup', 'ipsec'])
const META_KEYS = new Set([...UNQUALIFIED_META, 'length', 'protocol', 'priority', 'l4proto', 'nfproto', 'random', 'secpath', 'iifkind', 'oifkind', 'time', 'day', 'hour', 'sdif', 'sdifname', 'broute'])
const PAYLOAD_FIELDS: Record<string, Set<string>> = {
  ip: new Set(['saddr', 'daddr', 'protocol', 'dscp', 'ecn', 'ttl', 'length', 'frag-off', 'version', 'hdrlength', 'id', 'checksum']),
  ip6: new Set(['saddr', 'daddr', 'nexthdr', 'hoplimit', 'flowlabel', 'length', 'dscp', 'ecn', 'version']),
  tcp: new Set(['sport', 'dport', 'flags', 'sequence', 'ackseq', 'doff', 'window', 'checksum', 'urgptr']),
  udp: new Set(['sport', 'dport', 'length', 'checksum']),
  udplite: new Set(['sport', 'dport', 'checksum']),
  sctp: new Set(['sport', 'dport', 'vtag', 'checksum']),
  dccp: new Set(['sport', 'dport', 'type']),
  th: new Set(['sport', 'dport']),
  icmp: new Set(['type', 'code', 'id', 'sequence', 'gateway', 'mtu', 'checksum']),
  icmpv6: new Set(['type', 'code', 'id', 'sequence', 'mtu', 'checksum', 'max-delay']),
  ether: new Set(['saddr', 'daddr', 'type']),
  vlan: new Set(['id', 'cfi', 'dei', 'pcp', 'type']),
  arp: new Set(['htype', 'ptype', 'hlen', 'plen', 'operation']),
  igmp: new Set(['type', 'mrt', 'checksum', 'group']),
}
const CT_KEYS = new Set(['state', 'direction', 'status', 'mark', 'expiration', 'helper', 'label', 'l3proto', 'protocol', 'zone', 'count', 'id', 'saddr', 'daddr', 'proto-src', 'proto-dst', 'bytes', 'packets', 'avgpkt'])
const RELATIONS: Record<string, string> = {'==': '==', eq: '==', '!=': '!=', ne: '!=', '<': '<', lt: '<', '>': '>', gt: '>', '<=': '<=', le: '<=', '>=': '>=', ge: '>=', '!': '!'}
const BINOPS: Record<string, string> = {'&': '&', and: '&', '|': '|', or: '|', '^': '^', xor: '^', '<<': '<<', lshift: '<<', '>>': '>>', rshift: '>>'}
const VERDICTS = new Set(['accept', 'drop', 'continue', 'return'])
const NAT_FLAGS = new Set(['random', 'fully-random', 'persistent', 'netmap'])
/** Statements this reader does not model: kept as their kind, which the JSON reader treats as opaque. */
const OPAQUE_STATEMENTS = new Set(['dup', 'fwd', 'tproxy', 'synproxy', 'flow', 'last', 'secmark'])

class Tokens {
  private i = 0
  constructor(readonly list: string[]) {}
  peek(k = 0): string | undefined {
    return this.list[this.i + k]
  }
  next(): string {
    const t = this.list[this.i++]
    if (t === undefined) throw new ParseError('unexpected end of the rule')
    return t
  }
  expect(word: string): void {
    const t = this.next()
    if (t !== word) throw new ParseError(`expected ${word}, found ${t}`)
  }
  get done(): boolean {
    return this.i >= this.list.length
  }
  get position(): number {
    return this.i
  }
  rest(from: number): string {
    return this.list.slice(from).join(' ')
  }
}

/** Words and quoted strings; a trailing comma or a comma between elements is a token of its own. */
export function tokenize(text: string): string[] {
  const out: string[] = []
  for (const m of text.matchAll(/"(?:[^"\\]|\\.)*"|[^\s"]+(?:"(?:[^"\\]|\\.)*"[^\s"]*)*/g)) {
    let t = m[0]
    const trailing: string[] = []
    while (t.length > 1 && t.endsWith(',') && !t.startsWith('"')) {
      trailing.push(',')
      t = t.slice(0, -1)
    }
    out.push(t, ...trailing)
  }
  return out
}

const unquote = (t: string) => (t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1).replace(/\\(.)/g, '$1') : t)
const isNumber = (t: string) => /^(0x[0-9a-f]+|\d+)$/i.test(t)
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/
const IPV6 = /^[0-9a-f]*:[0-9a-f:.]*$/i
const isAddress = (t: string) => IPV4.test(t) || (IPV6.test(t) && t.includes(':') && !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(t))

/** One atom: numbers as numbers, prefixes and ranges as nft's JSON writes them, anything else as a string. */
function atom(t: string): unknown {
  if (t.startsWith('"')) return unquote(t)
  if (isNumber(t)) return Number(t)
  if (t === 'exists') return true
  if (t === 'missing') return false
  const prefix = /^([0-9a-f.:]+)\/(\d+)$/i.exec(t)
  if (prefix && isAddress(prefix[1])) return {prefix: {addr: prefix[1], len: Number(prefix[2])}}
  const range = /^("[^"]*"|[0-9a-fx.:]+)-("[^"]*"|[0-9a-fx.:]+)$/i.exec(t)
  if (range && ((isNumber(range[1]) && isNumber(range[2])) || (isAddress(range[1]) && isAddress(range[2])) || (range[1].startsWith('"') && range[2].startsWith('"')))) {
    return {range: [atom(range[1]), atom(range[2])]}
  }
  return t
}

/** A right-hand side: a set `{ ... }`, a named set `@x`, a flag list `a,b`, or an atom (with concatenations). */
function value(ts: Tokens): unknown {
  const t = ts.peek()
  if (t === '{') return {set: setElements(ts, false)}
  const first = single(ts)
  if (ts.peek() !== '.') return first
  const parts = [first]
  while (ts.peek() === '.') {
    ts.next()
    parts.push(single(ts))
  }
  return {concat: parts}
}

function single(ts: Tokens): unknown {
  const t = ts.next()
  if (t.startsWith('@')) return t
  if (!t.startsWith('"') && t.includes(',')) return t.split(',').map(atom)
  return atom(t)
}

/** A limit, quota or ct count next: state a set statement keeps per element. */
const elementState = (ts: Tokens) => ts.peek() === 'limit' || ts.peek() === 'quota' || (ts.peek() === 'ct' && ts.peek(1) === 'count')

/** `{ a, b : verdict, c . d }` (the opening brace is next); with `declaration`, element options (timeout, comment) are read too. */
function setElements(ts: Tokens, declaration: boolean): unknown[] {
  ts.expect('{')
  const elems: unknown[] = []
  while (ts.peek() !== '}') {
    if (ts.peek() === ',') {
      ts.next()
      continue
    }
    let key = value(ts)
    const options: Obj = {}
    while (declaration && (ts.peek() === 'timeout' || ts.peek() === 'expires' || ts.peek() === 'comment' || ts.peek() === 'counter' || elementState(ts))) {
      // The state a set statement keeps per element (`10.1.0.2 limit rate over 10/second`), as nft -j nests it.
      if (elementState(ts)) {
        Object.assign(options, statement(ts))
        continue
      }
      const word = ts.next()
      if (word === 'counter') {
        if (ts.peek() === 'packets') {
          ts.next()
          ts.next()
          ts.expect('bytes')
          ts.next()
        }
        continue
      }
      const v = ts.next()
      options[word] = word === 'comment' ? unquote(v) : seconds(v)
    }
    if (Object.keys(options).length > 0) key = {elem: {val: key, ...options}}
    if (ts.peek() === ':') {
      ts.next()
      const data = ts.peek() !== undefined && (VERDICTS.has(ts.peek()!) || ts.peek() === 'jump' || ts.peek() === 'goto') ? verdict(ts) : value(ts)
      elems.push([key, data])
    } else {
      elems.push(key)
    }
  }
  ts.expect('}')
  return elems
}

/** nft's durations ("1h", "9m57s536ms") in whole seconds, as its JSON prints them. */
function seconds(text: string): number {
  let total = 0
  for (const m of text.matchAll(/(\d+)(ms|d|h|m|s)/g)) total += Number(m[1]) * ({d: 86400, h: 3600, m: 60, s: 1, ms: 0.001} as Record<string, number>)[m[2]]
  return Math.floor(total)
}

function verdict(ts: Tokens): Obj {
  const t = ts.next()
  if (VERDICTS.has(t)) return {[t]: null}
  if (t === 'jump' || t === 'goto') return {[t]: {target: unquote(ts.next())}}
  throw new ParseError(`expected a verdict, found ${t}`)
}

/** A selector (the left side of a match, the key of a map): meta, payload, ct, fib, numgen, rt, with concatenations and bit operations. */
function selector(ts: Tokens): Obj | undefined {
  const start = ts.position
  const first = primary(ts)
  if (!first) return undefined
  let expr: Obj = first
  if (ts.peek() === '.') {
    const parts = [first]
    while (ts.peek() === '.') {
      ts.next()
      const part = primary(ts)
      if (!part) throw new ParseError(`not a selector after "." in ${ts.rest(start)}`)
      parts.push(part)
    }
    expr = {concat: parts}
  }
  while (ts.peek() !== undefined && BINOPS[ts.peek()!] !== undefined) {
    const op = BINOPS[ts.next()]
    expr = {[op]: [expr, operand(ts)]}
  }
  return expr
}

/** The right operand of a bit operation, or the value a mangle sets: a selector or a constant. */
function operand(ts: Tokens): unknown {
  const sel = selector(ts)
  return sel ?? value(ts)
}

function primary(ts: Tokens): Obj | undefined {
  const t = ts.peek()
  if (t === undefined) return undefined
  if (t === 'meta' && ts.peek(1) !== undefined && META_KEYS.has(ts.peek(1)!)) {
    ts.next()
    return {meta: {key: ts.next()}}
  }
  if (UNQUALIFIED_META.has(t)) {
    ts.next()
    return {meta: {key: t}}
  }
  if (PAYLOAD_FIELDS[t] && ts.peek(1) !== undefined && PAYLOAD_FIELDS[t].has(ts.peek(1)!)) {
    ts.next()
    return {payload: {protocol: t, field: ts.next()}}
  }
  if (t === 'ct') {
    let k = 1
    const ct: Obj = {}
    if (ts.peek(k) === 'original' || ts.peek(k) === 'reply') ct.dir = ts.peek(k++)
    if (ts.peek(k) === 'ip' || ts.peek(k) === 'ip6') ct.family = ts.peek(k++)
    const key = ts.peek(k)
    if (key === undefined || !CT_KEYS.has(key)) return undefined
    for (let i = 0; i <= k; i++) ts.next()
    return {ct: {key, ...ct}}
  }
  if (t === 'fib') {
    ts.next()
    const flags = [ts.next()]
    while (ts.peek() === '.') {
      ts.next()
      flags.push(ts.next())
    }
    return {fib: {result: ts.next(), flags}}
  }
  if (t === 'numgen') {
    ts.next()
    const mode = ts.next()
    ts.expect('mod')
    const mod = Number(ts.next())
    let offset = 0
    if (ts.peek() === 'offset') {
      ts.next()
      offset = Number(ts.next())
    }
    return {numgen: {mode, mod, offset}}
  }
  if (t === 'rt' && ts.peek(1) !== undefined && ['classid', 'nexthop', 'mtu', 'ipsec', 'type'].includes(ts.peek(1)!)) {
    ts.next()
    return {rt: {key: ts.next()}}
  }
  return undefined
}

/** One statement; undefined at the end of the rule. */
function statement(ts: Tokens): Obj {
  const t = ts.peek()!
  if (VERDICTS.has(t) || t === 'jump' || t === 'goto') return verdict(ts)
  switch (t) {
    case 'counter': {
      ts.next()
      if (ts.peek() === 'name') {
        ts.next()
        return {counter: unquote(ts.next())}
      }
      if (ts.peek() === 'packets') {
        ts.next()
        const packets = Number(ts.next())
        ts.expect('bytes')
        return {counter: {packets, bytes: Number(ts.next())}}
      }
      return {counter: null}
    }
    case 'notrack':
      ts.next()
      return {notrack: null}
    case 'reject':
      return reject(ts)
    case 'log':
      return log(ts)
    case 'limit':
      return limit(ts)
    case 'quota':
      return quota(ts)
    case 'masquerade':
    case 'snat':
    case 'dnat':
    case 'redirect':
      return nat(ts)
    case 'queue':
      return queue(ts)
    case 'xt': {
      ts.next()
      const type = ts.next()
      return {xt: {type, name: unquote(ts.next())}}
    }
    case 'add':
    case 'update':
    case 'delete': {
      ts.next()
      const set = ts.next()
      ts.expect('{')
      const elem = selector(ts)
      if (!elem) throw new ParseError(`no selector in ${t} ${set}`)
      // Statements each element carries (`add @flood { ip saddr limit rate over 10/second }`).
      const stmt: Obj[] = []
      while (ts.peek() !== '}' && ts.peek() !== undefined) stmt.push(statement(ts))
      ts.expect('}')
      return {set: {op: t, elem, set, ...(stmt.length > 0 ? {stmt} : {})}}
    }
    case 'meter': {
      ts.next()
      const name = ts.next()
      let size: number | undefined
      if (ts.peek() === 'size') {
        ts.next()
        size = Number(ts.next())
      }
      ts.expect('{')
      const key = selector(ts)
      if (!key) throw new ParseError(`no key in meter ${name}`)
      while (ts.peek() === 'timeout') {
        ts.next()
        ts.next()
      }
      const stmt = statement(ts)
      ts.expect('}')
      return {meter: {key, stmt, ...(size !== undefined ? {size} : {}), name}}
    }
    case 'comment':
      throw new ParseError('comment in the middle of a rule')
  }
  if (OPAQUE_STATEMENTS.has(t)) throw new ParseError(`${t} statements are not read from text`)
  // `ct count [over] N`, as nft -j writes it.
  if (t === 'ct' && ts.peek(1) === 'count') {
    ts.next()
    ts.next()
    const inv = ts.peek() === 'over'
    if (inv) ts.next()
    return {'ct count': {val: Number(ts.next()), ...(inv ? {inv: true} : {})}}
  }
  if (t === 'ct' && ts.peek(1) === 'helper' && ts.peek(2) === 'set') {
    ts.next()
    ts.next()
    ts.next()
    return {'ct helper': unquote(ts.next())}
  }
  const start = ts.position
  const left = selector(ts)
  if (!left) throw new ParseError(`unknown statement at ${JSON.stringify(ts.rest(start).slice(0, 60))}`)
  if (ts.peek() === 'set') {
    ts.next()
    const v = operand(ts)
    // `meta mark set ip saddr map { ... }`: the value looked up in a map, as nft -j writes it.
    if (ts.peek() !== 'map') return {mangle: {key: left, value: v}}
    ts.next()
    return {mangle: {key: left, value: {map: {key: v, data: ts.peek() === '{' ? {set: setElements(ts, false)} : ts.next()}}}}
  }
  if (ts.peek() === 'vmap') {
    ts.next()
    return {vmap: {key: left, data: ts.peek() === '{' ? {set: setElements(ts, false)} : ts.next()}}
  }
  const relation = ts.peek() !== undefined ? RELATIONS[ts.peek()!] : undefined
  if (relation !== undefined) ts.next()
  if (ts.done) throw new ParseError(`no value after ${ts.rest(start)}`)
  let right = value(ts)
  // `tcp flags syn / fin,syn,rst,ack`: the flags under a mask.
  let masked: Obj = left
  if (ts.peek() === '/') {
    ts.next()
    masked = {'&': [left, single(ts)]}
    if (Array.isArray(right) && right.length === 1) right = right[0]
  }
  // An interface index (a device that is gone) is a string in nft's JSON, as names are.
  const meta = left.meta as Obj | undefined
  if (meta && IFACE_KEYS.has(String(meta.key)) && typeof right === 'number') right = String(right)
  return {match: {op: relation ?? (Array.isArray(right) ? 'in' : '=='), left: masked, right}}
}

const IFACE_KEYS = new Set(['iif', 'oif', 'iifname', 'oifname'])

function reject(ts: Tokens): Obj {
  ts.next()
  if (ts.peek() !== 'with') return {reject: null}
  ts.next()
  const type = ts.next()
  if (type === 'tcp') {
    ts.expect('reset')
    return {reject: {type: 'tcp reset'}}
  }
  if (ts.peek() === 'type') ts.next()
  return {reject: {type, expr: ts.next()}}
}

function log(ts: Tokens): Obj {
  ts.next()
  const o: Obj = {}
  for (;;) {
    const k = ts.peek()
    if (k === 'prefix') {
      ts.next()
      o.prefix = unquote(ts.next())
    } else if (k === 'level' || k === 'group' || k === 'snaplen' || k === 'queue-threshold') {
      ts.next()
      const v = ts.next()
      o[k] = isNumber(v) ? Number(v) : v
    } else if (k === 'flags') {
      ts.next()
      const v = ts.next()
      o.flags = v === 'all' ? 'all' : v.split(',')
    } else break
  }
  return {log: Object.keys(o).length > 0 ? o : null}
}

function limit(ts: Tokens): Obj {
  ts.next()
  if (ts.peek() === 'name') {
    ts.next()
    return {limit: unquote(ts.next())}
  }
  ts.expect('rate')
  const o: Obj = {}
  if (ts.peek() === 'over') {
    ts.next()
    o.inv = true
  }
  let rate = ts.next()
  // "10 mbytes/second" or "5/second".
  if (isNumber(rate) && ts.peek()?.includes('/')) {
    const [unit, per] = ts.next().split('/')
    o.rate_unit = unit
    rate = `${rate}/${per}`
  }
  const m = /^(\d+)\/(\w+)$/.exec(rate)
  if (!m) throw new ParseError(`limit rate ${rate} not understood`)
  o.rate = Number(m[1])
  o.per = m[2]
  if (ts.peek() === 'burst') {
    ts.next()
    o.burst = Number(ts.next())
    const unit = ts.next()
    if (unit !== 'packets') o.burst_unit = unit
  }
  return {limit: o}
}

function quota(ts: Tokens): Obj {
  ts.next()
  if (ts.peek() === 'name') {
    ts.next()
    return {quota: unquote(ts.next())}
  }
  const o: Obj = {}
  if (ts.peek() === 'over') {
    ts.next()
    o.inv = true
  }
  o.val = Number(ts.next())
  o.val_unit = ts.next()
  if (ts.peek() === 'used') {
    ts.next()
    ts.next()
    ts.next()
  }
  return {quota: o}
}

function portOf(text: string): unknown {
  return atom(text)
}

function nat(ts: Tokens): Obj {
  const kind = ts.next()
  const o: Obj = {}
  if ((kind === 'snat' || kind === 'dnat') && (ts.peek() === 'ip' || ts.peek() === 'ip6') && ts.peek(1) === 'to') o.family = ts.next()
  if (ts.peek() === 'to') {
    ts.next()
    const start = ts.position
    const key = selector(ts)
    if (key) {
      if (ts.next() !== 'map') throw new ParseError(`${kind} to ${ts.rest(start)} not understood`)
      o.addr = {map: {key, data: ts.peek() === '{' ? {set: setElements(ts, false)} : ts.next()}}
    } else {
      const target = ts.next()
      // ":PORT", "ADDR", "ADDR:PORT", "[V6]:PORT", with ranges on either side.
      const bracket = /^\[([^\]]+)\](?::(.+))?$/.exec(target)
      let addr: string | undefined
      let port: string | undefined
      if (bracket) [addr, port] = [bracket[1], bracket[2]]
      else if (target.startsWith(':')) port = target.slice(1)
      else if (IPV6.test(target.split('-')[0]) && (kind === 'dnat' || kind === 'snat') && (o.family === 'ip6' || !IPV4.test(target.split(/[-:/]/)[0]))) addr = target
      else {
        const at = target.lastIndexOf(':')
        if (at >= 0) [addr, port] = [target.slice(0, at), target.slice(at + 1)]
        else addr = target
      }
      if (addr !== undefined) o.addr = atom(addr)
      if (port !== undefined) o.port = portOf(port)
    }
  }
  const flags: string[] = []
  while (ts.peek() !== undefined && NAT_FLAGS.has(ts.peek()!)) flags.push(ts.next())
  if (flags.length > 0) o.flags = flags.length === 1 ? flags[0] : flags
  return {[kind]: Object.keys(o).length > 0 ? o : null}
}

function queue(ts: Tokens): Obj {
  ts.next()
  const o: Obj = {}
  if (ts.peek() === 'num') {
    ts.next()
    o.num = atom(ts.next())
  }
  const flags: string[] = []
  while (ts.peek() === 'bypass' || ts.peek() === 'fanout') flags.push(ts.next())
  if (flags.length > 0) o.flags = flags.length === 1 ? flags[0] : flags
  return {queue: o}
}

/** One rule's statements; what cannot be read becomes one UNPARSED_STATEMENT carrying the rule's text. */
export function parseRuleText(text: string): {expr: Obj[]; comment?: string} {
  const tokens = tokenize(text)
  let comment: string | undefined
  const at = tokens.lastIndexOf('comment')
  if (at >= 0 && at === tokens.length - 2 && tokens[at + 1].startsWith('"')) {
    comment = unquote(tokens[at + 1])
    tokens.splice(at, 2)
  }
  const ts = new Tokens(tokens)
  const expr: Obj[] = []
  try {
    while (!ts.done) expr.push(statement(ts))
  } catch (error) {
    const why = error instanceof ParseError ? error.message : String(error)
    return {expr: [{[UNPARSED_STATEMENT]: `${text.trim()} (not read from the text listing: ${why})`}], ...(comment !== undefined ? {comment} : {})}
  }
  return comment !== undefined ? {expr, comment} : {expr}
}

function priorityOf(text: string, family: string): number {
  const m = /^(-?\d+|[a-z]+)(?:\s*([+-])\s*(\d+))?$/.exec(text.trim())
  if (!m) throw new ParseError(`priority ${text} not understood`)
  const names = family === 'bridge' ? BRIDGE_PRIORITIES : PRIORITIES
  const base = /^-?\d+$/.test(m[1]) ? Number(m[1]) : names[m[1]]
  if (base === undefined) throw new ParseError(`priority ${text} not understood`)
  return m[2] === undefined ? base : m[2] === '+' ? base + Number(m[3]) : base - Number(m[3])
}

const handleOf = (line: string) => {
  const m = /\s*# handle (\d+)\s*$/.exec(line)
  return m ? {code: line.slice(0, m.index), handle: Number(m[1])} : {code: line}
}

/** `nft [-a] list ruleset` → the text of `nft -j list ruleset` for the same ruleset. */
export function nftTextToJson(text: string): string {
  const items: Obj[] = []
  const lines = text.split('\n')
  let table: {family: string; name: string} | undefined
  let chain: Obj | undefined
  for (let n = 0; n < lines.length; n++) {
    const {code: raw, handle} = handleOf(lines[n])
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const fail = (why: string) => new ParseError(`nft list ruleset: line ${n + 1}: ${why}: ${JSON.stringify(line.slice(0, 80))}`)
    if (!table) {
      const m = /^table (\w+) (\S+) \{$/.exec(line)
      if (!m) throw fail('expected a table')
      table = {family: m[1], name: unquote(m[2])}
      items.push({table: {family: table.family, name: table.name, ...(handle !== undefined ? {handle} : {})}})
      continue
    }
    if (!chain) {
      if (line === '}') {
        table = undefined
        continue
      }
      const c = /^chain (\S+) \{$/.exec(line)
      if (c) {
        chain = {family: table.family, table: table.name, name: unquote(c[1]), ...(handle !== undefined ? {handle} : {})}
        items.push({chain})
        continue
      }
      const s = /^(set|map) (\S+) \{$/.exec(line)
      const block: string[] = []
      let depth = 1
      while (depth > 0) {
        if (++n >= lines.length) throw fail('block not closed')
        const inner = handleOf(lines[n]).code
        depth += (inner.match(/\{/g) ?? []).length - (inner.match(/\}/g) ?? []).length
        if (depth > 0) block.push(inner)
        else block.push(inner.replace(/\}\s*$/, ''))
      }
      if (s) items.push(setDeclaration(s[1] as 'set' | 'map', table, unquote(s[2]), block.join('\n'), handle))
      else if (!/^(\w+( \w+)?) \S+ \{$/.test(line) && !/^flags /.test(line)) throw fail('unknown table item')
      // Stateful objects and flowtables hold no rule: nothing the packet path reads.
      continue
    }
    if (line === '}') {
      chain = undefined
      continue
    }
    if (/^type \w+ hook /.test(line)) {
      const m = /^type (\w+) hook (\w+)(?: device "?([^";\s]+)"?| devices = \{ ([^}]*) \})? priority ([^;]+);(?: policy (\w+);)?/.exec(line)
      if (!m) throw fail('base chain header not understood')
      Object.assign(chain, {type: m[1], hook: m[2], prio: priorityOf(m[5], table.family), policy: m[6] ?? 'accept'})
      if (m[3] !== undefined) chain.dev = m[3]
      if (m[4] !== undefined) chain.dev = m[4].split(',').map((d) => unquote(d.trim()))
      continue
    }
    if (/^(comment "|policy \w+;$)/.test(line)) {
      const policy = /^policy (\w+);$/.exec(line)
      if (policy) chain.policy = policy[1]
      continue
    }
    const rule = parseRuleText(line)
    items.push({rule: {family: table.family, table: table.name, chain: chain.name, ...(handle !== undefined ? {handle} : {}), ...rule}})
  }
  if (table) throw new ParseError('nft list ruleset: the listing ends inside a table (cut short?)')
  return JSON.stringify({nftables: items})
}

function setDeclaration(kind: 'set' | 'map', table: {family: string; name: string}, name: string, body: string, handle: number | undefined): Obj {
  const o: Obj = {family: table.family, name, table: table.name}
  const type = /^\s*type (.+?)\s*$/m.exec(body)
  if (type) {
    const [key, data] = type[1].split(' : ')
    const keys = key.split(' . ')
    o.type = keys.length > 1 ? keys : keys[0]
    if (kind === 'map') o.map = data
  } else {
    // `typeof EXPR`: the element types are not written out; the JSON reader marks such a set incomplete.
    o.type = 'typeof'
  }
  if (handle !== undefined) o.handle = handle
  const flags = /^\s*flags (.+?)\s*$/m.exec(body)
  if (flags) o.flags = flags[1].split(',')
  const timeout = /^\s*timeout (\S+)\s*$/m.exec(body)
  if (timeout) {
    o.timeout = seconds(timeout[1])
    // A default timeout sets the kernel's timeout flag, which the listing leaves unsaid.
    const list = (o.flags ??= []) as string[]
    if (!list.includes('timeout')) list.push('timeout')
  }
  const at = body.indexOf('elements = ')
  if (at >= 0) {
    const ts = new Tokens(tokenize(body.slice(at + 'elements = '.length)))
    o.elem = setElements(ts, true)
  }
  return {[kind]: o}
}
