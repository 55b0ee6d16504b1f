import {IP6_RULES, IP_RULES} from './first-reads.js'
import {type Probe, type ProbeResult, ParseError, asArray, isObj, num, outputOf, parseJson, str} from './types.js'
import {type XfrmFacts, parseXfrmDefaults, parseXfrmPolicies} from './xfrm.js'
import type {Link} from './links.js'
import {parseSysctlValue} from './sysctl.js'
import type {Capture, CommandCapture, Runner} from '../src/lib/runner.js'

/** One routing policy rule (`ip rule`): which table a packet looks up, by source, destination, devices and marks. */
export interface PolicyRule {
  family: 'inet' | 'inet6'
  priority: number
  /** "all" or a prefix. */
  src: string
  dst: string
  iif?: string
  oif?: string
  fwmark?: number
  fwmask?: number
  ipproto?: string
  /** A port or the first of a range (`sport 1000-2000`: ip -j prints sport_start and sport_end), its last in sportEnd. */
  sport?: number
  sportEnd?: number
  dport?: number
  dportEnd?: number
  not: boolean
  /** lookup (with table), goto (with target priority), or blackhole / unreachable / prohibit / nop. */
  action: 'lookup' | 'goto' | 'blackhole' | 'unreachable' | 'prohibit' | 'nop'
  table?: string
  /** uidrange: the uid of the socket that sends (a forwarded packet carries root's, 0). */
  uidRange?: [number, number]
  /** A selector kvmdoctor does not evaluate (tos, dscp, flowlabel, realms, suppress_ifgroup), as ip prints it: the rule's match cannot be told. */
  unread?: string
  /** `lookup [l3mdev-table]` (the rule a VRF adds): the table of the VRF the packet's input or output device belongs to; no such device, no match. */
  l3mdev?: true
  gotoPriority?: number
  /** Routes this short or shorter from the table are ignored (VPNs use 0: "only more specific than default"). */
  suppressPrefixLength?: number
  /** The rule as a person types it, for evidence and fixes. */
  text: string
}

/** Selectors (and suppress_ifgroup, which judges the route found) that a rule may carry and kvmdoctor does not evaluate. */
const UNREAD_SELECTORS = ['tos', 'dscp', 'flowlabel', 'realms', 'suppress_ifgroup'] as const

const hexOrNumber = (v: unknown): number | undefined => (typeof v === 'number' ? v : typeof v === 'string' && /^(0x[0-9a-f]+|\d+)$/i.test(v) ? Number(v) : undefined)

export function parseIpRules(text: string, family: 'inet' | 'inet6'): PolicyRule[] {
  const what = family === 'inet' ? 'ip -j rule show' : 'ip -6 -j rule show'
  return asArray(parseJson(text, what), what).map((row, i) => {
    if (!isObj(row) || num(row.priority) === undefined) throw new ParseError(`${what}: entry ${i} has no priority`)
    const prefix = (addr: unknown, len: unknown) => (typeof addr !== 'string' || addr === 'all' ? 'all' : num(len) !== undefined ? `${addr}/${num(len)}` : addr)
    // iproute2 prints a nop rule as a key of its own ("nop": null), not as an action: without a table it is no lookup of main.
    const action = 'nop' in row ? 'nop' : str(row.action)
    const rule: PolicyRule = {
      family,
      priority: num(row.priority)!,
      src: prefix(row.src, row.srclen),
      dst: prefix(row.dst, row.dstlen),
      not: 'not' in row,
      action: row.goto !== undefined ? 'goto' : action === 'blackhole' || action === 'unreachable' || action === 'prohibit' || action === 'nop' ? action : 'lookup',
      text: '',
    }
    if (str(row.iif)) rule.iif = str(row.iif)
    if (str(row.oif)) rule.oif = str(row.oif)
    if (row.fwmark !== undefined) rule.fwmark = hexOrNumber(row.fwmark)
    if (row.fwmask !== undefined) rule.fwmask = hexOrNumber(row.fwmask)
    if (row.ipproto !== undefined) rule.ipproto = String(row.ipproto)
    for (const side of ['sport', 'dport'] as const) {
      const [lo, hi] = num(row[side]) !== undefined ? [num(row[side]), num(row[side])] : [num(row[`${side}_start`]), num(row[`${side}_end`])]
      if (lo === undefined || hi === undefined) continue
      rule[side] = lo
      if (hi !== lo) rule[side === 'sport' ? 'sportEnd' : 'dportEnd'] = hi
    }
    if (num(row.uid_start) !== undefined && num(row.uid_end) !== undefined) rule.uidRange = [num(row.uid_start)!, num(row.uid_end)!]
    const unread = UNREAD_SELECTORS.filter((k) => row[k] !== undefined && row[k] !== null && !(k === 'tos' && (row.tos === '0' || row.tos === 'default'))).map((k) => `${k} ${String(row[k])}`)
    if (unread.length > 0) rule.unread = unread.join(' ')
    // iproute2 prints an l3mdev rule with no table at all: it is not a lookup of main.
    if ('l3mdev' in row) rule.l3mdev = true
    else if (rule.action === 'lookup') rule.table = String(row.table ?? 'main')
    if (rule.action === 'goto') rule.gotoPriority = num(row.goto)
    if (num(row.suppress_prefixlen) !== undefined) rule.suppressPrefixLength = num(row.suppress_prefixlen)
    rule.text = ruleText(rule)
    return rule
  })
}

