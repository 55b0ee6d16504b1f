import type {Diagnosis} from '../src/core/diagnose.js'
import {findingKey} from '../src/core/engine.js'
import {depthOf, entityLabel, groupLine, notCheckedByReason, privilegeHint, reportItems, summaryLine} from './summary.js'

/** Plain text for pipes and logs: no Markdown markup, no colour. */
export function renderText(d: Diagnosis, options: {showSuppressed?: boolean} = {}): string {
  const out: string[] = [summaryLine(d), '']
  const hint = privilegeHint(d)
  if (hint) out.push(`hint: ${hint}`, '')
  if (d.findings.length === 0) out.push(d.notChecked.length > 0 ? 'No findings among the rules that could be checked.' : 'No findings.', '')
  const byKey = new Map(d.findings.map((f) => [findingKey(f), f]))
  for (const item of reportItems(d)) {
    if ('group' in item) {
      out.push(groupLine(item.group, `${d.findings.find((f) => f.id === item.group.id)?.entity.kind ?? 'entity'}s`), '')
      continue
    }
    const f = item.finding
    const parent = f.explainedBy ? byKey.get(f.explainedBy) : undefined
    const indent = '    '.repeat(depthOf(f, byKey))
    out.push(`${indent}${f.rank}. [${f.severity.toUpperCase()}] ${f.id} (${entityLabel(f.entity)})${parent ? ` — explained by ${parent.rank}. ${parent.id}` : ''}`)
    out.push(`${indent}   ${f.title}`)
    out.push(`${indent}   ${f.summary}`)
    for (const e of f.evidence) out.push(`${indent}   evidence: ${e}`)
    for (const x of f.fix) out.push(`${indent}   fix: ${x}`)
    out.push('')
  }
  if (options.showSuppressed && d.suppressed.length > 0) {
    out.push('Suppressed by the ignore file:')
    for (const s of d.suppressed) out.push(`  ${s.finding.id} (${entityLabel(s.finding.entity)}) [${s.finding.severity}]: ${s.entry.reason} — until ${s.entry.expires}`)
    out.push('')
  }
  if (d.expiredIgnores.length > 0) {
    out.push('Expired ignore entries (no longer suppressing):')
    for (const e of d.expiredIgnores) out.push(`  ${e.rule}${e.entity ? ` (${e.entity})` : ''}: expired ${e.expires} — ${e.reason}`)
    out.push('')
  }
  if (d.notChecked.length > 0) {
    out.push('Not checked:')
    for (const g of notCheckedByReason(d)) out.push(`  ${g.reason}:`, `    ${g.items.join(', ')}`)
    out.push('')
  }
  return out.join('\n')
}
