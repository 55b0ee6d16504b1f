import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {ALL_RULES} from '../../rules/index.js'
import {SEVERITIES} from '../../src/lib/severity.js'
import {ROOT, fire} from '../helpers.js'
import {RULE_CASES} from './cases.js'

/** A rule is a file of rules/ with its doc beside it; the other modules there are what rules share. */
const ruleFiles = readdirSync(join(ROOT, 'rules'))
  .filter((f) => f.endsWith('.ts') && existsSync(join(ROOT, 'rules', f.replace(/\.ts$/, '.md'))))
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
}

const expectations = ALL_RULES.filter((r) => r.askedFor !== undefined)
const catalogue = ALL_RULES.filter((r) => r.askedFor === undefined)
/** A rule's catalogue id: its own, or the one it was renamed from. */
const catalogueId = (r: (typeof ALL_RULES)[number]) => (knowledgeBaseIds.has(r.id) ? r.id : r.aliases.find((a) => knowledgeBaseIds.has(a)))

describe('expectation rules (kvmdoctor.yaml)', () => {
  for (const rule of expectations) {
    it(`${rule.id} has a doc, and is not a knowledge-base id`, () => {
      expect(knowledgeBaseIds.has(rule.id)).toBe(false)
      expect(readFileSync(join(ROOT, 'rules', `${rule.id}.md`), 'utf8')).toMatch(new RegExp(`^# ${rule.id} — ${rule.severity}`))
    })
  }
})

describe('rule catalogue', () => {
  it('lists inputs only for rules that exist', () => {
    const ids = new Set(catalogue.map((r) => r.id))
    expect(Object.keys(RULE_CASES).filter((id) => !ids.has(id))).toEqual([])
  })

  it('every rule file is registered, and every registered rule has a file', () => {
    expect(ALL_RULES.map((r) => r.id).sort()).toEqual([...ruleFiles].sort())
  })

  it('every knowledge-base id is a rule or an alias of one, or pending with its issue (and none is both)', () => {
    const built = new Set(catalogue.flatMap((r) => [r.id, ...r.aliases]))
    expect([...knowledgeBaseIds].filter((id) => !built.has(id) && !(id in PENDING)).sort()).toEqual([])
    expect(Object.keys(PENDING).filter((id) => built.has(id))).toEqual([])
    expect(Object.keys(PENDING).filter((id) => !knowledgeBaseIds.has(id))).toEqual([])
  })

  it('ids and aliases are unique across rules', () => {
    const all = ALL_RULES.flatMap((r) => [r.id, ...r.aliases])
    expect(all.filter((id, i) => all.indexOf(id) !== i)).toEqual([])
  })

  for (const rule of catalogue) {
    describe(rule.id, () => {
      it('uses an id from the knowledge base, or one that names its wider scope with the catalogue id as alias', () => {
        expect(catalogueId(rule), `${rule.id} is not a knowledge-base id and has no alias that is`).toBeDefined()
      })
      it('has a doc with what it means, the facts, the fix and the false positives', () => {
        const doc = join(ROOT, 'rules', `${rule.id}.md`)
        expect(existsSync(doc), `rules/${rule.id}.md missing`).toBe(true)
        const text = readFileSync(doc, 'utf8')
        expect(text).toMatch(new RegExp(`^# ${rule.id} — ${rule.severity}`))
        for (const section of ['**What it means.**', '**Facts it reads.**', '**Fix.**', '**Not a fault.**']) expect(text).toContain(section)
        for (const alias of rule.aliases) expect(text, `the doc names the id it was known by (${alias})`).toContain(alias)
      })
      it('fires on each of its must-fire inputs, stays silent on each must-not-fire input, and says "not checked" on each unknown input (test/rules/cases.ts)', async () => {
        const cases = RULE_CASES[rule.id]
        expect(cases, `test/rules/cases.ts has no inputs for ${rule.id}`).toBeDefined()
        expect(cases.fires.length, `${rule.id} has no must-fire input`).toBeGreaterThan(0)
        expect(cases.silent.length, `${rule.id} has no must-not-fire input`).toBeGreaterThan(0)
        for (const input of cases.fires) {
          const {names, evaluation} = await fire(rule, await input.facts())
          expect(names.length, `${rule.id} must fire on ${input.name}`).toBeGreaterThan(0)
          if (input.on) expect(names, `${rule.id} on ${input.name}`).toEqual(input.on)
          expect(evaluation.findings.every((f) => f.id === rule.id)).toBe(true)
        }
        for (const input of cases.silent) {
          const {names, evaluation} = await fire(rule, await input.facts())
          expect(names, `${rule.id} must stay silent on ${input.name}`).toEqual([])
          // Silent because it judged, never because it could not look.
          expect(evaluation.notChecked, `${rule.id} not checked on ${input.name}`).toEqual([])
          const because = input.silentBecause ?? 'judged'
          const seen = {judged: evaluation.applicable.length > 0, excluded: evaluation.checked.length > 0 && evaluation.applicable.length === 0, 'no entity': evaluation.checked.length === 0}
          expect(seen[because], `${rule.id} on ${input.name}: silent because ${because}, but it checked ${evaluation.checked.length} and judged ${evaluation.applicable.length}`).toBe(true)
        }
        for (const input of cases.unknown ?? []) {
          const {names, evaluation} = await fire(rule, await input.facts())
          expect(names, `${rule.id} must not fire on ${input.name}`).toEqual([])
          expect(evaluation.notChecked.map((n) => n.ruleId), `${rule.id} must be not checked on ${input.name}`).toContain(rule.id)
          expect(evaluation.notChecked.every((n) => n.reason.startsWith('unknown: ')), `${rule.id} on ${input.name}: not checked for a value it must know, its probes read`).toBe(true)
        }
      })
      it('is well formed: severity, explained rules exist', () => {
        expect(SEVERITIES).toContain(rule.severity)
        const ids = new Set(ALL_RULES.map((r) => r.id))
        for (const e of rule.explains) expect(ids.has(e.rule), `${rule.id} explains unknown ${e.rule}`).toBe(true)
      })
    })
  }
})
