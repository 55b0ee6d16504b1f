/**
 * One self-contained HTML file: the verdict, what to run, an SVG of the
 * topology, the findings, each guest's flows hop by hop (the stopping hop
 * marked) and the checklist. Inline CSS, SVG and a few lines of script (copy
 * buttons); its Content-Security-Policy forbids every fetch. Everything from
 * the host is escaped: interpolations are escaped unless marked raw.
 */
import {createHash} from 'node:crypto'
import type {Diagnosis} from '../src/result/diagnosis.js'
import {type Finding, findingKey} from '../src/result/findings.js'
import type {ResultFlow} from '../src/result/diagnosis.js'
import {checkCounts, checklist} from './checks.js'
import {html} from './escape.js'
import {type FindingTree, entityLabel, findingTrees, hopReverts, infoGroups, notCheckedByReason, privilegeHint, rootFixes, summaryLine, verdictMark} from './summary.js'
import {topologySvg} from './svg.js'
import {topologyGraph} from './topology-graph.js'
import {plural} from '../src/lib/plural.js'

class Raw {
  constructor(readonly html: string) {}
}
const raw = (s: string) => new Raw(s)
const piece = (v: unknown): string => (v instanceof Raw ? v.html : Array.isArray(v) ? v.map(piece).join('') : v === undefined || v === null || v === false ? '' : html(String(v)))
/** HTML with every interpolated value escaped, except Raw ones (other h`` results). */
function h(strings: TemplateStringsArray, ...values: unknown[]): Raw {
  return raw(strings.reduce((out, s, i) => out + s + (i < values.length ? piece(values[i]) : ''), ''))
}

const CSS = `
:root{--ok:#2e7d32;--warn:#b26a00;--fail:#c62828;--off:#777;--bg:#fff;--fg:#1b1b1b;--mute:#5f6368;--line:#e0e0e0;--code:#f6f8fa}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;max-width:1200px;padding:16px 24px 48px}
h1{font-size:20px;margin:0 0 8px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:15px;margin:16px 0 4px}
code,pre,.mono{font-family:"DejaVu Sans Mono","Liberation Mono",ui-monospace,Menlo,Consolas,monospace;font-size:13px}
pre{background:var(--code);padding:8px 10px;border-radius:6px;overflow-x:auto;margin:4px 0;white-space:pre-wrap;word-break:break-all}
.verdict{font-size:18px;font-weight:600;padding:10px 14px;border-radius:8px;border-left:6px solid}
.verdict.ok{background:#eef8ee;border-color:var(--ok)}.verdict.warn{background:#fff6e0;border-color:var(--warn)}.verdict.fail{background:#fdeaea;border-color:var(--fail)}
.meta,.mute{color:var(--mute);font-size:13px}
.sev{font-weight:700;font-size:12px;padding:1px 6px;border-radius:4px;color:#fff;vertical-align:1px}
.sev.critical{background:#8e0000}.sev.high{background:var(--fail)}.sev.medium{background:var(--warn)}.sev.low{background:#00838f}.sev.info{background:var(--off)}
.finding{border:1px solid var(--line);border-radius:8px;padding:8px 12px;margin:10px 0}
.finding .finding{margin-left:18px;border-left:4px solid var(--line)}
.finding ul{margin:4px 0;padding-left:20px}
.fix{position:relative}.fix button{position:absolute;top:4px;right:4px;font-size:12px;cursor:pointer}
.topo{overflow:auto;max-height:85vh;border:1px solid var(--line);border-radius:8px;padding:4px;cursor:grab}
.topo.dragging{cursor:grabbing;user-select:none}
.zoom{margin:4px 0}.zoom button{font-size:13px;min-width:2.2em;cursor:pointer}
svg.topology{display:block;font-family:"DejaVu Sans Mono","Liberation Mono",ui-monospace,monospace;font-size:12px}
svg .node rect{fill:#fafafa;stroke:#999;stroke-width:1.5}
svg .node.ok rect{fill:#eef8ee;stroke:var(--ok)}svg .node.warn rect{fill:#fff6e0;stroke:var(--warn)}svg .node.fail rect{fill:#fdeaea;stroke:var(--fail);stroke-width:3}
svg .node.off rect,svg .node.unknown rect{fill:#f2f2f2;stroke:var(--off);stroke-dasharray:5 3}
svg text{fill:#222}svg .title{font-weight:700}svg .node.off text{fill:var(--off)}
svg text.finding{fill:var(--fail);font-weight:700;text-decoration:underline}svg text.finding.medium,svg text.finding.low{fill:var(--warn)}
svg .edge{fill:none;stroke:#888;stroke-width:1.5}svg .edge.fail{stroke:var(--fail);stroke-width:2.5}svg .edge-label.fail{fill:var(--fail);font-weight:700}svg .edge.dashed{stroke-dasharray:6 4}
svg .arrowhead{fill:#888}svg .edge-label{font-size:11px;fill:var(--mute)}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
td.status{font-weight:700}td.PASS,td.pass{color:var(--ok)}td.WARN{color:var(--warn)}td.FAIL,td.fail{color:var(--fail)}td.SKIP,td.indeterminate{color:var(--mute)}
tr.stop{background:#fdeaea}tr.stop td{font-weight:600}
/* A phone-wide window: wide tables scroll inside themselves, long words in code wrap, the page never scrolls sideways. */
@media (max-width:700px){body{padding:12px}table{display:block;overflow-x:auto}}
li code,td code,p code{overflow-wrap:anywhere}
details{margin:6px 0}summary{cursor:pointer}
.legend span{margin-right:14px}.legend .ok{color:var(--ok)}.legend .warn{color:var(--warn)}.legend .fail{color:var(--fail)}.legend .off{color:var(--off)}
`

