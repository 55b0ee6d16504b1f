import type {Capture} from '../src/lib/runner.js'
import {IP_ROUTES} from './first-reads.js'
import {type Probe, ParseError, asArray, isObj, num, outputOf, parseJson, unavailableIfNotRecorded, str} from './types.js'

export interface Route {
  family: 'inet' | 'inet6'
  dst: string
  type: string
  table: string
  dev?: string
  gateway?: string
  metric: number
  protocol?: string
  scope?: string
  prefsrc?: string
  /** ECMP: several next hops in one route; `flags` as ip prints them ('dead': the kernel never picks it). */
  nexthops: {gateway?: string; dev?: string; flags?: string[]}[]
  /**
   * The nexthop object the route uses (ip route ... nhid N). With net.ipv4.nexthop_compat_mode = 0 the listing names
   * only it, with no device or gateway: the next hop is in `ip nexthop show`, which is not read.
   */
  nhid?: number
}

/** `family` when the listing is of one family (ip -6): "default" and device routes carry no address that says so. */
export function parseIpRoute(text: string, family?: Route['family']): Route[] {
  return routesOf(listedRows(text), family)
}

const listedRows = (text: string): unknown[] => asArray(parseJson(text, 'ip -j route show table all'), 'ip -j route show table all')

function routesOf(rows: unknown[], family?: Route['family']): Route[] {
  return rows.map((row, i) => {
    if (!isObj(row) || typeof row.dst !== 'string') throw new ParseError(`ip -j route: entry ${i} has no dst`)
    const gateway = str(row.gateway)
    const route: Route = {
      family: family ?? (row.dst.includes(':') || gateway?.includes(':') ? 'inet6' : 'inet'),
      dst: row.dst,
      type: str(row.type) ?? 'unicast',
      table: str(row.table) ?? 'main',
      metric: num(row.metric) ?? 0,
      nexthops: (Array.isArray(row.nexthops) ? row.nexthops : []).filter(isObj).map((h) => {
        const flags = Array.isArray(h.flags) ? h.flags.filter((f): f is string => typeof f === 'string') : []
        return {gateway: str(h.gateway), dev: str(h.dev), ...(flags.length > 0 ? {flags} : {})}
      }),
    }
    for (const key of ['dev', 'gateway', 'protocol', 'scope', 'prefsrc'] as const) {
      const value = str(row[key])
      if (value !== undefined) route[key] = value
    }
    const nhid = num(row.nhid)
    if (nhid !== undefined) route.nhid = nhid
    return route
  })
}

const ROUTES_OF_EVERY_FAMILY = IP_ROUTES
const ROUTES6 = ['ip', '-6', '-j', 'route', 'show', 'table', 'all']

export const routesProbe: Probe<Route[]> = {
  id: 'routes',
  title: 'Routes',
  reads: [ROUTES_OF_EVERY_FAMILY.join(' ')],
  async collect({runner}) {
    return parseIpRoute(outputOf(await runner.run(ROUTES_OF_EVERY_FAMILY)))
  },
}

/** The family an address of a route row says (`dst`, `gateway`, `prefsrc`, a next hop's gateway), or undefined. */
function rowFamily(row: unknown): Route['family'] | undefined {
  if (!isObj(row)) return undefined
  const nexthops = Array.isArray(row.nexthops) ? row.nexthops.filter(isObj) : []
  const addresses = [row.dst, row.gateway, row.prefsrc, ...nexthops.map((h) => h.gateway)].filter((a): a is string => typeof a === 'string')
  if (addresses.some((a) => a.includes(':'))) return 'inet6'
  return addresses.some((a) => a.includes('.')) ? 'inet' : undefined
}

/**
 * The IPv6 rows of `ip route show table all`, which asks the kernel for the routes of every family at once: those
 * `ip -6` prints, from the same dump, after the IPv4 ones. Undefined when that cannot be told for sure: a row of
 * no telling family (`default dev wg0`, `unreachable default`), an IPv4 row after an IPv6 one (a family other
 * than these two), no IPv6 row at all (an iproute2 that asked for IPv4 only, IPv6 disabled, a recording of
 * IPv4 only), output that does not parse (the routes probe says so).
 */
export function ipv6RowsOfEveryFamily(capture: Capture): unknown[] | undefined {
  if (capture.error !== undefined) return undefined
  let rows: unknown[]
  try {
    rows = listedRows(capture.output)
  } catch {
    return undefined
  }
  const families = rows.map(rowFamily)
  const first6 = families.indexOf('inet6')
  if (first6 === -1 || families.some((f, i) => f === undefined || (f === 'inet') !== i < first6)) return undefined
  return rows.slice(first6)
}

/** A kernel variable there only when the kernel has IPv6 (its value, 0 or 1, names nothing to redact). */
const KERNEL_IPV6 = '/proc/sys/net/ipv6/conf/all/disable_ipv6'

/**
 * IPv6 routes of every table, RA-learned ones (proto ra) among them: a probe of its own, so hosts without IPv6 lose
 * nothing else. On a kernel with IPv6 (KERNEL_IPV6 read), they are the IPv6 rows of the routes probe's listing of
 * every family when those can be told (one dump, one process less); otherwise, and in recordings made before that
 * file was read (they hold `ip -6`'s listing), `ip -6` lists them.
 */
export const routes6Probe: Probe<Route[]> = {
  id: 'routes6',
  title: 'IPv6 routes',
  reads: [KERNEL_IPV6, `${ROUTES_OF_EVERY_FAMILY.join(' ')} (its IPv6 rows)`, `${ROUTES6.join(' ')} (when those cannot be told)`],
  // What either of the first two reads misses, `ip -6` answers; a failed listing of every family is the routes probe's to report.
  expectedFailure: (c) => (c.kind === 'file' && c.path === KERNEL_IPV6) || (c.kind === 'command' && c.argv.join(' ') === ROUTES_OF_EVERY_FAMILY.join(' ')),
  async collect({runner}) {
    if ((await runner.readFile(KERNEL_IPV6)).error === undefined) {
      const rows = ipv6RowsOfEveryFamily(await runner.run(ROUTES_OF_EVERY_FAMILY))
      if (rows !== undefined) return routesOf(rows, 'inet6')
    }
    const capture = await runner.run(ROUTES6)
    unavailableIfNotRecorded(capture)
    return parseIpRoute(outputOf(capture), 'inet6')
  },
}
