/**
 * Ground truth for the datapath: what the lab's guests measured (oracle.json, from their
 * consoles) and what the kernel traced (kernel-trace.txt) held against the flows kvmdoctor
 * followed in the same recording. Pure functions: the replay suite and the live lab both use them.
 */
import type {Flow, FlowKind} from '../src/datapath/flows.js'
import type {TraceStep} from '../src/datapath/netfilter/evaluate.js'

export type ReachVerdict = 'ok' | 'fail' | 'skip'
export interface GuestReach {
  dhcp: ReachVerdict
  dns: ReachVerdict
  ping: ReachVerdict
  tcp: ReachVerdict
}

/** A measurement and the flows that carry it (request and reply must both pass). */
const MEASURES: {measure: keyof GuestReach; flows: FlowKind[]}[] = [
  {measure: 'dhcp', flows: ['dhcp', 'dhcp-reply']},
  {measure: 'dns', flows: ['dns', 'dns-reply']},
  {measure: 'tcp', flows: ['egress', 'egress-reply']},
]

export interface Disagreement {
  guest: string
  measure: string
  guestSaw: ReachVerdict
  kvmdoctorSays: string
}

/**
 * Where kvmdoctor's flow verdicts and the guests' own measurements disagree. A measurement is
 * compared only where it tests the same path: DNS and egress of a guest that holds an address
 * of its network (one without cannot reach anything, whatever the host does), and only DHCP
 * for a guest bridged to a LAN (the host sees its path to the LAN, not the LAN's router).
 * An indeterminate flow agrees with either outcome: kvmdoctor said it cannot tell.
 */
export function disagreements(flows: Flow[], guests: Record<string, GuestReach>): Disagreement[] {
  const out: Disagreement[] = []
  for (const [guest, reach] of Object.entries(guests)) {
    const mine = flows.filter((f) => f.guest === guest)
    if (mine.length === 0) continue
    const routed = mine.some((f) => f.kind === 'dns' || f.hops.some((h) => h.name === 'routing'))
    const hasAddress = mine.some((f) => f.guestAddress !== undefined)
    for (const {measure, flows: kinds} of MEASURES) {
      const saw = reach[measure]
      if (saw === 'skip') continue
      if (measure !== 'dhcp' && (!routed || !hasAddress)) continue
      const these = mine.filter((f) => kinds.includes(f.kind))
      // A flow that fails stops the path; its reply is then not followed.
      if (these.length === 0) continue
      const verdict = these.some((f) => f.verdict === 'fail') ? 'fail' : these.some((f) => f.verdict === 'indeterminate') ? 'indeterminate' : 'pass'
      if (verdict === 'indeterminate') continue
      if ((verdict === 'pass') !== (saw === 'ok')) {
        const failing = these.find((f) => f.verdict === 'fail')
        out.push({guest, measure, guestSaw: saw, kvmdoctorSays: failing ? `${failing.kind} fails at ${failing.decidedBy?.name}: ${failing.decidedBy?.detail}` : 'every hop passes'})
      }
    }
  }
  return out
}

/** One decision of a netfilter walk, as the kernel's trace and kvmdoctor's evaluator both tell it. */
export interface Decision {
  family: string
  table: string
  chain: string
  /** nft rule handle; absent for policies. */
  handle?: number
  verdict: 'accept' | 'drop' | 'jump' | 'goto' | 'return' | 'policy accept' | 'policy drop'
}

export const decisionText = (d: Decision) => `${d.family} ${d.table} ${d.chain}${d.handle !== undefined ? ` #${d.handle}` : ''} ${d.verdict}`

/** kvmdoctor's steps as decisions: verdicts, jumps, explicit returns, policies (NAT ends a nat chain with accept). */
export function evaluatorDecisions(steps: TraceStep[]): Decision[] {
  const out: Decision[] = []
  for (const s of steps) {
    const base = {family: s.chain.family, table: s.chain.table, chain: s.chain.chain}
    if (s.event === 'policy') out.push({...base, verdict: s.action === 'drop' ? 'policy drop' : 'policy accept'})
    if (s.event !== 'rule' || !s.action) continue
    const word = s.action.split(' ')[0]
    const verdict = word === 'reject' ? 'drop' : ['masquerade', 'snat', 'dnat', 'redirect'].includes(word) ? 'accept' : word
    if (['accept', 'drop', 'jump', 'goto', 'return'].includes(verdict)) out.push({...base, handle: s.rule?.ref.handle, verdict: verdict as Decision['verdict']})
  }
  return out
}

