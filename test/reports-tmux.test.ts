/**
 * What on-call sees: `kvmdoctor diagnose` in a real terminal (tmux, from
 * Debian) at 80x24 and 120x40, with colour, on the multi-fault recordings.
 * The last screen must show the verdict and every root cause it can hold
 * with its first fix command, whole. Each test runs its own tmux server.
 */
import {execa} from 'execa'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {rootFixes} from '../reports/summary.js'
import {ROOT, fixtureDir} from './helpers.js'
import {RECORDINGS, diagnosisOf} from './reports/recordings.js'
import {which} from './screenshots/chromium.js'
import {missingTool} from './tools.js'

const TMUX = which('tmux')

const DONE = '__kvmdoctor_done__'

/** Runs the CLI in a fresh tmux server of the given size and returns the final screen, wrapped lines joined. */
async function finalScreen(fixture: string, width: number, height: number): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'kvmdoctor-tmux-'))
  const tmux = (...args: string[]) => execa(TMUX!, ['-S', join(dir, 'socket'), '-f', '/dev/null', ...args], {reject: false, stdin: 'ignore'})
  const command = `env -u NO_COLOR -u FORCE_COLOR TERM=xterm-256color ${process.execPath} ${join(ROOT, 'bin/run.js')} diagnose --from ${fixtureDir(fixture)}; echo ${DONE}; sleep 600`
  try {
    const started = await tmux('new-session', '-d', '-s', 'kvmdoctor', '-x', String(width), '-y', String(height), command)
    if (started.exitCode !== 0) throw new Error(`tmux: ${started.stderr}`)
    for (let i = 0; i < 200; i++) {
      const screen = await tmux('capture-pane', '-p', '-J', '-t', 'kvmdoctor')
      const lines = screen.stdout.split('\n')
      const end = lines.indexOf(DONE)
      if (end >= 0) return lines.slice(0, end)
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    throw new Error('kvmdoctor did not finish in the terminal')
  } finally {
    await tmux('kill-server')
    rmSync(dir, {recursive: true, force: true})
  }
}

const MULTI_FAULT = ['flushed-and-forward-off', 'bridged-forward-drop', 'dnsmasq-killed'].filter((name) => RECORDINGS.includes(name))

describe.skipIf(!TMUX)(TMUX ? 'the final screen in a terminal' : `the final screen in a terminal: ${missingTool('tmux', 'tmux')}`, () => {
  for (const name of MULTI_FAULT) {
    for (const [width, height] of [
      [80, 24],
      [120, 40],
    ]) {
      it(`${name} at ${width}x${height}: the verdict, and each root cause with its fix`, async () => {
        const d = await diagnosisOf(name)
        const screen = await finalScreen(name, width, height)
        const shown = screen.join('\n')
        // The verdict ends the screen, wrapped to its width where it is longer.
        const words = (t: string) => t.split(/\s+/).filter(Boolean).join(' ')
        expect(words(screen.join(' '))).toMatch(new RegExp(`${words(`✗ ${d.verdict.text}`).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`))
        expect(shown).toContain('Root cause → run this')
        const fixes = rootFixes(d)
        expect(fixes.length).toBeGreaterThan(0)
        for (const {finding, commands} of fixes) {
          expect(shown).toContain(`${finding.rank}. ${finding.severity.toUpperCase()} ${finding.id} (`)
          // Whole, on its own line: a command to paste.
          expect(screen).toContain(`   ${commands[0]}`)
        }
        console.log(`final screen of ${name} at ${width}x${height}:\n${screen.join('\n')}`)
      })
    }
  }
})
