/**
 * The netfilter evaluator: one packet through one hook, every base chain of
 * every table and backend in priority order, the way the kernel runs them.
 *
 * Semantics kept from the kernel: an accept ends only its own base chain (the
 * next base chain on the hook still sees the packet); drop and reject are
 * final; jump returns, goto does not; a base chain that runs off its end applies
 * its policy; NAT chains see only a connection's first packet, and their
 * translations change the packet for every chain after them.
 *
 * Three-valued: a match the evaluator cannot decide (a mark set outside the
 * path, a rate limit, an unmodelled match) forks the walk: one branch assumes it
 * matched, one that it did not. Branches that end alike merge; where they do
 * not, the verdict is indeterminate and names the rule and both outcomes.
 */
import {formatIp, parseIp, rangeContains} from '../../lib/addr.js'
import type {NatMapEntry, NfChain, NfField, NfMatch, NfRule, NfRuleRef, NfSet, NfStatement, NfValue, NfFamily, NfHook} from '../../lib/netfilter.js'
import {type CompiledRuleset, CONNTRACK_PRIORITY, NAT_CORE_PRIORITY, tableOf} from './compile.js'
import {ICMPV6_TYPES, ICMP_TYPES, type NfPacket, protoNumber} from './packet.js'

export type Tri = boolean | 'unknown'

/** What the host knows that rules can ask about (fib/addrtype, masquerade's source address). */
export interface EvalContext {
  /** local, broadcast, multicast, unicast, ... of an address, as the routing tables say; with a device, as seen on that device alone. */
  addressType(address: string, family: 4 | 6, device?: string): string[]
  /** The primary address of a device (masquerade picks it), when known. */
  addressOf(device: string, family: 4 | 6): string | undefined
  /**
   * The route lookup a fib expression or rpfilter makes (fib_lookup, ip6_route_lookup): the route's type ('none': no
   * route, or a reject route) and its next hops' devices, the one the lookup reports first; 'unknown' when the host's
   * routes cannot tell (unread, a mark set outside the path that a policy rule reads). Absent: every lookup is unknown.
   */
  routeLookup?(q: {family: 4 | 6; dst: string; src?: string; iif: string; mark: number | 'unknown'; l4proto: string}): RouteLookup | 'unknown'
  /**
   * A device's kind as nft reads it (its rtnl_link_ops kind: "veth", "bridge", "tun" for a tap; null for one without,
   * a physical NIC or lo) and its group; undefined for a device not known.
   */
  device?(name: string): {kind: string | null; group?: number} | undefined
}

export interface RouteLookup {
  type: 'unicast' | 'local' | 'broadcast' | 'multicast' | 'none'
  devs: string[]
}

export interface ChainRef {
  backend: NfChain['backend']
  family: NfFamily
  table: string
  chain: string
  hook?: NfHook
  priority?: number
  /** The base chain whose walk reached this chain (a rule in a user chain still belongs to one hooked chain). */
  base?: string
}

export interface TraceStep {
  hook: NfHook
  chain: ChainRef
  /** The rule this step is about (absent for chain entry and policy). */
  rule?: {ref: NfRuleRef; text: string}
  event: 'enter' | 'rule' | 'maybe' | 'policy' | 'return' | 'skip'
  /** accept, drop, reject, jump X, goto X, return, masquerade, snat, dnat, mark, queue, ... */
  action?: string
  note?: string
  /** The rule's (or, for a policy, the base chain's) packet counters, when the recording holds them: how often it really acted. */
  counters?: {packets: number; bytes: number}
}

/** An undecidable match this branch assumed one way. */
export interface Assumption {
  step: TraceStep
  assumed: boolean
}

export type BranchStatus = 'accept' | 'drop' | 'unknown'

export interface Branch {
  packet: NfPacket
  steps: TraceStep[]
  /** accept = still on its way; drop/reject = dropped; unknown = a statement with an unknowable verdict ended it. */
  status: BranchStatus
  /** The step that dropped the packet (or made its fate unknowable). */
  decidedBy?: TraceStep
  /** NAT applied on the way. */
  /** `toEnd`: the last address of a range the kernel picks from per connection (`to` is its first). */
  nat: {type: string; field: 'src' | 'dst'; from: string; to: string; toEnd?: string; step: TraceStep}[]
  assumptions: Assumption[]
}

/** Cap on branches per hook: past it, the walk says indeterminate instead of exploring. */
const MAX_BRANCHES = 64
const MAX_DEPTH = 64

export function startBranch(packet: NfPacket): Branch {
  // Every field from the start (decidedBy undefined): a branch a rule ends, copied with its decision, keeps the one hidden class.
  return {packet, steps: [], status: 'accept', decidedBy: undefined, nat: [], assumptions: []}
}

/** Where a hook sits: the IP stack, the bridge, or a device (netdev ingress/egress, before and after both). */
/** 'arp': an ARP packet on the arp family's input and output hooks (arptables-nft, nft arp tables). */
export type HookLayer = 'ip' | 'bridge' | 'netdev' | 'arp'

/** Families whose base chains see a packet on an IP, bridge or ARP hook (a device's own hooks: deviceChains). */
export const familiesFor = (layer: Exclude<HookLayer, 'netdev'>, family: 4 | 6): NfFamily[] =>
  layer === 'bridge' ? ['bridge'] : layer === 'arp' ? ['arp'] : family === 4 ? ['ip', 'inet'] : ['ip6', 'inet']

/**
 * The base chains of a device's ingress or egress hook, in the order the kernel runs them: netdev chains
 * (and inet ingress chains) bound to that device. Ingress runs as the packet enters the device, before the
 * bridge and IP hooks; egress as it leaves, after them.
 */
export function deviceChains(rs: CompiledRuleset, hook: 'ingress' | 'egress', device: string | undefined): NfChain[] {
  if (device === undefined) return []
  return rs.baseChains(hook, ['netdev', 'inet']).filter((c) => c.base!.device !== undefined && c.base!.device.split(',').includes(device))
}

/**
 * Runs every base chain on `hook` for each live branch. Dropped and unknown
 * branches pass through untouched: their fate is already sealed.
 */
export function runHook(rs: CompiledRuleset, hook: NfHook, layer: HookLayer, branches: Branch[], ctx: EvalContext, used?: HookWalk[]): Branch[] {
  const out: Branch[] = []
  for (let i = 0; i < branches.length; i++) {
    const b = branches[i]
    if (b.status !== 'accept') {
      out.push(b)
      continue
    }
    // Packets no rule can tell apart (addresses of one class, same everything else) meet the same fate:
    // a thousand guests of one network are walked once, then rebased onto each guest's own addresses.
    const byLayer = rs.hookCache.get(hook) ?? rs.hookCache.set(hook, new Map()).get(hook)!
    const byClass = byLayer.get(layer) ?? byLayer.set(layer, new Map()).get(layer)!
    // Packets are never changed in place (statements copy first): the same object has the same key.
    const last = rs.lastKeyed
    if (last.packet !== b.packet) {
      last.packet = b.packet
      last.key = packetKey(rs, b.packet)
    }
    const key = last.key
    let cached = byClass.get(key) as HookWalk | undefined
    if (!cached) {
      cached = {input: b.packet, results: walkHook(rs, hook, layer, b.packet, ctx)}
      byClass.set(key, cached)
    }
    used?.push(cached)
    for (let j = 0; j < cached.results.length; j++) out.push(rebase(cached.results[j], cached.input, b))
  }
  return merge(out)
}

/** One walk of a hook, shared by every packet of its class: the packet walked and how its branches ended. */
export interface HookWalk {
  input: NfPacket
  results: Branch[]
}

/** Every field of NfPacket a rule can read, addresses by class (keep in step with NfPacket). */
function packetKey(rs: CompiledRuleset, p: NfPacket): string {
  const ct = p.ct
  // One flat string (a template of two dozen parts would make a tree of them to flatten for hashing).
  return [
    // A bridged frame's ports (each guest's tap) tell packets apart only where a rule reads them (-m physdev).
    p.family, p.iifname, p.oifname, p.ibrname, p.obrname, rs.readsPhysdev ? p.physIn : '', rs.readsPhysdev ? p.physOut : '', p.bridged,
    rs.addressClass(p.src), rs.addressClass(p.dst), p.l4proto, p.sport, p.dport, p.icmpType, p.icmpCode, p.tcpFlags,
    ct.state, ct.status.join(','), ct.direction, ct.mark, p.mark, p.natMember, p.pkttype, ct.translate ? translateKey(rs, ct.translate) : '', ct.zone, ct.conn?.zone,
    rs.readsEther ? p.etherSrc : '', rs.readsEther ? p.etherDst : '',
  ].join('|')
}

