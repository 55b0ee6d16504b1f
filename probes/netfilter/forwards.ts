/**
 * Port forwards as a ruleset (or a hook script's commands) writes them: each DNAT a rule makes,
 * with the matches that say which packets it is meant for (protocol, port, the host address
 * and the arriving device), and each accept a rule gives a forwarded destination. A reading of
 * intent only: whether a packet really meets the rule is the evaluator's question.
 */
import type {NfExpr, NfMatch, NfRuleset, NfSet, NfStatement, NfValue} from '../../src/lib/netfilter.js'

export interface ForwardIntent {
  proto: 'tcp' | 'udp'
  /** The port the outside connects to. */
  port: number
  /** The host address the rule restricts the destination to (`-d ADDR`, `ip daddr ADDR`). */
  hostAddress?: string
  /** The device the rule restricts arrival to (`-i DEV`); a wildcard keeps its `*`. */
  inDevice?: string
  /** Devices the rule excludes (`! -i docker0`). */
  notInDevices?: string[]
  target: {addr: string; port: number}
  /** A DNAT to an address range: its last address (target.addr is its first); each connection gets one of them. */
  targetEnd?: string
}

/** What an accept rule lets through, as far as its matches say (an absent field: any). */
export interface AcceptIntent {
  proto?: 'tcp' | 'udp'
  addr?: string
  port?: number
  outDevice?: string
}

/** Matches a rule (and the rules that jumped to its chain) places on a packet, as far as forwards need them. */
export interface Constraints {
  proto?: 'tcp' | 'udp'
  ports?: number[]
  hostAddress?: string
  inDevice?: string
  notInDevices?: string[]
  outDevice?: string
}

/** More than this many ports of one set or range are not each a forward to follow. */
const MAX_PORTS = 16

const protoOf = (v: NfValue): 'tcp' | 'udp' | undefined => {
  const s = v.t === 'str' ? v.v.toLowerCase() : v.t === 'num' ? String(v.v) : ''
  return s === 'tcp' || s === '6' ? 'tcp' : s === 'udp' || s === '17' ? 'udp' : undefined
}

function portsOf(v: NfValue): number[] | undefined {
  if (v.t === 'num') return [v.v]
  if (v.t === 'str' && /^\d+$/.test(v.v)) return [Number(v.v)]
  if (v.t === 'set') {
    const all = v.elems.map(portsOf)
    return all.every((p) => p !== undefined) ? (all as number[][]).flat().slice(0, MAX_PORTS) : undefined
  }
  // A range stands for its first port: one representative of what it forwards.
  if (v.t === 'range' && v.lo.t === 'num') return [v.lo.v]
  return undefined
}

const hostOf = (v: NfValue): string | undefined => (v.t === 'addr' ? v.v : v.t === 'prefix' && /\/(32|128)$/.test(v.v) ? v.v.replace(/\/\d+$/, '') : undefined)

/** The constraints one match adds (undefined: it says nothing forwards need). */
export function constrain(c: Constraints, e: NfMatch): Constraints {
  if (e.kind !== 'cmp' || e.concat) return c
  if (e.field === 'l4proto' && e.op === 'eq') return {...c, proto: protoOf(e.value) ?? c.proto}
  if (e.field === 'dport' && e.op === 'eq') return {...c, ports: portsOf(e.value) ?? c.ports}
  if (e.field === 'daddr' && e.op === 'eq') return {...c, hostAddress: hostOf(e.value) ?? c.hostAddress}
  if (e.field === 'iifname' && e.value.t === 'str') return e.op === 'eq' ? {...c, inDevice: e.value.v} : e.op === 'ne' ? {...c, notInDevices: [...(c.notInDevices ?? []), e.value.v]} : c
  if (e.field === 'oifname' && e.op === 'eq' && e.value.t === 'str') return {...c, outDevice: e.value.v}
  return c
}

const isMatch = (e: NfExpr): e is NfMatch => e.kind === 'cmp' || e.kind === 'nondeterministic' || e.kind === 'opaque'

