/**
 * Traffic control on every device: queueing disciplines (root, ingress,
 * clsact and their children), the classes of classful qdiscs and the filters
 * that classify or act on packets (u32 keys, actions: drop, police, mirred...).
 * The qdisc list is read twice, first and last, so drop counters that grow
 * while kvmdoctor looks tell a live drop from a historic one.
 */
import {parseFilterText, parseRate, parseSize} from './tc-text.js'
import type {Runner} from '../src/lib/runner.js'
import {type Obj, type Probe, ParseError, asArray, isObj, num, outputOf, parseJson, str} from './types.js'

export interface TcCounters {
  bytes: number
  packets: number
  drops: number
  overlimits: number
}

export interface Qdisc {
  dev: string
  kind: string
  /** "1:", "ffff:", "0:". */
  handle: string
  /** "root", "ingress" (ingress and clsact), or the parent class ("1:10"). */
  parent: string
  options: Obj
  stats?: TcCounters
}

export interface TcClass {
  dev: string
  kind: string
  classid: string
  /** "root" or the parent class id. */
  parent: string
  /** The qdisc handle of a leaf class's own qdisc ("10:"). */
  leaf?: string
  /** Bits per second. */
  rate?: number
  ceil?: number
  /** Bytes. */
  burst?: number
  cburst?: number
  stats?: TcCounters
}

/** One u32 key: the 32-bit word at `off` (from the network header) masked must equal `value`. */
export interface U32Key {
  value: number
  mask: number
  off: number
  /** Set when the offset is relative to a header found at run time (nexthdr+): not evaluable from the packet alone. */
  variable?: boolean
}

export interface TcAction {
  kind: string
  /** gact: the verdict (drop, pass, ok, continue, reclassify, pipe, stolen, trap, goto chain N). */
  control?: string
  /** mirred: redirect or mirror, and where to. */
  mirred?: {action: string; direction: string; toDev?: string}
  /**
   * police: rate in bytes per second, burst and mtu in bytes, what happens to exceeding packets.
   * `slack`: how many bytes burst and mtu may be off, as tc's text prints sizes rounded to Kb and Mb.
   */
  police?: {rate?: number; burst?: number; mtu?: number; exceed?: string; slack?: number}
  /** skbedit: what it sets that the path reads (mark, ptype, inheritdsfield); absent when it sets only a queue or priority. */
  sets?: string[]
  stats?: TcCounters
}

export interface TcFilter {
  dev: string
  /** "ingress", "egress" (clsact), or the handle of the qdisc or class it hangs under ("1:"). */
  attach: string
  /** Ethertype it applies to: ip, ipv6, all, arp, 802.1q ... */
  protocol: string
  pref: number
  kind: string
  /** Target class (classful qdiscs). */
  flowid?: string
  /** u32 keys; absent for kinds other than u32. */
  keys?: U32Key[]
  actions: TcAction[]
  /** Options of kinds kvmdoctor does not evaluate (flower, bpf, basic...), as tc printed them. */
  options?: Obj
}

export interface TcFacts {
  qdiscs: Qdisc[]
  classes: TcClass[]
  filters: TcFilter[]
  /** Qdisc drop counters of the second read, by qdiscKey. */
  dropsLater: Record<string, number>
  /** Why there is no second read (a sosreport holds one): whether a counter grows is then unknown. */
  dropsLaterUnread?: string
  /** Devices whose classes or filters could not be read, with the reason. */
  unread: Record<string, string>
}

/** Qdiscs that neither classify nor hold filters: a device with only these needs no further read. */
const CLASSLESS = new Set(['noqueue', 'pfifo_fast', 'fq_codel', 'fq', 'pfifo', 'bfifo', 'sfq', 'codel', 'tbf', 'netem', 'cake', 'red', 'choke', 'fq_pie', 'pie', 'plug', 'pfifo_head_drop'])
export {parseRate, parseSize}

/** Classful qdiscs whose filters and classes decide where a packet is queued. */
export const CLASSFUL = new Set(['htb', 'hfsc', 'prio', 'drr', 'cbq', 'qfq', 'ets', 'multiq', 'mqprio', 'mq', 'taprio'])