/** A pending conntrack translation by address class (a thousand guests' replies, each to its own address, are one class). */
const translateKey = (rs: CompiledRuleset, t: NonNullable<NfPacket['ct']['translate']>) =>
  `${t.dst !== undefined ? rs.addressClass(t.dst) : '-'}:${t.dport ?? ''}>${t.src !== undefined ? rs.addressClass(t.src) : '-'}:${t.sport ?? ''}`

/** A cached hook result for another packet of the same class: its addresses where the hook left them unchanged. */
function rebase(r: Branch, walked: NfPacket, b: Branch): Branch {
  const same = walked === b.packet
  // A hook that changed nothing (the walk still holds the packet it was given, statements copy before they
  // write) leaves this packet as it came: it differs from the walked one only in what rebasing would swap in.
  const packet = same || r.packet === walked ? (same ? r.packet : b.packet) : rebasedPacket(r.packet, walked, b.packet)
  // Lists are copied before they are written (ownPacket, clone): an empty addition can share the branch's own.
  return {
    ...r,
    packet,
    // One hook NATs a new connection at most once per side, from the address the walk was given: this packet's own.
    nat: r.nat.length === 0 ? b.nat : [...b.nat, ...r.nat.map((n) => (same ? n : {...n, from: b.packet[n.field]}))],
    assumptions: r.assumptions.length === 0 ? b.assumptions : [...b.assumptions, ...r.assumptions],
  }
}

/** The walked packet's result for another of its class: its own addresses, and its own translation where conntrack applied one. */
function rebasedPacket(result: NfPacket, walked: NfPacket, own: NfPacket): NfPacket {
  const wt = walked.ct.translate
  const ot = own.ct.translate
  const rt = result.ct.translate
  // A reply that found no connection in its zone (zoneLookup) lost its pending translation unapplied: a new connection's first packet.
  const lost = walked.ct.direction === 'reply' && result.ct.direction === 'original'
  // A side whose pending translation the hook applied holds the walked packet's translated address: this packet's is its own.
  const applied = (side: 'src' | 'dst') => !lost && wt?.[side] !== undefined && rt?.[side] === undefined
  const address = (side: 'src' | 'dst') => (applied(side) ? ot![side]! : result[side] === walked[side] ? own[side] : result[side])
  const ct = lost ? {...result.ct, orig: {src: own.src, dst: own.dst, sport: own.sport, dport: own.dport}} : rt === undefined || !ot ? result.ct : {...result.ct, translate: {...(rt.dst !== undefined ? {dst: ot.dst, dport: ot.dport} : {}), ...(rt.src !== undefined ? {src: ot.src, sport: ot.sport} : {})}}
  return {...result, src: address('src'), dst: address('dst'), ct, etherSrc: own.etherSrc, etherDst: own.etherDst, physIn: own.physIn, physOut: own.physOut}
}

/** Every base chain on the hook, by priority, for one packet. */
function walkHook(rs: CompiledRuleset, hook: NfHook, layer: HookLayer, packet: NfPacket, ctx: EvalContext): Branch[] {
  let live: Branch[] = [startBranch(packet)]
  // The netdev layer has only the device hooks (ingress, egress): no chain of another hook is bound to a device.
  const chains = layer === 'netdev' ? deviceChains(rs, hook as 'ingress' | 'egress', hook === 'egress' ? packet.oifname : packet.iifname) : rs.baseChains(hook, familiesFor(layer, packet.family))
  // A bound connection's translation for this hook, applied where the NAT core sits (after chains of its
  // priority: the core registers with the first nat table, before the chains a ruleset adds later).
  const manip = layer !== 'ip' ? undefined : hook === 'prerouting' || hook === 'output' ? 'dst' : hook === 'postrouting' || hook === 'input' ? 'src' : undefined
  let core = manip && packet.ct.translate?.[manip] !== undefined ? NAT_CORE_PRIORITY[hook] : undefined
  // Conntrack's lookup (prerouting, output: -200) of a packet whose connection was made in a zone (see NfPacket.ct.conn).
  let lookup = layer === 'ip' && (hook === 'prerouting' || hook === 'output') && packet.ct.conn !== undefined
  for (const chain of chains) {
    if (lookup && chain.base!.priority >= CONNTRACK_PRIORITY) {
      live = live.map((b) => zoneLookup(b, hook, chain))
      lookup = false
    }
    if (core !== undefined && chain.base!.priority > core) {
      live = live.map((b) => translated(b, manip!))
      core = undefined
    }
    const next: Branch[] = []
    for (const br of live) {
      // A connection binds once per manip type: after a nat chain of this hook translated the packet, the
      // NAT core runs no further nat chain of the hook (nf_nat_inet_fn). The walk starts with no NAT, so any is this hook's.
      if (br.status !== 'accept' || (chain.base!.type === 'nat' && br.nat.length > 0)) {
        next.push(br)
        continue
      }
      next.push(...runBaseChain(rs, chain, hook, br, ctx))
    }
    live = merge(next)
    if (live.length > MAX_BRANCHES) live = overflow(live, hook, chain)
  }
  if (lookup && chains.length > 0) live = live.map((b) => zoneLookup(b, hook, chains[chains.length - 1]))
  return core !== undefined ? live.map((b) => translated(b, manip!)) : live
}

/**
 * Conntrack looks a packet of an existing connection up in the zone it carries: in its connection's zone it finds it;
 * in another it finds nothing and the packet starts a connection of its own there (NEW, original direction, no NAT
 * binding to undo). A zone that cannot be told leaves the lookup undecided.
 */
function zoneLookup(b: Branch, hook: NfHook, next: NfChain): Branch {
  const conn = b.packet.ct.conn
  if (b.status !== 'accept' || !conn) return b
  const zone = b.packet.ct.zone ?? 0
  if (zone === conn.zone && zone !== 'unknown') return b
  const by = conn.by?.rule ? ` (${conn.by.rule.text})` : ''
  // The rule that set the zone decides: the packet's own, else the one its connection was made by.
  const rule = b.steps.filter((s) => s.hook === hook && s.action?.startsWith('ct zone set')).at(-1) ?? conn.by
  const at: TraceStep = rule?.rule ? {hook, chain: rule.chain, rule: rule.rule, event: 'skip', action: 'conntrack'} : {hook, chain: refOf(next, hook), event: 'skip', action: 'conntrack'}
  if (zone === 'unknown' || conn.zone === 'unknown') {
    const step = {...at, note: `conntrack looks the packet up in zone ${zone}, its connection was made in zone ${conn.zone}${by}: whether it finds it cannot be told`}
    return {...b, status: 'unknown', decidedBy: step, steps: [...b.steps, step]}
  }
  const p = b.packet
  const state = firstPacketState(p)
  const step = {...at, note: `conntrack looks the packet up in zone ${zone}, its connection was made in zone ${conn.zone}${by}: no entry there, so ${state === 'new' ? 'it starts a new connection (no NAT undone, ct state new)' : 'it is invalid (no NAT undone, ct state invalid): no connection starts with it'}`}
  return {...b, packet: {...p, ct: {state, status: [], direction: 'original', mark: 0, zone, orig: {src: p.src, dst: p.dst, sport: p.sport, dport: p.dport}}}, steps: [...b.steps, step]}
}

/**
 * What conntrack makes of a packet that finds no connection: a new one, unless the protocol refuses to start with it
 * (tcp_new: a SYN-ACK, FIN or RST; icmp_new: anything but a request): invalid, tracked by nothing, seen by no NAT chain.
 * A bare ACK is picked up midstream (nf_conntrack_tcp_loose, on by default). Observed: a zoned connection's SYN-ACK,
 * looked up in zone 0, passed OUTPUT's `--ctstate NEW -j DROP` (kernel differential).
 */
function firstPacketState(p: NfPacket): 'new' | 'invalid' {
  if (p.l4proto === 'tcp') return p.tcpFlags !== undefined && (p.tcpFlags & 0x07) !== 0 && (p.tcpFlags & 0x17) !== 0x02 ? 'invalid' : 'new'
  // Echo, timestamp, information and address-mask requests (ICMPv6: echo request, node information query).
  if (p.l4proto === 'icmp') return [8, 13, 15, 17].includes(p.icmpType ?? -1) ? 'new' : 'invalid'
  if (p.l4proto === 'icmpv6') return [128, 139].includes(p.icmpType ?? -1) ? 'new' : 'invalid'
  return 'new'
}

