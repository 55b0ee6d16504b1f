/**
 * `kvmdoctor diagnose GUEST…`: the diagnosis of those guests alone. Their findings (on the guest, its
 * interfaces and addresses, the elements that decide its flows, its network and bridge), the host-wide
 * causes that reach them (every finding that explains a kept one), and their flows; the counts and the
 * verdict computed again for what is left. The topology stays the host's: it is the map the guests are on.
 */
import type {DiagnosisRun} from './diagnose.js'
import {UserError} from './errors.js'
import {type Finding, findingKey} from '../result/findings.js'
import {SEVERITIES, type Severity} from '../lib/severity.js'
import {verdictOf} from './verdict.js'

/** The guests libvirt knows on this host, for the error that names an unknown one. */
export function knownGuests(d: DiagnosisRun): string[] {
  const libvirt = d.facts.libvirt
  const domains = libvirt?.ok ? ((libvirt.data as {domains?: {name: string}[]}).domains ?? []) : []
  return [...new Set([...domains.map((x) => x.name), ...d.flows.map((f) => f.guest)])].sort()
}

/** Refuses names that are no guest of this host (exit 2), with the guests there are and, where one is close, what was meant. */
export function checkGuests(d: DiagnosisRun, asked: string[], suggest: (word: string, candidates: string[]) => string | undefined): void {
  const known = knownGuests(d)
  const unknown = asked.filter((g) => !known.includes(g))
  if (unknown.length === 0) return
  const hints = unknown.map((g) => [g, suggest(g, known)] as const).filter(([, s]) => s !== undefined)
  // One line: stderr shows control characters escaped.
  const meant = hints.length > 0 ? ` Did you mean ${hints.map(([g, s]) => `${s} (not ${g})`).join(', ')}?` : ''
  throw new UserError(`no guest named ${unknown.join(', ')} on ${d.host}.${meant} ${known.length > 0 ? `Guests: ${known.join(', ')}.` : 'libvirt lists no guest on this host.'}`)
}

export function narrowToGuests(d: DiagnosisRun, guests: string[]): DiagnosisRun {
  const wanted = new Set(guests)
  const flows = d.flows.filter((f) => wanted.has(f.guest))
  const networks = new Set(flows.map((f) => f.network).filter((n): n is string => n !== undefined))
  const bridges = new Set(flows.map((f) => f.bridge).filter((b): b is string => b !== undefined))
  const deciding = new Set(flows.flatMap((f) => [f.decidedBy?.element?.text, f.divertedBy?.text]).filter((t): t is string => t !== undefined))
  const byKey = new Map(d.findings.map((f) => [findingKey(f), f]))
  const own = (f: Finding) => {
    const c = f.context ?? {}
    if (c.domain !== undefined) return wanted.has(c.domain)
    if (f.entity.kind === 'element') return deciding.has(f.entity.name)
    return (c.network !== undefined && networks.has(c.network)) || (c.bridge !== undefined && bridges.has(c.bridge))
  }
  const kept = new Set(d.findings.filter(own))
  // The causes that reach them, however far up (a host-wide cause explains a guest's symptom).
  for (const f of [...kept]) for (let p = f.explainedBy; p !== undefined && byKey.has(p); p = byKey.get(p)!.explainedBy) kept.add(byKey.get(p)!)
  for (const f of [...kept]) for (const c of f.causes ?? []) if (byKey.has(c)) kept.add(byKey.get(c)!)
  const keys = new Set([...kept].map(findingKey))
  const findings = d.findings
    .filter((f) => kept.has(f))
    .map((f) => ({...f, explains: f.explains.filter((k) => keys.has(k)), ...(f.explainedBy && !keys.has(f.explainedBy) ? {explainedBy: undefined} : {})}))
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, findings.filter((f) => f.severity === s).length])) as Record<Severity, number>
  const notChecked = d.notChecked.filter((n) => n.entity === null || n.entity.kind === 'host' || [...wanted].some((g) => n.entity!.name === g || n.entity!.name.startsWith(`${g}/`)))
  const flowsNotFollowed = d.flowsNotFollowed?.filter((n) => wanted.has(n.guest))
  const narrowed: DiagnosisRun = {...d, findings, flows, counts, notChecked, ...(flowsNotFollowed && flowsNotFollowed.length > 0 ? {flowsNotFollowed} : {flowsNotFollowed: undefined})}
  narrowed.verdict = verdictOf(narrowed)
  return narrowed
}
