/**
 * What a person sees of the HTML report on a laptop (1280×800) and a phone (375×800): the first root
 * cause and the first line of its fix in the first screen, no element pushing the page wider than the
 * window, and each Copy button putting exactly the fix kvmdoctor computed on the clipboard. A probe
 * script (allowed by its hash, the page's policy otherwise kept) measures the laid-out page in
 * headless Chromium, clicks every Copy button against a recording clipboard and writes what it saw
 * into the DOM, which Chromium dumps.
 */
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {renderHtml} from '../../reports/html.js'
import {findingTrees, rootFixes, type FindingTree} from '../../reports/summary.js'
import {ROOT} from '../helpers.js'
import {RECORDINGS, diagnosisOf} from '../reports/recordings.js'
import {missingTool} from '../tools.js'
import {CHROMIUM, chromium} from './chromium.js'

const OUT = join(ROOT, 'test/screenshots/out')
/** The multi-fault recordings, a detached tap and a healthy host (no root cause), flows followed. */
const PAGES = ['flushed-and-forward-off', 'bridged-forward-drop', 'dnsmasq-killed', 'tap-detached', 'healthy'].filter((name) => RECORDINGS.includes(name))
const SIZES: [number, number][] = [
  [1280, 800],
  [375, 800],
]

interface Measure {
  viewport: {width: number; height: number}
  /** The page is wider than the window: it scrolls sideways. */
  scrollWidth: number
  /** Elements reaching past the window's right edge with no scrolling box around them. */
  overflowing: string[]
  /** The first root cause's line and its fix's first line, in page pixels (undefined: none on the page). */
  firstRoot?: {text: string; bottom: number; fixFirstLineBottom?: number}
  copied: string[]
}

/**
 * Runs in a wrapper page whose only content is the report in an iframe of the exact size (a headless
 * window cannot be made 375 px wide, and its viewport is not its window size): the report lays out
 * and runs its own script in the frame as in a browser tab of that size.
 */
const PROBE = `addEventListener('load', () => {
  const frame = document.querySelector('iframe'), win = frame.contentWindow, doc = frame.contentDocument
  const copied = []
  Object.defineProperty(win.navigator, 'clipboard', {configurable: true, value: {writeText: (t) => { copied.push(t); return Promise.resolve() }}})
  for (const b of doc.querySelectorAll('button.copy')) b.click()
  const width = doc.documentElement.clientWidth
  const scrolls = (e) => { for (let p = e.parentElement; p; p = p.parentElement) { const o = win.getComputedStyle(p).overflowX; if (o === 'auto' || o === 'scroll' || o === 'hidden') return true } return false }
  const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (typeof e.className === 'string' && e.className.trim() ? '.' + e.className.trim().split(/\\s+/).join('.') : '')
  const past = [...doc.body.querySelectorAll('*')].filter((e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.right > width + 0.5 && !scrolls(e) })
  // The outermost of them: a wide table, not each of its cells.
  const overflowing = past.filter((e) => !past.includes(e.parentElement)).map((e) => name(e) + ' (' + e.textContent.trim().slice(0, 60) + ')')
  const root = doc.querySelector('#run-this > div')
  let firstRoot
  if (root) {
    const line = root.querySelector('p')
    const code = root.querySelector('.fix code')
    let fixFirstLineBottom
    if (code && code.firstChild) {
      const text = code.firstChild, range = doc.createRange(), nl = text.textContent.indexOf('\\n')
      range.setStart(text, 0)
      range.setEnd(text, nl < 0 ? text.textContent.length : Math.max(1, nl))
      fixFirstLineBottom = Math.max(...[...range.getClientRects()].map((r) => r.bottom))
    }
    firstRoot = {text: line.textContent, bottom: line.getBoundingClientRect().bottom, fixFirstLineBottom}
  }
  const out = document.createElement('pre')
  out.id = 'kd-measure'
  out.textContent = JSON.stringify({viewport: {width: win.innerWidth, height: win.innerHeight}, scrollWidth: doc.documentElement.scrollWidth, overflowing, firstRoot, copied})
  document.body.append(out)
})`

/** The wrapper page: the report (as renderHtml wrote it, its policy and script kept) in a frame of the size, and the probe. */
function probePage(page: string, width: number, height: number): string {
  const attribute = page.replaceAll('&', '&amp;').replaceAll('"', '&quot;')
  return `<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0"><iframe style="border:0;display:block" width="${width}" height="${height}" srcdoc="${attribute}"></iframe><script>${PROBE}</script></body></html>`
}

