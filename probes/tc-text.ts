/**
 * `tc -s qdisc show` and `tc -s filter show dev DEV ...` as text. The qdisc listing is what a sosreport keeps
 * (sos runs no `tc -j`): read back as tc's JSON, with the options kvmdoctor evaluates (fifo limits, tbf's rate and
 * burst, netem's loss, htb's default class) and none of another kind's. The filter listing is the read for hosts
 * whose tc prints invalid JSON for filters (u32 prints its options as text under -j before iproute2 5.18, police
 * before 5.14) and for policers, whose rate, burst and mtu tc's JSON never holds. Only u32 and matchall filters
 * with gact, mirred and police actions are read; any other kind, action or line is a parse error, so the device
 * stays unread.
 */
import type {TcAction, TcFilter, U32Key} from './tc.js'
import {ParseError} from './types.js'

/** tc's rate units: bit, Kbit, Mbit, Gbit (powers of 1000), or bps/Kbps... (bytes). Returns bits per second. */
export function parseRate(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)(bit|bps)$/i.exec(text)
  if (!m) return undefined
  const scale = {'': 1, K: 1e3, M: 1e6, G: 1e9, T: 1e12}[m[2].toUpperCase() as '' | 'K' | 'M' | 'G' | 'T']
  return Math.round(Number(m[1]) * scale * (m[3].toLowerCase() === 'bps' ? 8 : 1))
}

/** tc's sizes: b, Kb, Mb, Gb (powers of 1024). Returns bytes. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)b$/i.exec(text)
  if (!m) return undefined
  const scale = {'': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3}[m[2].toUpperCase() as '' | 'K' | 'M' | 'G']
  return Math.round(Number(m[1]) * scale)
}

/** tc prints a size as N Kb when within 15 bytes of it, N Mb or Gb within 1023 (sprint_size); bytes are exact. */
function sizeOf(text: string): {bytes: number; slack: number} {
  const bytes = parseSize(text)
  if (bytes === undefined) throw new ParseError(`tc filter show: size '${text}' not understood`)
  return {bytes, slack: /[MG]b$/i.test(text) ? 1023 : /Kb$/i.test(text) ? 15 : 0}
}

/** " police 0x1 rate 8Mbit burst 1Mb mtu 64Kb action drop[/pipe] overhead 0b ...": the exceed action is the first. */
function parsePolice(text: string): TcAction {
  const word = (name: string) => new RegExp(`(?:^| )${name} (\\S+)`).exec(text)?.[1]
  // A packet-per-second policer counts its burst in packets, not bytes.
  if (word('pkts_rate') !== undefined) throw new ParseError('tc filter show: a packet-rate policer is not read')
  const rate = word('rate')
  const burst = word('burst')
  const mtu = word('mtu')
  const exceed = /(?:^| )action (\S+?)(?:\/\S+)?(?: |$)/.exec(text)?.[1]
  if (rate === undefined || burst === undefined || mtu === undefined || exceed === undefined) throw new ParseError(`tc filter show: policer '${text.trim()}' not understood`)
  const bits = parseRate(rate)
  if (bits === undefined) throw new ParseError(`tc filter show: rate '${rate}' not understood`)
  const b = sizeOf(burst)
  const m = sizeOf(mtu)
  return {kind: 'police', police: {rate: bits / 8, burst: b.bytes, mtu: m.bytes, exceed, slack: Math.max(b.slack, m.slack)}, control: exceed}
}

/** "gact action drop", "mirred (Egress Redirect to device X) stolen", " police 0x1 ...". */
function parseActionHead(text: string): TcAction {
  const gact = /^gact action (\S+)\s*$/.exec(text)
  if (gact) return {kind: 'gact', control: gact[1]}
  const mirred = /^mirred \((Egress|Ingress) (Redirect|Mirror) to device (\S+)\) (\S+)\s*$/.exec(text)
  if (mirred) return {kind: 'mirred', mirred: {action: mirred[2].toLowerCase(), direction: mirred[1].toLowerCase(), toDev: mirred[3]}, control: mirred[4]}
  const police = /^police 0x[0-9a-f]+ (.*)$/.exec(text)
  if (police) return parsePolice(police[1])
  throw new ParseError(`tc filter show: action '${text.trim()}' is not one kvmdoctor reads from tc's text`)
}

