/**
 * The kernel's own account of a packet's way through the firewall: nftables tracing.
 *
 * traceNft(match, action) marks the packets `match` selects (an nft match expression, e.g.
 * `ip saddr 192.168.122.50 udp dport 53`) with `meta nftrace set 1` in base chains at
 * priority -500 (table inet kdlab_trace: prerouting and output; table bridge kdlab_trace:
 * prerouting, for bridged frames), runs `nft -a monitor trace` while `action` (a guest
 * making the traffic) runs, removes the tables and returns the events, per trace id.
 *
 * On Debian iptables is iptables-nft: its rules show up as tables `ip filter`, `ip nat`...
 * with their nft handles; `nft -a -j list ruleset` (kept in the result) maps a handle to the
 * rule's position in its chain, which is what `iptables -S CHAIN` numbers.
 *
 * parseTrace is pure (unit-tested on real captured output in test/lab-trace-parse.test.ts).
 */
import {execa} from 'execa'

export type TraceKind = 'rule' | 'policy' | 'return' | 'packet'

export interface TraceEvent {
  /** The kernel's trace id (hex): one per packet per path segment (it changes e.g. after routing). */
  id: string
  family: string
  table: string
  chain: string
  kind: TraceKind
  /** Rule handle (rule and return events; nft -a). */
  handle?: number
  /** accept, drop, continue, return, jump, goto, queue, stolen... (rule, policy and return events). */
  verdict?: string
  /** Target chain of jump/goto. */
  target?: string
  /** The rule as nft prints it (counters included). */
  rule?: string
  /** The packet as nft prints it (packet events), or trailing packet info of other events (e.g. meta mark). */
  packet?: string
  /** 1-based position of the rule in its chain, as `iptables -S CHAIN` numbers them (filled by annotatePositions). */
  position?: number
}

export interface Trace {
  id: string
  events: TraceEvent[]
}

const HEADER = /^trace id ([0-9a-f]+) (\S+) (\S+) (\S+) (.*)$/

/** Parses `nft [-a] monitor trace` text into traces (in order of first appearance), each with its events in order. */
export function parseTrace(text: string): Trace[] {
  const traces = new Map<string, Trace>()
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+$/, '')
    const m = HEADER.exec(line)
    if (!m) continue
    const [, id, family, table, chain, rest] = m
    const base = {id, family, table, chain}
    let event: TraceEvent | undefined
    if (rest.startsWith('packet: ')) {
      event = {...base, kind: 'packet', packet: rest.slice('packet: '.length).trim()}
    } else if (rest.startsWith('rule ') || rest.startsWith('unknown rule ')) {
      // `unknown rule handle N`: a rule the monitor's cache does not know (added after it started).
      const r = /^(?:rule (.*?)(?: # handle (\d+))?|unknown rule handle (\d+)) \(verdict (\S+)(?: (\S+))?\)\s*(.*)$/.exec(rest)
      if (r) {
        // A rule whose verdict is `return` (iptables -j RETURN) sends the packet back to the calling chain: a return.
        const [, text, handle, unknownHandle, verdict, target, more] = r
        const h = handle ?? unknownHandle
        event = {...base, kind: verdict === 'return' ? 'return' : 'rule', verdict, ...(text !== undefined ? {rule: text} : {}), ...(h ? {handle: Number(h)} : {}), ...(target ? {target} : {}), ...(more ? {packet: more} : {})}
      } else {
        event = {...base, kind: 'rule', rule: rest.replace(/^(unknown )?rule /, '')}
      }
    } else if (rest.startsWith('policy ')) {
      const [verdict, ...more] = rest.slice('policy '.length).trim().split(/\s+/)
      event = {...base, kind: 'policy', verdict, ...(more.length > 0 ? {packet: more.join(' ')} : {})}
    } else if (rest.startsWith('verdict ') || rest === 'return' || rest.startsWith('return ')) {
      // End of a regular chain: back to the calling chain (NFT_TRACETYPE_RETURN).
      const words = rest.split(/\s+/)
      const verdict = words[0] === 'verdict' ? words[1] : 'return'
      event = {...base, kind: 'return', verdict, ...(words[0] === 'verdict' && words[2] ? {target: words[2]} : {})}
    }
    if (!event) continue
    let trace = traces.get(id)
    if (!trace) traces.set(id, (trace = {id, events: []}))
    trace.events.push(event)
  }
  return [...traces.values()]
}

