/** Recordings as the report tests see them: every fixture there is, replayed, optionally with standard policy rules. */
import {existsSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {type DiagnosisRun as Diagnosis, diagnose} from '../../src/core/diagnose.js'
import type {CommandCapture, Runner} from '../../src/lib/runner.js'
import {ReplayRunner} from '../../src/core/snapshot.js'
import {ROOT, fixtureDir, replayOptions} from '../helpers.js'

/** Every recording in fixtures/ (they are re-recorded from time to time: never a fixed list). */
export const RECORDINGS = readdirSync(join(ROOT, 'fixtures')).filter((name) => existsSync(join(fixtureDir(name), 'manifest.json'))).sort()

/** The kernel's three default policy rules, as `ip -j rule show` prints them. */
const DEFAULT_RULES = '[{"priority":0,"src":"all","table":"local"},{"priority":32766,"src":"all","table":"main"},{"priority":32767,"src":"all","table":"default"}]'

/**
 * Recordings made before the ip-rules probe existed cannot follow guest flows. This runner answers
 * `ip -j rule show` with the kernel's defaults when the recording has no answer, so the datapath
 * (and the rules and reports built on it) can be exercised on them; everything else is replayed.
 */
export function withDefaultPolicyRules(inner: Runner): Runner {
  return {
    capturedAt: inner.capturedAt,
    readFile: (path, options) => inner.readFile(path, options),
    listDir: (path) => inner.listDir(path),
    async run(argv): Promise<CommandCapture> {
      const recorded = await inner.run(argv)
      const isRuleShow = argv[0] === 'ip' && argv.includes('rule') && argv.includes('show')
      if (!isRuleShow || recorded.errorCode !== 'not-recorded') return recorded
      return {kind: 'command', argv, output: argv.includes('-6') ? '[]' : DEFAULT_RULES, stderr: '', exitCode: 0, timedOut: false, durationMs: 0, truncated: false}
    },
  }
}

export async function diagnosisOf(name: string, options: {policyRules?: boolean} = {}): Promise<Diagnosis> {
  const runner = await ReplayRunner.open(fixtureDir(name))
  return diagnose({runner: options.policyRules ? withDefaultPolicyRules(runner) : runner, options: replayOptions(runner), version: 'test'})
}
