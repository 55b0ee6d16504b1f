/** Headless Chromium from Debian (test/screenshots/setup.sh installs it), run once per page with a fresh profile. */
import {execa} from 'execa'
import {mkdtempSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

/** A program on PATH, or undefined. */
export function which(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const path = join(dir, bin)
    if (statSync(path, {throwIfNoEntry: false})?.isFile()) return path
  }
  return undefined
}

export const CHROMIUM = which('chromium') ?? which('chromium-browser')

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--enable-logging=stderr', '--v=0']

export interface PageRun {
  /** What the page logged to its console (errors, CSP violations, anything). */
  console: string[]
  stdout: string
}

/** Loads an HTML file and either dumps its DOM or saves a screenshot; returns what its console said. */
export async function chromium(htmlFile: string, mode: {dumpDom: true; width?: number; height?: number} | {screenshot: string; width: number; height: number}): Promise<PageRun> {
  const profile = mkdtempSync(join(tmpdir(), 'kvmdoctor-chromium-'))
  try {
    const size = mode.width && mode.height ? [`--window-size=${mode.width},${mode.height}`, '--hide-scrollbars'] : []
    const what = 'dumpDom' in mode ? ['--dump-dom', ...size] : [`--screenshot=${mode.screenshot}`, ...size]
    const r = await execa(CHROMIUM!, [...FLAGS, `--user-data-dir=${profile}`, ...what, pathToFileURL(htmlFile).href], {reject: false, stdin: 'ignore', timeout: 90_000})
    if (r.exitCode !== 0) throw new Error(`chromium exited ${r.exitCode}: ${r.stderr.slice(-2000)}`)
    return {console: r.stderr.split('\n').filter((l) => /:CONSOLE[:(]/.test(l)), stdout: r.stdout}
  } finally {
    rmSync(profile, {recursive: true, force: true})
  }
}
