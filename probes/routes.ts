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
}

/** `family` when the listing is of one family (ip -6): "default" and device routes carry no address that says so. */
export function parseIpRoute(text: string, family?: Route['family']): Route[] {
  return asArray(parseJson(text, 'ip -j route show table all'), 'ip -j route show table all').map((row, i) => {
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
    return route
  })
}

export const routesProbe: Probe<Route[]> = {
  id: 'routes',
  title: 'Routes',
  reads: ['ip -j route show table all'],
  async collect({runner}) {
    return parseIpRoute(outputOf(await runner.run(['ip', '-j', 'route', 'show', 'table', 'all'])))
  },
}

/** IPv6 routes of every table, RA-learned ones (proto ra) among them: a probe of its own, so hosts without IPv6 lose nothing else. */
export const routes6Probe: Probe<Route[]> = {
  id: 'routes6',
  title: 'IPv6 routes',
  reads: ['ip -6 -j route show table all'],
  async collect({runner}) {
    const capture = await runner.run(['ip', '-6', '-j', 'route', 'show', 'table', 'all'])
    unavailableIfNotRecorded(capture)
    return parseIpRoute(outputOf(capture), 'inet6')
  },
}
