/**
 * `kvmdoctor trace` as text, in the manner of `ovs-appctl ofproto/trace`: each
 * flow hop by hop, the chains visited and the rules that matched, the verdict
 * and what decided it, then one line with the answer.
 */
import type {ResultFlow, ResultHop} from '../src/result/diagnosis.js'
import type {TraceStep} from '../src/datapath/netfilter/evaluate.js'
import {sourceHeaderLines} from './source-header.js'
import type {TraceResult} from '../src/result/trace.js'

const VERDICT = {pass: 'pass', fail: 'FAIL', indeterminate: '????'} as const

export function renderTrace(t: TraceResult): string {
  const out: string[] = [`kvmdoctor trace ${t.guest} on ${t.host} (${t.capturedAt})`, ...sourceHeaderLines(t.source), '']
  if (t.unavailable) {
    out.push(`The flows cannot be followed: ${t.unavailable}`)
    return out.join('\n') + '\n'
  }
  if (t.flows.length === 0) {
    out.push(t.state === 'running' ? `${t.guest} has no interface on a bridge or libvirt network: no flows through the host's datapath.` : `${t.guest} is ${t.state}: it has no flows.`)
    return out.join('\n') + '\n'
  }
  t.flows.forEach((f, n) => {
    out.push(`Flow ${n + 1}/${t.flows.length}: ${f.kind}  ${f.guest} ${f.iface}${f.mac ? ` ${f.mac}` : ''}${f.network ? `  network ${f.network}` : ''}${f.bridge ? `, bridge ${f.bridge}` : ''}`)
    out.push(`  ${f.description}`)
    out.push(`  packet: ${f.packet}`)
    // What the verdict takes for granted: a pass with assumptions is a pass of the host's side only.
    for (const a of f.assumptions ?? []) out.push(`  assumes: ${a}`)
    const width = Math.max(...f.hops.map((h) => h.name.length))
    f.hops.forEach((h, i) => {
      out.push(`  ${String(i + 1).padStart(2)}  ${VERDICT[h.verdict]}  ${h.name.padEnd(width)}  ${h.detail}`)
      out.push(...stepLines(h))
      if (h.verdict !== 'pass' && h.element) {
        out.push(`            decided by: ${h.element.text}`)
        for (const u of h.element.undo) out.push(`            undo: ${u}`)
      }
      for (const u of h.undecided ?? []) out.push(`            ? ${u.rule}${u.note ? ` (${u.note})` : ''}: if it matches, ${u.ifMatches}; if not, ${u.ifNot}`)
    })
    out.push(`  => ${answer(f)}`, '')
  })
  const count = (v: ResultFlow['verdict']) => t.flows.filter((f) => f.verdict === v).length
  const first = t.flows.find((f) => f.verdict === 'fail') ?? t.flows.find((f) => f.verdict === 'indeterminate')
  out.push(`Summary: ${count('pass')} pass, ${count('fail')} fail, ${count('indeterminate')} indeterminate${first ? ` — ${first.kind} of ${first.guest}: ${answer(first)}` : ''}`)
  return out.join('\n') + '\n'
}

function answer(f: ResultFlow): string {
  if (f.verdict === 'pass') return 'PASS'
  const h = f.decidedBy as ResultHop
  return `${f.verdict === 'fail' ? 'FAIL' : 'INDETERMINATE'} at ${h.name}: ${h.element?.text ?? h.detail}`
}

/**
 * The chains a netfilter hop visited and the rules that acted, indented under the hop. A base
 * chain where no rule acted and the policy accepted is left out: the hop's line counts it.
 */
function stepLines(h: ResultHop): string[] {
  const groups: TraceStep[][] = []
  for (const s of h.steps ?? []) {
    if (s.event === 'enter' || groups.length === 0) groups.push([])
    groups[groups.length - 1].push(s)
  }
  const quiet = (g: TraceStep[]) => g.every((s) => s.event === 'enter' || (s.event === 'policy' && s.action === 'accept'))
  return groups.filter((g) => !quiet(g)).flatMap((g) => g.map((s) => `            ${stepText(s)}`))
}

function stepText(s: TraceStep): string {
  const c = s.chain
  const where = `${c.backend === 'nft' ? 'nft ' : c.backend === 'iptables-legacy' ? 'legacy ' : ''}${c.family} ${c.table} ${c.chain}`
  switch (s.event) {
    case 'enter':
      return `${where} (hook ${s.hook}, priority ${c.priority ?? 0})`
    case 'policy':
      return `  ${where}: policy ${s.action}`
    case 'maybe':
      return `  ? ${s.rule?.text ?? where}${s.note ? `  (${s.note})` : ''}`
    case 'skip':
      return `  ${s.note ?? ''}`
    default:
      return `  ${s.rule?.text ?? where}  -> ${s.action ?? ''}${s.note ? ` (${s.note})` : ''}`
  }
}
