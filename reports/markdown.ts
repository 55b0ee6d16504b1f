import type {Diagnosis} from '../src/core/diagnose.js'
import {findingKey} from '../src/core/engine.js'
import {depthOf, entityLabel, groupLine, notCheckedByReason, privilegeHint, reportItems, summaryLine} from './summary.js'

export function renderMarkdown(d: Diagnosis, options: {showSuppressed?: boolean} = {}): string {
  const out: string[] = [`# kvmdoctor: ${d.host}`, '', summaryLine(d), '']
  const byKey = new Map(d.findings.map((f) => [findingKey(f), f]))
  const hint = privilegeHint(d)
  if (hint) out.push(`> ${hint}`, '')
  if (d.findings.length === 0) {
    out.push(d.notChecked.length > 0 ? 'No findings among the rules that could be checked (see "Not checked").' : 'No findings: nothing kvmdoctor knows to look for is wrong on this host.', '')
  }
  for (const item of reportItems(d)) {
    if ('group' in item) {
      out.push(`## ${groupLine(item.group, `${d.findings.find((f) => f.id === item.group.id)?.entity.kind ?? 'entity'}s`)}`, '')
      continue
    }
    const f = item.finding
    const depth = depthOf(f, byKey)
    const heading = depth === 0 ? '##' : '###'
    const under = f.explainedBy ? ` (explained by ${byKey.get(f.explainedBy)?.id ?? f.explainedBy})` : ''
    out.push(`${heading} ${f.rank}. [${f.severity.toUpperCase()}] ${f.title}${under}`, '')
    out.push(`\`${f.id}\` on ${entityLabel(f.entity)}${f.blastRadius > 0 ? ` — ${f.blastRadius} running guest(s) affected` : ''}`, '')
    out.push(f.summary, '')
    if (f.evidence.length > 0) out.push('Evidence:', '', ...f.evidence.map((e) => `- ${e}`), '')
    if (f.fix.length > 0) out.push('Fix:', '', '```sh', ...f.fix, '```', '')
  }
  if (options.showSuppressed && d.suppressed.length > 0) {
    out.push('## Suppressed by the ignore file', '', ...d.suppressed.map((s) => `- \`${s.finding.id}\` (${entityLabel(s.finding.entity)}) [${s.finding.severity}]: ${s.entry.reason} — until ${s.entry.expires}`), '')
  }
  if (d.expiredIgnores.length > 0) {
    out.push('## Expired ignore entries (no longer suppressing)', '', ...d.expiredIgnores.map((e) => `- \`${e.rule}\`${e.entity ? ` (${e.entity})` : ''}: expired ${e.expires} — ${e.reason}`), '')
  }
  if (d.notChecked.length > 0) {
    out.push('## Not checked', '', ...notCheckedByReason(d).map((g) => `- ${g.reason}: ${g.items.map((i) => `\`${i}\``).join(', ')}`), '')
  }
  const unavailable = d.probes.filter((p) => !p.ok)
  if (unavailable.length > 0) {
    out.push('## Probes that did not run', '', ...unavailable.map((p) => `- ${p.id}: ${p.error}`), '')
  }
  return out.join('\n')
}
