import type {Diagnosis} from '../src/core/diagnose.js'
import type {Finding} from '../src/core/engine.js'
import {SEVERITIES} from '../src/core/severity.js'

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
