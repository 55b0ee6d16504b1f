/**
 * The HTML report in headless Chromium: for every recording the page loads
 * with no console message (no script error, no blocked fetch) and its DOM has
 * the topology SVG with a box per element; for the multi-fault recordings and
 * a few more, a screenshot is saved under test/screenshots/out/ (its path is
 * printed) for a person to look at.
 */
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {renderHtml} from '../../reports/html.js'
import {topologyGraph} from '../../reports/topology-graph.js'
import {deriveTopology} from '../../src/core/topology.js'
import {ROOT} from '../helpers.js'
import {RECORDINGS, diagnosisOf} from '../reports/recordings.js'
import {missingTool} from '../tools.js'
import {CHROMIUM, chromium} from './chromium.js'

const OUT = join(ROOT, 'test/screenshots/out')
/** The multi-fault recordings, a healthy host, a bridged LAN and a detached tap: flows followed, so their hops show. */
const PICTURES = ['flushed-and-forward-off', 'bridged-forward-drop', 'dnsmasq-killed', 'healthy', 'tap-detached'].filter((name) => RECORDINGS.includes(name))

async function page(name: string, policyRules: boolean) {
  mkdirSync(OUT, {recursive: true})
  const d = await diagnosisOf(name, {policyRules})
  const file = join(OUT, `${name}${policyRules ? '.flows' : ''}.html`)
  writeFileSync(file, renderHtml(d))
  return {file, d}
}

describe.skipIf(!CHROMIUM)(CHROMIUM ? 'HTML report in headless Chromium' : `HTML report in headless Chromium: ${missingTool('chromium', 'chromium')}`, () => {
  it('the console check sees what a page logs, and fetches the page policy blocks', async () => {
    mkdirSync(OUT, {recursive: true})
    const file = join(OUT, 'control.html')
    writeFileSync(file, `<!doctype html><meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'"><img src="http://192.0.2.1/x.png"><script>console.error('control')</script>`)
    const run = await chromium(file, {dumpDom: true})
    expect(run.console.some((l) => l.includes('control'))).toBe(true)
    expect(run.console.some((l) => l.includes('Content Security Policy'))).toBe(true)
  })

  for (const name of RECORDINGS) {
    it(`${name}: loads with no console message, the topology drawn`, async () => {
      const {file, d} = await page(name, false)
      const run = await chromium(file, {dumpDom: true})
      expect(run.console).toEqual([])
      expect(run.stdout).toMatch(/<svg [^>]*class="topology"/)
      const boxes = run.stdout.match(/<g class="node /g) ?? []
      expect(boxes.length).toBe(topologyGraph(deriveTopology(d)).nodes.length)
      expect(run.stdout).toContain('<section id="checks">')
    })
  }

  for (const name of PICTURES) {
    it(`${name}: screenshot`, async () => {
      const {file} = await page(name, true)
      const png = file.replace(/\.html$/, '.png')
      const run = await chromium(file, {screenshot: png, width: 1280, height: 1600})
      expect(run.console).toEqual([])
      console.log(`screenshot: ${png}`)
    })
  }

  /**
   * What a person sees at 1280×800: the page's own policy is taken out of a copy so a measuring script can
   * run; it writes the drawing's smallest text as rendered (font size times the drawing's scale) and where
   * the verdict sits.
   */
  const MEASURE = `<script>addEventListener('load', () => {
  const svg = document.querySelector('svg.topology')
  const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width
  const sizes = [...svg.querySelectorAll('text')].map((t) => parseFloat(getComputedStyle(t).fontSize) * scale)
  const verdict = document.querySelector('.verdict').getBoundingClientRect()
  const out = document.createElement('pre')
  out.id = 'measure'
  out.textContent = JSON.stringify({smallestText: Math.min(...sizes), verdictTop: verdict.top, verdictBottom: verdict.bottom, viewport: innerHeight, width: innerWidth})
  document.body.append(out)
})</script>`
  for (const name of ['bridged-forward-drop', 'flushed-and-forward-off', 'dnsmasq-killed'].filter((n) => RECORDINGS.includes(n))) {
    it(`${name}: at 1280×800 the drawing's text is at least 11 px and the verdict is in the first screen`, async () => {
      const {file} = await page(name, true)
      const measured = file.replace(/\.html$/, '.measure.html')
      writeFileSync(measured, readFileSync(file, 'utf8').replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, '').replace('</body>', `${MEASURE}</body>`))
      const run = await chromium(measured, {dumpDom: true, width: 1280, height: 800})
      const m = JSON.parse(/<pre id="measure">([^<]*)<\/pre>/.exec(run.stdout)![1].replaceAll('&quot;', '"')) as {smallestText: number; verdictTop: number; verdictBottom: number; viewport: number; width: number}
      expect(m.width).toBeLessThanOrEqual(1280)
      expect(m.smallestText).toBeGreaterThanOrEqual(11)
      expect(m.verdictTop).toBeGreaterThanOrEqual(0)
      expect(m.verdictBottom).toBeLessThanOrEqual(m.viewport)
    })
  }

  it('bridged-forward-drop: the LAN is drawn with its uplink port, and no failing edge is labelled UP', async () => {
    const graph = topologyGraph(deriveTopology(await diagnosisOf('bridged-forward-drop', {policyRules: true})))
    const port = graph.nodes.find((n) => n.title === 'LAN port kdlab-lanp')!
    expect(port).toBeDefined()
    expect(graph.edges.some((e) => e.from === port.id && e.to === 'bridge:kdlab-br0')).toBe(true)
    expect(graph.edges.some((e) => e.to === 'bridge:kdlab-br0' && e.from === 'host')).toBe(false)
    for (const e of graph.edges.filter((x) => x.health === 'fail' && x.label)) expect(e.label).not.toMatch(/\bUP\b/)
  })

  it('the root cause block keeps its notes beside its fix', async () => {
    const d = await diagnosisOf('bridged-forward-drop')
    const html = renderHtml(d)
    const block = html.slice(html.indexOf('<section id="run-this">'), html.indexOf('</section>', html.indexOf('<section id="run-this">')))
    const root = d.findings.find((f) => !f.explainedBy && f.fix.length > 0 && (f.note?.length ?? 0) > 0)!
    expect(root).toBeDefined()
    expect(block).toContain('<div class="fix">')
    expect(block).toContain(root.note![0].replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('"', '&quot;').slice(0, 40))
  })
})
