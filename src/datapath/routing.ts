/**
 * The kernel's routing decision: `ip rule` in priority order, each lookup the
 * longest matching prefix of its table (metric breaks ties), throw and
 * suppress_prefixlength sending the search on, blackhole/unreachable/prohibit
 * ending it. Also the reverse-path check rp_filter makes on arriving packets.
 */
import {type IpRange, parseIp, parsePrefix, rangeContains} from '../lib/addr.js'
import type {PolicyRule} from '../../probes/ip-rules.js'
import type {Route} from '../../probes/routes.js'
import type {RouteLookup} from './netfilter/evaluate.js'
import {getOrCreate} from '../lib/collections.js'

export interface RouteQuery {
  family: 4 | 6
  dst: string
  src?: string
  /** Arriving device; locally generated packets use "lo". */
  iif?: string
  oif?: string
  mark: number | 'unknown'
  l4proto?: string
  sport?: number
  dport?: number
  /** Which usable next hop of a multipath route the flow takes (index, default the first): the kernel's hash picks it. */
  nexthop?: number
}

export interface RouteDecision {
  /** unicast: forwarded (or sent) via dev; local/broadcast: delivered to the host; the rest: no way. */
  kind: 'unicast' | 'local' | 'broadcast' | 'multicast' | 'unreachable' | 'blackhole' | 'prohibit' | 'no-route' | 'unknown'
  dev?: string
  gateway?: string
  table?: string
  route?: Route
  /** The policy rule that chose the table (or ended the lookup). */
  rule?: PolicyRule
  /** Each rule and table consulted, for the trace. */
  trail: string[]
  /** Why the decision cannot be told (a mark set outside the path, rules unreadable). */
  unknownBecause?: string
  /**
   * A multipath route's next hops the kernel may pick (not dead), when more than one: it picks one per flow by a
   * hash of the packet's addresses with a seed the host does not show, so which one a guest's flow takes is unknown.
   */
  nexthops?: Route['nexthops']
}

interface CompiledRoute {
  route: Route
  range: IpRange
  len: number
}

export interface Router {
  lookup(q: RouteQuery): RouteDecision
  /**
   * rp_filter: does a packet from `src` arriving on `iif` pass (mode 1 strict, 2 loose)? `lookupIif` is the
   * input device the kernel's reverse lookup carries: the forward route's output device for a forwarded
   * packet (__mkroute_input), lo for one delivered locally. `mark`: the packet's mark where src_valid_mark
   * lets the lookup use it, else 0 (the default).
   */
  reversePathOk(q: {family: 4 | 6; src: string; dst: string; iif: string; mode: number; lookupIif?: string; mark?: number | 'unknown'}): {ok: boolean | 'unknown'; decision: RouteDecision}
}

/**
 * @param rules the host's policy rules; undefined when they could not be read (every decision is then unknown
 * unless only the kernel's default rules could apply, which we cannot know).
 */