/** The forwards a DNAT statement makes for packets under these constraints (one per port, or per map entry). */
export function forwardsOf(c: Constraints, s: Extract<NfStatement, {kind: 'nat'}>, sets: NfRuleset['sets']): ForwardIntent[] {
  if (s.type !== 'dnat') return []
  const base = {...(c.hostAddress ? {hostAddress: c.hostAddress} : {}), ...(c.inDevice ? {inDevice: c.inDevice} : {}), ...(c.notInDevices ? {notInDevices: c.notInDevices} : {})}
  if (!s.map) {
    if (!s.addr || !c.proto || !c.ports) return []
    const range = s.addrEnd !== undefined && s.addrEnd !== s.addr ? {targetEnd: s.addrEnd} : {}
    // A port range keeps a port already in it, else gives its first (see applyNat).
    const portFor = (port: number) => (s.port === undefined ? port : s.portEnd !== undefined && port >= s.port && port <= s.portEnd ? port : s.port)
    return c.ports.map((port) => ({proto: c.proto!, port, ...base, target: {addr: s.addr!, port: portFor(port)}, ...range}))
  }
  const entries = 't' in s.map.entries ? mapEntries(sets[s.map.entries.name]) : s.map.entries
  const keyFields = s.map.concat ?? [s.map.field]
  const out: ForwardIntent[] = []
  for (const entry of entries) {
    if (!entry.addr) continue
    const parts = entry.key.t === 'concat' ? entry.key.parts : [entry.key]
    let k: Constraints = c
    keyFields.forEach((field, i) => {
      if (parts[i]) k = constrain(k, {kind: 'cmp', field, op: 'eq', value: parts[i]})
    })
    if (!k.proto || !k.ports) continue
    for (const port of k.ports) out.push({proto: k.proto, port, ...base, ...(k.hostAddress ? {hostAddress: k.hostAddress} : {}), target: {addr: entry.addr, port: entry.port ?? s.port ?? port}})
  }
  return out
}

function mapEntries(set: NfSet | undefined): {key: NfValue; addr?: string; port?: number}[] {
  if (!set?.data) return []
  return set.elems.map((key, i) => {
    const d = set.data![i] as NfValue
    const scalar = (v: NfValue | undefined) => (v && (v.t === 'addr' || v.t === 'str') ? v.v : undefined)
    return d.t === 'concat' ? {key, addr: scalar(d.parts[0]), port: d.parts[1]?.t === 'num' ? d.parts[1].v : undefined} : {key, addr: scalar(d)}
  })
}

/** What an accept rule lets through, from its matches (rules whose verdict is not accept give none). */
export function acceptOf(exprs: NfExpr[], inherited: Constraints = {}): AcceptIntent | undefined {
  const last = exprs[exprs.length - 1]
  if (!last || last.kind !== 'verdict' || last.verdict !== 'accept') return undefined
  let c = inherited
  let addr: string | undefined
  for (const e of exprs) {
    if (!isMatch(e)) continue
    c = constrain(c, e)
    if (e.kind === 'cmp' && e.field === 'daddr' && e.op === 'eq') addr = hostOf(e.value)
  }
  return {...(c.proto ? {proto: c.proto} : {}), ...(addr ? {addr} : {}), ...(c.ports?.length === 1 ? {port: c.ports[0]} : {}), ...(c.outDevice ? {outDevice: c.outDevice} : {})}
}

/** One DNAT the ruleset makes, and the rule that makes it. */
export interface RuleForward extends ForwardIntent {
  rule: {backend: string; family: string; table: string; chain: string; index: number; handle?: number; text: string}
  /** The nat hook whose chains reach the rule: prerouting (arriving packets) or output (the host's own). */
  hook: 'prerouting' | 'output'
}

/**
 * Every DNAT reachable from a nat base chain on prerouting or output, with the matches of the rules on the
 * way (a jump's matches hold for the chain it jumps to: Docker's `-m addrtype --dst-type LOCAL -j DOCKER`).
 */
export function rulesetForwards(rs: NfRuleset): RuleForward[] {
  const out: RuleForward[] = []
  for (const t of rs.tables) {
    if (t.family !== 'ip' && t.family !== 'inet') continue
    for (const base of Object.values(t.chains)) {
      if (base.base?.type !== 'nat' || (base.base.hook !== 'prerouting' && base.base.hook !== 'output')) continue
      const hook = base.base.hook
      const visit = (name: string, inherited: Constraints, path: Set<string>) => {
        const chain = t.chains[name]
        if (!chain || path.has(name) || path.size > 16) return
        const here = new Set(path).add(name)
        for (const rule of chain.rules) {
          let c = inherited
          for (const e of rule.exprs) {
            if (isMatch(e)) c = constrain(c, e)
            else if (e.kind === 'nat') {
              for (const f of forwardsOf(c, e, rs.sets)) out.push({...f, hook, rule: {backend: t.backend, family: t.family, table: t.name, chain: chain.name, index: rule.ref.index, ...(rule.ref.handle !== undefined ? {handle: rule.ref.handle} : {}), text: rule.text}})
            } else if (e.kind === 'jump' || e.kind === 'goto') visit(e.target, c, here)
          }
        }
      }
      visit(base.name, {}, new Set())
    }
  }
  return out
}
