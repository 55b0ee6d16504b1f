import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {EXPECTATION_RULES} from '../../rules/expectations.js'
import {ALL_RULES} from '../../rules/index.js'
import {SEVERITIES} from '../../src/lib/severity.js'
import {ROOT} from '../helpers.js'

const ruleFiles = readdirSync(join(ROOT, 'rules'))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !['index.ts', 'types.ts', 'expectations.ts', 'datapath.ts', 'applies.ts'].includes(f))
  .map((f) => f.replace(/\.ts$/, ''))

/** Rule ids from the knowledge base headings: "### id — severity" (and "### a — x / b — y"). */
const knowledgeBaseIds = new Set(
  [...readFileSync(join(ROOT, 'test/data/failure-patterns.md'), 'utf8').matchAll(/^### (.+)$/gm)].flatMap((m) => [...m[1].matchAll(/([a-z0-9]+(?:-[a-z0-9]+)+) —/g)].map((x) => x[1])),
)

/**
 * Knowledge-base ids not built yet, each with the issue that builds it. This list only shrinks:
 * an id leaves it when its rule lands, and the test below fails if a built id is still listed.
 */
const PENDING: Record<string, number> = {
  'ovs-secure-no-controller': 29,
  'ovs-port-missing': 29,
  'ovs-vlan-mismatch': 29,
  'ovs-flow-drop': 29,
  'ovs-interface-error': 29,
  'guest-bandwidth-limited': 29,
  'tc-policer-drops': 29,
  'dnat-target-stale': 28,
  'port-forward-blocked': 28,
  'hairpin-missing': 28,
  'hook-rules-lost': 28,
}

describe('expectation rules (kvmdoctor.yaml)', () => {
  for (const rule of EXPECTATION_RULES) {
    it(`${rule.id} has a doc and a fix, and is not a knowledge-base id`, () => {
      expect(knowledgeBaseIds.has(rule.id)).toBe(false)
      expect(readFileSync(join(ROOT, 'rules', `${rule.id}.md`), 'utf8')).toMatch(new RegExp(`^# ${rule.id} — ${rule.severity}`))
      expect(rule.fix.length).toBeGreaterThan(0)
    })
  }
})

describe('rule catalogue', () => {
  it('every rule file is registered, and every registered rule has a file', () => {
    expect(ALL_RULES.map((r) => r.id).sort()).toEqual([...ruleFiles].sort())
  })

  it('every knowledge-base id is a rule, or pending with its issue (and none is both)', () => {
    const built = new Set(ALL_RULES.map((r) => r.id))
    expect([...knowledgeBaseIds].filter((id) => !built.has(id) && !(id in PENDING)).sort()).toEqual([])
    expect(Object.keys(PENDING).filter((id) => built.has(id))).toEqual([])
    expect(Object.keys(PENDING).filter((id) => !knowledgeBaseIds.has(id))).toEqual([])
  })

  for (const rule of ALL_RULES) {
    describe(rule.id, () => {
      it('uses an id from the knowledge base, exactly', () => {
        expect(knowledgeBaseIds.has(rule.id), `${rule.id} is not a knowledge-base id`).toBe(true)
      })
      it('has a doc with what it means, the facts, the fix and the false positives', () => {
        const doc = join(ROOT, 'rules', `${rule.id}.md`)
        expect(existsSync(doc), `rules/${rule.id}.md missing`).toBe(true)
        const text = readFileSync(doc, 'utf8')
        expect(text).toMatch(new RegExp(`^# ${rule.id} — ${rule.severity}`))
        for (const section of ['**What it means.**', '**Facts it reads.**', '**Fix.**', '**Not a fault.**']) expect(text).toContain(section)
      })
      it('has tests with a case where it must fire and one where it must not', () => {
        const test = join(ROOT, 'test/rules', `${rule.id}.test.ts`)
        expect(existsSync(test), `test/rules/${rule.id}.test.ts missing`).toBe(true)
        const text = readFileSync(test, 'utf8')
        expect(text).toMatch(/it\(['"`]fires/)
        expect(text).toMatch(/it\(['"`](stays silent|ignores|accepts|does not)/)
      })
      it('is well formed: severity, fix commands, explained rules exist', () => {
        expect(SEVERITIES).toContain(rule.severity)
        expect(rule.fix.length + (rule.fixLines ? 1 : 0)).toBeGreaterThan(0)
        for (const e of rule.explains ?? []) expect(knowledgeBaseIds.has(e.rule), `${rule.id} explains unknown ${e.rule}`).toBe(true)
      })
    })
  }
})
