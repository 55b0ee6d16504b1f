/**
 * The HTML report in headless Chromium: for every recording the page loads
 * with no console message (no script error, no blocked fetch) and its DOM has
 * the topology SVG with a box per element; for the multi-fault recordings and
 * a few more, a screenshot is saved under test/screenshots/out/ (its path is
 * printed) for a person to look at.
 */
import {mkdirSync, writeFileSync} from 'node:fs'
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
})
