import type {Diagnosis} from '../src/core/diagnose.js'
import type {Finding} from '../src/core/engine.js'
import {SEVERITIES} from '../src/core/severity.js'

/** One line: host, counts per severity, probes that could not run. */
export function summaryLine(d: Diagnosis): string {
  const counts = SEVERITIES.map((s) => `${d.counts[s]} ${s}`).join(', ')
  const unavailable = d.probes.filter((p) => !p.ok && !p.skipped)
  const probes = unavailable.length === 0 ? 'all probes ran' : `${unavailable.length} probe(s) unavailable: ${unavailable.map((p) => p.id).join(', ')}`
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