/** Lines that say nothing about what a filter does to a packet: references, timers, offload flags, counters kept elsewhere. */
const INERT = /^(?:(?:index \d+ )?ref \d+ bind \d+.*|index \d+ ref \d+ bind \d+.*|backlog .*|(?:(?:not_)?in_hw|skip_hw|skip_sw)(?: .*)?|\(rule hit \d+\)|cookie \S+|no_percpu|(?:used_)?hw_stats .*|random type none.*|)$/

const HEAD = /^filter (?:dev \S+ )?(?:(?:parent \S+|ingress|egress|root|block \d+) )?(?:protocol (\S+) )?(?:pref (\d+) )?(\S+) ?(?:chain \d+ ?)?(.*)$/

/** One filter's lines: its head ("filter protocol ... pref N KIND ...") and what tc printed under it. */
function parseBlock(lines: string[], dev: string, attach: string): TcFilter | undefined {
  const head = HEAD.exec(lines[0])
  if (!head) throw new ParseError(`tc filter show: '${lines[0]}' not understood`)
  const [, protocol, pref, kind, rawRest] = head
  let rest = rawRest.trim()
  if (kind !== 'u32' && kind !== 'matchall') throw new ParseError(`tc filter show: pref ${pref ?? '?'} ${kind} is not a filter kvmdoctor reads from tc's text`)
  // The declaration of a priority (no options) and u32's hash tables classify nothing.
  if (rest === '' || /(?:^| )ht divisor \d+/.test(rest)) return undefined
  const filter: TcFilter = {dev, attach, protocol: protocol ?? 'all', pref: pref === undefined ? 0 : Number(pref), kind, actions: []}
  if (kind === 'u32') {
    filter.keys = []
    // "terminal flowid ???" (iproute2 before 6.1) or "terminal flowid " (6.1): terminal, with no class.
    rest = rest.replace(/(?:^| )terminal flowid(?: \?\?\?)?(?= |$)/, ' ')
    const flowid = /(?:^| )\*?flowid (\S+)/.exec(rest)?.[1]
    if (flowid) filter.flowid = flowid
    const known = rest.replace(/(?:^| )\*?flowid \S+/, ' ').replace(/\(rule hit \d+ success \d+\)/, ' ').replace(/(?:^| )(?:fh \S+|order \d+|key ht [0-9a-f]+ bkt [0-9a-f]+|not_in_hw|in_hw|skip_hw|skip_sw)(?= |$)/g, ' ')
    if (known.trim() !== '') throw new ParseError(`tc filter show: pref ${pref ?? '?'} u32 '${known.trim()}' not understood`)
  } else {
    const flowid = /(?:^| )flowid (\S+)/.exec(rest)?.[1]
    if (flowid) filter.flowid = flowid
    const known = rest.replace(/(?:^| )(?:handle 0x[0-9a-f]+|flowid \S+)(?= |$)/g, ' ')
    if (known.trim() !== '') throw new ParseError(`tc filter show: pref ${pref ?? '?'} matchall '${known.trim()}' not understood`)
  }
  let current: TcAction | undefined
  let statsNext = false
  for (const raw of lines.slice(1)) {
    const line = raw.trim()
    const key = /^match ([0-9a-f]{8})\/([0-9a-f]{8}) at (nexthdr\+)?(-?\d+)(?: \(success \d+ \))?$/.exec(line)
    if (key && filter.keys) {
      const k: U32Key = {value: Number.parseInt(key[1], 16), mask: Number.parseInt(key[2], 16), off: Number(key[4])}
      if (key[3]) k.variable = true
      filter.keys.push(k)
      continue
    }
    const action = /^action order \d+: +(.*)$/.exec(line)
    if (action || /^police 0x/.test(line)) {
      current = parseActionHead(action ? action[1] : line)
      filter.actions.push(current)
      statsNext = false
      continue
    }
    if (line === 'Action statistics:') {
      statsNext = true
      continue
    }
    const sent = /^Sent (\d+) bytes (\d+) pkt \(dropped (\d+), overlimits (\d+)/.exec(line)
    if (sent && statsNext && current) {
      current.stats = {bytes: Number(sent[1]), packets: Number(sent[2]), drops: Number(sent[3]), overlimits: Number(sent[4])}
      statsNext = false
      continue
    }
    if (INERT.test(line)) continue
    throw new ParseError(`tc filter show: pref ${pref ?? '?'} ${kind}: '${line}' not understood`)
  }
  if (kind === 'u32' && filter.keys!.length === 0 && filter.actions.length === 0 && !filter.flowid) return undefined
  return filter
}

export function parseFilterText(text: string, dev: string, attach: string): TcFilter[] {
  const blocks: string[][] = []
  for (const line of text.split('\n')) {
    if (line.startsWith('filter ')) blocks.push([line])
    else if (line.trim() === '') continue
    else if (blocks.length === 0) throw new ParseError(`tc filter show: '${line}' before any filter`)
    else blocks.at(-1)!.push(line)
  }
  return blocks.map((b) => parseBlock(b, dev, attach)).filter((f): f is TcFilter => f !== undefined)
}

/** One qdisc's options from its text, as tc's JSON holds them; `sizeSlack`: how far a size printed rounded (Kb, Mb) may be off. */
function qdiscOptions(kind: string, text: string): Record<string, unknown> {
  const word = (name: string) => new RegExp(`(?:^| )${name} (\\S+)`).exec(text)?.[1]
  const options: Record<string, unknown> = {}
  let slack = 0
  const size = (name: string) => {
    const t = word(name)
    if (t === undefined) return
    const {bytes, slack: s} = sizeOf(t)
    slack = Math.max(slack, s)
    options[name] = bytes
  }
  switch (kind) {
    case 'pfifo':
    case 'pfifo_head_drop': {
      const limit = /^(\d+)p$/.exec(word('limit') ?? '')?.[1]
      if (limit !== undefined) options.limit = Number(limit)
      break
    }
    case 'bfifo':
      size('limit')
      break
    case 'tbf': {
      const rate = word('rate')
      const bits = rate === undefined ? undefined : parseRate(rate)
      if (bits !== undefined) options.rate = bits / 8
      size('burst')
      break
    }
    case 'htb': {
      const def = word('default')
      if (def !== undefined) options.default = def
      break
    }
    case 'netem': {
      // "loss 30%" (random loss, then its correlation); another loss model ("loss state ...", "loss gemodel ...") is kept unread.
      const loss = /(?:^| )loss (\S+)/.exec(text)?.[1]
      if (loss !== undefined) {
        const pct = /^(\d+(?:\.\d+)?)%$/.exec(loss)?.[1]
        if (pct !== undefined) options['loss-random'] = {loss: Number(pct) / 100}
        else options.loss = loss
      }
      break
    }
  }
  if (slack > 0) options.sizeSlack = slack
  return options
}

/**
 * `tc -s qdisc show` as `tc -j -s qdisc show` prints it: each qdisc's kind, handle, device, place (root, a parent),
 * the options kvmdoctor evaluates and the counters of its "Sent" and "backlog" lines.
 */
export function qdiscTextToJson(text: string): Record<string, unknown>[] {
  const qdiscs: Record<string, unknown>[] = []
  let current: Record<string, unknown> | undefined
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    const head = /^qdisc (\S+) (\S+) dev (\S+) (root|parent (\S+))(?: refcnt (\d+))?(.*)$/.exec(line)
    if (head) {
      const [, kind, handle, dev, , parent, refcnt, rest] = head
      current = {kind, handle, dev, ...(parent === undefined ? {root: true} : {parent}), ...(refcnt ? {refcnt: Number(refcnt)} : {}), options: qdiscOptions(kind, rest.trim())}
      qdiscs.push(current)
      continue
    }
    if (!current || !/^\s/.test(line)) throw new ParseError(`tc qdisc show: '${line.slice(0, 120)}' not understood`)
    const sent = /^\s*Sent (\d+) bytes (\d+) pkt \(dropped (\d+), overlimits (\d+) requeues (\d+)\)/.exec(line)
    if (sent) Object.assign(current, {bytes: Number(sent[1]), packets: Number(sent[2]), drops: Number(sent[3]), overlimits: Number(sent[4]), requeues: Number(sent[5])})
    const backlog = /^\s*backlog (\S+) (\d+)p requeues \d+/.exec(line)
    if (backlog) Object.assign(current, {backlog: parseSize(backlog[1]) ?? 0, qlen: Number(backlog[2])})
    // The kind's own statistics lines (fq_codel's maxpacket, htb's direct_packets ...) are not read.
  }
  return qdiscs
}
