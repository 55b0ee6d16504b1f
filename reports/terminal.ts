/**
 * The report for the on-call screen, and (without colour or wrapping) for
 * pipes: the verdict first; root causes with their symptoms nested under them,
 * each with evidence, the commands that fix it and notes; the topology; what
 * was not checked; info findings in one line; and last, "root cause → run
 * this" and the verdict again, so the final screen is the one that matters.
 */
import type {Diagnosis} from '../src/result/diagnosis.js'
import type {Finding} from '../src/result/findings.js'
import {checkCounts, checklist} from './checks.js'
import {sourceHeaderLines} from './source-header.js'
import {type Line, type TreeNode, renderTable, renderTree, wrapLine} from './layout.js'
import {PLAIN, type Style} from './style.js'
import {type FindingTree, entityLabel, findingTrees, infoLine, notCheckedByReason, privilegeHint, rootFixes, summaryLine, verdictOf} from './summary.js'
import {topologyTree} from './topology-text.js'

export interface TerminalOptions {
  style?: Style
  /** Columns to fit; Infinity keeps lines whole (pipes). */
  width?: number
  showSuppressed?: boolean
  /** The checklist instead of the findings' details. */
  checks?: boolean
  /** Leave the topology out (it has its own command). */
  topology?: boolean
}

const STATUS_HEALTH = {PASS: 'ok', WARN: 'warn', FAIL: 'fail', SKIP: 'off'} as const

export function renderTerminal(d: Diagnosis, options: TerminalOptions = {}): string {
  const style = options.style ?? PLAIN
  const width = options.width ?? Number.POSITIVE_INFINITY
  const out: string[] = []
  const para = (line: Line | string) => out.push(...wrapLine(line, width))
  const verdict = verdictOf(d)
  const verdictLine = () => para(style.health(verdict.health, `${style.mark[verdict.health === 'ok' ? 'ok' : verdict.health === 'warn' ? 'warn' : 'fail']} ${verdict.text}`))

  verdictLine()
  para(style.dim(summaryLine(d)))
  for (const line of sourceHeaderLines(d.source)) para({text: style.dim(line), hang: 4})
  const hint = privilegeHint(d)
  if (hint) para({label: 'hint: ', text: hint})
  out.push('')

  if (options.checks) {
    out.push(...checklistLines(d, style, width), '')
  } else {
    if (d.findings.length === 0) para(d.notChecked.length > 0 ? 'No findings among the rules that could be checked.' : 'No findings: nothing kvmdoctor knows to look for is wrong on this host.')
    const trees = findingTrees(d)
    for (const t of trees) out.push(...renderTree([findingNode(t, d, style)], width, style), '')
    if (options.topology !== false) {
      out.push(style.bold('Topology'))
      out.push(...renderTree(topologyTree(d.topology(), {style, maxQuietGuests: 8}), width, style), '')
    }
  }

  if (options.showSuppressed && d.suppressed.length > 0) {
    out.push(style.bold('Suppressed by the ignore file:'))
    for (const s of d.suppressed) para({label: '  ', text: `${s.finding.id} (${entityLabel(s.finding.entity)}) [${s.finding.severity}]: ${s.entry.reason} — until ${s.entry.expires}`, hang: 4})
    out.push('')
  }
  if (d.expiredIgnores.length > 0) {
    out.push(style.bold('Expired ignore entries (no longer suppressing):'))
    for (const e of d.expiredIgnores) para({label: '  ', text: `${e.rule}${e.entity ? ` (${e.entity})` : ''}: expired ${e.expires} — ${e.reason}`, hang: 4})
    out.push('')
  }
  if (d.notChecked.length > 0 && !options.checks) {
    out.push(style.bold('Not checked:'))
    for (const g of notCheckedByReason(d)) para({label: '  ', text: `${g.reason}: ${g.items.join(', ')}`, hang: 4})
    out.push('')
  }
  const info = infoLine(d)
  if (info && !options.checks) out.push(...wrapLine({label: style.severity('info', '[INFO] '), text: style.severity('info', info.slice('[INFO] '.length))}, width), '')

  const fixes = rootFixes(d)
  if (fixes.length > 0) {
    out.push(style.bold(`Root cause ${style.mark.arrow} run this`))
    for (const {finding: f, commands, moreCommands, note} of fixes) {
      const affected = f.blastRadius > 0 ? ` · affects ${f.blastRadius} running guest${f.blastRadius === 1 ? '' : 's'}` : ''
      const explains = f.explains.length > 0 ? ` · explains ${f.explains.length} finding${f.explains.length === 1 ? '' : 's'}` : ''
      para({text: `${f.rank}. ${style.severity(f.severity, f.severity.toUpperCase())} ${f.id} (${entityLabel(f.entity)})${style.dim(affected + explains)}`, hang: 3})
      for (const c of commands) out.push(`   ${style.command(c)}`)
      if (moreCommands > 0) out.push(style.dim(`   (+${moreCommands} more command(s) in ${f.rank}. above)`))
      if (note) para({label: `   ${style.dim('note: ')}`, text: style.dim(note)})
    }
    const more = verdict.roots.length - fixes.length
    if (more > 0) out.push(style.dim(`   (+${more} more root cause(s) above)`))
  }
  verdictLine()
  return out.join('\n') + '\n'
}

/** A finding and its symptoms as a tree node: head, title, summary, evidence, fix commands (never wrapped), notes. */
function findingNode(t: FindingTree, d: Diagnosis, style: Style): TreeNode {
  const f = t.finding
  const otherCauses = (f.causes ?? []).slice(1).map((k) => d.findings.find((x) => `${x.id}@${x.entity.kind}:${x.entity.name}` === k)).filter((x): x is Finding => x !== undefined)
  const head = `${f.rank}. ${style.severity(f.severity, `[${f.severity.toUpperCase()}]`)} ${style.bold(f.id)} (${entityLabel(f.entity)})${otherCauses.length > 0 ? style.dim(` — also explained by ${otherCauses.map((c) => `${c.rank}. ${c.id}`).join(', ')}`) : ''}`
  const lines: (Line | string)[] = [head, style.bold(f.title), f.summary]
  for (const e of f.evidence) lines.push({label: `${style.dim('evidence:')} `, text: e})
  for (const x of f.fix) lines.push({label: `${style.dim('fix:')} `, text: style.command(x), keep: true})
  for (const x of f.check ?? []) lines.push({label: `${style.dim('check:')} `, text: style.command(x), keep: true})
  for (const n of f.note ?? []) lines.push({label: `${style.dim('note:')} `, text: n})
  return {lines, children: t.children.map((c) => findingNode(c, d, style))}
}

/** Every check with PASS / WARN / FAIL / SKIP, then the counts. */
export function checklistLines(d: Diagnosis, style: Style, width: number): string[] {
  const rows = checklist(d)
  const table = renderTable(
    [
      {header: 'STATUS', priority: 1},
      {header: 'CHECK', priority: 1},
      {header: 'ON', priority: 1, min: 24},
    ],
    rows.map((r) => [style.health(STATUS_HEALTH[r.status], r.status), r.ruleId, r.detail]),
    {width, style},
  )
  const counts = checkCounts(rows)
  return [...table.lines, '', `${rows.length} checks: ${counts.PASS} pass, ${counts.WARN} warn, ${counts.FAIL} fail, ${counts.SKIP} skipped`]
}