export function buildRouter(routes: Route[], rules: {inet?: PolicyRule[]; inet6?: PolicyRule[] | null} | undefined, vrfTableOf: (dev: string) => string | null | undefined = () => undefined): Router {
  // By family, then table name (no key string made per rule per lookup).
  const tables = {inet: new Map<string, CompiledRoute[]>(), inet6: new Map<string, CompiledRoute[]>()}
  for (const route of routes) {
    const family = route.family
    const dst = route.dst === 'default' ? (family === 'inet' ? '0.0.0.0/0' : '::/0') : route.dst
    const range = parsePrefix(dst)
    if (!range) continue
    const len = dst.includes('/') ? Number(dst.split('/')[1]) : range.family === 4 ? 32 : 128
    const byTable = family === 'inet' ? tables.inet : tables.inet6
    const list = byTable.get(route.table) ?? []
    list.push({route, range, len})
    byTable.set(route.table, list)
  }
  for (const list of [...tables.inet.values(), ...tables.inet6.values()]) list.sort((a, b) => b.len - a.len || a.route.metric - b.route.metric)
  // A route as the trail names it, made once per route (every guest's lookups name the same few).
  const described = new Map<Route, string>()
  const describe = (r: Route) => getOrCreate(described, r, () => describeRoute(r))

  // The policy rules in the order the kernel tries them, sorted once (every flow's packets are looked up several times).
  const byPriority = (policy: PolicyRule[] | null | undefined) => (policy ? [...policy].sort((a, b) => a.priority - b.priority) : policy)
  const ordered4 = byPriority(rules?.inet)
  const ordered6 = byPriority(rules?.inet6)
  // Each rule's from/to prefix parsed once (null: unparsable, which matches nothing), not once per rule per lookup.
  const selectors = new Map<PolicyRule, RuleSelectors>()
  for (const rule of [...(ordered4 ?? []), ...(ordered6 ?? [])]) selectors.set(rule, {src: rule.src === 'all' ? undefined : (parsePrefix(rule.src) ?? null), dst: rule.dst === 'all' ? undefined : (parsePrefix(rule.dst) ?? null)})

  const vrfOfLookup = (q: RouteQuery) => {
    const byOif = q.oif === undefined ? undefined : vrfTableOf(q.oif)
    return byOif !== undefined ? byOif : vrfTableOf(q.iif ?? 'lo')
  }

  const lookup = (q: RouteQuery): RouteDecision => {
    const fam = q.family === 4 ? 'inet' : 'inet6'
    const trail: string[] = []
    const ordered = rules === undefined ? undefined : fam === 'inet' ? ordered4 : ordered6
    if (ordered === undefined || ordered === null) return {kind: 'unknown', trail, unknownBecause: 'the routing policy rules (ip rule) could not be read'}
    // The limited broadcast never reaches the tables.
    if (q.family === 4 && q.dst === '255.255.255.255') return {kind: 'broadcast', dev: q.iif, trail: ['255.255.255.255 is the limited broadcast: delivered locally']}
    const dstIp = parseIp(q.dst)
    if (!dstIp) return {kind: 'unknown', trail, unknownBecause: `not an address: ${q.dst}`}
    let unknown: string | undefined
    for (let i = 0; i < ordered.length; i++) {
      const rule = ordered[i]
      const m = ruleMatches(rule, selectors.get(rule)!, q, dstIp)
      if (m === 'unknown') {
        // If this rule would divert, we cannot tell.
        const portDrawn = (rule.sport !== undefined && q.sport === undefined) || (rule.dport !== undefined && q.dport === undefined)
        unknown = `rule "${rule.text}" depends on ${rule.fwmark !== undefined && q.mark === 'unknown' ? 'the packet mark, which is set outside the path' : rule.unread ? `${rule.unread}, which kvmdoctor does not evaluate` : portDrawn ? 'a port NAT picked at random' : 'the uid of the socket that sends'}`
        trail.push(`${rule.text}: cannot tell`)
        break
      }
      if (!m) continue
      if (rule.action === 'nop') continue
      // l3mdev_fib_rule_match: the VRF of the output device, else of the input device; neither in a VRF, no match.
      const vrf = rule.l3mdev ? vrfOfLookup(q) : undefined
      if (rule.l3mdev && vrf === undefined) continue
      if (vrf === null) {
        unknown = `rule "${rule.text}": the table of the VRF ${q.oif ?? q.iif} belongs to was not read`
        trail.push(`${rule.text}: cannot tell`)
        break
      }
      const table = vrf ?? rule.table
      if (rule.action === 'goto') {
        // The target is the first rule of exactly that priority (fib_nl_newrule's ctarget); with none, the goto is
        // "unresolved" and the search goes on with the next rule, as after a nop (observed: `ip route get`).
        const target = ordered.findIndex((r) => r.priority === rule.gotoPriority)
        trail.push(target < 0 ? `${rule.text}: unresolved (no rule ${rule.gotoPriority}), next rule` : `${rule.text}`)
        if (target >= 0) i = target - 1
        continue
      }
      if (rule.action !== 'lookup') {
        trail.push(`${rule.text}`)
        return {kind: rule.action, rule, trail}
      }
      const best = ((table !== undefined ? tables[fam].get(table) : undefined) ?? []).find((r) => rangeContains(r.range, dstIp.family, dstIp.value) && routeUsable(r.route, q))
      if (!best) {
        trail.push(`${rule.text}: no route to ${q.dst} in table ${table}`)
        continue
      }
      if (rule.suppressPrefixLength !== undefined && best.len <= rule.suppressPrefixLength) {
        trail.push(`${rule.text}: ${describe(best.route)} suppressed (prefix length ${best.len} <= ${rule.suppressPrefixLength})`)
        continue
      }
      if (best.route.type === 'throw') {
        trail.push(`${rule.text}: ${describe(best.route)} (throw: next rule)`)
        continue
      }
      trail.push(`${rule.text}: ${describe(best.route)}`)
      const type = best.route.type
      const kind: RouteDecision['kind'] = type === 'unicast' || type === 'local' || type === 'broadcast' || type === 'multicast' || type === 'unreachable' || type === 'blackhole' || type === 'prohibit' ? type : 'unknown'
      const usable = best.route.nexthops.filter((h) => !h.flags?.includes('dead'))
      const hop = usable[Math.min(q.nexthop ?? 0, usable.length - 1)] ?? best.route.nexthops[0]
      const dev = best.route.dev ?? hop?.dev
      const gateway = best.route.gateway ?? hop?.gateway
      // A unicast route always leaves by a device; one listed without (a nexthop object's, compat mode off) is not known.
      if (kind === 'unicast' && dev === undefined) {
        const why = best.route.nhid !== undefined ? `its device and gateway are nexthop object ${best.route.nhid}'s ('ip nexthop show', not read; with net.ipv4.nexthop_compat_mode = 0 the route lists neither)` : 'it lists no device'
        return {kind: 'unknown', table, route: best.route, rule, trail, unknownBecause: `route ${describe(best.route)}: ${why}`}
      }
      return {kind, dev, gateway, table, route: best.route, rule, trail, ...(kind === 'unknown' ? {unknownBecause: `route type ${type}`} : {}), ...(usable.length > 1 ? {nexthops: usable} : {})}
    }
    if (unknown) return {kind: 'unknown', trail, unknownBecause: unknown}
    return {kind: 'no-route', trail}
  }

  return {
    lookup,
    reversePathOk({family, src, dst, iif, mode, lookupIif, mark = 0}) {
      // fib_validate_source: the route back to the source, with the packet's mark only under src_valid_mark,
      // without protocol or ports (policy rules on ipproto/sport/dport never match it).
      const decision = lookup({family, dst: src, src: dst, iif: lookupIif ?? 'lo', mark, l4proto: 'none'})
      if (decision.kind === 'unknown') return {ok: 'unknown', decision}
      if (mode === 2) return {ok: decision.kind === 'unicast' || decision.kind === 'local', decision}
      return {ok: decision.kind === 'unicast' && decision.dev === iif, decision}
    },
  }
}