// The drawing is shown at its own size (text 11-12 px): zoomed with the buttons, panned by dragging or scrolling.
const SCRIPT = `for (const b of document.querySelectorAll('button.copy')) b.addEventListener('click', () => {
  const text = b.parentElement.querySelector('code').textContent
  const done = () => { b.textContent = 'Copied' }
  if (navigator.clipboard) navigator.clipboard.writeText(text).then(done, () => { b.textContent = 'Select and copy' })
  else b.textContent = 'Select and copy'
})
const topo = document.querySelector('.topo'), svg = topo && topo.querySelector('svg')
if (svg) {
  const natural = svg.viewBox.baseVal.width
  let scale = 1
  const zoom = (to) => { scale = Math.min(4, Math.max(0.25, to)); svg.setAttribute('width', String(natural * scale)); svg.setAttribute('height', String(svg.viewBox.baseVal.height * scale)) }
  for (const b of document.querySelectorAll('[data-zoom]')) b.addEventListener('click', () => {
    const z = b.dataset.zoom
    zoom(z === 'fit' ? (topo.clientWidth - 10) / natural : z === '1' ? 1 : scale * Number(z))
  })
  let drag
  topo.addEventListener('pointerdown', (e) => { if (e.target.closest('a')) return; drag = {x: e.clientX, y: e.clientY, left: topo.scrollLeft, top: topo.scrollTop}; topo.classList.add('dragging') })
  addEventListener('pointermove', (e) => { if (drag) { topo.scrollLeft = drag.left - (e.clientX - drag.x); topo.scrollTop = drag.top - (e.clientY - drag.y) } })
  addEventListener('pointerup', () => { drag = undefined; topo.classList.remove('dragging') })
}`

const sha256 = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`

export function renderHtml(d: Diagnosis, options: {showSuppressed?: boolean} = {}): string {
  const verdict = d.verdict
  const topology = d.topology()
  const hint = privilegeHint(d)
  const body = h`