/** A live branch's packet after conntrack applied its pending translation of one side (see NfPacket.ct.translate). */
function translated(b: Branch, side: 'src' | 'dst'): Branch {
  const t = b.packet.ct.translate
  if (b.status !== 'accept' || !t) return b
  const packet: NfPacket = {...b.packet, ct: {...b.packet.ct}}
  // The hook's side is pending (walkHook applies only those): its address is there, its port may not be.
  if (side === 'dst') {
    packet.dst = t.dst!
    if (t.dport !== undefined) packet.dport = t.dport
    packet.ct.translate = t.src !== undefined || t.sport !== undefined ? {src: t.src, sport: t.sport} : undefined
  } else {
    packet.src = t.src!
    if (t.sport !== undefined) packet.sport = t.sport
    packet.ct.translate = t.dst !== undefined || t.dport !== undefined ? {dst: t.dst, dport: t.dport} : undefined
  }
  return {...b, packet}
}

function overflow(live: Branch[], hook: NfHook, chain: NfChain): Branch[] {
  const step: TraceStep = {hook, chain: refOf(chain, hook), event: 'skip', note: `more than ${MAX_BRANCHES} undecidable combinations: not explored`}
  return [{...live[0], status: 'unknown', decidedBy: step, steps: [...live[0].steps, step]}]
}

const refOf = (c: NfChain, hook: NfHook): ChainRef => ({backend: c.backend, family: c.family, table: c.table, chain: c.name, hook, priority: c.base?.priority})

/** Branches that ended alike (same status, same packet) are one: the forks that split them did not matter. */
function merge(branches: Branch[]): Branch[] {
  if (branches.length < 2) return branches
  const byKey = new Map<string, Branch>()
  for (const b of branches) {
    const key = `${b.status}|${JSON.stringify(b.packet)}|${b.status === 'accept' ? '' : decisionKey(b.decidedBy)}`
    const seen = byKey.get(key)
    if (!seen) {
      byKey.set(key, b)
      continue
    }
    // Keep only the assumptions both made: the others did not change the outcome.
    seen.assumptions = seen.assumptions.filter((a) => b.assumptions.some((x) => sameAssumption(x, a)))
  }
  return [...byKey.values()]
}

/** The same undecidable match taken the same way (forks of different branches make distinct step objects). */
export const assumptionKey = (a: Assumption) => `${decisionKey(a.step)} ${a.step.note} ${a.assumed}`
const sameAssumption = (a: Assumption, b: Assumption) => a.assumed === b.assumed && (a.step === b.step || assumptionKey(a) === assumptionKey(b))

const decisionKey = (s: TraceStep | undefined) => (s ? `${s.chain.backend} ${s.chain.family} ${s.chain.table} ${s.chain.chain} ${s.rule?.ref.index ?? 'policy'}` : '')

/**
 * One entry of the call stack as the kernel keeps it: jump pushes the caller's place, goto replaces
 * the current chain (no push), return or running off a user chain pops one entry.
 */
interface Frame {
  chain: NfChain
  rule: number
}

interface Machine {
  /** The base chain walked: its policy decides when the stack runs empty, whatever chain a goto reached. */
  base: NfChain
  branch: Branch
  /** The branch's packet (and nat list) are this machine's own, safe to change. */
  owned?: boolean
  frames: Frame[]
  /** Index of the next expression inside the current rule (resuming after a fork). */
  expr: number
}

/** One base chain for one branch; forks on undecidable matches. */
function runBaseChain(rs: CompiledRuleset, base: NfChain, hook: NfHook, input: Branch, ctx: EvalContext): Branch[] {
  const natChain = base.base!.type === 'nat'
  const p = input.packet
  // NAT chains see only the first packet of a connection; untracked packets (ct state untracked) never.
  if (natChain && p.ct.state !== 'new') return [input]
  // Conntrack looks the packet up at prerouting and output, priority -200; later hooks all see its entry, and
  // ingress comes before any of it ('ct state' reads this as the chain's place relative to conntrack).
  const conntrackPriority = hook === 'ingress' ? -Infinity : hook === 'prerouting' || hook === 'output' ? base.base!.priority : 0
  const enter: TraceStep = {hook, chain: refOf(base, hook), event: 'enter'}
  const done: Branch[] = []
  // The packet is shared with the input until a statement changes it (copy on write: see ownPacket).
  const branch: Branch = {...input, steps: [...input.steps, enter]}
  const queue: Machine[] = [{base, branch, frames: [{chain: base, rule: 0}], expr: 0}]
  while (queue.length > 0) {
    const m = queue.pop()!
    const result = step(rs, m, hook, natChain, ctx, conntrackPriority)
    if (result.kind === 'done') {
      done.push(result.branch)
      continue
    }
    queue.push(...result.machines)
    if (queue.length + done.length > MAX_BRANCHES * 4) {
      const last = queue[queue.length - 1].branch
      const s: TraceStep = {hook, chain: refOf(base, hook), event: 'skip', note: 'too many undecidable combinations: not explored'}
      return [...done, {...last, status: 'unknown', decidedBy: s, steps: [...last.steps, s]}]
    }
  }
  for (const b of done) for (let i = input.steps.length; i < b.steps.length; i++) {
    b.steps[i].chain.base ??= base.name
    b.steps[i].chain.priority ??= base.base!.priority
  }
  return done
}

type StepResult = {kind: 'done'; branch: Branch} | {kind: 'fork'; machines: Machine[]}

const clone = (m: Machine): Machine => ({
  base: m.base,
  branch: {...m.branch, steps: [...m.branch.steps], assumptions: [...m.branch.assumptions]},
  frames: m.frames.map((f) => ({...f})),
  expr: m.expr,
  owned: false,
})

/** Makes the machine's packet its own before a statement changes it. */
function ownPacket(m: Machine): NfPacket {
  if (!m.owned) {
    m.branch.packet = {...m.branch.packet, ct: {...m.branch.packet.ct, status: [...m.branch.packet.ct.status]}}
    m.branch.nat = [...m.branch.nat]
    m.owned = true
  }
  return m.branch.packet
}

/** Runs a machine until its base chain ends (verdict or policy) or it meets an undecidable match. */
function step(rs: CompiledRuleset, m: Machine, hook: NfHook, natChain: boolean, ctx: EvalContext, priority: number): StepResult {
  const b = m.branch
  for (let guard = 0; guard < 1_000_000; guard++) {
    const frame = m.frames[m.frames.length - 1]
    const chain = frame.chain
    if (frame.rule >= chain.rules.length) {
      // Off the end: policy for a base chain, return for a user chain.
      // The stack is empty: the base chain's policy, also when a goto left the base chain (nft_do_chain).
      if (m.frames.length === 1) {
        const policy = m.base.base!.policy
        const s: TraceStep = {hook, chain: refOf(m.base, hook), event: 'policy', action: policy, ...(m.base.counters ? {counters: m.base.counters} : {})}
        b.steps.push(s)
        if (policy === 'drop') return {kind: 'done', branch: {...b, status: 'drop', decidedBy: s}}
        return {kind: 'done', branch: b}
      }
      popFrame(m)
      continue
    }
    const rule = chain.rules[frame.rule]
    // A run of rules that all open with the same match (a zone's ten thousand `tcp dport N accept`): where that match
    // is false for the packet, each of them is passed over as it would be one by one (no step, no effect).
    if (m.expr === 0) {
      const end = runEndsOf(chain)[frame.rule]
      if (end > frame.rule + 1 && evalMatch(rs, rule.exprs[0] as NfMatch, b.packet, ctx, priority, chain.family, hook) === false) {
        frame.rule = end
        continue
      }
    }
    const outcome = runRule(rs, rule, m, hook, chain, natChain, ctx, priority)
    if (outcome.kind === 'fork') return outcome
    if (outcome.kind === 'next') {
      frame.rule++
      m.expr = 0
      continue
    }
    if (outcome.kind === 'jump') {
      frame.rule++
      m.expr = 0
      const target = rs.chains.get(tableOf(chain))!.get(outcome.target)
      if (!target || m.frames.length >= MAX_DEPTH) {
        const s = stepFor(hook, chain, rule, 'rule', `${outcome.goto ? 'goto' : 'jump'} ${outcome.target}`, target ? 'chains nest too deep' : `no chain ${outcome.target} in this table`)
        b.steps.push(s)
        return {kind: 'done', branch: {...b, status: 'unknown', decidedBy: s}}
      }
      if (outcome.goto) m.frames[m.frames.length - 1] = {chain: target, rule: 0}
      else m.frames.push({chain: target, rule: 0})
      continue
    }
    if (outcome.kind === 'return') {
      if (m.frames.length === 1) {
        // return with an empty stack (in the base chain, or a chain it went to by goto): the policy decides.
        m.frames[0].rule = chain.rules.length
        continue
      }
      popFrame(m)
      continue
    }
    // A verdict ends the base chain.
    switch (outcome.kind) {
      case 'accept':
        return {kind: 'done', branch: b}
      case 'drop':
        return {kind: 'done', branch: {...b, status: 'drop', decidedBy: b.steps[b.steps.length - 1]}}
      case 'unknown':
        return {kind: 'done', branch: {...b, status: 'unknown', decidedBy: b.steps[b.steps.length - 1]}}
    }
  }
  throw new Error('netfilter evaluation did not terminate')
}

