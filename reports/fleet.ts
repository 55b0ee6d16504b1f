/**
 * The fleet view (src/core/fleet.ts) as text, Markdown and one self-contained HTML page. JSON is
 * the view itself (docs/schemas/fleet.schema.json). What the hosts' reports say is data here, as
 * in every report: escaped for Markdown and HTML, control characters made visible by the caller.
 */
import type {GateVerdict} from '../src/result/diagnosis.js'
import type {FleetEntity, FleetFinding, FleetHost, FleetView} from '../src/result/fleet.js'
import type {Severity} from '../src/lib/severity.js'
import {html, mdText} from './escape.js'
import {entityLabel} from './summary.js'
import {PLAIN, type Style} from './style.js'

export const FLEET_FORMATS = ['text', 'md', 'html', 'json'] as const
export type FleetFormat = (typeof FLEET_FORMATS)[number]

const VERDICT: Record<GateVerdict, string> = {fail: 'FAIL', 'not-checked': 'NOT CHECKED', pass: 'OK'}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`
const newMark = (x: {new?: boolean}) => (x.new ? ' (new)' : '')

/** The one-line verdict over the whole fleet. */
export function fleetHeadline(v: FleetView): string {
  const parts = [
    plural(v.summary.hosts, 'host'),
    `${v.summary.failing} failing at --fail-on ${v.failOn}`,
    ...(v.summary.notChecked > 0 ? [`${v.summary.notChecked} not checked`] : []),
    `${v.summary.passing} ok`,
    ...(v.summary.errors > 0 ? [plural(v.summary.errors, 'input error')] : []),
  ]
  const since = v.baseline ? `; since the baseline: ${plural(v.summary.newFindings ?? 0, 'new finding')}, ${v.summary.resolvedFindings ?? 0} resolved` : ''
  return `kvmdoctor fleet: ${parts.join(', ')}${since}`
}

/** The view's inputs that could not be read, the baseline's named as such. */
const inputErrors = (v: FleetView) => [...v.errors, ...(v.baseline?.errors.map((e) => ({...e, source: `baseline ${e.source}`})) ?? [])]

const hostsOf = (f: FleetFinding) => f.hosts.map((h) => `${h.host}${h.rootCause ? '' : ' (symptom)'}${newMark(h)}`).join(', ')
const rootLabel = (r: {id: string; entity: FleetEntity}) => `${r.id} (${entityLabel(r.entity)})`
const worstLabel = (h: FleetHost) => (h.worst ? h.worst.toUpperCase() : 'none')

export function renderFleetText(v: FleetView, options: {style?: Style} = {}): string {
  const s = options.style ?? PLAIN
  const sev = (x: Severity, text: string) => s.severity(x, text)
  const out = [s.bold(fleetHeadline(v)), '']
  out.push('By finding:')
  if (v.findings.length === 0) out.push('  none')
  const idWidth = Math.max(0, ...v.findings.map((f) => f.id.length))
  for (const f of v.findings) out.push(`  ${sev(f.severity, f.severity.toUpperCase().padEnd(8))}  ${f.id.padEnd(idWidth)}  ${plural(f.hosts.length, 'host').padEnd(8)}  ${hostsOf(f)}`)
  out.push('', 'By host:')
  if (v.hosts.length === 0) out.push('  none')
  const hostWidth = Math.max(0, ...v.hosts.map((h) => h.host.length))
  for (const h of v.hosts) {
    const verdict = VERDICT[h.verdict].padEnd(11)
    const mark = h.verdict === 'fail' ? s.health('fail', verdict) : h.verdict === 'pass' ? s.health('ok', verdict) : s.health('warn', verdict)
    const head = `  ${mark}  ${h.host.padEnd(hostWidth)}  ${h.worst ? sev(h.worst, worstLabel(h).padEnd(8)) : s.dim('none'.padEnd(8))}  ${s.dim(`${h.capturedAt}  ${h.source}`)}${newMark(h)}`
    out.push(head)
    for (const r of h.rootCauses) out.push(`      ${sev(r.severity, r.severity.toUpperCase().padEnd(8))}  ${rootLabel(r)}${newMark(r)}: ${r.title}`)
    if (h.symptoms > 0) out.push(s.dim(`      and ${plural(h.symptoms, 'symptom')} of these`))
    if (h.notChecked.length > 0) out.push(s.dim(`      not checked: ${h.notChecked.join(', ')}`))
    if (h.probesFailed.length > 0) out.push(s.dim(`      probes that could not read: ${h.probesFailed.join(', ')}`))
    if (h.superseded) out.push(s.dim(`      older reports given too (not counted): ${h.superseded.join(', ')}`))
  }
  if (v.resolved && v.resolved.length > 0) {
    out.push('', 'Resolved since the baseline:')
    for (const r of v.resolved) out.push(`  ${r.host}  ${rootLabel(r)}`)
  }
  const errors = inputErrors(v)
  if (errors.length > 0) {
    out.push('', 'Input errors (not in the view):')
    for (const e of errors) out.push(`  ${s.health('fail', s.mark.fail)} ${e.source}: ${e.message}`)
  }
  return out.join('\n') + '\n'
}

const mdCell = (text: string) => mdText(text)

export function renderFleetMarkdown(v: FleetView): string {
  const out = ['# kvmdoctor fleet', '', `**${mdText(fleetHeadline(v).replace(/^kvmdoctor fleet: /, ''))}**`, '', '## By finding', '']
  if (v.findings.length === 0) out.push('No findings on any host.')
  else {
    out.push('| Severity | Finding | Hosts | Where |', '| --- | --- | --- | --- |')
    for (const f of v.findings) out.push(`| ${f.severity} | ${mdCell(f.id)} | ${f.hosts.length} | ${mdCell(hostsOf(f))} |`)
  }
  out.push('', '## By host', '', '| Verdict | Host | Worst | Root causes | Captured |', '| --- | --- | --- | --- | --- |')
  for (const h of v.hosts) {
    const roots = h.rootCauses.map((r) => `${r.severity} ${rootLabel(r)}${newMark(r)}`).join('; ') || 'none'
    const extra = [h.symptoms > 0 ? `+${plural(h.symptoms, 'symptom')}` : '', h.notChecked.length > 0 ? `not checked: ${h.notChecked.join(', ')}` : ''].filter(Boolean).join('; ')
    out.push(`| ${VERDICT[h.verdict]} | ${mdCell(h.host + newMark(h))} | ${worstLabel(h)} | ${mdCell(roots + (extra ? `; ${extra}` : ''))} | ${mdCell(h.capturedAt)} |`)
  }
  if (v.resolved && v.resolved.length > 0) {
    out.push('', '## Resolved since the baseline', '')
    for (const r of v.resolved) out.push(`- ${mdText(`${r.host}: ${rootLabel(r)}`)}`)
  }
  const errors = inputErrors(v)
  if (errors.length > 0) {
    out.push('', '## Input errors', '')
    for (const e of errors) out.push(`- ${mdText(`${e.source}: ${e.message}`)}`)
  }
  return out.join('\n') + '\n'
}

const SEVERITY_COLOUR: Record<Severity | 'none', string> = {critical: '#b00020', high: '#d32f2f', medium: '#ef8f00', low: '#0277bd', info: '#607d8b', none: '#2e7d32'}

export function renderFleetHtml(v: FleetView): string {
  const badge = (x: Severity | null) => `<span class="sev" style="background:${SEVERITY_COLOUR[x ?? 'none']}">${html(x ?? 'none')}</span>`
  const findingRows = v.findings
    .map((f) => `<tr><td>${badge(f.severity)}</td><td><code>${html(f.id)}</code></td><td>${f.hosts.length}</td><td>${f.hosts.map((h) => `${html(h.host)}${h.rootCause ? '' : ' <small>(symptom)</small>'}${h.new ? ' <b>new</b>' : ''}`).join(', ')}</td></tr>`)
    .join('\n')
  const hostRows = v.hosts
    .map((h) => {
      const roots = h.rootCauses.map((r) => `<li>${badge(r.severity)} <code>${html(r.id)}</code> ${html(entityLabel(r.entity))}${r.new ? ' <b>new</b>' : ''}: ${html(r.title)}</li>`).join('')
      const extra = [h.symptoms > 0 ? `and ${plural(h.symptoms, 'symptom')}` : '', h.notChecked.length > 0 ? `not checked: ${h.notChecked.join(', ')}` : '', h.probesFailed.length > 0 ? `probes that could not read: ${h.probesFailed.join(', ')}` : '']
        .filter(Boolean)
        .map((t) => `<li class="dim">${html(t)}</li>`)
        .join('')
      return `<tr class="${h.verdict}"><td>${html(VERDICT[h.verdict])}</td><td>${html(h.host)}${h.new ? ' <b>new</b>' : ''}</td><td>${badge(h.worst)}</td><td><ul>${roots}${extra}</ul></td><td><small>${html(h.capturedAt)}<br>${html(h.source)}</small></td></tr>`
    })
    .join('\n')
  const errors = inputErrors(v)
  const resolved = v.resolved ?? []
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${html(fleetHeadline(v))}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0;width:100%}
th,td{border-bottom:1px solid #ddd;padding:.4em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4}
.sev{color:#fff;border-radius:3px;padding:0 .4em;font-size:12px;text-transform:uppercase}
tr.fail td:first-child{color:#b00020;font-weight:bold}
tr.pass td:first-child{color:#2e7d32;font-weight:bold}
tr.not-checked td:first-child{color:#ef8f00;font-weight:bold}
ul{margin:0;padding-left:1.2em}
.dim{color:#777}
.errors li{color:#b00020}
</style>
</head>
<body>
<h1>kvmdoctor fleet</h1>
<p><strong>${html(fleetHeadline(v).replace(/^kvmdoctor fleet: /, ''))}</strong></p>
<h2>By finding</h2>
${v.findings.length === 0 ? '<p>No findings on any host.</p>' : `<table><thead><tr><th>Severity</th><th>Finding</th><th>Hosts</th><th>Where</th></tr></thead><tbody>\n${findingRows}\n</tbody></table>`}
<h2>By host</h2>
<table><thead><tr><th>Verdict</th><th>Host</th><th>Worst</th><th>Root causes</th><th>Captured</th></tr></thead><tbody>
${hostRows}
</tbody></table>
${resolved.length > 0 ? `<h2>Resolved since the baseline</h2>\n<ul>${resolved.map((r) => `<li>${html(`${r.host}: ${rootLabel(r)}`)}</li>`).join('')}</ul>` : ''}
${errors.length > 0 ? `<h2>Input errors</h2>\n<ul class="errors">${errors.map((e) => `<li>${html(`${e.source}: ${e.message}`)}</li>`).join('')}</ul>` : ''}
</body>
</html>
`
}

export function renderFleet(v: FleetView, format: Exclude<FleetFormat, 'json'>, options: {style?: Style} = {}): string {
  if (format === 'md') return renderFleetMarkdown(v)
  if (format === 'html') return renderFleetHtml(v)
  return renderFleetText(v, options)
}
