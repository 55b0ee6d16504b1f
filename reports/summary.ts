import type {Diagnosis} from '../src/result/diagnosis.js'
import {type Finding, findingKey} from '../src/result/findings.js'
import {SEVERITIES, type Severity, severityWeight} from '../src/lib/severity.js'

/** One line: host, counts per severity, probes that could not run. */
export function summaryLine(d: Diagnosis): string {
  const counts = SEVERITIES.map((s) => `${d.counts[s]} ${s}`).join(', ')
  const unavailable = d.probes.filter((p) => !p.ok && !p.skipped)
  const partial = d.probes.filter((p) => p.ok && p.degraded && p.degraded.length > 0)
  const probes = [
    unavailable.length === 0 && partial.length === 0 ? 'all probes ran' : '',
    unavailable.length > 0 ? `${unavailable.length} probe(s) unavailable: ${unavailable.map((p) => p.id).join(', ')}` : '',
    partial.length > 0 ? `${partial.length} probe(s) read only part of their sources: ${partial.map((p) => p.id).join(', ')}` : '',
  ].filter(Boolean).join('; ')
  const notChecked = new Set(d.notChecked.map((n) => n.ruleId)).size
  const suppressed = d.suppressed.length > 0 ? `; ${d.suppressed.length} suppressed` : ''
  return `kvmdoctor ${d.host} at ${d.capturedAt}: ${counts}; ${probes}${notChecked > 0 ? `; ${notChecked} rule(s) not checked` : ''}${suppressed}`
}

export function entityLabel(e: {kind: string; name: string} | null): string {
  return e ? `${e.kind} ${e.name}` : 'all'
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

const worstOf = (fs: Finding[]): Severity | null => fs.map((f) => f.severity).sort((a, b) => severityWeight(b) - severityWeight(a))[0] ?? null

export interface Verdict {
  health: 'ok' | 'warn' | 'fail'
  /** The worst severity above info, or null. */
  worst: Severity | null
  /** Root causes of everything above info, in rank order. */
  roots: Finding[]
  text: string
}

/** The one line that says how the host is: worst severity, how many root causes, what was not checked. */
export function verdictOf(d: Diagnosis): Verdict {
  const serious = d.findings.filter((f) => f.severity !== 'info')
  const worst = worstOf(serious)
  const byKey = new Map(d.findings.map((f) => [findingKey(f), f]))
  const rootOf = (f: Finding): Finding => (f.explainedBy && byKey.get(f.explainedBy) ? rootOf(byKey.get(f.explainedBy)!) : f)
  const rootSet = new Set(serious.map(rootOf))
  const roots = d.findings.filter((f) => rootSet.has(f))
  const notChecked = new Set(d.notChecked.map((n) => n.ruleId)).size
  // A run that could not check everything is never presented as a healthy host.
  const health = worst === null ? (notChecked > 0 ? 'warn' : 'ok') : severityWeight(worst) >= severityWeight('high') ? 'fail' : 'warn'
  const unchecked = notChecked > 0 ? `; ${notChecked} rule(s) not checked` : ''
  const counts = SEVERITIES.filter((s) => d.counts[s] > 0).map((s) => `${d.counts[s]} ${s}`).join(', ')
  const info = d.counts.info > 0 ? ` (${d.counts.info} info)` : ''
  const text =
    worst !== null
      ? `${worst.toUpperCase()}  ${d.host}: ${roots.length} root cause${roots.length === 1 ? '' : 's'} (${counts})${unchecked}`
      : notChecked > 0
        ? `NOT CHECKED  ${d.host}: no problems found in what could be checked${info}${unchecked}`
        : `OK  ${d.host}: no problems found${info}`
  return {health, worst, roots, text}
}

/** What each root cause asks to run: its commands, or its first note when it has none. */
export function rootFixes(d: Diagnosis, options: {maxRoots?: number; maxCommands?: number} = {}): {finding: Finding; commands: string[]; moreCommands: number; note?: string}[] {
  const {maxRoots = 5, maxCommands = 3} = options
  return verdictOf(d)
    .roots.slice(0, maxRoots)
    .map((f) => ({finding: f, commands: f.fix.slice(0, maxCommands), moreCommands: Math.max(0, f.fix.length - maxCommands), ...(f.fix.length === 0 && f.note?.[0] ? {note: f.note[0]} : {})}))
}
