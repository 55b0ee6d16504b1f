/**
 * A plain diagnose and a help page run from classic scripts with the V8 code caches built with the package
 * (bin/code-cache.js), as Node 20 caches no ES module's compiled code: each cache is one this Node takes, and the
 * diagnose script runs an argv whole or leaves it untouched to the full CLI (test/quick-diagnose.test.ts and
 * test/quick-help.test.ts compare their runs with oclif's).
 */
import {readFileSync} from 'node:fs'
import {pathToFileURL} from 'node:url'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
// @ts-expect-error bin/ is plain JavaScript, loaded by bin/run.js.
import {QUICK_DIAGNOSE, QUICK_HELP, hasCodeCache, loadScript, runScript} from '../bin/code-cache.js'
import {fixtureDir, ROOT} from './helpers.js'

describe('the code caches of the quick paths', () => {
  it('is built for this Node, which takes it, for each script', () => {
    for (const [cached, entry] of [[QUICK_DIAGNOSE, 'runAlone'], [QUICK_HELP, 'quickHelp']]) {
      expect(hasCodeCache(cached), entry).toBe(true)
      const {script, exports} = runScript(cached.script, readFileSync(cached.cache))
      expect(script.cachedDataRejected, entry).toBe(false)
      expect(typeof exports[entry], entry).toBe('function')
    }
  })

  it('is ASCII, each script, which a run reads as Latin-1 (UTF-8 decoding of the diagnose took 10 to 20 ms)', () => {
    for (const cached of [QUICK_DIAGNOSE, QUICK_HELP]) {
      const bytes = readFileSync(cached.script)
      expect(bytes.findIndex((byte: number) => byte > 0x7f), cached.script.pathname).toBe(-1)
    }
  })

  it('leaves an argv quick-diagnose does not take to the full CLI', async () => {
    const {runAlone} = loadScript(QUICK_DIAGNOSE)
    const root = pathToFileURL(join(ROOT, 'bin/run.js')).href
    for (const argv of [['diagnose', '--json'], ['diagnose', '--from', fixtureDir('healthy'), '--record', '/nonexistent/kd-record'], ['rules', 'list']]) {
      expect(await runAlone(argv, root), argv.join(' ')).toBe(false)
    }
  })
})
