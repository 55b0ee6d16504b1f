/**
 * A ruleset compiled once for many packets: chains indexed by name, base chains
 * grouped by hook in the order the kernel runs them, addresses and sets
 * pre-parsed. Evaluating a thousand guests' flows reuses all of it.
 */
import {type IpRange, ipv4Bounds, parseIp, parsePrefix, parseRange} from '../../lib/addr.js'
import type {NfBackend, NfChain, NfFamily, NfHook, NfRuleset, NfSet, NfValue} from '../../lib/netfilter.js'

export interface CompiledRuleset {
  source: NfRuleset
  /** `${backend} ${family} ${table}` → chain name → chain. */
  chains: Map<string, Map<string, NfChain>>
  /** Base chains per hook and family, by priority (stable for equal priorities). */
  baseChains(hook: NfHook, families: NfFamily[]): NfChain[]
  set(name: string): NfSet | undefined
  /** Parsed address of a value (cached): prefix, single address or address range. */
  range(text: string): IpRange | undefined
  /**
   * Addresses no rule can tell apart share a class: every address, prefix and range the ruleset
   * (and the host's own addresses, for fib/addrtype) mentions cuts the address space, and one
   * interval between cuts is one class. Evaluations are shared within a class.
   */
  addressClass(address: string): string
  /** Some rule reads ether addresses: then a MAC tells packets apart. */
  readsEther: boolean
  /** Some rule reads br_netfilter's ports (-m physdev): then a bridged frame's ports tell packets apart. */
  readsPhysdev: boolean
  /** Some rule sets a conntrack zone (most rulesets: none, and no packet carries its connection's zone). */
  setsZone: boolean
  /** Hook evaluations by hook and layer, then by packet class (see runHook). */
  hookCache: Map<string, Map<string, Map<string, unknown>>>
  /** The last packet keyed and its class key: a packet no hook changed goes on to the next hook as it is. */
  lastKeyed: {packet?: object; key: string}
}

const tableKey = (backend: NfBackend, family: NfFamily, table: string) => `${backend} ${family} ${table}`
export const tableOf = (c: Pick<NfChain, 'backend' | 'family' | 'table'>) => tableKey(c.backend, c.family, c.table)

/** Where the NAT core hooks in (NF_IP_PRI_NAT_DST / NF_IP_PRI_NAT_SRC): every nat chain of the hook runs there. */
/** Where conntrack looks a packet up (prerouting and output): chains before it see no entry yet, nor a zone it has not read. */
export const CONNTRACK_PRIORITY = -200

export const NAT_CORE_PRIORITY: Partial<Record<NfHook, number>> = {prerouting: -100, output: -100, input: 100, postrouting: 100}

/**
 * `routePrefixes`: the prefixes of the host's routes and policy rules; they cut the address space too when a rule looks
 * a route up (fib ... oif, rpfilter), so addresses routed apart are never one class.
 */
