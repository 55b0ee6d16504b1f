/**
 * iproute2's text listings read back into the JSON its `-j` flag prints, for sources
 * that kept only the text (a sosreport records `ip -d address`, `ip route show table
 * all`, `ip -s -s neigh show`, `ip -4 rule`, `bridge fdb show`). Only the keys the probes read are
 * produced, each with the value `ip -j` gives for it (tested on paired listings of one
 * state, test/data/sos/iproute); a line that cannot be read is a ParseError, never a guess.
 */
import {type Obj, ParseError} from './types.js'

const ADDRESS_FLAGS = new Set(['secondary', 'temporary', 'tentative', 'deprecated', 'dadfailed', 'nodad', 'noprefixroute', 'autojoin', 'mngtmpaddr', 'optimistic', 'home', 'stable-privacy', 'dynamic', 'permanent'])

/** `ip -d address` → what `ip -j -d addr show` prints (ifindex, ifname, flags, mtu, operstate, group, master, xdp, link_type, address, linkinfo, addr_info). */
export function ipAddressTextToJson(text: string): Obj[] {
  const links: Obj[] = []
  let link: Obj | undefined
  let details = 0
  for (const [n, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue
    const head = /^(\d+): ([^:@\s]+)(?:@([^:\s]+))?: <([^>]*)> (.*)$/.exec(line)
    if (head) {
      link = {ifindex: Number(head[1]), ifname: head[2], flags: head[4] === '' ? [] : head[4].split(',')}
      if (head[3] !== undefined) link.link = head[3]
      const words = head[5].trim().split(/\s+/)
      for (let i = 0; i < words.length - 1; i++) {
        if (words[i] === 'mtu') link.mtu = Number(words[i + 1])
        else if (words[i] === 'qdisc') link.qdisc = words[i + 1]
        else if (words[i] === 'master') link.master = words[i + 1]
        else if (words[i] === 'state') link.operstate = words[i + 1]
        else if (words[i] === 'group') link.group = words[i + 1]
      }
      // An XDP program: "xdp", "xdpgeneric", "xdpoffload" or "xdpmulti", with "/id:N" for one program.
      const xdp = words.map((w) => /^xdp(generic|offload|multi)?(?:\/id:(\d+))?$/.exec(w)).find((m) => m !== null)
      if (xdp) link.xdp = {mode: {generic: 2, offload: 3, multi: 4}[xdp[1] ?? ''] ?? 1, ...(xdp[2] ? {prog: {id: Number(xdp[2])}} : {})}
      links.push(link)
      details = 0
      continue
    }
    if (!link) throw new ParseError(`ip -d address: line ${n + 1} comes before any link: ${JSON.stringify(line.slice(0, 80))}`)
    const words = line.trim().split(/\s+/)
    const first = words[0]
    if (first.startsWith('link/')) {
      link.link_type = first.slice(5)
      if (words[1] !== undefined && /^[0-9a-f]{2}(:[0-9a-f]{2})+$/i.test(words[1])) link.address = words[1]
    } else if (first === 'inet' || first === 'inet6') {
      link.addr_info ??= []
      ;(link.addr_info as Obj[]).push(addressOf(first, words, n))
    } else if (first === 'valid_lft' || first === 'altname' || first === 'prop' || first === 'vf' || /^\d/.test(first)) {
      // Lifetimes, alternative names, SR-IOV functions: nothing a probe reads.
    } else if (details === 0 && !first.endsWith('_slave')) {
      // The first detail line names the link's kind (`bridge forward_delay ...`, `tun type tap ...`, `veth`).
      link.linkinfo = {info_kind: first, ...kindData(first, words)}
      details++
    } else if (first.endsWith('_slave')) {
      const info = (link.linkinfo ??= {}) as Obj
      info.info_slave_kind = first.slice(0, -'_slave'.length)
      const state = valueAfter(words, 'state')
      if (first === 'bridge_slave' && state !== undefined) {
        const data: Obj = {state}
        // The port flags the datapath reads, as the JSON prints them (booleans).
        for (const key of ['learning', 'flood', 'bcast_flood', 'isolated', 'locked', 'proxy_arp']) {
          const v = valueAfter(words, key)
          if (v === 'on' || v === 'off') data[key] = v === 'on'
        }
        info.info_slave_data = data
      }
      details++
    }
  }
  return links
}

function valueAfter(words: string[], key: string): string | undefined {
  const i = words.indexOf(key)
  return i >= 0 && i + 1 < words.length ? words[i + 1] : undefined
}

/** The info_data keys of a kind that a probe reads: a bridge's STP, a tun device's mode, a macvlan's mode. */
function kindData(kind: string, words: string[]): Obj {
  const data: Obj = {}
  if (kind === 'bridge') {
    for (const key of ['forward_delay', 'stp_state', 'vlan_filtering', 'nf_call_iptables', 'nf_call_ip6tables']) {
      const v = valueAfter(words, key)
      if (v !== undefined && /^\d+$/.test(v)) data[key] = Number(v)
    }
  } else if (kind === 'tun') {
    const type = valueAfter(words, 'type')
    if (type !== undefined) data.type = type
  } else if (kind === 'vrf') {
    const table = valueAfter(words, 'table')
    if (table !== undefined && /^\d+$/.test(table)) data.table = Number(table)
  } else if (kind === 'macvlan' || kind === 'macvtap') {
    const mode = valueAfter(words, 'mode')
    if (mode !== undefined) data.mode = mode
  }
  return Object.keys(data).length > 0 ? {info_data: data} : {}
}

function addressOf(family: string, words: string[], n: number): Obj {
  const m = /^([^/]+)(?:\/(\d+))?$/.exec(words[1] ?? '')
  if (!m) throw new ParseError(`ip -d address: line ${n + 1}: no address after ${family}`)
  const a: Obj = {family, local: m[1], prefixlen: m[2] !== undefined ? Number(m[2]) : family === 'inet' ? 32 : 128}
  for (let i = 2; i < words.length; i++) {
    const w = words[i]
    if ((w === 'brd' || w === 'peer' || w === 'scope' || w === 'metric') && i + 1 < words.length) {
      a[w === 'brd' ? 'broadcast' : w === 'peer' ? 'address' : w] = w === 'metric' ? Number(words[i + 1]) : words[i + 1]
      i++
    } else if (ADDRESS_FLAGS.has(w)) {
      a[w] = true
    } else if (family === 'inet' && i === words.length - 1) {
      // An IPv4 address ends with its label (the device name, or an alias as virbr0:1).
      a.label = w
    }
  }
  return a
}

/** Route types ip prints before the destination; a unicast route's type is left out. */
const ROUTE_TYPES = new Set(['unicast', 'local', 'broadcast', 'multicast', 'throw', 'unreachable', 'prohibit', 'blackhole', 'nat', 'anycast'])
const ROUTE_FLAGS = new Set(['onlink', 'pervasive', 'linkdown', 'offload', 'trap', 'notify', 'rt_offload', 'rt_trap', 'rt_offload_failed', 'dead', 'unresolved'])
/** Keys whose value ip -j prints as a number. */
const NUMERIC_ROUTE_KEYS = new Set(['metric', 'weight', 'mtu', 'advmss', 'hoplimit', 'initcwnd', 'initrwnd'])
const ROUTE_KEYS: Record<string, string> = {via: 'gateway', dev: 'dev', table: 'table', proto: 'protocol', scope: 'scope', src: 'prefsrc', metric: 'metric', pref: 'pref', weight: 'weight', expires: 'expires', mtu: 'mtu', advmss: 'advmss', hoplimit: 'hoplimit', initcwnd: 'initcwnd', initrwnd: 'initrwnd', from: 'from', tos: 'tos', realm: 'realm', nhid: 'nhid', error: 'error'}

/** `ip route show table all` (either family) → what `ip -j route show table all` prints; ECMP next hops are the indented lines. */
export function ipRouteTextToJson(text: string): Obj[] {
  const routes: Obj[] = []
  for (const [n, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue
    const words = line.trim().split(/\s+/)
    if (/^\s/.test(line)) {
      const route = routes.at(-1)
      if (!route || words[0] !== 'nexthop') throw new ParseError(`ip route: line ${n + 1} is indented but is no next hop: ${JSON.stringify(line.slice(0, 80))}`)
      ;((route.nexthops ??= []) as Obj[]).push(routeFields(words.slice(1), n))
      continue
    }
    const route: Obj = {}
    let i = 0
    if (ROUTE_TYPES.has(words[0])) route.type = words[i++]
    if (words[i] === undefined) throw new ParseError(`ip route: line ${n + 1} has no destination`)
    route.dst = words[i++]
    Object.assign(route, routeFields(words.slice(i), n))
    routes.push(route)
  }
  return routes
}

function routeFields(words: string[], n: number): Obj {
  const out: Obj = {}
  const flags: string[] = []
  for (let i = 0; i < words.length; i++) {
    const w = words[i]
    const key = ROUTE_KEYS[w]
    if (key !== undefined && i + 1 < words.length) {
      const v = words[++i]
      out[key] = NUMERIC_ROUTE_KEYS.has(w) && /^\d+$/.test(v) ? Number(v) : v
    } else if (ROUTE_FLAGS.has(w)) {
      flags.push(w)
    } else if (w === 'nexthop') {
      // A route with one next hop per line follows: nothing on this line.
    } else {
      throw new ParseError(`ip route: line ${n + 1}: unknown word ${JSON.stringify(w)}`)
    }
  }
  out.flags = flags
  return out
}

/** `ip -s -s neigh show` (or plain `ip neigh show`) → what `ip -j neigh show` prints: dst, dev, lladdr, state. */
export function ipNeighTextToJson(text: string): Obj[] {
  return text.split('\n').filter((l) => l.trim() !== '').map((line, n) => {
    const words = line.trim().split(/\s+/)
    const entry: Obj = {dst: words[0]}
    const state: string[] = []
    for (let i = 1; i < words.length; i++) {
      const w = words[i]
      if ((w === 'dev' || w === 'lladdr') && i + 1 < words.length) entry[w] = words[++i]
      else if (w === 'used' || w === 'ref' || w === 'probes' || w === 'proto') i++
      else if (w === 'router' || w === 'proxy' || w === 'extern_learn' || w === 'offload') entry[w] = null
      else if (/^[A-Z_]+$/.test(w)) state.push(w)
      else if (!/^[\d/]+(probes)?$/.test(w)) throw new ParseError(`ip neigh: line ${n + 1}: unknown word ${JSON.stringify(w)}`)
    }
    if (entry.dev === undefined) throw new ParseError(`ip neigh: line ${n + 1} has no device`)
    entry.state = state
    return entry
  })
}

/** `bridge -s -s -d -t fdb show` (or plain `bridge fdb show`) → what `bridge -j fdb show` prints: mac, ifname, vlan, flags, master, state. */
export function bridgeFdbTextToJson(text: string): Obj[] {
  return text.split('\n').filter((l) => l.trim() !== '').map((line, n) => {
    const words = line.trim().split(/\s+/)
    const entry: Obj = {mac: words[0]}
    const flags: string[] = []
    let state = ''
    for (let i = 1; i < words.length; i++) {
      const w = words[i]
      const next = words[i + 1]
      if (w === 'dev' && next !== undefined) entry.ifname = words[++i]
      else if (w === 'master' && next !== undefined) entry.master = words[++i]
      else if (w === 'vlan' && next !== undefined) entry.vlan = Number(words[++i])
      else if (['used', 'dst', 'port', 'vni', 'src_vni', 'via', 'nhid'].includes(w) && next !== undefined) i++
      else if (['self', 'router', 'extern_learn', 'offload', 'sticky', 'locked'].includes(w)) flags.push(w)
      else if (['permanent', 'static', 'stale'].includes(w) && i === words.length - 1) state = w
      else throw new ParseError(`bridge fdb: line ${n + 1}: unknown word ${JSON.stringify(w)}`)
    }
    if (entry.ifname === undefined) throw new ParseError(`bridge fdb: line ${n + 1} has no device`)
    return {...entry, flags, state}
  })
}

/** `ip -4 rule` / `ip -6 rule` ("PRIO:\tSELECTOR ACTION") → what `ip -j rule show` prints. */
export function ipRuleTextToJson(text: string): Obj[] {
  return text.split('\n').filter((l) => l.trim() !== '').map((line, n) => {
    const m = /^(\d+):\s+(.*)$/.exec(line.trim())
    if (!m) throw new ParseError(`ip rule: line ${n + 1} has no priority: ${JSON.stringify(line.slice(0, 80))}`)
    const rule: Obj = {priority: Number(m[1])}
    const words = m[2].trim().split(/\s+/)
    const prefix = (key: 'src' | 'dst', value: string) => {
      const [addr, len] = value.split('/')
      rule[key] = addr
      if (len !== undefined) rule[`${key}len`] = Number(len)
    }
    for (let i = 0; i < words.length; i++) {
      const w = words[i]
      const next = words[i + 1]
      if (w === 'not') rule.not = null
      else if (w === 'from' && next !== undefined) prefix('src', words[++i])
      else if (w === 'to' && next !== undefined) prefix('dst', words[++i])
      else if (w === 'fwmark' && next !== undefined) {
        const [mark, mask] = words[++i].split('/')
        rule.fwmark = mark
        if (mask !== undefined) rule.fwmask = mask
      } else if ((w === 'iif' || w === 'oif' || w === 'ipproto' || w === 'tos' || w === 'realms' || w === 'l3mdev' || w === 'protocol') && next !== undefined) {
        rule[w] = words[++i]
      } else if ((w === 'sport' || w === 'dport') && next !== undefined) {
        const v = words[++i]
        // A range prints as ip -j does: sport_start and sport_end.
        const range = /^(\d+)-(\d+)$/.exec(v)
        if (range) Object.assign(rule, {[`${w}_start`]: Number(range[1]), [`${w}_end`]: Number(range[2])})
        else rule[w] = /^\d+$/.test(v) ? Number(v) : v
      } else if (w === 'uidrange' && next !== undefined && /^\d+-\d+$/.test(next)) {
        const [start, end] = words[++i].split('-').map(Number)
        Object.assign(rule, {uid_start: start, uid_end: end})
      } else if ((w === 'lookup' || w === 'table') && next === '[l3mdev-table]') {
        // ip -j prints the l3mdev rule with no table.
        rule.l3mdev = null
        i++
      } else if ((w === 'lookup' || w === 'table') && next !== undefined) rule.table = words[++i]
      else if (w === 'goto' && next !== undefined) rule.goto = Number(words[++i])
      else if (w === 'suppress_prefixlength' && next !== undefined) rule.suppress_prefixlen = Number(words[++i])
      else if (w === 'suppress_ifgroup' && next !== undefined) rule.suppress_ifgroup = words[++i]
      else if (w === 'blackhole' || w === 'unreachable' || w === 'prohibit' || w === 'nop') rule.action = w
      else if (w === '[detached]') rule.flags = ['detached']
      // A goto to a priority no rule holds: ip -j prints "unresolved" as a key of its own.
      else if (w === '[unresolved]') rule.unresolved = null
      else throw new ParseError(`ip rule: line ${n + 1}: unknown word ${JSON.stringify(w)}`)
    }
    return rule
  })
}