function counters(o: Obj): TcCounters | undefined {
  const bytes = num(o.bytes)
  const packets = num(o.packets)
  if (bytes === undefined && packets === undefined) return undefined
  return {bytes: bytes ?? 0, packets: packets ?? 0, drops: num(o.drops) ?? 0, overlimits: num(o.overlimits) ?? 0}
}

/**
 * A qdisc's key among a device's: its handle, which the kernel makes unique, except for the default children of a
 * multiqueue root (mq, one per transmit queue), which all print handle 0: and differ only by their parent (:1, :2 ...).
 */
export const qdiscKey = (q: Pick<Qdisc, 'dev' | 'handle' | 'parent'>): string => `${q.dev} ${q.handle}${q.handle === '0:' && q.parent !== 'root' ? ` ${q.parent}` : ''}`

export function parseQdiscs(text: string): Qdisc[] {
  return asArray(parseJson(text, 'tc -j -s qdisc show'), 'tc -j -s qdisc show').map((row, i) => {
    if (!isObj(row) || typeof row.kind !== 'string' || typeof row.dev !== 'string') throw new ParseError(`tc -j qdisc show: entry ${i} has no kind or dev`)
    const kind = row.kind
    const parent = row.root === true ? 'root' : kind === 'ingress' || kind === 'clsact' ? 'ingress' : (str(row.parent) ?? 'root')
    const q: Qdisc = {dev: row.dev, kind, handle: str(row.handle) ?? '0:', parent, options: isObj(row.options) ? row.options : {}}
    const stats = counters(row)
    if (stats) q.stats = stats
    return q
  })
}

/**
 * `tc -s class show dev DEV` as text: iproute2 prints htb classes in plain text even with -j.
 * A class line, then its statistics ("Sent B bytes P pkt (dropped D, overlimits O requeues R)").
 */