<header>
<h1>kvmdoctor: ${d.host}</h1>
<div class="verdict ${verdict.health}">${verdictMark(d)} ${verdict.text}</div>
<p class="meta">${summaryLine(d)}</p>
${hint ? h`<p class="meta">${hint}</p>` : ''}
</header>
${runThis(d)}
<section id="topology"><h2>Topology</h2>
<div class="zoom" aria-label="Zoom the drawing"><button type="button" data-zoom="0.8">−</button> <button type="button" data-zoom="1.25">+</button> <button type="button" data-zoom="1">100%</button> <button type="button" data-zoom="fit">fit</button> <span class="mute">drag to pan</span></div>
<div class="topo">${raw(topologySvg(topologyGraph(topology)))}</div>
<p class="legend mute"><span class="ok">■ ok</span><span class="warn">■ warning</span><span class="fail">■ stops guests</span><span class="off">■ inactive or absent</span> ⚠ a finding: click it for its details</p>
${topology.flowsUnavailable ? h`<p class="mute">Guest flows were not followed: ${topology.flowsUnavailable}</p>` : ''}
</section>
${findingsSection(d)}
${flowsSection(d)}
${checksSection(d)}
${otherSections(d, options)}
<footer class="mute"><p>kvmdoctor ${d.version} · captured ${d.capturedAt}</p></footer>`
  // The policy allows this page's own style and script (by hash) and nothing else: no fetch of any kind.
  const csp = `default-src 'none'; style-src ${sha256(CSS)}; script-src ${sha256(SCRIPT)}; img-src data:; base-uri 'none'; form-action 'none'`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${html(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${html(`kvmdoctor: ${d.host} — ${verdict.text}`)}</title>
<style>${CSS}</style>
</head>
<body>
${body.html}
<script>${SCRIPT}</script>
</body>
</html>
`
}

function runThis(d: Diagnosis): Raw {
  const fixes = rootFixes(d, {maxRoots: Number.POSITIVE_INFINITY, maxCommands: Number.POSITIVE_INFINITY})
  if (fixes.length === 0) return raw('')
  return h`<section id="run-this"><h2>Root cause → run this</h2>
${fixes.map(
  ({finding: f, commands}) => h`<div><p><a href="#finding-${f.rank}">${f.rank}.</a> <span class="sev ${f.severity}">${f.severity.toUpperCase()}</span> <b>${f.id}</b> on ${entityLabel(f.entity)}${f.blastRadius > 0 ? ` — ${plural(f.blastRadius, 'running guest')}` : ''}</p>
${commands.length > 0 ? fixBlock(commands) : ''}${f.note && f.note.length > 0 ? h`<ul class="notes">${f.note.map((n) => h`<li>${n}</li>`)}</ul>` : ''}</div>`,
)}
</section>`
}

const fixBlock = (commands: string[]) => h`<div class="fix"><pre><code>${commands.join('\n')}</code></pre><button type="button" class="copy">Copy</button></div>`

function findingsSection(d: Diagnosis): Raw {
  const trees = findingTrees(d)
  const info = infoGroups(d)
  if (trees.length === 0 && info.length === 0) return h`<section id="findings"><h2>Findings</h2><p>${d.notChecked.length > 0 ? 'No findings among the rules that could be checked.' : 'No findings: nothing kvmdoctor knows to look for is wrong on this host.'}</p></section>`
  const byKey = new Map(d.findings.map((f) => [findingKey(f), f]))
  const node = (t: FindingTree): Raw => {
    const f: Finding = t.finding
    const also = (f.causes ?? []).slice(1).map((k) => byKey.get(k)).filter((x): x is Finding => x !== undefined)
    return h`<div class="finding" id="finding-${f.rank}">
<h3>${f.rank}. <span class="sev ${f.severity}">${f.severity.toUpperCase()}</span> ${f.title}</h3>
<p class="mute"><code>${f.id}</code> on ${entityLabel(f.entity)}${f.blastRadius > 0 ? ` — ${plural(f.blastRadius, 'running guest')} affected` : ''}${also.length > 0 ? ` — also explained by ${also.map((c) => `${c.rank}. ${c.id}`).join(', ')}` : ''}</p>
<p>${f.summary}</p>
${f.evidence.length > 0 ? h`<p>Evidence:</p><ul>${f.evidence.map((e) => h`<li><code>${e}</code></li>`)}</ul>` : ''}
${f.fix.length > 0 ? h`<p>Fix:</p>${fixBlock(f.fix)}` : ''}
${f.check && f.check.length > 0 ? h`<p>Check:</p>${fixBlock(f.check)}` : ''}
${f.note && f.note.length > 0 ? h`<p>Note:</p><ul>${f.note.map((n) => h`<li>${n}</li>`)}</ul>` : ''}
${t.children.map(node)}
</div>`
  }
  return h`<section id="findings"><h2>Findings</h2>
${trees.map(node)}
${info.length > 0 ? h`<p class="mute"><span class="sev info">INFO</span> ${info.map((g) => `${g.id} on ${g.entities.join(', ')}`).join('; ')} — <code>kvmdoctor rules show ID</code> tells more.</p>` : ''}
</section>`
}