/**
 * For each rule of a chain, where the run of rules from it that open with the same match ends (the index after the
 * last; the next index when the rule is alone or opens with no comparison). Made once per chain.
 */
const runEnds = new WeakMap<NfChain, Int32Array>()
function runEndsOf(chain: NfChain): Int32Array {
  let ends = runEnds.get(chain)
  if (ends) return ends
  const rules = chain.rules
  ends = new Int32Array(rules.length)
  for (let i = rules.length - 1; i >= 0; i--) {
    const first = rules[i].exprs[0]
    const next = i + 1 < rules.length ? rules[i + 1].exprs[0] : undefined
    ends[i] = first !== undefined && next !== undefined && sameComparison(first, next) ? ends[i + 1] : i + 1
  }
  runEnds.set(chain, ends)
  return ends
}

/** Two expressions evalMatch answers alike for every packet: comparisons of one field with one plain value, alike in every part it reads. */
function sameComparison(a: NfRule['exprs'][number], b: NfRule['exprs'][number]): boolean {
  if (a.kind !== 'cmp' || b.kind !== 'cmp') return false
  if (a.field !== b.field || a.op !== b.op || a.mask !== b.mask || a.iface !== b.iface || a.fibMark !== b.fibMark || a.concat !== undefined || b.concat !== undefined) return false
  const x = a.value
  const y = b.value
  if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false
  if ((x.t === 'str' || x.t === 'num' || x.t === 'addr' || x.t === 'prefix') && x.t === y.t) return x.v === (y as {v: unknown}).v
  return false
}

function popFrame(m: Machine): void {
  // A goto replaced its chain's frame: popping one returns to the caller of the chain that did the goto.
  m.frames.pop()
  m.expr = 0
}

type RuleOutcome =
  | {kind: 'next'}
  | {kind: 'jump'; target: string; goto: boolean}
  | {kind: 'return'}
  | {kind: 'accept'}
  | {kind: 'drop'}
  | {kind: 'unknown'}
  | {kind: 'fork'; machines: Machine[]}

function stepFor(hook: NfHook, chain: NfChain, rule: NfRule, event: TraceStep['event'], action?: string, note?: string): TraceStep {
  return {hook, chain: refOf(chain, hook), rule: {ref: rule.ref, text: rule.text}, event, ...(action ? {action} : {}), ...(note ? {note} : {}), ...(rule.counters ? {counters: rule.counters} : {})}
}

function runRule(rs: CompiledRuleset, rule: NfRule, m: Machine, hook: NfHook, chain: NfChain, natChain: boolean, ctx: EvalContext, priority: number): RuleOutcome {
  const b = m.branch
  for (let i = m.expr; i < rule.exprs.length; i++) {
    const e = rule.exprs[i]
    if (e.kind === 'cmp' || e.kind === 'nondeterministic' || e.kind === 'opaque') {
      const r = evalMatch(rs, e, b.packet, ctx, priority, chain.family, hook)
      if (r === false) return {kind: 'next'}
      if (r === 'unknown') {
        // A later match of the same run that is known false (another interface, another protocol)
        // decides: the rule does not match whatever the unknown field holds.
        if (laterMatchFails(rs, rule, i + 1, b.packet, ctx, priority, chain.family, hook)) return {kind: 'next'}
        const why = e.kind === 'nondeterministic' ? `may match (${e.what})` : e.kind === 'opaque' ? `not modelled: ${e.text}` : `cannot tell: ${describeUnknown(rs, e, b.packet)}`
        const s = stepFor(hook, chain, rule, 'maybe', undefined, why)
        const yes = clone(m)
        yes.branch.steps.push(s)
        yes.branch.assumptions.push({step: s, assumed: true})
        yes.expr = i + 1
        const no = clone(m)
        no.branch.steps.push(s)
        no.branch.assumptions.push({step: s, assumed: false})
        no.frames[no.frames.length - 1].rule++
        no.expr = 0
        return {kind: 'fork', machines: [no, yes]}
      }
      continue
    }
    const outcome = runStatement(rs, e, rule, m, hook, chain, natChain, ctx, priority)
    if (outcome) return outcome
  }
  return {kind: 'next'}
}

/** One of the matches from FROM up to the rule's first statement is known not to match the packet. */
function laterMatchFails(rs: CompiledRuleset, rule: NfRule, from: number, p: NfPacket, ctx: EvalContext, priority: number, family: NfFamily, hook: NfHook): boolean {
  for (let j = from; j < rule.exprs.length; j++) {
    const e = rule.exprs[j]
    if (e.kind !== 'cmp' && e.kind !== 'nondeterministic' && e.kind !== 'opaque') return false
    if (evalMatch(rs, e, p, ctx, priority, family, hook) === false) return true
  }
  return false
}

function describeUnknown(rs: CompiledRuleset, e: Extract<NfMatch, {kind: 'cmp'}>, p: NfPacket): string {
  const set = e.value.t === 'setref' ? rs.set(e.value.name) : undefined
  if (set?.filledBy !== undefined) return `set ${set.name} is filled as packets pass ("${set.filledBy}"): whether it holds this packet's key when it comes is not in its listing`
  if (e.field === 'mark' && p.mark === 'unknown') return 'the packet mark is set outside the path'
  if (e.field === 'ct mark' && p.ct.mark === 'unknown') return 'the connection mark is set outside the path'
  if (e.field === 'dscp') return "the packet's DSCP is set by its sender (the guest's software, a server's answer), which the host does not show"
  return `${e.field} is not known for this packet`
}

