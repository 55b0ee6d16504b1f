/**
 * The kernel's own account of a packet's way through the firewall: nftables tracing.
 *
 * traceNft(targets, action) marks every IPv4 packet the guests send or are sent (by their MACs
 * and addresses) and every packet from the remote ends they talk to, with `meta nftrace set 1`
 * in base chains at priority -500 (table inet kdlab_trace: prerouting and output; table bridge
 * kdlab_trace: prerouting, for bridged frames), runs `nft -a monitor trace` while `action` (the
 * guests measuring) runs, removes the tables and returns the packets (tracePackets).
 *
 * On Debian iptables is iptables-nft: its rules show up as tables `ip filter`, `ip nat`...
 * with their nft handles; `nft -a -j list ruleset` (kept in the result) maps a handle to the
 * rule's position in its chain, which is what `iptables -S CHAIN` numbers.
 *
 * parseTrace and tracePackets are pure (unit-tested on real captured output in test/lab-trace-parse.test.ts).
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

/** One line of `nft [-a] monitor trace` as an event, or undefined for lines that are not trace events. */
export function parseTraceLine(raw: string): TraceEvent | undefined {
  const line = raw.replace(/\s+$/, '')
  const m = HEADER.exec(line)
  if (!m) return undefined
  const [, id, family, table, chain, rest] = m
  const base = {id, family, table, chain}
  if (rest.startsWith('packet: ')) return {...base, kind: 'packet', packet: rest.slice('packet: '.length).trim()}
  if (rest.startsWith('rule ') || rest.startsWith('unknown rule ')) {
    // `unknown rule handle N`: a rule the monitor's cache does not know (added after it started).
    const r = /^(?:rule (.*?)(?: # handle (\d+))?|unknown rule handle (\d+)) \(verdict (\S+)(?: (\S+))?\)\s*(.*)$/.exec(rest)
    if (!r) return {...base, kind: 'rule', rule: rest.replace(/^(unknown )?rule /, '')}
    // A rule whose verdict is `return` (iptables -j RETURN) sends the packet back to the calling chain: a return.
    const [, text, handle, unknownHandle, verdict, target, more] = r
    const h = handle ?? unknownHandle
    return {...base, kind: verdict === 'return' ? 'return' : 'rule', verdict, ...(text !== undefined ? {rule: text} : {}), ...(h ? {handle: Number(h)} : {}), ...(target ? {target} : {}), ...(more ? {packet: more} : {})}
  }
  if (rest.startsWith('policy ')) {
    const [verdict, ...more] = rest.slice('policy '.length).trim().split(/\s+/)
    return {...base, kind: 'policy', verdict, ...(more.length > 0 ? {packet: more.join(' ')} : {})}
  }
  if (rest.startsWith('verdict ') || rest === 'return' || rest.startsWith('return ')) {
    // End of a regular chain: back to the calling chain (NFT_TRACETYPE_RETURN).
    const words = rest.split(/\s+/)
    const verdict = words[0] === 'verdict' ? words[1] : 'return'
    return {...base, kind: 'return', verdict, ...(words[0] === 'verdict' && words[2] ? {target: words[2]} : {})}
  }
  return undefined
}

/**
 * Parses `nft [-a] monitor trace` text into traces (in order of first appearance), each with its events in order.
 * The kernel reuses trace ids (a hash of the packet buffer's address): one id may hold several packets; tracePackets
 * tells them apart.
 */
export function parseTrace(text: string): Trace[] {
  const traces = new Map<string, Trace>()
  for (const raw of text.split('\n')) {
    const event = parseTraceLine(raw)
    if (!event) continue
    let trace = traces.get(event.id)
    if (!trace) traces.set(event.id, (trace = {id: event.id, events: []}))
    trace.events.push(event)
  }
  return [...traces.values()]
}

/** What a trace's packet line says of the packet (the fields the oracle tells packets and connections apart by). */
export interface PacketFields {
  iif?: string
  oif?: string
  etherSrc?: string
  etherDst?: string
  src?: string
  dst?: string
  ipId?: number
  length?: number
  /** udp, tcp, icmp, ... */
  proto?: string
  sport?: number
  dport?: number
  /** As nft prints them: syn, ack, 0x12 ... */
  tcpFlags?: string
  icmpType?: string
  icmpId?: number
}

export function parsePacketFields(text: string): PacketFields {
  const word = (re: RegExp) => re.exec(text)?.[1]
  const num = (re: RegExp) => {
    const v = word(re)
    return v === undefined ? undefined : Number(v)
  }
  const l4 = /\b(udp|tcp) sport \d+/.exec(text)?.[1] ?? (/\bicmp type /.test(text) ? 'icmp' : word(/\bip protocol (\S+)/))
  // Where the monitor cannot name the link layer (a bridged frame on postrouting) it prints its first 14 bytes raw.
  const ll = /@ll,0,112 0x([0-9a-f]{28})\b/.exec(text)?.[1]
  const mac = (hex: string) => hex.match(/../g)!.join(':')
  const f: PacketFields = {
    iif: word(/\biif "([^"]+)"/),
    oif: word(/\boif "([^"]+)"/),
    etherSrc: word(/\bether saddr (\S+)/) ?? (ll ? mac(ll.slice(12, 24)) : undefined),
    etherDst: word(/\bether daddr (\S+)/) ?? (ll ? mac(ll.slice(0, 12)) : undefined),
    src: word(/\bip saddr (\S+)/),
    dst: word(/\bip daddr (\S+)/),
    ipId: num(/\bip id (\d+)/),
    length: num(/\bip length (\d+)/),
    proto: l4,
    sport: num(/\b(?:udp|tcp) sport (\d+)/),
    dport: num(/\b(?:udp|tcp) dport (\d+)/),
    tcpFlags: word(/\btcp flags == (\S+)/),
    icmpType: word(/\bicmp type (\S+)/),
    icmpId: num(/\bicmp id (\d+)/),
  }
  return Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined)) as PacketFields
}

