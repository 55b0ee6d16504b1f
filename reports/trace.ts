/**
 * `kvmdoctor trace` as text, in the manner of `ovs-appctl ofproto/trace`: each
 * flow hop by hop, the chains visited and the rules that matched (with their
 * packet counters where the recording has them), the verdict and what decided
 * it, then one line with the answer. Each deciding element is written out once,
 * where it first stops a flow, with the commands that revert it; the flows it
 * stops again refer back to it. Lines wrap to the terminal like diagnose's.
 */
import type {ResultFlow, ResultHop} from '../src/result/diagnosis.js'
import type {TraceStep} from '../src/datapath/netfilter/evaluate.js'
import {flowSubject} from '../src/lib/flow-subject.js'
import {sourceHeaderLines} from './source-header.js'
import type {TraceResult} from '../src/result/trace.js'
import {type Line, wrapLine} from './layout.js'
import {hopReverts} from './summary.js'

const VERDICT = {pass: 'pass', fail: 'FAIL', indeterminate: '????'} as const
/** Elements that are something missing: their commands put it back rather than revert a change. */
const ABSENCES = new Set(['nf-nat-missing', 'listener', 'return-route', 'guest-address'])
/** Where the lines under a hop start: under its verdict word. */
const UNDER_HOP = 10

export interface TraceRenderOptions {
  /** Columns to wrap to (Infinity: whole lines, as when piped). */
  width?: number
}

export function renderTrace(t: TraceResult, options: TraceRenderOptions = {}): string {
  const width = options.width ?? Number.POSITIVE_INFINITY
  const out: Line[] = [{text: `kvmdoctor trace ${t.guest} on ${t.host} (${t.capturedAt})`}, ...(t.inbound ? [{text: `  ${t.inbound}`}] : []), ...sourceHeaderLines(t.source).map((text) => ({text})), {text: ''}]
  const done = () => out.flatMap((l) => wrapLine(l, width)).join('\n') + '\n'
  if (t.unavailable) {
    out.push({text: `The flows cannot be followed: ${t.unavailable}`})
    return done()
  }
  if (t.inbound && t.flows.length === 0) {
    out.push({text: `Nothing publishes what was asked (${t.inbound}): no DNAT, nft dnat map, libvirt hook forward or --publish leads there.`})
    return done()
  }
  if (t.flows.length === 0) {
    out.push({text: t.state === 'running' ? `${t.guest} has no interface on a bridge or libvirt network: no flows through the host's datapath.` : `${t.guest} is ${t.state}: it has no flows.`})
    return done()
  }
  // The flow (1-based) where each deciding element was first written out.
  const shownIn = new Map<string, number>()
  t.flows.forEach((f, n) => {
    out.push({text: `Flow ${n + 1}/${t.flows.length}: ${flowName(f, t.to)}  ${[flowSubject(f), f.iface].filter(Boolean).join(' ')}${f.mac ? ` ${f.mac}` : ''}${f.network ? `  network ${f.network}` : ''}${f.bridge ? `, bridge ${f.bridge}` : ''}`})
    out.push({text: `  ${f.description}`})
    out.push({label: '  packet: ', text: f.packet})
    for (const a of f.packetAssumed ?? []) out.push({label: '    assumed: ', text: a})
    // What the verdict takes for granted: a pass with assumptions is a pass of the host's side only.
    for (const a of f.assumptions ?? []) out.push({label: '  assumes: ', text: a})
    const nameWidth = Math.max(...f.hops.map((h) => h.name.length))
    // A hop that judges the chains the hop before it walked (NAT after postrouting) refers to them.
    let previous: {hop: number; text: string} | undefined
    f.hops.forEach((h, i) => {
      const head = `  ${String(i + 1).padStart(2)}  ${VERDICT[h.verdict]}  ${h.name.padEnd(nameWidth)}  `
      out.push({label: head, text: h.detail, hang: head.length})
      const decider = h.verdict === 'fail' ? decidingStep(h) : undefined
      const steps = stepLines(h, decider)
      const text = steps.map((l) => l.text).join('\n')
      if (steps.length > 0 && previous?.text === text) out.push({label: pad(UNDER_HOP + 2), text: `(the chains of hop ${previous.hop}, above)`})
      else out.push(...steps)
      if (steps.length > 0) previous = {hop: i + 1, text}
      if (h.verdict !== 'pass' && h.element) out.push(...elementLines(h, decider !== undefined, shownIn, n + 1))
      for (const u of h.undecided ?? []) out.push({label: `${pad(UNDER_HOP + 2)}? `, text: `${u.rule}${u.note ? ` (${u.note})` : ''}: if it matches, ${u.ifMatches}; if not, ${u.ifNot}`})
    })
    out.push({label: '  => ', text: answer(f)}, {text: ''})
  })
  out.push(...summary(t.flows, t.to))
  return done()
}

const pad = (n: number) => ' '.repeat(n)

/** A --to flow is named by where it goes; the standard flows by their kind. */
function flowName(f: ResultFlow, to?: string): string {
  if (f.kind !== 'custom') return f.kind
  const dest = to ?? 'the destination'
  return f.replyTo ? `reply from ${dest}` : `to ${dest}`
}