/** Runs one statement; undefined = go on with the rule's next expression. */
function runStatement(rs: CompiledRuleset, s: NfStatement, rule: NfRule, m: Machine, hook: NfHook, chain: NfChain, natChain: boolean, ctx: EvalContext, priority: number): RuleOutcome | undefined {
  const b = m.branch
  // Only these statements change the packet; the rest read it.
  const p = s.kind === 'nat' || s.kind === 'mark' || s.kind === 'mark-copy' || s.kind === 'mark-unknown' || s.kind === 'mark-map' || s.kind === 'notrack' || s.kind === 'ct-zone' ? ownPacket(m) : b.packet
  switch (s.kind) {
    case 'verdict': {
      const st = stepFor(hook, chain, rule, 'rule', s.verdict)
      b.steps.push(st)
      if (s.verdict === 'accept') return {kind: 'accept'}
      if (s.verdict === 'drop' || s.verdict === 'reject') return {kind: 'drop'}
      if (s.verdict === 'return') return {kind: 'return'}
      if (s.verdict === 'continue') return undefined
      st.note = 'a userspace program decides (queue)'
      return {kind: 'unknown'}
    }
    case 'jump':
    case 'goto':
      b.steps.push(stepFor(hook, chain, rule, 'rule', `${s.kind} ${s.target}`))
      return {kind: 'jump', target: s.target, goto: s.kind === 'goto'}
    case 'nat': {
      if (!natChain) {
        b.steps.push(stepFor(hook, chain, rule, 'rule', s.type, 'NAT outside a nat chain has no effect'))
        return undefined
      }
      // `snat ip6 to` in an inet table does nothing to an IPv4 packet (nor `ip` to IPv6): the rule goes on, no verdict.
      if (s.family !== undefined && s.family !== p.family) {
        b.steps.push(stepFor(hook, chain, rule, 'rule', s.type, `NAT for IPv${s.family} only: no effect on an IPv${p.family} packet`))
        return undefined
      }
      // A map's address depends on the packet: no entry breaks the rule (the lookup fails), an undecidable key is unknown.
      const target = s.map ? natMapTarget(rs, s.map, p, ctx, priority, chain.family) : undefined
      if (target === 'miss') return {kind: 'next'}
      if (target === 'unknown') {
        b.steps.push(stepFor(hook, chain, rule, 'maybe', undefined, 'cannot tell which entry of the NAT map applies'))
        return {kind: 'unknown'}
      }
      const st = stepFor(hook, chain, rule, 'rule', s.type)
      b.steps.push(st)
      applyNat(target ? {...s, addr: target.addr, port: target.port ?? s.port} : s, b, st, ctx)
      // A NAT statement ends the nat chain: the binding is made.
      return {kind: 'accept'}
    }
    case 'mark': {
      if (s.what === 'ct mark' && p.ct.state === 'invalid') return noEntry(chain, s.op !== 'set' || s.mask !== undefined, b, hook, rule)
      const current = s.what === 'mark' ? p.mark : p.ct.mark
      const next = current === 'unknown' ? 'unknown' : applyMark(current, s)
      if (s.what === 'mark') p.mark = next
      else p.ct.mark = next
      b.steps.push(stepFor(hook, chain, rule, 'rule', `${s.what} ${s.op} 0x${s.value.toString(16)}`))
      return undefined
    }
    case 'ct-zone':
      // A zone is a template conntrack reads at its lookup (prerouting and output, -200): set later, it changes nothing.
      if ((hook !== 'prerouting' && hook !== 'output') || priority >= CONNTRACK_PRIORITY) {
        b.steps.push(stepFor(hook, chain, rule, 'rule', undefined, 'after conntrack looked the packet up: no effect'))
        return undefined
      }
      // Replies are matched on the reply tuple: a zone of the original direction alone leaves it in zone 0.
      p.ct.zone = s.dir === 'original' ? 0 : s.zone
      b.steps.push(stepFor(hook, chain, rule, 'rule', `ct zone set ${s.zone}${s.dir ? ` (${s.dir} direction)` : ''}`))
      return undefined
    case 'mark-map': {
      const entry = mapEntry(rs, s, p, ctx, priority, chain.family, (d) => ({key: d, value: scalarNumber(d) ?? Number.NaN}))
      if (entry === 'miss') return {kind: 'next'}
      const value = entry === 'unknown' || Number.isNaN(entry.value) ? 'unknown' : entry.value
      if (s.what === 'mark') p.mark = value
      else p.ct.mark = value
      b.steps.push(stepFor(hook, chain, rule, 'rule', `${s.what} set ${value === 'unknown' ? 'unknown' : `0x${value.toString(16)}`}`, value === 'unknown' ? 'cannot tell which entry of the map applies' : undefined))
      return undefined
    }
    case 'mark-unknown':
      if (s.what === 'mark') p.mark = 'unknown'
      else p.ct.mark = 'unknown'
      b.steps.push(stepFor(hook, chain, rule, 'rule', `${s.what} set`, `to a value kvmdoctor does not compute: a rule reading the ${s.what} after it cannot be told`))
      return undefined
    case 'mark-copy': {
      if (p.ct.state === 'invalid' && (s.from === 'ct mark' || s.to === 'ct mark')) return noEntry(chain, s.from === 'ct mark', b, hook, rule)
      const value = copiedMark(s.from === 'mark' ? p.mark : p.ct.mark, s.to === 'mark' ? p.mark : p.ct.mark, s.fromMask, s.toMask)
      if (s.to === 'mark') p.mark = value
      else p.ct.mark = value
      b.steps.push(stepFor(hook, chain, rule, 'rule', `${s.to} set ${s.from}${s.fromMask !== undefined || s.toMask !== undefined ? ` (bits 0x${(s.fromMask ?? 0xffffffff).toString(16)} into 0x${(s.toMask ?? 0xffffffff).toString(16)})` : ''}`))
      return undefined
    }
    case 'notrack':
      p.ct.state = 'untracked'
      b.steps.push(stepFor(hook, chain, rule, 'rule', 'notrack'))
      return undefined
    case 'effect':
      return undefined
    case 'vmap': {
      const entries = s.map && 'name' in s.map ? vmapEntries(rs, s.map.name) : (s.map as {key: NfValue; then: NfStatement}[])
      if (entries === undefined) {
        b.steps.push(stepFor(hook, chain, rule, 'maybe', undefined, 'verdict map not readable'))
        return {kind: 'unknown'}
      }
      let unsure = false
      for (const entry of entries) {
        const hit = compare(rs, fieldValues(s.field, s.concat, p, ctx, priority, chain.family), 'eq', entry.key, undefined, typeNames(s.field, s.concat))
        if (hit === 'unknown') unsure = true
        if (hit === true && !unsure) return runStatement(rs, entry.then, rule, m, hook, chain, natChain, ctx, priority)
      }
      if (unsure) {
        b.steps.push(stepFor(hook, chain, rule, 'maybe', undefined, `cannot tell which entry of the verdict map applies`))
        return {kind: 'unknown'}
      }
      return {kind: 'next'}
    }
    case 'opaque-statement': {
      b.steps.push(stepFor(hook, chain, rule, s.terminal === false ? 'rule' : 'maybe', s.text, s.terminal === false ? undefined : (s.note ?? 'a target the evaluator does not model')))
      return s.terminal === false ? undefined : {kind: 'unknown'}
    }
  }
}

function vmapEntries(rs: CompiledRuleset, name: string): {key: NfValue; then: NfStatement}[] | undefined {
  const set = rs.set(name)
  if (!set?.data || !settled(set)) return undefined
  return set.elems.map((key, i) => ({key, then: set.data![i] as NfStatement}))
}

/** The entry of a NAT map this packet's key selects: its address and port, no entry, or undecidable. */
function natMapTarget(rs: CompiledRuleset, map: NonNullable<Extract<NfStatement, {kind: 'nat'}>['map']>, p: NfPacket, ctx: EvalContext, priority: number, family: NfFamily): NatMapEntry | 'miss' | 'unknown' {
  const entry = mapEntry(rs, map, p, ctx, priority, family, (d): NatMapEntry => (d.t === 'concat' ? {key: d, addr: scalarString(d.parts[0]), port: scalarNumber(d.parts[1])} : {key: d, addr: scalarString(d)}))
  return typeof entry === 'string' ? entry : entry.addr === undefined ? 'unknown' : entry
}

/** The entry of a map keyed by the packet's fields that this packet selects: none (the rule breaks), or undecidable. */
function mapEntry<T extends {key: NfValue}>(rs: CompiledRuleset, map: {field: NfField; concat?: NfField[]; entries: T[] | {t: 'setref'; name: string}}, p: NfPacket, ctx: EvalContext, priority: number, family: NfFamily, fromData: (d: NfValue) => T): T | 'miss' | 'unknown' {
  let entries: T[]
  if ('t' in map.entries) {
    const set = rs.set(map.entries.name)
    if (!set?.data || !settled(set)) return 'unknown'
    entries = set.elems.map((key, i) => ({...fromData(set.data![i] as NfValue), key}))
  } else entries = map.entries
  const actual = fieldValues(map.field, map.concat, p, ctx, priority, family)
  for (const entry of entries) {
    const hit = compare(rs, actual, 'eq', entry.key, undefined, typeNames(map.field, map.concat))
    if (hit === 'unknown') return 'unknown'
    if (hit === true) return entry
  }
  return 'miss'
}

/** A mark copied into another: to = (to & ~toMask) ^ (from & fromMask); unknown where an unknown mark's bits remain. */
function copiedMark(from: number | 'unknown', to: number | 'unknown', fromMask = 0xffffffff, toMask = 0xffffffff): number | 'unknown' {
  const kept = toMask === 0xffffffff ? 0 : to
  const copied = fromMask === 0 ? 0 : from
  if (kept === 'unknown' || copied === 'unknown') return 'unknown'
  return ((kept & ~toMask) ^ (copied & fromMask)) >>> 0
}

function applyMark(current: number, s: Extract<NfStatement, {kind: 'mark'}>): number {
  switch (s.op) {
    case 'set':
      // --set-xmark value/mask: clear the mask's bits, then xor the value in.
      return s.mask !== undefined ? ((current & ~s.mask) ^ s.value) >>> 0 : s.value >>> 0
    case 'and':
      return (current & s.value) >>> 0
    case 'or':
      return (current | s.value) >>> 0
    case 'xor':
      return (current ^ s.value) >>> 0
  }
}

function applyNat(s: Extract<NfStatement, {kind: 'nat'}>, b: Branch, step: TraceStep, ctx: EvalContext): void {
  const p = b.packet
  const family = p.family
  if (s.type === 'masquerade' || s.type === 'snat') {
    const to = s.type === 'masquerade' ? (p.oifname ? ctx.addressOf(p.oifname, family) : undefined) : s.addr
    b.nat.push({type: s.type, field: 'src', from: p.src, to: to ?? 'unknown', ...(s.type === 'snat' && s.addrEnd !== undefined && s.addrEnd !== s.addr ? {toEnd: s.addrEnd} : {}), step})
    if (to) p.src = to
    p.ct.status.push('snat')
    if (p.sport !== undefined) p.sport = natPort(p.sport, s, 'src')
  } else {
    const range = s.type === 'dnat' && s.addr !== undefined && s.addrEnd !== undefined && s.addrEnd !== s.addr ? {toEnd: s.addrEnd} : {}
    const to = s.type === 'redirect' ? (p.iifname ? ctx.addressOf(p.iifname, family) : undefined) ?? (family === 4 ? '127.0.0.1' : '::1') : range.toEnd ? rangeMember(s.addr!, range.toEnd, p.natMember ?? 0) : s.addr
    b.nat.push({type: s.type, field: 'dst', from: p.dst, to: to ?? p.dst, ...range, step})
    if (to) p.dst = to
    if (p.dport !== undefined) p.dport = natPort(p.dport, s, 'dst')
    p.ct.status.push('dnat')
  }
}