/** An event of a traced packet, with the hook its base chain is registered on (user chains: their caller's). */
export type PacketEvent = TraceEvent & {hook: string}

/** One packet's way through the hooks, put together from the trace ids it had (a new one after routing). */
export interface TracedPacket {
  events: PacketEvent[]
  /** The packet as each base chain saw it, in order (NAT changes addresses on the way). */
  seen: {family: string; table: string; chain: string; hook: string; fields: PacketFields}[]
}

/**
 * Where each hook stands on a packet's way through the host (br_netfilter and the IP layer after the bridge's
 * prerouting and input; the bridge's output after the IP layer's postrouting): a packet only moves forward.
 */
const HOOK_RANK: Record<string, number> = {'bridge prerouting': 0, 'bridge input': 1, 'bridge forward': 1, 'netdev ingress': 1.5, 'ip prerouting': 2, 'ip input': 3, 'ip forward': 3, 'ip output': 3, 'ip postrouting': 4, 'netdev egress': 4.5, 'bridge output': 5, 'bridge postrouting': 6}
const hookRank = (family: string, hook: string) => HOOK_RANK[`${family === 'bridge' || family === 'netdev' ? family : 'ip'} ${hook}`] ?? 3
/**
 * br_netfilter runs IP hooks inside the bridge's, under the packet's trace id: the IP prerouting inside the bridge's
 * prerouting (the bridge's input or forward follows it), the IP postrouting of a bridged frame last in the bridge's
 * postrouting (after the bridge's own chains).
 */
const brNetfilterNext = (prev: {family: string; hook: string}, family: string, hook: string) => {
  const ip = (f: string) => f !== 'bridge' && f !== 'netdev'
  if (ip(prev.family) && prev.hook === 'prerouting') return family === 'bridge' && (hook === 'input' || hook === 'forward')
  return prev.family === 'bridge' && prev.hook === 'postrouting' && ip(family) && hook === 'postrouting'
}

/** 'family table chain' → hook of every base chain in `nft -j list ruleset` output. */
export function baseChainHooks(rulesetJson: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const item of (JSON.parse(rulesetJson) as {nftables: {chain?: {family: string; table: string; name: string; hook?: string}}[]}).nftables) {
    if (item.chain?.hook) out.set(`${item.chain.family} ${item.chain.table} ${item.chain.name}`, item.chain.hook)
  }
  return out
}