interface RulesetItem {
  rule?: {family: string; table: string; chain: string; handle: number}
}

/** Fills `position` (1-based, within its chain) of rule events from `nft -a -j list ruleset` output. */
export function annotatePositions(traces: Trace[], rulesetJson: string): Trace[] {
  const pos = new Map<string, number>()
  const count = new Map<string, number>()
  for (const item of (JSON.parse(rulesetJson) as {nftables: RulesetItem[]}).nftables) {
    if (!item.rule) continue
    const chain = `${item.rule.family} ${item.rule.table} ${item.rule.chain}`
    const n = (count.get(chain) ?? 0) + 1
    count.set(chain, n)
    pos.set(`${chain} ${item.rule.handle}`, n)
  }
  for (const t of traces) {
    for (const e of t.events) {
      if (e.handle !== undefined) {
        const p = pos.get(`${e.family} ${e.table} ${e.chain} ${e.handle}`)
        if (p !== undefined) e.position = p
      }
    }
  }
  return traces
}

/**
 * What became of the packet in this trace: the first drop (nothing runs after it), else the
 * last accept (an accept only ends its own base chain; the next hook's chains still run).
 */
export function finalVerdict(trace: Trace): TraceEvent | undefined {
  const deciding = trace.events.filter((e) => (e.kind === 'rule' || e.kind === 'policy') && e.verdict && !['continue', 'jump', 'goto', 'return'].includes(e.verdict))
  return deciding.find((e) => e.verdict === 'drop') ?? deciding[deciding.length - 1]
}

/** The netfilter tables carrying the trace rules (removed again by traceNft). */
export const TRACE_TABLE = 'kdlab_trace'

function traceRuleset(match: string): string {
  const rule = `${match} meta nftrace set 1`
  return [
    `table inet ${TRACE_TABLE} {`,
    `  chain prerouting { type filter hook prerouting priority -500; policy accept; ${rule}; }`,
    `  chain output { type filter hook output priority -500; policy accept; ${rule}; }`,
    '}',
    `table bridge ${TRACE_TABLE} {`,
    `  chain prerouting { type filter hook prerouting priority -500; policy accept; ${rule}; }`,
    '}',
    '',
  ].join('\n')
}

async function nft(args: string[], input?: string): Promise<string> {
  const r = await execa('nft', args, {input, reject: false, env: {LC_ALL: 'C'}, timeout: 30_000})
  if (r.exitCode !== 0) throw new Error(`nft ${args.join(' ')} failed: ${r.stderr}`)
  return String(r.stdout)
}

async function removeTraceTables(): Promise<void> {
  for (const family of ['inet', 'bridge']) {
    await execa('nft', ['delete', 'table', family, TRACE_TABLE], {reject: false, env: {LC_ALL: 'C'}})
  }
}

export interface TraceResult<T> {
  traces: Trace[]
  /** The monitor's text, as captured. */
  raw: string
  /** `nft -a -j list ruleset` while tracing (trace tables included): handles → positions. */
  ruleset: string
  /** What the action returned. */
  result: T
}

/**
 * Traces the packets `match` selects while `action` runs (root). The trace tables are
 * removed afterwards, also when the action fails.
 */
export async function traceNft<T>(match: string, action: () => Promise<T>, opts: {settleMs?: number} = {}): Promise<TraceResult<T>> {
  await removeTraceTables()
  // stdbuf: the monitor's output is a pipe, keep it line-buffered so nothing is lost at the end.
  const monitor = execa('stdbuf', ['-oL', 'nft', '-a', 'monitor', 'trace'], {reject: false, env: {LC_ALL: 'C'}, stdin: 'ignore', buffer: true})
  let raw = ''
  monitor.stdout?.on('data', (chunk: Buffer) => {
    raw += chunk.toString()
  })
  let ruleset = ''
  let result: T
  try {
    // The monitor must be subscribed before the first packet is marked.
    await new Promise((r) => setTimeout(r, 300))
    await nft(['-f', '-'], traceRuleset(match))
    ruleset = await nft(['-a', '-j', 'list', 'ruleset'])
    result = await action()
    await new Promise((r) => setTimeout(r, opts.settleMs ?? 300))
  } finally {
    await removeTraceTables()
    await new Promise((r) => setTimeout(r, 200))
    monitor.kill('SIGTERM')
    await monitor
  }
  return {traces: annotatePositions(parseTrace(raw), ruleset), raw, ruleset, result}
}
