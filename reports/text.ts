import type {Diagnosis} from '../src/core/diagnose.js'
import {entityLabel, summaryLine} from './summary.js'

/** Plain text for pipes and logs: no Markdown markup, no colour. */
export function renderText(d: Diagnosis): string {
  const out: string[] = [summaryLine(d), '']
  if (d.findings.length === 0) out.push('No findings.', '')
  for (const f of d.findings) {
    const indent = f.explainedBy ? '    ' : ''
    out.push(`${indent}${f.rank}. [${f.severity.toUpperCase()}] ${f.id} (${entityLabel(f.entity)})${f.explainedBy ? ' — explained by the finding above' : ''}`)
    out.push(`${indent}   ${f.title}`)
    out.push(`${indent}   ${f.summary}`)
    for (const e of f.evidence) out.push(`${indent}   evidence: ${e}`)
    for (const x of f.fix) out.push(`${indent}   fix: ${x}`)
    out.push('')
  }
  if (d.notChecked.length > 0) {
    out.push('Not checked:')
    for (const n of d.notChecked) out.push(`  ${n.ruleId} (${entityLabel(n.entity)}): ${n.reason}`)
    out.push('')
  }
  return out.join('\n')
}