function flowsSection(d: Diagnosis): Raw {
  if (d.flows.length === 0) {
    return h`<section id="flows"><h2>Guest flows</h2><p class="mute">${d.datapathUnavailable ? `Not followed: ${d.datapathUnavailable}` : 'No running guest has an interface on a bridge or libvirt network.'}</p></section>`
  }
  const byGuest = new Map<string, ResultFlow[]>()
  for (const f of d.flows) byGuest.set(f.guest, [...(byGuest.get(f.guest) ?? []), f])
  const sign = (v: string) => (v === 'pass' ? '✓' : v === 'fail' ? '✗' : '?')
  return h`<section id="flows"><h2>Guest flows</h2>
${[...byGuest].map(
  ([guest, flows]) => h`<h3>${guest}</h3>
<table><thead><tr><th></th><th>flow</th><th>what</th><th>decided at</th></tr></thead><tbody>
${flows.map((f) => h`<tr><td class="status ${f.verdict}">${sign(f.verdict)}</td><td>${f.kind}</td><td>${f.description}</td><td>${f.decidedBy ? `${f.decidedBy.name}: ${f.decidedBy.element?.text ?? f.decidedBy.detail}` : ''}</td></tr>`)}
</tbody></table>
${flows.map(
  (f) => h`<details${f.verdict !== 'pass' ? raw(' open') : ''}><summary>${sign(f.verdict)} ${f.kind} ${f.iface} — ${f.description}</summary>
<p class="mono mute">${f.packet}</p>
<table><thead><tr><th>#</th><th></th><th>hop</th><th>detail</th></tr></thead><tbody>
${f.hops.map(
  (hop, i) => h`<tr${hop === f.decidedBy ? raw(' class="stop"') : ''}><td>${i + 1}</td><td class="status ${hop.verdict}">${sign(hop.verdict)}</td><td>${hop.name}</td><td>${hop.detail}${hop.verdict !== 'pass' && hop.element ? h`<br><span class="mono">decided by: ${hop.element.text}</span>${hopReverts(hop).map((u) => h`<br><span class="mono">revert: ${u}</span>`)}${hop.element.undoWithheld ? h`<br>no revert printed: the fix judge refuses <span class="mono">${hop.element.undoWithheld}</span>` : ''}` : ''}</td></tr>`,
)}
</tbody></table></details>`,
)}`,
)}
</section>`
}

function checksSection(d: Diagnosis): Raw {
  const rows = checklist(d)
  const c = checkCounts(rows)
  return h`<section id="checks"><h2>Checks</h2>
<p>${rows.length} checks: ${c.PASS} pass, ${c.WARN} warn, ${c.FAIL} fail, ${c.SKIP} skipped.</p>
<table><thead><tr><th>status</th><th>check</th><th>on</th></tr></thead><tbody>
${rows.map((r) => h`<tr><td class="status ${r.status}">${r.status}</td><td><code>${r.ruleId}</code></td><td>${r.detail}</td></tr>`)}
</tbody></table></section>`
}

function otherSections(d: Diagnosis, options: {showSuppressed?: boolean}): Raw {
  const unavailable = d.probes.filter((p) => !p.ok)
  return h`${
    options.showSuppressed && d.suppressed.length > 0
      ? h`<section><h2>Suppressed by the ignore file</h2><ul>${d.suppressed.map((s) => h`<li><code>${s.finding.id}</code> (${entityLabel(s.finding.entity)}) [${s.finding.severity}]: ${s.entry.reason} — until ${s.entry.expires}</li>`)}</ul></section>`
      : ''
  }
${d.expiredIgnores.length > 0 ? h`<section><h2>Expired ignore entries</h2><ul>${d.expiredIgnores.map((e) => h`<li><code>${e.rule}</code>${e.entity ? ` (${e.entity})` : ''}: expired ${e.expires} — ${e.reason}</li>`)}</ul></section>` : ''}
${d.notChecked.length > 0 ? h`<section><h2>Not checked</h2><ul>${notCheckedByReason(d).map((g) => h`<li>${g.reason}: ${g.items.join(', ')}</li>`)}</ul></section>` : ''}
${unavailable.length > 0 ? h`<section><h2>Probes that did not run</h2><ul>${unavailable.map((p) => h`<li>${p.id}: ${p.error ?? ''}</li>`)}</ul></section>` : ''}`
}