function ruleText(r: PolicyRule): string {
  const parts = [`${r.priority}:`]
  if (r.not) parts.push('not')
  parts.push(`from ${r.src}`)
  if (r.dst !== 'all') parts.push(`to ${r.dst}`)
  if (r.fwmark !== undefined) parts.push(`fwmark 0x${r.fwmark.toString(16)}${r.fwmask !== undefined ? `/0x${r.fwmask.toString(16)}` : ''}`)
  if (r.iif) parts.push(`iif ${r.iif}`)
  if (r.oif) parts.push(`oif ${r.oif}`)
  if (r.ipproto) parts.push(`ipproto ${r.ipproto}`)
  if (r.sport !== undefined) parts.push(`sport ${r.sport}${r.sportEnd !== undefined ? `-${r.sportEnd}` : ''}`)
  if (r.dport !== undefined) parts.push(`dport ${r.dport}${r.dportEnd !== undefined ? `-${r.dportEnd}` : ''}`)
  if (r.uidRange) parts.push(`uidrange ${r.uidRange[0]}-${r.uidRange[1]}`)
  if (r.unread) parts.push(r.unread)
  if (r.action === 'lookup') parts.push(`lookup ${r.l3mdev ? '[l3mdev-table]' : r.table}`)
  else if (r.action === 'goto') parts.push(`goto ${r.gotoPriority}`)
  else parts.push(r.action)
  if (r.suppressPrefixLength !== undefined) parts.push(`suppress_prefixlength ${r.suppressPrefixLength}`)
  return parts.join(' ')
}

export interface PolicyRuleFacts {
  inet: PolicyRule[]
  /** null when IPv6 is disabled or its rules could not be read. */
  inet6: PolicyRule[] | null
  /**
   * The kernel's IPsec policies, which pass, drop or capture a packet after routing. Absent from a recording made
   * before kvmdoctor read them (`xfrmUnread` unset): not followed, as then. Unreadable: `xfrmUnread` says why.
   */
  xfrm?: XfrmFacts
  xfrmUnread?: string
}

const XFRM_POLICIES = ['ip', 'xfrm', 'policy', 'list']
const XFRM_DEFAULTS = ['ip', 'xfrm', 'policy', 'getdefault']
const isXfrmRead = (c: Capture) => c.kind === 'command' && c.argv[1] === 'xfrm'
// A kernel without XFRM's netlink (no xfrm_user) holds no policy `ip xfrm` could have added.
const noXfrmNetlink = (c: Capture) => c.kind === 'command' && /Protocol not supported|Address family not supported/.test(`${c.stderr} ${c.error ?? ''}`)