/**
 * The port NAT gives a new connection (get_unique_tuple, nf_nat_l4proto_unique_tuple), its tuple taken to be unique: a
 * port already in the range is kept (observed: 80 to 80-90 stays 80, libvirt's masquerade to 1024-65535 keeps the
 * client's), unless the rule asks for a random one; else a destination gets the range's first (8080 to 9000-9001 is
 * 9000), a source a random one. Without a range a destination keeps its port, a source too unless random. A port
 * picked at random among several is undefined: a rule or a listener reading it is undecided.
 */
function natPort(port: number, s: Extract<NfStatement, {kind: 'nat'}>, manip: 'src' | 'dst'): number | undefined {
  if (s.port === undefined) return manip === 'dst' || !s.random ? port : undefined
  const end = s.portEnd ?? s.port
  if (end === s.port) return s.port
  if (!s.random && port >= s.port && port <= end) return port
  return manip === 'dst' && !s.random ? s.port : undefined
}

/** The address `member` places into an address range (the last when the range is shorter). */
export function rangeMember(lo: string, hi: string, member: number): string {
  const a = parseIp(lo)
  const z = parseIp(hi)
  if (!a || !z || a.family !== z.family || z.value < a.value) return lo
  const v = a.value + BigInt(member)
  return formatIp(a.family, v > z.value ? z.value : v)
}

/**
 * A connection mark read or written for a packet without an entry (invalid): nothing is written; nft's read of it
 * breaks the rule (nft_ct_get_eval), its write goes on (nft_ct_set_eval), iptables' CONNMARK goes on (xt_CONNMARK).
 */
function noEntry(chain: NfChain, reads: boolean, b: Branch, hook: NfHook, rule: NfRule): RuleOutcome | undefined {
  b.steps.push(stepFor(hook, chain, rule, 'rule', undefined, 'the packet has no connection (invalid): no connection mark to read or write'))
  return reads && chain.backend === 'nft' ? {kind: 'next'} : undefined
}

/** Evaluates one match on the packet: true, false, or unknown. */
export function evalMatch(rs: CompiledRuleset, e: NfMatch, p: NfPacket, ctx: EvalContext, priority: number, family: NfFamily, hook?: NfHook): Tri {
  if (e.kind !== 'cmp') return 'unknown'
  if (e.field === 'rpfilter') {
    const ok = rpfilter(e, p, ctx, family, hook)
    return ok === 'unknown' || e.op === 'eq' ? ok : !ok
  }
  if (e.field === 'fib saddr oif' || e.field === 'fib daddr oif') return compare(rs, fibRouteDevice(e, p, ctx, family, hook), e.op, e.value, undefined, ICMP_TYPES)
  if (e.addrtypeMask && p.family === 6 && e.value.t === 'flags') {
    const ok = addrtype6(e.value.v, fieldValues(e.field, undefined, p, ctx, priority, family, e.iface), e.field === 'fib saddr type' ? p.src : p.dst)
    return ok === 'unknown' || e.op === 'eq' ? ok : !ok
  }
  const actual = fieldValues(e.field, e.concat, p, ctx, priority, family, e.iface)
  // `! --physdev-in X` where no port is known: xt_physdev answers the negation's way (a match).
  if (actual === null && e.op === 'ne' && (e.field === 'physdev-in' || e.field === 'physdev-out')) return true
  return compare(rs, actual, e.op, e.value, e.mask, typeNames(e.field, e.concat))
}

/**
 * ip6tables -m addrtype (match_type6): every type asked must hold. MULTICAST, UNICAST and UNSPEC test the address's class
 * (ipv6_addr_type: a local address is unicast too, unlike IPv4's one type per address); LOCAL, ANYCAST, BLACKHOLE and
 * UNREACHABLE ask a route lookup, of which the host's view tells local only.
 */
function addrtype6(wanted: string[], types: FieldValue, addr: string): Tri {
  const ip = parseIp(addr)
  if (!ip || !Array.isArray(types)) return 'unknown'
  const multicast = ip.value >> 120n === 0xffn
  // Neither :: nor an IPv4-mapped address (::ffff:0:0/96) is of the unicast class.
  const unicast = !multicast && ip.value !== 0n && ip.value >> 32n !== 0xffffn
  const w = new Set(wanted.map((x) => x.toLowerCase()))
  if ((w.has('multicast') && !multicast) || (w.has('unicast') && !unicast) || (w.has('unspec') && ip.value !== 0n)) return false
  const lookups = [...w].filter((x) => ['local', 'anycast', 'blackhole', 'unreachable'].includes(x))
  if (lookups.length === 0) return true
  if (types.includes('local') && w.has('local')) return true
  return lookups.some((x) => x !== 'local') ? 'unknown' : false
}

/** The type names a field's rule values may use: ICMPv6 numbers its types apart (echo-request is 128, not 8). */
type TypeNames = Record<string, number>
const typeNames = (field: NfField, concat: NfField[] | undefined): TypeNames => (field === 'icmpv6 type' || concat?.includes('icmpv6 type') ? ICMPV6_TYPES : ICMP_TYPES)

/**
 * The packet's value(s) for a field: a scalar, a list (flags, address types),
 * null when the packet has no such field (icmp has no ports: no match), or
 * 'unknown'.
 */
type FieldValue = string | number | string[] | null | 'unknown' | {concat: FieldValue[]}

function fieldValues(field: NfField, concat: NfField[] | undefined, p: NfPacket, ctx: EvalContext, priority: number, family: NfFamily, iface?: 'iif' | 'oif'): FieldValue {
  if (concat && concat.length > 0) return {concat: concat.map((f) => fieldValue(f, p, ctx, priority, family))}
  // fib type limited to one interface (--limit-iface-in, `fib daddr . iif type`): local only on that device.
  if (iface) {
    const device = iface === 'iif' ? p.iifname : p.oifname
    if (!device) return 'unknown'
    return ctx.addressType(field === 'fib saddr type' ? p.src : p.dst, p.family, device)
  }
  return fieldValue(field, p, ctx, priority, family)
}

/**
 * A device as nft's meta iifkind/iifgroup read it: the kind of its rtnl_link_ops (a tap's is "tun"; a physical NIC and
 * lo have none: null, the rule breaks), and its group.
 */
export function nftDevice(link: {kind: string; group?: number} | undefined): ReturnType<NonNullable<EvalContext['device']>> {
  if (!link) return undefined
  const kind = link.kind === 'tap' || link.kind === 'tun' ? 'tun' : link.kind === 'ether' || link.kind === 'loopback' ? null : link.kind
  return {kind, ...(link.group !== undefined ? {group: link.group} : {})}
}

/** The source address a reverse lookup carries (get_saddr): none for a multicast, broadcast or zero address. */
function lookupSource(addr: string, family: 4 | 6): string | undefined {
  if (family === 6) return addr
  const ip = parseIp(addr)
  return !ip || ip.value >> 28n === 0xen || addr === '255.255.255.255' || ip.value >> 24n === 0n ? undefined : addr
}

const isLinkLocal6 = (addr: string) => /^fe[89ab]/i.test(addr)
/** A DHCP-style packet from 0.0.0.0 to the limited broadcast or 224.0.0.0/24: both lookups take its device as the answer. */
const zeroSourceToLocalGroup = (p: NfPacket) => p.family === 4 && p.src === '0.0.0.0' && (p.dst === '255.255.255.255' || p.dst.startsWith('224.0.0.'))

/**
 * nft `fib saddr|daddr [. mark] [. iif|oif] oif`: the device of the route to the address, '' when there is none
 * (nft_fib4_eval, nft_fib6_eval). The reverse lookup runs as if sent by the host (input device lo; in forward, with
 * iif, the output device), with the mark only when asked. No route, a reject route or a local one: none. With iif/oif,
 * the answer is that device if the route uses it (IPv4: any next hop; IPv6: the one its hash picks), else none.
 */