function routeUsable(route: Route, q: RouteQuery): boolean {
  // A route pinned to a device only serves packets sent out of that device when the caller asks for one.
  return q.oif === undefined || route.dev === undefined || route.dev === q.oif
}

/** A policy rule's from and to prefixes, parsed: undefined for "all", null when unparsable. */
interface RuleSelectors {
  src: IpRange | null | undefined
  dst: IpRange | null | undefined
}

/** `dstIp`: q.dst parsed. */
function ruleMatches(rule: PolicyRule, sel: RuleSelectors, q: RouteQuery, dstIp: {family: 4 | 6; value: bigint}): boolean | 'unknown' {
  const hit = selectorsMatch(rule, sel, q, dstIp)
  if (hit === 'unknown') return hit
  return rule.not ? !hit : hit
}

function selectorsMatch(rule: PolicyRule, sel: RuleSelectors, q: RouteQuery, dstIp: {family: 4 | 6; value: bigint}): boolean | 'unknown' {
  if (sel.src !== undefined) {
    if (q.src === undefined) return false
    const ip = parseIp(q.src)
    if (!sel.src || !ip || !rangeContains(sel.src, ip.family, ip.value)) return false
  }
  if (sel.dst !== undefined && (!sel.dst || !rangeContains(sel.dst, dstIp.family, dstIp.value))) return false
  if (rule.iif !== undefined && rule.iif !== (q.iif ?? 'lo')) return false
  if (rule.oif !== undefined && rule.oif !== q.oif) return false
  if (rule.ipproto !== undefined && q.l4proto !== undefined && rule.ipproto !== q.l4proto) return false
  // Most rules name no port: no list of the two made per rule per lookup.
  if (rule.sport !== undefined || rule.dport !== undefined) {
    const sport = portMatches(rule.sport, rule.sportEnd, q.sport, q.l4proto)
    if (sport !== true) return sport
    const dport = portMatches(rule.dport, rule.dportEnd, q.dport, q.l4proto)
    if (dport !== true) return dport
  }
  // ip_route_input gives a forwarded packet root's uid (0); a local socket's is not known here.
  const local = (q.iif ?? 'lo') === 'lo'
  if (rule.uidRange && !local && rule.uidRange[0] > 0) return false
  if (rule.fwmark !== undefined) {
    if (q.mark === 'unknown') return 'unknown'
    const mask = rule.fwmask ?? 0xffffffff
    if (((q.mark & mask) >>> 0) !== ((rule.fwmark & mask) >>> 0)) return false
  }
  return rule.unread !== undefined || (rule.uidRange !== undefined && local) ? 'unknown' : true
}