/**
 * getdefault refused because the host has no default policies: an iproute2 before 5.17 does not know the command, a
 * kernel before 5.16 rejects the message (EINVAL). Every packet no policy matches is then accepted.
 */
const noXfrmDefaults = (c: CommandCapture) => /is unknown, try "ip xfrm|Invalid argument|Operation not supported/.test(`${c.stderr} ${c.error ?? ''}`)

/**
 * The IPsec policies and defaults. Defaults the host does not have (noXfrmDefaults), or a recording made before they
 * were read, are null (accept); any other failed read leaves them unknown (`defaultsUnread`), never accept.
 */
function xfrmFacts(policies: CommandCapture, defaults: CommandCapture): Pick<PolicyRuleFacts, 'xfrm' | 'xfrmUnread'> {
  if (policies.errorCode === 'not-recorded') return {}
  if (policies.error !== undefined) return noXfrmNetlink(policies) ? {xfrm: {policies: [], defaults: null}} : {xfrmUnread: policies.error}
  const parsed = parseXfrmPolicies(policies.output)
  if (defaults.error === undefined) return {xfrm: {policies: parsed, defaults: parseXfrmDefaults(defaults.output)}}
  const absent = defaults.errorCode === 'not-recorded' || noXfrmDefaults(defaults)
  return {xfrm: {policies: parsed, defaults: null, ...(absent ? {} : {defaultsUnread: defaults.error})}}
}

/** disable_policy and disable_xfrm of `all` and of every interface that routes (bridge ports never do). */
async function xfrmBypass(runner: Runner, links: ProbeResult<Link[]>): Promise<NonNullable<XfrmFacts['bypass']>> {
  const devices = ['all', ...(links.ok ? links.data.filter((l) => !l.master && l.kind !== 'loopback').map((l) => l.name) : [])]
  const read = async (dev: string, key: string) => {
    const c = await runner.readFile(`/proc/sys/net/ipv4/conf/${dev}/${key}`)
    return c.error === undefined ? parseSysctlValue(c.output) : undefined
  }
  const entries = await Promise.all(devices.map(async (dev) => [dev, {noPolicy: await read(dev, 'disable_policy'), noXfrm: await read(dev, 'disable_xfrm')}] as const))
  return Object.fromEntries(entries)
}

export const ipRulesProbe: Probe<PolicyRuleFacts> = {
  // A kernel without IPv6 has no IPv6 rules to read (inet6 null).
  // The xfrm reads: a failure is carried to the IPsec hops it leaves undecided (xfrmUnread, defaultsUnread), not to every rule of the probe.
  expectedFailure: (c) => (c.kind === 'command' && c.argv[1] === '-6' && /Address family not supported/.test(c.stderr)) || isXfrmRead(c),
  id: 'ip-rules',
  title: 'Routing policy rules',
  reads: ['ip -j rule show', 'ip -6 -j rule show', XFRM_POLICIES.join(' '), XFRM_DEFAULTS.join(' '), '/proc/sys/net/ipv4/conf/{all,IF}/{disable_policy,disable_xfrm} (only where an IPsec policy could act)'],
  async collect({runner, get}) {
    const [v4, v6, policies, defaults] = await Promise.all([runner.run(IP_RULES), runner.run(IP6_RULES), runner.run(XFRM_POLICIES), runner.run(XFRM_DEFAULTS)])
    const xfrm = xfrmFacts(policies, defaults)
    if (xfrm.xfrm && (xfrm.xfrm.policies.length > 0 || xfrm.xfrm.defaultsUnread !== undefined || Object.values(xfrm.xfrm.defaults ?? {}).includes('block'))) xfrm.xfrm.bypass = await xfrmBypass(runner, await get<Link[]>('links'))
    return {inet: parseIpRules(outputOf(v4), 'inet'), inet6: v6.error === undefined ? parseIpRules(v6.output, 'inet6') : null, ...xfrm}
  },
}