/**
 * The element that decides a hop, once: in full with the commands that revert it where it first stops a
 * flow, a reference to that flow after. When the step that decides is among the hop's steps (marked
 * there), the element is not written again beside it.
 */
function elementLines(h: ResultHop, markedInSteps: boolean, shownIn: Map<string, number>, flow: number): Line[] {
  const e = h.element!
  const first = shownIn.get(e.id)
  if (first !== undefined && first !== flow) return [{label: pad(UNDER_HOP), text: `decided by the same element as flow ${first}`}]
  if (first === flow) return []
  shownIn.set(e.id, flow)
  const revert = ABSENCES.has(e.kind) ? 'restore' : 'revert'
  return [
    ...(markedInSteps ? [] : [{label: `${pad(UNDER_HOP)}decided by: `, text: e.text}]),
    // The commands that take the change back (or put back what is missing).
    ...hopReverts(h).map((u) => ({label: `${pad(UNDER_HOP)}${revert}: `, text: u, keep: true})),
    ...(e.undoWithheld ? [{label: `${pad(UNDER_HOP)}no ${revert} printed: `, text: `the fix judge refuses ${e.undoWithheld}`}] : []),
  ]
}

function answer(f: ResultFlow): string {
  if (f.verdict === 'pass') return 'PASS'
  const h = f.decidedBy as ResultHop
  return `${f.verdict === 'fail' ? 'FAIL' : 'INDETERMINATE'} at hop ${f.hops.indexOf(h) + 1}, ${h.name}`
}

/** The counts, then each deciding element once with the flows it stops. */
function summary(flows: ResultFlow[], to?: string): Line[] {
  const count = (v: ResultFlow['verdict']) => flows.filter((f) => f.verdict === v).length
  const lines: Line[] = [{text: `Summary: ${count('pass')} pass, ${count('fail')} fail, ${count('indeterminate')} indeterminate`}]
  const byElement = new Map<string, {text: string; verdict: ResultFlow['verdict']; flows: string[]}>()
  flows.forEach((f, n) => {
    if (f.verdict === 'pass' || !f.decidedBy) return
    const key = f.decidedBy.element?.id ?? `hop:${f.decidedBy.name}`
    const entry = byElement.get(key) ?? byElement.set(key, {text: f.decidedBy.element?.text ?? `${f.decidedBy.name}: ${f.decidedBy.detail}`, verdict: f.verdict, flows: []}).get(key)!
    entry.flows.push(`${n + 1} (${flowName(f, to)})`)
  })
  for (const e of byElement.values()) {
    const label = `  ${e.verdict === 'fail' ? 'stopped' : 'undecided'} by `
    lines.push({label, text: `${e.text}: flow${e.flows.length > 1 ? 's' : ''} ${e.flows.join(', ')}`, hang: label.length})
  }
  return lines
}

/** The step a failing netfilter hop ends on: the verdict or policy that dropped the packet. */
function decidingStep(h: ResultHop): TraceStep | undefined {
  const last = h.steps?.at(-1)
  return last && (last.event === 'policy' || last.event === 'rule') && ['drop', 'reject'].includes(last.action ?? '') ? last : undefined
}

/**
 * The chains a netfilter hop visited and the rules that acted, indented under the hop. A base
 * chain where no rule acted and the policy accepted is left out: the hop's line counts it.
 */
function stepLines(h: ResultHop, decider: TraceStep | undefined): Line[] {
  const groups: TraceStep[][] = []
  for (const s of h.steps ?? []) {
    if (s.event === 'enter' || groups.length === 0) groups.push([])
    groups[groups.length - 1].push(s)
  }
  const quiet = (g: TraceStep[]) => g.every((s) => s.event === 'enter' || (s.event === 'policy' && s.action === 'accept'))
  return groups.filter((x) => !quiet(x)).flatMap((g) => g.map((s) => ({label: pad(UNDER_HOP + 2), text: stepText(s, s === decider)})))
}

function stepText(s: TraceStep, decides: boolean): string {
  const c = s.chain
  const where = `${c.backend === 'nft' ? 'nft ' : c.backend === 'iptables-legacy' || c.backend === 'ebtables-legacy' ? 'legacy ' : ''}${c.family} ${c.table} ${c.chain}`
  const counted = s.counters ? `  [${s.counters.packets} packets, ${s.counters.bytes} bytes counted]` : ''
  const mark = decides ? '  <- decides' : ''
  switch (s.event) {
    case 'enter':
      return `${where} (hook ${s.hook}, priority ${c.priority ?? 0})`
    case 'policy':
      return `  ${where}: policy ${s.action}${counted}${mark}`
    case 'maybe':
      return `  ? ${s.rule?.text ?? where}${s.note ? `  (${s.note})` : ''}${counted}`
    case 'skip':
      return `  ${s.note ?? ''}`
    default:
      return `  ${s.rule?.text ?? where}  -> ${s.action ?? ''}${s.note ? ` (${s.note})` : ''}${counted}${mark}`
  }
}