function fibRouteDevice(e: Extract<NfMatch, {kind: 'cmp'}>, p: NfPacket, ctx: EvalContext, family: NfFamily, hook: NfHook | undefined): FieldValue {
  // The bridge and netdev families' lookups (and a map keyed by one) are not modelled.
  if (!ctx.routeLookup || !hook || (family !== 'ip' && family !== 'ip6' && family !== 'inet')) return 'unknown'
  const device = e.iface === 'iif' ? p.iifname : e.iface === 'oif' ? p.oifname : undefined
  if (e.iface && !device) return 'unknown'
  const saddr = e.field === 'fib saddr oif'
  if (hook === 'prerouting' && p.iifname === 'lo') return 'lo'
  if (zeroSourceToLocalGroup(p)) return p.iifname ?? 'unknown'
  const addr = saddr ? p.src : p.dst
  if (p.family === 6) {
    // An address on a link is looked up on the device the packet names (RT6_LOOKUP_F_IFACE): that device.
    if (isLinkLocal6(addr) || (hook === 'prerouting' && p.l4proto === 'icmpv6' && p.src === '::' && isLinkLocal6(p.dst))) return device ?? p.iifname ?? 'unknown'
  }
  const iif = p.family === 4 && saddr && e.iface === 'iif' && hook === 'forward' ? p.oifname : 'lo'
  if (!iif) return 'unknown'
  const r = ctx.routeLookup({family: p.family, dst: addr, src: p.family === 4 ? lookupSource(saddr ? p.dst : p.src, 4) : saddr ? p.dst : p.src, iif, mark: e.fibMark ? p.mark : 0, l4proto: p.family === 4 ? 'none' : p.l4proto})
  const answer = lookupAnswer(r, device, p.family)
  // Newer kernels (nft_fib_can_skip, seen on 6.18) skip the lookup in input for a packet early demux gave a connected
  // socket, answering with the input device: a TCP connection's data to a local address 'exists' there, though its
  // lookup finds the local route. Older kernels look up; which one runs is not read: undecided where the two differ.
  return hook === 'input' && p.ct.state === 'established' && answer !== p.iifname ? 'unknown' : answer
}

/** The device a fib lookup's route gives ('' for none): with `device` (iif/oif), that device if the route uses it. */
function lookupAnswer(r: RouteLookup | 'unknown', device: string | undefined, family: 4 | 6): FieldValue {
  if (r === 'unknown') return 'unknown'
  if (r.type === 'none' || r.type === 'local' || r.devs.length === 0) return ''
  // IPv6 picks one next hop by a hash of the flow the host does not show: decided only where every next hop answers alike.
  const picks = family === 6 ? r.devs : [r.devs[0]]
  const answers = new Set(device === undefined ? picks : family === 4 ? [r.devs.includes(device) ? device : ''] : picks.map((d) => (d === device ? device : '')))
  return answers.size === 1 ? [...answers][0] : 'unknown'
}

/**
 * iptables -m rpfilter (rpfilter_mt, rpfilter_mt6): a broadcast or multicast frame, a packet on loopback, a DHCP-style
 * one from 0.0.0.0 pass; else the route back to the source (the mark only with --validmark) must be unicast (or local,
 * with --accept-local) and, unless --loose, use the input device. IPv6's strict lookup prefers routes on that device
 * among equals, which the routes do not show: decided only where the route found already answers.
 */
function rpfilter(e: Extract<NfMatch, {kind: 'cmp'}>, p: NfPacket, ctx: EvalContext, family: NfFamily, hook: NfHook | undefined): Tri {
  const opts = e.value.t === 'flags' ? e.value.v : []
  if (!ctx.routeLookup || !hook || (family !== 'ip' && family !== 'ip6' && family !== 'inet') || !p.iifname) return 'unknown'
  if (p.pkttype === 'broadcast' || p.pkttype === 'multicast' || p.iifname === 'lo' || zeroSourceToLocalGroup(p)) return true
  // An unspecified source is left to the forward path; a link-local one is looked up on the input device, which has its route.
  if (p.family === 6 && (p.src === '::' || isLinkLocal6(p.src))) return true
  const r = ctx.routeLookup({family: p.family, dst: p.src, src: lookupSource(p.dst, p.family), iif: 'lo', mark: opts.includes('validmark') ? p.mark : 0, l4proto: p.family === 4 ? 'none' : p.l4proto})
  if (r === 'unknown') return 'unknown'
  if (r.type === 'local') return opts.includes('accept-local') && (p.family === 6 || opts.includes('loose') || r.devs.includes(p.iifname))
  if (r.type !== 'unicast') return false
  if (opts.includes('loose')) return true
  if (p.family === 4) return r.devs.includes(p.iifname)
  return r.devs.every((d) => d === p.iifname) ? true : 'unknown'
}

const hasPorts = (l4proto: string) => l4proto === 'tcp' || l4proto === 'udp' || l4proto === 'sctp' || l4proto === 'udplite' || l4proto === 'dccp'

function fieldValue(field: NfField, p: NfPacket, ctx: EvalContext, priority: number, family: NfFamily): FieldValue {
  // An ARP packet has devices, and no IP header, ports or connection: what an arp chain reads beyond them is not told.
  if (family === 'arp' && field !== 'iifname' && field !== 'oifname') return 'unknown'
  switch (field) {
    case 'iifname':
      return p.iifname ?? ''
    case 'oifname':
      return p.oifname ?? ''
    case 'ibrname':
      return p.ibrname ?? ''
    case 'obrname':
      return p.obrname ?? ''
    // xt_physdev: a port not known (no br_netfilter data, or the out port before forward) matches no name,
    // and its negation matches (evalMatch); "is bridged" is "the out port is known".
    case 'physdev-in':
      return p.physIn ?? null
    case 'physdev-out':
      return p.physOut ?? null
    case 'physdev-is-in':
      return p.physIn ? 1 : 0
    case 'physdev-is-out':
    case 'physdev-is-bridged':
      return p.physOut ? 1 : 0
    case 'nfproto':
      return p.family === 4 ? 'ipv4' : 'ipv6'
    case 'ether type':
      return p.family === 4 ? 'ip' : 'ip6'
    case 'l4proto':
      return p.l4proto
    // An address not known is 'unknown', the field value that says so.
    case 'saddr':
      return p.src
    case 'daddr':
      return p.dst
    case 'ether saddr':
      return p.etherSrc ?? 'unknown'
    case 'ether daddr':
      return p.etherDst ?? 'unknown'
    case 'sport':
      return hasPorts(p.l4proto) ? (p.sport ?? 'unknown') : null
    case 'dport':
      return hasPorts(p.l4proto) ? (p.dport ?? 'unknown') : null
    case 'icmp type':
      return p.l4proto === 'icmp' ? (p.icmpType ?? 'unknown') : null
    case 'icmp code':
      return p.l4proto === 'icmp' ? (p.icmpCode ?? 0) : null
    case 'icmpv6 type':
      return p.l4proto === 'icmpv6' ? (p.icmpType ?? 'unknown') : null
    case 'icmpv6 code':
      return p.l4proto === 'icmpv6' ? (p.icmpCode ?? 0) : null
    case 'tcp flags':
      return p.l4proto === 'tcp' ? (p.tcpFlags ?? 'unknown') : null
    case 'ct state':
      // Before conntrack (priority -200) the packet has no entry yet: the kernel says invalid.
      // The bridge family has conntrack only with nf_conntrack_bridge, which the facts do not show.
      if (family === 'bridge') return 'unknown'
      if (atConntrack(p, priority)) return 'unknown'
      return priority < CONNTRACK_PRIORITY && p.ct.state !== 'untracked' ? ['invalid'] : [p.ct.state]
    // A packet with no connection (untracked, or before conntrack looked it up) has no status, direction or
    // mark to read: the kernel's ct expression breaks the rule (nft_ct_get_eval), whatever the operator.
    case 'ct status':
      return family === 'bridge' || atConntrack(p, priority) ? 'unknown' : noConnection(p, priority) ? null : p.ct.status
    case 'ct direction':
      return family === 'bridge' || atConntrack(p, priority) ? 'unknown' : noConnection(p, priority) ? null : p.ct.direction
    case 'ct mark':
      return atConntrack(p, priority) ? 'unknown' : noConnection(p, priority) ? null : p.ct.mark
    case 'ct original saddr':
    case 'ct original daddr':
    case 'ct original sport':
    case 'ct original dport': {
      if (family === 'bridge' || atConntrack(p, priority)) return 'unknown'
      if (noConnection(p, priority)) return null
      const ports = field === 'ct original sport' || field === 'ct original dport'
      if (ports && !hasPorts(p.l4proto)) return null
      const o = originalTuple(p)
      const v = o && {'ct original saddr': o.src, 'ct original daddr': o.dst, 'ct original sport': o.sport, 'ct original dport': o.dport}[field]
      return v ?? 'unknown'
    }
    case 'mark':
      return p.mark
    case 'fib saddr type':
      return ctx.addressType(p.src, p.family)
    case 'fib daddr type':
      return ctx.addressType(p.dst, p.family)
    // Route lookups need the hook (evalMatch reads them): as a map's key they are not told.
    case 'fib saddr oif':
    case 'fib daddr oif':
    case 'rpfilter':
      return 'unknown'
    case 'pkttype':
      return p.pkttype
    // A packet without the device (no input device in output) breaks the rule, as does a device without a kind.
    case 'iifkind':
    case 'oifkind': {
      const dev = field === 'iifkind' ? p.iifname : p.oifname
      if (!dev) return null
      const d = ctx.device?.(dev)
      return d === undefined ? 'unknown' : d.kind
    }
    case 'dscp':
      return 'unknown'
    case 'iifgroup':
    case 'oifgroup': {
      const dev = field === 'iifgroup' ? p.iifname : p.oifname
      if (!dev) return null
      return ctx.device?.(dev)?.group ?? 'unknown'
    }
  }
}

