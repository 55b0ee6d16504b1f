/**
 * A plain diagnose runs from a classic script with the V8 code cache built with the package (bin/code-cache.js), as
 * Node 20 caches no ES module's compiled code: the cache is one this Node takes, and the script runs an argv whole
 * or leaves it untouched to the full CLI (test/quick-diagnose.test.ts compares its runs with oclif's).
 */
import {readFileSync} from 'node:fs'
import {pathToFileURL} from 'node:url'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
// @ts-expect-error bin/ is plain JavaScript, loaded by bin/run.js.
import {QUICK_SCRIPT, QUICK_SCRIPT_CACHE, hasQuickScriptCache, runScript} from '../bin/code-cache.js'
import {fixtureDir, ROOT} from './helpers.js'

describe('the code cache of the quick diagnose', () => {
  it('is built for this Node, which takes it', () => {
    expect(hasQuickScriptCache()).toBe(true)
    const {script, exports} = runScript(QUICK_SCRIPT, readFileSync(QUICK_SCRIPT_CACHE))
    expect(script.cachedDataRejected).toBe(false)
    expect(typeof exports.runAlone).toBe('function')
  })

  it('leaves an argv quick-diagnose does not take to the full CLI, having run nothing', async () => {
    const {exports} = runScript(QUICK_SCRIPT, readFileSync(QUICK_SCRIPT_CACHE))
    const root = pathToFileURL(join(ROOT, 'bin/run.js')).href
    for (const argv of [['diagnose', '--json'], ['diagnose', '--from', fixtureDir('healthy'), '--record', '/nonexistent/kd-record'], ['rules', 'list']]) {
      expect(await exports.runAlone(argv, root), argv.join(' ')).toBe(false)
    }
  })
})
