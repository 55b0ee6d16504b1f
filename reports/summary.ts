import type {Diagnosis, ResultHop} from '../src/result/diagnosis.js'
import {type Finding, findingKey} from '../src/result/findings.js'
import {SEVERITIES} from '../src/lib/severity.js'
import {DISRUPTS} from '../src/lib/fix.js'

const count = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`

/** One line: host, counts per severity, probes that could not run or were skipped. */
export function summaryLine(d: Diagnosis): string {
  const counts = SEVERITIES.map((s) => `${d.counts[s]} ${s}`).join(', ')
  const unavailable = d.probes.filter((p) => !p.ok && !p.skipped)
  const partial = d.probes.filter((p) => p.ok && p.degraded && p.degraded.length > 0)
  const {skipped, rulesNotChecked} = d.verdict
  // "all probes ran" only when every one did: one skipped for want of a flag is named with the flag.
  const probes = [
    unavailable.length === 0 && partial.length === 0 && skipped.length === 0 ? 'all probes ran' : '',
    unavailable.length > 0 ? `${count(unavailable.length, 'probe')} unavailable: ${unavailable.map((p) => p.id).join(', ')}` : '',
    partial.length > 0 ? `${count(partial.length, 'probe')} read only part of their sources: ${partial.map((p) => p.id).join(', ')}` : '',
    skipped.length > 0 ? `skipped: ${skipped.map((s) => `${s.probe} (${s.why})`).join(', ')}` : '',
  ].filter(Boolean).join('; ')
  const suppressed = d.suppressed.length > 0 ? `; ${d.suppressed.length} suppressed` : ''
  return `kvmdoctor ${d.host} at ${d.capturedAt}: ${counts}; ${probes}${rulesNotChecked > 0 ? `; ${count(rulesNotChecked, 'rule')} not checked` : ''}${suppressed}`
}

export function entityLabel(e: {kind: string; name: string} | null): string {
  if (!e) return 'all'
  // A datapath element's name says what it is (a rule, a policy, a sysctl): the internal kind adds nothing.
  return e.kind === 'element' ? e.name : `${e.kind} ${e.name}`
}

/** How many root causes a finding is nested under. */
export function depthOf(f: Finding, byKey: Map<string, Finding>): number {
  let depth = 0
  for (let p = f.explainedBy; p; p = byKey.get(p)?.explainedBy) depth++
  return depth
}

/** Rules not checked, grouped by the reason, so one missing probe is one line. */
export function notCheckedByReason(d: Diagnosis): {reason: string; items: string[]}[] {
  const groups = new Map<string, string[]>()
  for (const n of d.notChecked) {
    const item = n.entity ? `${n.ruleId} (${entityLabel(n.entity)})` : n.ruleId
    const list = groups.get(n.reason)
    if (list) list.push(item)
    else groups.set(n.reason, [item])
  }
  return [...groups].map(([reason, items]) => ({reason, items}))
}

/** A hint when probes failed for lack of privileges. */
export function privilegeHint(d: Diagnosis): string | undefined {
  const denied = d.probes.filter((p) => !p.ok && /permission denied|must be root|not permitted|system bus/i.test(p.error ?? ''))
  return denied.length > 0 ? `${denied.map((p) => p.id).join(', ')} could not be read without privileges: run kvmdoctor as root for a full diagnosis.` : undefined
}

export type ReportItem = {finding: Finding} | {group: {id: string; severity: string; ranks: [number, number]; entities: string[]}}

/** Info findings of one rule on many entities read as one line; everything else one by one. */
export const GROUP_INFO_OVER = 3

export function reportItems(d: Diagnosis): ReportItem[] {
  const lonelyInfo = (f: Finding) => f.severity === 'info' && !f.explainedBy && f.explains.length === 0
  const counts = new Map<string, number>()
  for (const f of d.findings) if (lonelyInfo(f)) counts.set(f.id, (counts.get(f.id) ?? 0) + 1)
  const items: ReportItem[] = []
  const groups = new Map<string, {id: string; severity: string; ranks: [number, number]; entities: string[]}>()
  for (const f of d.findings) {
    if (!lonelyInfo(f) || (counts.get(f.id) ?? 0) <= GROUP_INFO_OVER) {
      items.push({finding: f})
      continue
    }
    const group = groups.get(f.id)
    if (group) {
      group.entities.push(f.entity.name)
      group.ranks[1] = f.rank
    } else {
      const created = {id: f.id, severity: f.severity, ranks: [f.rank, f.rank] as [number, number], entities: [f.entity.name]}
      groups.set(f.id, created)
      items.push({group: created})
    }
  }
  return items
}

export function groupLine(g: {id: string; ranks: [number, number]; entities: string[]}, kindLabel: string): string {
  const shown = g.entities.slice(0, 8).join(', ')
  const more = g.entities.length > 8 ? ` (+${g.entities.length - 8} more)` : ''
  return `${g.ranks[0]}-${g.ranks[1]}. [INFO] ${g.id} on ${g.entities.length} ${kindLabel}: ${shown}${more} — kvmdoctor rules show ${g.id}`
}

/** An info finding that explains nothing and is explained by nothing: collapsed into one line at the end. */
export const lonelyInfo = (f: Finding) => f.severity === 'info' && !f.explainedBy && f.explains.length === 0

export interface FindingTree {
  finding: Finding
  children: FindingTree[]
}

/** Root causes with their symptoms nested under them, in rank order; lonely info findings left out. */
export function findingTrees(d: Diagnosis): FindingTree[] {
  const byKey = new Map(d.findings.map((f) => [findingKey(f), f]))
  const build = (f: Finding): FindingTree => ({finding: f, children: f.explains.map((k) => byKey.get(k)).filter((c): c is Finding => c !== undefined).map(build)})
  return d.findings.filter((f) => !f.explainedBy && !lonelyInfo(f)).map(build)
}

/** Lonely info findings by rule: [rule id, entity names]. */
export function infoGroups(d: Diagnosis): {id: string; entities: string[]}[] {
  const groups = new Map<string, string[]>()
  for (const f of d.findings.filter(lonelyInfo)) groups.set(f.id, [...(groups.get(f.id) ?? []), f.entity.name])
  return [...groups].map(([id, entities]) => ({id, entities}))
}

/** The info findings as the one line that ends the details. */
export function infoLine(d: Diagnosis): string | undefined {
  const groups = infoGroups(d)
  if (groups.length === 0) return undefined
  const list = (names: string[]) => (names.length > 6 ? `${names.slice(0, 6).join(', ')} (+${names.length - 6} more)` : names.join(', '))
  return `[INFO] ${groups.map((g) => `${g.id} on ${list(g.entities)}`).join('; ')} — kvmdoctor rules show ID tells more`
}

/** The root causes the verdict names, in rank order. */
export function rootsOf(d: Diagnosis): Finding[] {
  const byKey = new Map(d.findings.map((f) => [findingKey(f), f]))
  return d.verdict.roots.map((k) => byKey.get(k)).filter((f): f is Finding => f !== undefined)
}

/** The verdict's mark, the same in every format: ✓ OK, ! warning or not checked, ✗ failing. */
/**
 * The commands that take a hop's element back, as a person would if it is not meant: the analysis gives them only
 * where the hop is proven to stop the flow (an undecided element may be what keeps the guest's traffic right).
 */
export const hopReverts = (hop: ResultHop): string[] => hop.element?.undo ?? []

export const verdictMark = (d: Diagnosis): string => (d.verdict.health === 'ok' ? '✓' : d.verdict.health === 'warn' ? '!' : '✗')

/**
 * The first lines of a fix, cut where what is shown stands alone: a step that cuts guests off (its "# disrupts" line)
 * comes with every step after it, which brings them back, so a cut falls before it; a fix that starts with one is
 * shown whole. A person pasting what "run this" shows never leaves a network destroyed or a link down.
 */
export function fixHead(fix: string[], max: number): string[] {
  if (fix.length <= max) return fix
  const disrupts = fix.findIndex((l) => l.startsWith(DISRUPTS))
  if (disrupts === -1 || disrupts >= max) return fix.slice(0, max)
  return disrupts > 0 ? fix.slice(0, disrupts) : fix
}

/** What each root cause asks to run: its commands, or its first note when it has none. */
export function rootFixes(d: Diagnosis, options: {maxRoots?: number; maxCommands?: number} = {}): {finding: Finding; commands: string[]; moreCommands: number; note?: string}[] {
  const {maxRoots = 5, maxCommands = 3} = options
  return rootsOf(d)
    .slice(0, maxRoots)
    .map((f) => {
      const commands = fixHead(f.fix, maxCommands)
      return {finding: f, commands, moreCommands: f.fix.length - commands.length, ...(f.fix.length === 0 && f.note?.[0] ? {note: f.note[0]} : {})}
    })
}
