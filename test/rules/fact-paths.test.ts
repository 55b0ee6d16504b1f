import {existsSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import {EXPECTATION_RULES} from '../../rules/expectations.js'
import {ALL_RULES} from '../../rules/index.js'
import type {RuleDefinition} from '../../rules/types.js'
import {scopesOf} from '../../src/core/engine.js'
import type {EntityKind, EntityView} from '../../src/derive/index.js'
import {ROOT, factsOf, model} from '../helpers.js'

/**
 * Entities are open records, so the compiler cannot see a rule read an attribute its entity
 * kind never has (a typo, or a fact renamed in src/derive/): it would just never fire. This
 * checks every path a rule reads, in conditions, `needs`, `escalate` and text templates,
 * against the attributes the entities of its scope carry on the recordings, plus its own `derive`.
 */
const TEMPLATE = /\{([A-Za-z0-9_.]+)\}/g

interface Reads {
  entity: Set<string>
  host: Set<string>
}

function readsOf(rule: RuleDefinition): Reads {
  const reads: Reads = {entity: new Set(rule.needs ?? []), host: new Set()}
  if (rule.escalate) reads.entity.add(rule.escalate.when)
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(walk)
    else if (node && typeof node === 'object') {
      const c = node as {fact?: string; path?: string}
      if ((c.fact === 'entity' || c.fact === 'host') && typeof c.path === 'string') reads[c.fact].add(c.path)
      Object.values(node).forEach(walk)
    }
  }
  walk(rule.conditions)
  for (const template of [rule.title, rule.summary, ...rule.evidence, ...rule.fix, ...(rule.note ?? []), ...(rule.claims ?? [])]) {
    for (const [, path] of template.matchAll(TEMPLATE)) (path.startsWith('host.') ? reads.host : reads.entity).add(path.replace(/^host\./, ''))
  }
  return reads
}

describe('every fact path a rule reads exists on its entity kinds', () => {
  const attributes = new Map<EntityKind, Set<string>>()
  const samples = new Map<EntityKind, EntityView>()
  beforeAll(async () => {
    for (const fixture of readdirSync(join(ROOT, 'fixtures')).filter((n) => existsSync(join(ROOT, 'fixtures', n, 'manifest.json')))) {
      const m = model(await factsOf(fixture))
      for (const [kind, views] of Object.entries(m.entities) as [EntityKind, EntityView[]][]) {
        const keys = attributes.get(kind) ?? new Set<string>()
        for (const v of views) {
          for (const k of Object.keys(v)) keys.add(k)
          if (!samples.has(kind)) samples.set(kind, v)
        }
        attributes.set(kind, keys)
      }
    }
  }, 600_000)

  /** The paths a rule reads that no entity of its scope carries ("kind: path"). */
  const missingPaths = (rule: RuleDefinition): string[] => {
    const reads = readsOf(rule)
    const host = samples.get('host')!
    const missing: string[] = []
    for (const kind of scopesOf(rule)) {
      const sample = samples.get(kind)
      if (!sample) {
        missing.push(`${kind}: no recording has one`)
        continue
      }
      const known = new Set([...attributes.get(kind)!, ...Object.keys(rule.derive?.(sample, host) ?? {})])
      // Expectation rules read the values their checks add (src/core/expectations.ts).
      const extra = rule.id.startsWith('expect-') ? ['state', 'free', 'min', 'subnet', 'addressesText'] : []
      for (const p of reads.entity) if (!known.has(p.split('.')[0]) && !extra.includes(p.split('.')[0])) missing.push(`${kind}: ${p}`)
    }
    for (const p of reads.host) if (!attributes.get('host')!.has(p.split('.')[0])) missing.push(`host: ${p}`)
    return missing
  }

  for (const rule of [...ALL_RULES, ...EXPECTATION_RULES]) it(rule.id, () => expect(missingPaths(rule)).toEqual([]))

  it("an explains' onlyWhere names an attribute the explained rule's entities carry", () => {
    const gated = ALL_RULES.flatMap((r) => (r.explains ?? []).filter((e) => e.onlyWhere !== undefined).map((e) => ({parent: r.id, ...e})))
    expect(gated.length).toBeGreaterThan(0)
    for (const e of gated) {
      const child = ALL_RULES.find((r) => r.id === e.rule)!
      for (const kind of scopesOf(child)) expect(attributes.get(kind)?.has(e.onlyWhere!), `${e.parent} -> ${e.rule} on ${kind}: ${e.onlyWhere}`).toBe(true)
    }
  })

  it('catches a path no entity has, in a condition, a template and on the host', () => {
    const mtu = ALL_RULES.find((r) => r.id === 'mtu-mismatch')!
    const typo: RuleDefinition = {...mtu, conditions: {all: [{fact: 'entity', path: 'mtuMismach', operator: 'equal', value: true}]}, evidence: ['{portMtu}', '{host.ipForwrd}']}
    expect(missingPaths(typo)).toEqual(['link: mtuMismach', 'link: portMtu', 'host: ipForwrd'])
  })
})