/**
 * A prerouting or output chain at conntrack's own priority (-200): equal priorities run newest first
 * (nf_hook_entries_grow), so it runs before conntrack's lookup if conntrack hooked in before the chain (an earlier
 * rule needing it, a nat table at boot), after it otherwise; the facts do not show which came first. Observed: a
 * chain created after iptables' conntrack rules saw no connection (kernel differential, seed 565).
 */
const atConntrack = (p: NfPacket, priority: number) => priority === CONNTRACK_PRIORITY && p.ct.state !== 'untracked'

// An invalid packet has no entry either (nf_ct_get gives none): a zoned reply that missed its connection, a stray SYN-ACK.
const noConnection = (p: NfPacket, priority: number) => p.ct.state === 'untracked' || p.ct.state === 'invalid' || priority < CONNTRACK_PRIORITY

/**
 * The connection's original tuple: a new connection's first packet as it came; for a reply, its own addresses and
 * ports turned round, with what the NAT binding translates back (a reply to a translated connection whose binding
 * the path does not know has none: undefined).
 */
function originalTuple(p: NfPacket): NonNullable<NfPacket['ct']['orig']> | undefined {
  if (p.ct.orig) return p.ct.orig
  if (p.ct.direction !== 'reply') return undefined
  const t = p.ct.translate
  if (!t && (p.ct.status.includes('snat') || p.ct.status.includes('dnat'))) return undefined
  return {src: t?.dst ?? p.dst, dst: t?.src ?? p.src, sport: t?.dport ?? p.dport, dport: t?.sport ?? p.sport}
}

/** Compares a packet value with a rule value. */
function compare(rs: CompiledRuleset, actual: FieldValue, op: 'eq' | 'ne' | 'lt' | 'gt' | 'le' | 'ge', value: NfValue, mask: number | undefined, names: TypeNames): Tri {
  // No such field: no match, negated too. A value not known: contains() and the ordered comparison below say unknown.
  if (actual === null) return false
  let hit: Tri
  if (op === 'eq' || op === 'ne') {
    const v = mask !== undefined && typeof actual === 'number' ? (actual & mask) >>> 0 : actual
    hit = contains(rs, v, value, names)
    if (op === 'ne') hit = hit === 'unknown' ? 'unknown' : !hit
    return hit
  }
  if (typeof actual !== 'number') return 'unknown'
  const n = scalarNumber(value)
  if (n === undefined) return 'unknown'
  const a = mask !== undefined ? (actual & mask) >>> 0 : actual
  return op === 'lt' ? a < n : op === 'gt' ? a > n : op === 'le' ? a <= n : a >= n
}

function scalarNumber(v: NfValue): number | undefined {
  if (v.t === 'num') return v.v
  if (v.t === 'str' && /^(0x[0-9a-f]+|\d+)$/i.test(v.v)) return Number(v.v)
  return undefined
}

/** Does the rule value (scalar, prefix, range, set, named set, flags) contain the packet's value? */
function contains(rs: CompiledRuleset, actual: FieldValue, value: NfValue, names: TypeNames): Tri {
  if (actual === 'unknown') return 'unknown'
  if (actual === null) return false
  if (typeof actual === 'object' && !Array.isArray(actual)) {
    // Concatenation: every part must match its element part.
    if (value.t === 'concat') return all(actual.concat.map((a, i) => (value.parts[i] ? contains(rs, a, value.parts[i], names) : false)))
    if (value.t === 'set' || value.t === 'setref') return anyElement(rs, actual, value, names)
    return false
  }
  if (Array.isArray(actual)) {
    // Flags / type lists: any of the packet's flags in the rule's.
    const wanted = value.t === 'flags' ? value.v : value.t === 'set' ? value.elems.map((e) => scalarString(e)).filter((x): x is string => x !== undefined) : scalarString(value) !== undefined ? [scalarString(value)!] : undefined
    if (wanted === undefined) return 'unknown'
    return actual.some((a) => wanted.some((w) => w.toLowerCase() === a.toLowerCase()))
  }
  switch (value.t) {
    case 'set':
    case 'setref':
      return anyElement(rs, actual, value, names)
    case 'flags':
      return value.v.some((f) => f.toLowerCase() === String(actual).toLowerCase())
    case 'concat':
      return false
    case 'prefix':
    case 'addr': {
      const ip = typeof actual === 'string' ? parseIp(actual) : undefined
      const r = rs.range(value.v)
      // A rule value or packet address that does not parse cannot be compared: unknown, never "no match".
      if (!ip || !r) return typeof actual === 'string' && value.t === 'addr' && actual === value.v ? true : 'unknown'
      return rangeContains(r, ip.family, ip.value)
    }
    case 'range': {
      if (value.lo.t === 'addr' || (value.lo.t === 'str' && value.lo.v.includes('.'))) {
        const ip = typeof actual === 'string' ? parseIp(actual) : undefined
        const lo = parseIp(value.lo.v as string)
        const hi = parseIp(value.hi.v as string)
        if (!ip || !lo || !hi) return 'unknown'
        return ip.family === lo.family && ip.value >= lo.value && ip.value <= hi.value
      }
      const n = protoOrNumber(String(actual), names)
      const lo = scalarNumber(value.lo)
      const hi = scalarNumber(value.hi)
      if (n === undefined || lo === undefined || hi === undefined) return 'unknown'
      return n >= lo && n <= hi
    }
    case 'num':
      return typeof actual === 'number' ? actual === value.v : protoOrNumber(actual, names) === value.v
    case 'str':
      return stringMatch(actual, value.v, names)
  }
}

const numberOf = new Map<TypeNames, Map<string, number | undefined>>([[ICMP_TYPES, new Map()], [ICMPV6_TYPES, new Map()]])
/** Protocols and icmp (or icmpv6) types by name or number (cached: every rule of every flow asks). */
function protoOrNumber(s: string, names: TypeNames): number | undefined {
  const cache = numberOf.get(names)!
  if (!cache.has(s)) cache.set(s, protoNumber(s) ?? names[s])
  return cache.get(s)
}

function scalarString(v: NfValue): string | undefined {
  return v.t === 'str' || v.t === 'addr' ? v.v : v.t === 'num' ? String(v.v) : undefined
}

/** Names (interfaces with a trailing * wildcard), protocols by name or number, icmp types by name or number. */
function stringMatch(actual: string | number, wanted: string, names: TypeNames): Tri {
  // A number (a port, a type) against a name or a number written as text.
  if (typeof actual === 'number') return protoOrNumber(wanted, names) === actual
  if (wanted === actual) return true
  if (wanted.charCodeAt(wanted.length - 1) === 42 /* * */ && !wanted.endsWith('\\*')) return actual.startsWith(wanted.slice(0, -1))
  // Names that differ: only "all", or two names (or a name and a number) of one protocol (icmpv6 = ipv6-icmp = 58) match.
  if (wanted === 'all' || wanted === '0') return true
  const a = protoOrNumber(actual, names)
  return a !== undefined && a === protoOrNumber(wanted, names)
}

function anyElement(rs: CompiledRuleset, actual: FieldValue, value: Extract<NfValue, {t: 'set'} | {t: 'setref'}>, names: TypeNames): Tri {
  let elems: NfValue[]
  let complete = true
  // ipset "nomatch" entries carve exceptions out of the set (only where they are the more specific entry; we
  // treat any nomatch hit as undecided unless no member matches at all). Anonymous sets have none.
  let excluded = false
  if (value.t === 'set') elems = value.elems
  else {
    const set = rs.set(value.name)
    if (!set) return 'unknown'
    elems = set.elems
    complete = settled(set)
    excluded = set.nomatch?.some((e) => contains(rs, actual, e, names) === true) ?? false
  }
  let unsure = false
  for (const e of elems) {
    const r = contains(rs, actual, e, names)
    if (r === true) return excluded ? 'unknown' : true
    if (r === 'unknown') unsure = true
  }
  return unsure || !complete ? 'unknown' : false
}

/** A set whose listing holds every key a packet can meet there: read whole, and not filled by the packet path. */
const settled = (set: NfSet) => set.complete && set.filledBy === undefined

function all(results: Tri[]): Tri {
  if (results.includes(false)) return false
  return results.includes('unknown') ? 'unknown' : true
}