export function compile(rs: NfRuleset, options: {hostAddresses?: string[]; routePrefixes?: string[]} = {}): CompiledRuleset {
  const chains = new Map<string, Map<string, NfChain>>()
  const bases: NfChain[] = []
  const tableHandle = new Map(rs.tables.filter((t) => t.handle !== undefined).map((t) => [tableKey(t.backend, t.family, t.name), t.handle!]))
  for (const table of rs.tables) {
    const byName = new Map<string, NfChain>()
    for (const chain of Object.values(table.chains)) {
      byName.set(chain.name, chain)
      if (chain.base) bases.push(chain)
    }
    chains.set(tableKey(table.backend, table.family, table.name), byName)
  }
  const baseCache = new Map<string, NfChain[]>()
  const order = new Map(bases.map((c, i) => [c, i]))
  const ranges = new Map<string, IpRange | undefined>()
  const parse = (text: string) => {
    if (!ranges.has(text)) ranges.set(text, parseRange(text) ?? parsePrefix(text))
    return ranges.get(text)
  }
  // IPv4 cuts as plain numbers (exact up to 2^32), sorted and deduplicated once: tens of thousands of rule
  // addresses collect and sort far faster so than as bigints in a set.
  const cuts4: number[] = []
  const cuts6 = new Set<bigint>()
  const cut = (r: IpRange | undefined) => {
    if (!r) return
    if (r.family === 4) {
      cuts4.push(Number(r.lo), Number(r.hi) + 1)
    } else {
      cuts6.add(r.lo)
      cuts6.add(r.hi + 1n)
    }
  }
  const visit = (v: NfValue): void => {
    if (v.t === 'prefix' || v.t === 'addr') {
      // Most rule addresses are plain IPv4: their cuts come without parsing them into bigint ranges
      // (range() still parses, on demand, those a packet is compared with).
      const bounds = ipv4Bounds(v.v)
      if (bounds) cuts4.push(bounds[0], bounds[1])
      else cut(parse(v.v))
    }
    else if (v.t === 'range' && (v.lo.t === 'addr' || v.lo.t === 'str')) cut(parseRange(`${v.lo.v}-${v.hi.v}`))
    else if (v.t === 'set') v.elems.forEach(visit)
    else if (v.t === 'concat') v.parts.forEach(visit)
  }
  let readsEther = false
  let readsPhysdev = false
  let readsRoutes = false
  let setsZone = false
  for (const table of rs.tables) {
    for (const chain of Object.values(table.chains)) {
      // Indexed loops: this runs once, over every expression of every rule, mostly before the optimizer
      // has compiled it, and for-of then costs an iterator step per element. Expressions come in many shapes:
      // each field is read once (a read of a field of many shapes is a slow lookup).
      const rules = chain.rules
      for (let r = 0; r < rules.length; r++) {
        const exprs = rules[r].exprs
        for (let x = 0; x < exprs.length; x++) {
          const e = exprs[x]
          const kind = e.kind
          if (kind === 'cmp') {
            visit(e.value)
            const field = e.field
            const concat = e.concat
            if (field === 'ether saddr' || field === 'ether daddr' || (concat !== undefined && concat.some(isEther))) readsEther = true
            if (field.startsWith('physdev') || (concat !== undefined && concat.some(isPhysdev))) readsPhysdev = true
            if (field === 'fib saddr oif' || field === 'fib daddr oif' || field === 'rpfilter') readsRoutes = true
            continue
          }
          if (kind === 'ct-zone') {
            setsZone = true
            continue
          }
          // A map keyed by packet fields (verdict, mark and NAT maps) reads them as a match does.
          const keyed = kind === 'vmap' || kind === 'mark-map' ? e : kind === 'nat' ? e.map : undefined
          if (keyed) {
            if (keyed.field.startsWith('ether') || keyed.concat?.some(isEther)) readsEther = true
            if (keyed.field.startsWith('physdev') || keyed.concat?.some(isPhysdev)) readsPhysdev = true
          }
        }
      }
    }
  }
  for (const set of Object.values(rs.sets)) {
    set.elems.forEach(visit)
    set.nomatch?.forEach(visit)
  }
  for (const a of options.hostAddresses ?? []) cut(parsePrefix(a))
  if (readsRoutes) for (const r of options.routePrefixes ?? []) cut(parsePrefix(r))
  // Multicast and the limited broadcast decide address types.
  cut(parsePrefix('224.0.0.0/4'))
  cut(parsePrefix('255.255.255.255'))
  cut(parsePrefix('ff00::/8'))
  const sorted4 = distinct(Float64Array.from(cuts4).sort())
  const sorted6 = [...cuts6].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  /** The number of cuts at or below a value: its interval. */
  const rank = <T extends number | bigint>(list: ArrayLike<T>, value: T) => {
    let lo = 0
    let hi = list.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (list[mid] <= value) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  const classes = new Map<string, string>()
  return {
    source: rs,
    chains,
    baseChains(hook, families) {
      const key = `${hook} ${families.join(',')}`
      let list = baseCache.get(key)
      if (!list) {
        // Equal priorities run in reverse order of registration (the kernel inserts a new hook before
        // its equals): within a family, a table's handle tells its age, newest first.
        // nat chains do not hook in themselves: the NAT core runs them, at its own priority, in the order of
        // theirs (nf_nat_register_fn), so a nat chain sorts at the core's place, then by its priority.
        const at = (c: NfChain) => (c.base!.type === 'nat' ? (NAT_CORE_PRIORITY[hook] ?? c.base!.priority) : c.base!.priority)
        // Equal priorities run in reverse order of registration (nf_hook_entries_grow inserts a new hook before
        // its equals): newest first, by table handle (one counter per namespace, whatever the family), then,
        // in one table, by the order its chains were created (listed). Tables without a handle
        // (iptables-legacy) count as oldest.
        const age = (c: NfChain) => tableHandle.get(tableOf(c)) ?? 0
        const natRank = (c: NfChain) => (c.base!.type === 'nat' && NAT_CORE_PRIORITY[hook] !== undefined ? 1 : 0)
        list = bases
          .filter((c) => c.base!.hook === hook && families.includes(c.family))
          // The NAT core counts as registered before any chain of its priority (the first nat table, often at boot).
          .sort((a, b) => at(a) - at(b) || natRank(a) - natRank(b) || (a.base!.type === 'nat' && b.base!.type === 'nat' ? a.base!.priority - b.base!.priority : 0) || age(b) - age(a) || (tableOf(a) === tableOf(b) ? order.get(b)! - order.get(a)! : 0))
        baseCache.set(key, list)
      }
      return list
    },
    set: (name) => rs.sets[name],
    range: parse,
    readsEther,
    readsPhysdev,
    setsZone,
    hookCache: new Map(),
    lastKeyed: {key: ''},
    addressClass(address) {
      let c = classes.get(address)
      if (c === undefined) {
        const ip = parseIp(address)
        if (!ip) c = `?${address}`
        else c = `${ip.family}#${ip.family === 4 ? rank(sorted4, Number(ip.value)) : rank(sorted6, ip.value)}`
        classes.set(address, c)
      }
      return c
    },
  }
}

const isEther = (field: string) => field.startsWith('ether')
const isPhysdev = (field: string) => field.startsWith('physdev')

/** A sorted list without its repeats. */
function distinct(sorted: Float64Array): Float64Array {
  let n = 0
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[n++] = sorted[i]
  return sorted.subarray(0, n)
}