/**
 * Parses a trace into packets. The kernel gives a packet a new trace id on its way (after routing, or from the
 * bridge up to the IP layer) and reuses ids for later packets, so ids alone do not tell packets apart: a packet's
 * segments share its link-layer source, IP id, protocol and length (NAT changes none of them), it passes no base
 * chain twice and its hooks only move forward (HOOK_RANK), to a later hook when its trace id changes. A segment
 * continues the packet its id carries, else the latest packet of the same key it can follow. One that can follow
 * only the packet's start is a copy of it: a broadcast the bridge both floods to its other ports (br_netfilter's
 * forward hook) and delivers to the host (input) goes both ways; the copy gets the packet's start as its own.
 * Anything else (a DHCP retransmission starts again at the bridge) is a new packet.
 */
export function tracePackets(text: string, rulesetJson: string, masterOf: (dev: string) => string | undefined = () => undefined): TracedPacket[] {
  const hooks = baseChainHooks(rulesetJson)
  type Seen = TracedPacket['seen'][number] & {id: string; rank: number; at: number}
  type Building = {key: string; events: PacketEvent[]; seen: Seen[]}
  const packets: Building[] = []
  const open = new Map<string, Building>()
  const chainOf = (s: {family: string; table: string; chain: string}) => `${s.family} ${s.table} ${s.chain}`
  for (const raw of text.split('\n')) {
    const e = parseTraceLine(raw)
    if (!e) continue
    if (e.kind === 'packet') {
      const fields = parsePacketFields(e.packet ?? '')
      const ipKey = `${fields.ipId ?? ''} ${fields.proto ?? ''} ${fields.length ?? ''}`
      const key = `${fields.etherSrc ?? ''} ${ipKey}`
      const chain = chainOf(e)
      const hook = hooks.get(chain) ?? 'unknown'
      const rank = hookRank(e.family, hook)
      const last = (p: Building) => p.seen[p.seen.length - 1]
      // The bridge hands a frame up on the bridge device itself: a frame of the same bytes arriving on another link
      // (a veth whose peer is a port of the bridge: the flooded copy coming back) is not its continuation.
      const handedUp = (prev: Seen) => {
        if (prev.family !== 'bridge' || e.family === 'bridge' || !prev.fields.iif || !fields.iif) return true
        const bridge = masterOf(prev.fields.iif)
        return bridge === undefined || bridge === fields.iif
      }
      // Routed out by the bridge, a packet gets the bridge's own MAC as its source: its bridge output and postrouting
      // segments follow its IP output or postrouting by the IP header alone.
      const sameKey = (p: Building) => p.key === key || (e.family === 'bridge' && rank >= HOOK_RANK['bridge output'] && last(p).family !== 'bridge' && p.key.slice(p.key.indexOf(' ') + 1) === ipKey)
      const follows = (p: Building, sameId: boolean) =>
        sameKey(p) && !p.seen.some((s) => chainOf(s) === chain) && (sameId ? rank >= last(p).rank || brNetfilterNext(last(p), e.family, hook) : rank > last(p).rank && handedUp(last(p)))
      const recent = packets.slice(-64).reverse()
      let cur = open.get(e.id)
      if (!cur || !follows(cur, true)) cur = recent.find((p) => follows(p, false))
      if (!cur) {
        // A copy: the packet's start (the hooks before this one) is shared, its way from here is its own.
        for (const p of recent) {
          if (p.key !== key) continue
          let k = p.seen.length - 1
          while (k >= 0 && p.seen[k].rank >= rank) k--
          if (k < 0 || k === p.seen.length - 1 || p.seen[k + 1].id === e.id || p.seen.slice(0, k + 1).some((s) => chainOf(s) === chain) || !handedUp(p.seen[k])) continue
          packets.push((cur = {key, events: p.events.slice(0, p.seen[k + 1].at), seen: p.seen.slice(0, k + 1)}))
          break
        }
      }
      if (!cur) packets.push((cur = {key, events: [], seen: []}))
      cur.seen.push({family: e.family, table: e.table, chain: e.chain, hook, fields, id: e.id, rank, at: cur.events.length})
      open.set(e.id, cur)
    }
    const cur = open.get(e.id)
    // An event before its packet line (the monitor started mid-packet) belongs to nothing traced.
    if (cur) cur.events.push({...e, hook: cur.seen[cur.seen.length - 1].hook})
  }
  return packets.map(({events, seen}) => ({events, seen: seen.map(({family, table, chain, hook, fields}) => ({family, table, chain, hook, fields}))}))
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
export function finalVerdict(trace: {events: TraceEvent[]}): TraceEvent | undefined {
  const deciding = trace.events.filter((e) => (e.kind === 'rule' || e.kind === 'policy') && e.verdict && !['continue', 'jump', 'goto', 'return'].includes(e.verdict))
  return deciding.find((e) => e.verdict === 'drop') ?? deciding[deciding.length - 1]
}

/** The netfilter tables carrying the trace rules (removed again by traceNft). */
export const TRACE_TABLE = 'kdlab_trace'

/** What the kernel oracle traces: every packet the guests send or are sent, with the ends of their flows. */
export interface TraceTargets {
  /** The guests' MACs: frames they send, and frames a bridge port brings them. */
  macs: string[]
  /** The guests' addresses: what the host sends them. */
  addresses: string[]
  /** Remote ends whose packets come back to the host (the lab internet). */
  remotes: string[]
}

function traceRuleset(t: TraceTargets): string {
  const set = (items: string[]) => `{ ${items.join(', ')} }`
  const mark = (match: string) => `${match} meta nftrace set 1;`
  // IPv4 only: what the guests measure, and what the datapath's flows are.
  const pre = [...(t.macs.length > 0 ? [mark(`meta nfproto ipv4 ether saddr ${set(t.macs)}`)] : []), ...(t.remotes.length > 0 ? [mark(`ip saddr ${set(t.remotes)}`)] : [])]
  // DHCP answers go to an address the guest does not hold yet (or to the broadcast address).
  const out = [...(t.addresses.length > 0 ? [mark(`ip daddr ${set(t.addresses)}`)] : []), mark('udp sport 67 udp dport 68')]
  const bridge = [...(t.macs.length > 0 ? [mark(`ether type ip ether saddr ${set(t.macs)}`), mark(`ether type ip ether daddr ${set(t.macs)}`)] : []), mark('udp sport 67 udp dport 68')]
  return [
    `table inet ${TRACE_TABLE} {`,
    `  chain prerouting { type filter hook prerouting priority -500; policy accept; ${pre.join(' ')} }`,
    `  chain output { type filter hook output priority -500; policy accept; ${out.join(' ')} }`,
    '}',
    `table bridge ${TRACE_TABLE} {`,
    `  chain prerouting { type filter hook prerouting priority -500; policy accept; ${bridge.join(' ')} }`,
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
  packets: TracedPacket[]
  /** The monitor's text, as captured. */
  raw: string
  /** `nft -a -j list ruleset` while tracing (trace tables included): handles → positions. */
  ruleset: string
  /** What the action returned. */
  result: T
}

/**
 * Traces the packets of `targets` while `action` runs (root). The trace tables are
 * removed afterwards, also when the action fails.
 */
export async function traceNft<T>(targets: TraceTargets, action: () => Promise<T>, opts: {settleMs?: number; before?: () => Promise<void>} = {}): Promise<TraceResult<T>> {
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
    // What must precede every traced packet (deleting conntrack entries: a request traced before the deletion would
    // have its reply traced as a new connection's first packet), as close to the first mark as it can be.
    await opts.before?.()
    await nft(['-f', '-'], traceRuleset(targets))
    ruleset = await nft(['-a', '-j', 'list', 'ruleset'])
    result = await action()
    await new Promise((r) => setTimeout(r, opts.settleMs ?? 300))
  } finally {
    await removeTraceTables()
    await new Promise((r) => setTimeout(r, 200))
    monitor.kill('SIGTERM')
    await monitor
  }
  return {packets: tracePackets(raw, ruleset), raw, ruleset, result}
}