export function parseClasses(text: string, dev: string): TcClass[] {
  const classes: TcClass[] = []
  let current: TcClass | undefined
  for (const line of text.split('\n')) {
    const head = /^class (\S+) (\S+) (root|parent (\S+))(.*)$/.exec(line)
    if (head) {
      const rest = head[5]
      const word = (name: string) => new RegExp(`(?:^| )${name} (\\S+)`).exec(rest)?.[1]
      current = {dev, kind: head[1], classid: head[2], parent: head[3] === 'root' ? 'root' : head[4]}
      const leaf = word('leaf')
      if (leaf) current.leaf = leaf
      const rate = word('rate')
      const ceil = word('ceil')
      const burst = word('burst')
      const cburst = word('cburst')
      if (rate && parseRate(rate) !== undefined) current.rate = parseRate(rate)
      if (ceil && parseRate(ceil) !== undefined) current.ceil = parseRate(ceil)
      if (burst && parseSize(burst) !== undefined) current.burst = parseSize(burst)
      if (cburst && parseSize(cburst) !== undefined) current.cburst = parseSize(cburst)
      classes.push(current)
      continue
    }
    const sent = /^\s*Sent (\d+) bytes (\d+) pkt \(dropped (\d+), overlimits (\d+)/.exec(line)
    if (sent && current && !current.stats) current.stats = {bytes: Number(sent[1]), packets: Number(sent[2]), drops: Number(sent[3]), overlimits: Number(sent[4])}
  }
  return classes
}

/** u32 prints one "match" key per word under the same JSON object: numbered here before parsing, so none is lost. */
function numberRepeatedKeys(text: string): string {
  let n = 0
  return text.replace(/"match":\{/g, () => `"match#${n++}":{`)
}

function hex(v: unknown): number | undefined {
  return typeof v === 'string' && /^[0-9a-f]{1,8}$/i.test(v) ? Number.parseInt(v, 16) : undefined
}

function parseAction(o: Obj): TcAction {
  const kind = str(o.kind) ?? 'unknown'
  const a: TcAction = {kind}
  const control = isObj(o.control_action) ? str(o.control_action.type) : undefined
  if (kind === 'gact') a.control = control ?? 'unknown'
  if (kind === 'mirred') a.mirred = {action: str(o.mirred_action) ?? 'unknown', direction: str(o.direction) ?? 'egress', ...(str(o.to_dev) ? {toDev: str(o.to_dev)} : {})}
  if (kind === 'police') {
    a.police = {}
    const rate = num(o.rate)
    const burst = num(o.burst)
    const mtu = num(o.mtu)
    if (rate !== undefined) a.police.rate = rate
    if (burst !== undefined) a.police.burst = burst
    if (mtu !== undefined) a.police.mtu = mtu
    const exceed = str(o.control_action && isObj(o.control_action) ? o.control_action.type : undefined) ?? str(o.exceed)
    if (exceed) a.police.exceed = exceed
  }
  if (kind === 'skbedit') {
    const sets = ['mark', 'ptype', 'inheritdsfield'].filter((k) => o[k] !== undefined)
    if (sets.length > 0) a.sets = sets
  }
  if (kind !== 'gact' && control) a.control = control
  const stats = isObj(o.stats) ? counters(o.stats) : undefined
  if (stats) a.stats = stats
  return a
}

export function parseFilters(text: string, dev: string, attach: string): TcFilter[] {
  const rows = asArray(parseJson(numberRepeatedKeys(text), `tc -j filter show dev ${dev} ${attach}`), 'tc -j filter show')
  const filters: TcFilter[] = []
  for (const row of rows) {
    if (!isObj(row)) throw new ParseError('tc -j filter show: an entry is not an object')
    const kind = str(row.kind) ?? 'unknown'
    const options = isObj(row.options) ? row.options : undefined
    // u32 lists its hash tables beside the keys: only nodes with keys or actions classify.
    if (!options) continue
    // A u32 filter's own policer (tc filter ... u32 ... police, libvirt's outbound <bandwidth>) prints its keys into the options, without its rate, burst or mtu.
    if (options.kind === 'police') throw new ParseError(`tc -j filter show: pref ${num(row.pref) ?? '?'} ${kind}: its policer's rate, burst and mtu are not in tc's JSON`)
    const keyNames = Object.keys(options).filter((k) => k.startsWith('match#'))
    const actions = Array.isArray(options.actions) ? options.actions.filter(isObj).map(parseAction) : []
    if (kind === 'u32' && keyNames.length === 0 && actions.length === 0 && !str(options.flowid)) continue
    const f: TcFilter = {dev, attach, protocol: str(row.protocol) ?? 'all', pref: num(row.pref) ?? 0, kind, actions}
    const flowid = str(options.flowid) ?? str(options.classid)
    if (flowid) f.flowid = flowid
    if (kind === 'u32') {
      f.keys = keyNames.map((k) => {
        const m = options[k] as Obj
        const key: U32Key = {value: hex(m.value) ?? Number.NaN, mask: hex(m.mask) ?? Number.NaN, off: num(m.off) ?? Number.NaN}
        if (str(m.offmask)) key.variable = true
        return key
      })
    } else {
      const {actions: _actions, ...rest} = options
      f.options = rest
    }
    filters.push(f)
  }
  return filters
}

/**
 * One attach point's filters: tc's JSON, and its text listing (the same argv without -j) only where the JSON
 * is invalid (iproute2 before 5.18 prints u32's options, before 5.14 policers, as text) or holds a policer
 * (whose rate, burst and mtu the JSON never carries). So a recording without a policer replays as it was made.
 * What neither read gives stays unread, with why.
 */
async function readFilters(runner: Runner, dev: string, attach: string, argv: string[]): Promise<TcFilter[] | {unread: string}> {
  const json = await runner.run(argv)
  let fromJson: TcFilter[] | undefined
  let jsonFault = ''
  if (json.error !== undefined) {
    // A sosreport keeps tc's text listing only: that is read instead.
    if (json.errorCode !== 'not-recorded') return {unread: `${argv.join(' ')}: ${json.error}`}
    jsonFault = json.error.startsWith(argv.join(' ')) ? json.error : `${argv.join(' ')}: ${json.error}`
  } else {
    try {
      fromJson = parseFilters(json.output, dev, attach)
      if (!fromJson.some((f) => f.actions.some((a) => a.kind === 'police'))) return fromJson
    } catch (error) {
      jsonFault = `${argv.join(' ')}: ${(error as Error).message}`
    }
  }
  const textArgv = argv.filter((a) => a !== '-j')
  const text = await runner.run(textArgv)
  let textFault: string
  if (text.error === undefined) {
    try {
      return parseFilterText(text.output, dev, attach)
    } catch (error) {
      textFault = `${textArgv.join(' ')}: ${(error as Error).message}`
    }
  } else textFault = text.error.startsWith(textArgv.join(' ')) ? text.error : `${textArgv.join(' ')}: ${text.error}`
  return fromJson ?? {unread: `${jsonFault}; ${textFault}`}
}

export const tcProbe: Probe<TcFacts> = {
  id: 'tc',
  title: 'Traffic control (qdiscs, classes, filters)',
  reads: ['tc -j -s qdisc show', 'tc -s class show dev DEV', 'tc -j -s filter show dev DEV ingress|egress|parent HANDLE', 'tc -s filter show dev DEV ... (where the JSON is invalid, holds a policer or was not recorded: a sosreport)'],
  async collect({runner}) {
    const qdiscs = parseQdiscs(outputOf(await runner.run(['tc', '-j', '-s', 'qdisc', 'show'])))
    const facts: TcFacts = {qdiscs, classes: [], filters: [], dropsLater: {}, unread: {}}
    const reads: {dev: string; attach: string; argv: string[]; classes?: boolean}[] = []
    for (const q of qdiscs) {
      if (q.kind === 'ingress') reads.push({dev: q.dev, attach: 'ingress', argv: ['tc', '-j', '-s', 'filter', 'show', 'dev', q.dev, 'ingress']})
      else if (q.kind === 'clsact') {
        reads.push({dev: q.dev, attach: 'ingress', argv: ['tc', '-j', '-s', 'filter', 'show', 'dev', q.dev, 'ingress']})
        reads.push({dev: q.dev, attach: 'egress', argv: ['tc', '-j', '-s', 'filter', 'show', 'dev', q.dev, 'egress']})
      } else if (CLASSFUL.has(q.kind) && q.kind !== 'mq') {
        reads.push({dev: q.dev, attach: q.handle, argv: ['tc', '-j', '-s', 'filter', 'show', 'dev', q.dev, 'parent', q.handle]})
        if (!reads.some((r) => r.classes && r.dev === q.dev)) reads.push({dev: q.dev, attach: '', argv: ['tc', '-s', 'class', 'show', 'dev', q.dev], classes: true})
      } else if (!CLASSLESS.has(q.kind) && q.kind !== 'mq') {
        facts.unread[q.dev] ??= `qdisc ${q.kind} is not one kvmdoctor reads`
      }
    }
    const captures = await Promise.all(reads.map((r) => (r.classes ? runner.run(r.argv) : undefined)))
    const filterReads = await Promise.all(reads.map((r) => (r.classes ? undefined : readFilters(runner, r.dev, r.attach, r.argv))))
    reads.forEach((r, i) => {
      const filters = filterReads[i]
      if (filters) {
        if ('unread' in filters) facts.unread[r.dev] = filters.unread
        else facts.filters.push(...filters)
        return
      }
      const c = captures[i]!
      if (c.error !== undefined) {
        facts.unread[r.dev] = `${r.argv.join(' ')}: ${c.error}`
        return
      }
      try {
        facts.classes.push(...parseClasses(c.output, r.dev))
      } catch (error) {
        facts.unread[r.dev] = `${r.argv.join(' ')}: ${(error as Error).message}`
      }
    })
    // Inner classes can hold filters of their own: read them too.
    const inner = facts.classes.filter((c) => !c.leaf && facts.classes.some((x) => x.dev === c.dev && x.parent === c.classid))
    const innerReads = await Promise.all(inner.map((c) => readFilters(runner, c.dev, c.classid, ['tc', '-j', '-s', 'filter', 'show', 'dev', c.dev, 'parent', c.classid])))
    inner.forEach((c, i) => {
      const filters = innerReads[i]
      if ('unread' in filters) facts.unread[c.dev] = filters.unread
      else facts.filters.push(...filters)
    })
    // `list` is `show` under another name: a capture of its own in a recording, so a replay sees both reads.
    const again = await runner.run(['tc', '-j', '-s', 'qdisc', 'list'])
    if (again.error === undefined) {
      try {
        for (const q of parseQdiscs(again.output)) if (q.stats) facts.dropsLater[qdiscKey(q)] = q.stats.drops
      } catch (error) {
        // The first read decides; a garbled second one only loses the growth.
        facts.dropsLaterUnread = `tc -j -s qdisc list: ${(error as Error).message}`
      }
    } else facts.dropsLaterUnread = again.error.startsWith('tc ') ? again.error : `tc -j -s qdisc list: ${again.error}`
    return facts
  },
}
