/**
 * Markdown for tickets and bundles: the verdict and what to run first, the
 * findings with symptoms under their causes, a Mermaid picture of the host,
 * the checklist. Everything taken from the host is escaped (prose) or quoted
 * as code (evidence, commands), so it renders as the characters it was.
 */
import type {Diagnosis} from '../src/result/diagnosis.js'
import {findingKey} from '../src/result/findings.js'
import {checkCounts, checklist} from './checks.js'
import {mdCode, mdCodeBlock, mdText} from './escape.js'
import {sourceHeaderLines} from './source-header.js'
import {depthOf, entityLabel, infoGroups, lonelyInfo, notCheckedByReason, privilegeHint, rootFixes, summaryLine, verdictOf} from './summary.js'
import {topologyGraph, topologyMermaid} from './topology-graph.js'

export function renderMarkdown(d: Diagnosis, options: {showSuppressed?: boolean} = {}): string {
  const verdict = verdictOf(d)
  const out: string[] = [`# kvmdoctor: ${mdText(d.host)}`, '', `**${verdict.health === 'ok' ? '✓' : '✗'} ${mdText(verdict.text)}**`, '', mdText(summaryLine(d)), '']
  const header = sourceHeaderLines(d.source)
  if (header.length > 0) out.push(...header.map((l) => `> ${mdText(l)}`), '')
  const byKey = new Map(d.findings.map((f) => [findingKey(f), f]))
  const hint = privilegeHint(d)
  if (hint) out.push(`> ${mdText(hint)}`, '')

  const fixes = rootFixes(d, {maxRoots: Number.POSITIVE_INFINITY, maxCommands: Number.POSITIVE_INFINITY})
  if (fixes.length > 0) {
    out.push('## Root cause → run this', '')
    for (const {finding: f, commands, note} of fixes) {
      out.push(`${f.rank}. **[${f.severity.toUpperCase()}] ${mdText(f.id)}** on ${mdText(entityLabel(f.entity))}${f.blastRadius > 0 ? ` — ${f.blastRadius} running guest(s)` : ''}`, '')
      if (commands.length > 0) out.push(...mdCodeBlock(commands).map((l) => `   ${l}`), '')
      else if (note) out.push(`   ${mdText(note)}`, '')
    }
  }

  if (d.findings.length === 0) {
    out.push(d.notChecked.length > 0 ? 'No findings among the rules that could be checked (see "Not checked").' : 'No findings: nothing kvmdoctor knows to look for is wrong on this host.', '')
  }
  for (const f of d.findings.filter((x) => !lonelyInfo(x))) {
    const depth = depthOf(f, byKey)
    const heading = '#'.repeat(Math.min(2 + depth, 6))
    const under = f.explainedBy ? ` (explained by ${mdText(byKey.get(f.explainedBy)?.id ?? f.explainedBy)})` : ''
    out.push(`${heading} ${f.rank}. [${f.severity.toUpperCase()}] ${mdText(f.title)}${under}`, '')
    out.push(`${mdCode(f.id)} on ${mdText(entityLabel(f.entity))}${f.blastRadius > 0 ? ` — ${f.blastRadius} running guest(s) affected` : ''}`, '')
    out.push(mdText(f.summary), '')
    if (f.evidence.length > 0) out.push('Evidence:', '', ...f.evidence.map((e) => `- ${mdCode(e)}`), '')
    if (f.fix.length > 0) out.push('Fix:', '', ...mdCodeBlock(f.fix), '')
    if (f.check && f.check.length > 0) out.push('Check:', '', ...mdCodeBlock(f.check), '')
    if (f.note && f.note.length > 0) out.push('Note:', '', ...f.note.map((n) => `- ${mdText(n)}`), '')
  }
  const info = infoGroups(d)
  if (info.length > 0) {
    out.push('## Info', '', info.map((g) => `${mdCode(g.id)} on ${g.entities.map(mdText).join(', ')}`).join('; ') + ' — `kvmdoctor rules show ID` tells more.', '')
  }

  const topology = d.topology()
  out.push('## Topology', '', '```mermaid', ...topologyMermaid(topologyGraph(topology)), '```', '')
  if (topology.flowsUnavailable) out.push(`Guest flows were not followed: ${mdText(topology.flowsUnavailable)}`, '')

  const rows = checklist(d)
  const counts = checkCounts(rows)
  out.push('## Checks', '', `${rows.length} checks: ${counts.PASS} pass, ${counts.WARN} warn, ${counts.FAIL} fail, ${counts.SKIP} skipped.`, '')
  out.push('| status | check | on |', '| --- | --- | --- |', ...rows.map((r) => `| ${r.status} | ${mdCode(r.ruleId)} | ${mdText(r.detail)} |`), '')

  if (options.showSuppressed && d.suppressed.length > 0) {
    out.push('## Suppressed by the ignore file', '', ...d.suppressed.map((s) => `- ${mdCode(s.finding.id)} (${mdText(entityLabel(s.finding.entity))}) [${s.finding.severity}]: ${mdText(s.entry.reason)} — until ${mdText(s.entry.expires)}`), '')
  }
  if (d.expiredIgnores.length > 0) {
    out.push('## Expired ignore entries (no longer suppressing)', '', ...d.expiredIgnores.map((e) => `- ${mdCode(e.rule)}${e.entity ? ` (${mdText(e.entity)})` : ''}: expired ${mdText(e.expires)} — ${mdText(e.reason)}`), '')
  }
  if (d.notChecked.length > 0) {
    out.push('## Not checked', '', ...notCheckedByReason(d).map((g) => `- ${mdText(g.reason)}: ${g.items.map((i) => mdCode(i)).join(', ')}`), '')
  }
  const unavailable = d.probes.filter((p) => !p.ok)
  if (unavailable.length > 0) {
    out.push('## Probes that did not run', '', ...unavailable.map((p) => `- ${mdText(p.id)}: ${mdText(p.error ?? '')}`), '')
  }
  return out.join('\n')
}