/** A rule's port range LO-HI against the packet's PORT: true where the rule names none. */
function portMatches(lo: number | undefined, hi: number | undefined, port: number | undefined, l4proto: string | undefined): boolean | 'unknown' {
  if (lo === undefined) return true
  // A TCP or UDP port NAT drew at random is not known (see natPort); a packet without ports never matches.
  if (port === undefined) return l4proto === 'tcp' || l4proto === 'udp' ? 'unknown' : false
  return port >= lo && port <= (hi ?? lo)
}

export function describeRoute(r: Route): string {
  const type = r.type === 'unicast' ? '' : `${r.type} `
  const via = r.gateway ? ` via ${r.gateway}` : ''
  const dev = r.dev ? ` dev ${r.dev}` : r.nexthops.length ? ` nexthops ${r.nexthops.map((h) => `${h.gateway ?? ''} dev ${h.dev ?? '?'}`).join(', ')}` : ''
  const nhid = r.nhid !== undefined ? ` nhid ${r.nhid}` : ''
  return `${type}${r.dst}${nhid}${via}${dev}${r.table !== 'main' ? ` table ${r.table}` : ''}${r.metric ? ` metric ${r.metric}` : ''}`
}

/**
 * A fib expression's or rpfilter's route lookup (see EvalContext.routeLookup) on the host's routes: the route's type
 * and every next hop's device, the one the lookup reports (the first usable) first.
 */
export function routeLookupOf(router: Router, q: {family: 4 | 6; dst: string; src?: string; iif: string; mark: number | 'unknown'; l4proto: string}): RouteLookup | 'unknown' {
  const d = router.lookup(q)
  if (d.kind === 'unknown') return 'unknown'
  const type = d.kind === 'unicast' || d.kind === 'local' || d.kind === 'broadcast' || d.kind === 'multicast' ? d.kind : 'none'
  const devs = d.route?.dev ? [d.route.dev] : (d.route?.nexthops ?? []).map((h) => h.dev).filter((dev): dev is string => dev !== undefined)
  return {type, devs: d.dev ? [d.dev, ...devs.filter((dev) => dev !== d.dev)] : devs}
}
