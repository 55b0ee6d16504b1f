import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {diagnose} from '../../src/core/diagnose.js'
import {openSource} from '../../src/core/source.js'
import {SCENARIOS} from '../scenarios.js'
import {findingKey} from './compare.js'

/**
 * Recordings of real sosreports of lab scenarios (test/lab/sos.test.ts wrote them: fixtures/sos-<scenario>/,
 * the sosreport cut to the files kvmdoctor read, and expected.json with what the live run found).
 * Replayed, each gives exactly the live run's findings for the rules sos gave the inputs of, and names
 * every other rule "not checked", with the sos options that would collect what is missing.
 */
const ROOT = join(import.meta.dirname, '../..')
const recordings = readdirSync(join(ROOT, 'fixtures')).filter((d) => d.startsWith('sos-') && existsSync(join(ROOT, 'fixtures', d, 'expected.json')))
/** The lab's stand-in for the internet, as the lab ran kvmdoctor. */
const INTERNET = '203.0.113.10:80/tcp'

describe('sosreport recordings replay to the live findings', () => {
  it('has recordings of at least five lab scenarios, one of them with several faults', () => {
    expect(recordings.length).toBeGreaterThanOrEqual(5)
    expect(recordings).toContain('sos-flushed-and-forward-off')
  })

  for (const name of recordings) {
    it(name, async () => {
      const dir = join(ROOT, 'fixtures', name)
      const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as {scenario: string; live: string[]; notCheckedRules: string[]; optInRules: string[]; findings: string[]}
      const source = await openSource({from: dir, timeoutMs: 1000})
      const d = await diagnose({runner: source.runner, options: {...source.recordedOptions!, internet: INTERNET}, version: 'replay'}).finally(() => source.close())
      const notChecked = [...new Set(d.notChecked.map((n) => n.ruleId))].sort()
      expect(d.findings.map(findingKey).sort()).toEqual(expected.findings)
      expect(notChecked).toEqual(expected.notCheckedRules)
      // The lab's property, on the recording: the live findings of every rule checked here, no other
      // (rules of --listen / --active, which the live run may have used, have no input in a sosreport).
      expect(expected.findings).toEqual(expected.live.filter((k) => !notChecked.includes(k.split(' ')[0]) && !expected.optInRules.includes(k.split(' ')[0])))
      // The scenario's own expectations hold for every rule sos gave the inputs of.
      const scenario = SCENARIOS.find((s) => s.name === expected.scenario)!
      for (const f of scenario.findings.filter((x) => !notChecked.includes(x.id) && !expected.optInRules.includes(x.id))) expect(d.findings.map((x) => x.id), `${expected.scenario}: ${f.id}`).toContain(f.id)
      // What was not collected is listed with how to collect it.
      const described = source.describe!()
      for (const n of d.notChecked) expect(n.reason).toMatch(/not collected by this sosreport|unavailable|unknown/)
      expect(described.notCollected.length).toBeGreaterThan(0)
    })
  }
})