/** The kernel's trace events (test/lab/kernel-trace.ts), as far as the comparison needs them. */
export interface KernelEvent {
  id: string
  family: string
  table: string
  chain: string
  kind: 'rule' | 'policy' | 'return' | 'packet'
  handle?: number
  verdict?: string
  packet?: string
}

/**
 * The decisions the kernel traced for the first packet whose description matches: its events
 * across every trace id it had (the id changes after routing; the IP id does not), in order,
 * leaving out the trace tables themselves and the bridge family (its hooks are traced apart).
 */
export function kernelDecisions(traces: {id: string; events: KernelEvent[]}[], matches: (packet: string) => boolean, traceTable = 'kdlab_trace'): Decision[] | undefined {
  const ipId = (p: string) => /\bip saddr (\S+) ip daddr (\S+) .*?\bip id (\d+)/.exec(p)?.slice(1, 4).join(' ')
  const firstPacket = (t: {events: KernelEvent[]}) => t.events.find((e) => e.kind === 'packet' && e.packet && e.family !== 'bridge' && e.table !== traceTable)
  const start = traces.findIndex((t) => {
    const p = firstPacket(t)
    return p !== undefined && matches(p.packet!)
  })
  if (start < 0) return undefined
  const key = ipId(firstPacket(traces[start])!.packet!)
  if (!key) return undefined
  // The packet's later segments (a new trace id after routing) carry its IP id; a retransmission with
  // the same id starts again at prerouting: that is the next packet.
  const segments = [traces[start]]
  for (const t of traces.slice(start + 1)) {
    const p = firstPacket(t)
    if (!p || ipId(p.packet!) !== key) continue
    if (/PREROUTING|prerouting/.test(p.chain)) break
    segments.push(t)
  }
  const out: Decision[] = []
  for (const t of segments) {
    for (const e of t.events) {
      if (e.family === 'bridge' || e.table === traceTable) continue
      const base = {family: e.family, table: e.table, chain: e.chain}
      if (e.kind === 'policy') out.push({...base, verdict: e.verdict === 'drop' ? 'policy drop' : 'policy accept'})
      else if ((e.kind === 'rule' || e.kind === 'return') && e.handle !== undefined && ['accept', 'drop', 'jump', 'goto', 'return'].includes(e.verdict ?? '')) out.push({...base, handle: e.handle, verdict: e.verdict as Decision['verdict']})
    }
  }
  return out
}

/** The packets of kvmdoctor's flows as the kernel's trace prints them. */
export const KERNEL_PACKET: Partial<Record<FlowKind, (p: string) => boolean>> = {
  dhcp: (p) => /\budp dport 67\b/.test(p) && /ip daddr 255\.255\.255\.255/.test(p),
  dns: (p) => /\budp dport 53\b/.test(p),
  egress: (p) => /\btcp dport 80\b/.test(p) && /tcp flags == syn\b/.test(p),
}

/**
 * kvmdoctor's decisions for a flow: the IP hooks' steps, hop by hop. iptables-legacy chains are left
 * out (the kernel's nftables trace cannot see xtables).
 */
export function flowDecisions(flow: Flow): Decision[] {
  return flow.hops.filter((h) => h.steps && !h.name.startsWith('bridge ')).flatMap((h) => evaluatorDecisions(h.steps!.filter((s) => s.chain.backend !== 'iptables-legacy')))
}

/**
 * The comparable part of a walk: NAT chains are left out on both sides. The kernel consults them
 * only when a packet creates its conntrack entry, and whether one already exists (a DHCP client
 * retransmitting from 0.0.0.0:68 reuses its entry) is not in the host's facts; the reachability
 * oracle judges what NAT does.
 */
export function withoutNat(decisions: Decision[], natChains: Set<string>): Decision[] {
  return decisions.filter((d) => !natChains.has(`${d.family} ${d.table} ${d.chain}`))
}

/** Chains reached from nat base chains (iptables' nat tables, native nft nat chains and what they jump to). */
export function natChainsOf(rs: {tables: {family: string; name: string; chains: Record<string, {name: string; base?: {type: string}; rules: {exprs: {kind: string; target?: string}[]}[]}>}[]}): Set<string> {
  const out = new Set<string>()
  for (const t of rs.tables) {
    const visit = (name: string) => {
      const key = `${t.family} ${t.name} ${name}`
      const chain = t.chains[name]
      if (!chain || out.has(key)) return
      out.add(key)
      for (const r of chain.rules) for (const e of r.exprs) if ((e.kind === 'jump' || e.kind === 'goto') && e.target) visit(e.target)
    }
    for (const c of Object.values(t.chains)) if (c.base?.type === 'nat') visit(c.name)
  }
  return out
}