/** Loads a wrapper page in a window larger than any frame, and reads back what the probe wrote. */
async function probe(file: string, page: string, width: number, height: number) {
  writeFileSync(file, probePage(page, width, height))
  const run = await chromium(file, {dumpDom: true, width: 1600, height: 1200})
  const json = /<pre id="kd-measure">([^<]*)<\/pre>/.exec(run.stdout)?.[1]
  if (!json) throw new Error(`the probe wrote nothing (console: ${run.console.join(' | ')})`)
  return {run, m: JSON.parse(json.replaceAll('&quot;', '"').replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&')) as Measure}
}

async function measure(name: string, width: number, height: number) {
  const d = await diagnosisOf(name, {policyRules: true})
  mkdirSync(OUT, {recursive: true})
  return {d, ...(await probe(join(OUT, `${name}.${width}x${height}.probe.html`), renderHtml(d), width, height))}
}

/** Every fix and check block of the page, as the commands kvmdoctor computed: the root causes' first, then each finding's. */
function fixTexts(d: Awaited<ReturnType<typeof diagnosisOf>>): string[] {
  const roots = rootFixes(d, {maxRoots: Number.POSITIVE_INFINITY, maxCommands: Number.POSITIVE_INFINITY}).filter((r) => r.commands.length > 0).map((r) => r.commands.join('\n'))
  const walk = (t: FindingTree): string[] => [
    ...(t.finding.fix.length > 0 ? [t.finding.fix.join('\n')] : []),
    ...(t.finding.check && t.finding.check.length > 0 ? [t.finding.check.join('\n')] : []),
    ...t.children.flatMap(walk),
  ]
  return [...roots, ...findingTrees(d).flatMap(walk)]
}

describe.skipIf(!CHROMIUM)(CHROMIUM ? 'HTML report as a person sees it' : `HTML report as a person sees it: ${missingTool('chromium', 'chromium')}`, () => {
  it('the probe sees a root cause below the first screen and an element wider than the window (it is not vacuous)', async () => {
    mkdirSync(OUT, {recursive: true})
    const copy = "for (const b of document.querySelectorAll('button.copy')) b.addEventListener('click', () => navigator.clipboard.writeText('echo a'))"
    const page = `<!doctype html><body><div style="height:2000px"></div><section id="run-this"><div><p>1. CRITICAL x</p><div class="fix"><pre><code>echo a\necho b</code></pre><button type="button" class="copy">Copy</button></div></div></section><table style="width:900px"><tr><td>wide</td></tr></table><script>${copy}</script></body>`
    const {m} = await probe(join(OUT, 'control.probe.html'), page, 375, 800)
    expect(m.viewport).toEqual({width: 375, height: 800})
    expect(m.firstRoot!.bottom).toBeGreaterThan(800)
    expect(m.overflowing).toEqual(['table (wide)'])
    expect(m.scrollWidth).toBeGreaterThan(375)
    expect(m.copied).toEqual(['echo a'])
  })

  for (const name of PAGES) {
    for (const [width, height] of SIZES) {
      it(`${name} at ${width}×${height}: the first root cause and its fix in the first screen, nothing wider than the window, Copy copies each fix exactly`, async () => {
        const {d, run, m} = await measure(name, width, height)
        expect(run.console).toEqual([])
        expect(m.viewport).toEqual({width, height})
        expect(m.overflowing, 'elements past the right edge').toEqual([])
        expect(m.scrollWidth, 'the page scrolls sideways').toBeLessThanOrEqual(width)
        const roots = rootFixes(d)
        if (roots.length === 0) {
          expect(m.firstRoot).toBeUndefined()
        } else {
          const first = roots[0].finding
          expect(m.firstRoot?.text).toContain(`${first.rank}. ${first.severity.toUpperCase()} ${first.id} on`)
          expect(m.firstRoot!.bottom, 'the first root cause is below the first screen').toBeLessThanOrEqual(height)
          if (roots[0].commands.length > 0) expect(m.firstRoot!.fixFirstLineBottom, 'its fix starts below the first screen').toBeLessThanOrEqual(height)
        }
        // The clipboard gets the commands as kvmdoctor computed them: no entity left escaped, no line lost or wrapped.
        expect([...m.copied].sort()).toEqual(fixTexts(d).sort())
      })
    }
  }
})
