import {describe, expect, it} from 'vitest'
import type {RuleDefinition} from '../../rules/types.js'
import {evaluate, resolvePath} from '../../src/core/engine.js'
import type {EntityView, Model} from '../../src/derive/index.js'
import {ruleInputKey} from '../../src/core/rule-inputs.js'

const key = (conditions: RuleDefinition['conditions'], entity: Record<string, unknown>, host: Record<string, unknown> = {}) => ruleInputKey(conditions, resolvePath)({entity, host})

describe('rule input keys', () => {
  const flags = {all: [{fact: 'entity', path: 'a.b', operator: 'equal', value: true}, {fact: 'host', path: 'n', operator: 'greaterThan', value: 1}]}

  it('are equal for entities alike in every path the rule reads, whatever else differs', () => {
    expect(key(flags, {a: {b: true}, name: 'x'}, {n: 2})).toBe(key(flags, {a: {b: true}, name: 'y', other: [1]}, {n: 2}))
  })

  it('differ when a value read differs, in value or in type', () => {
    const base = key(flags, {a: {b: true}}, {n: 2})
    for (const [entity, host] of [[{a: {b: false}}, {n: 2}], [{a: {b: 'true'}}, {n: 2}], [{a: {b: true}}, {n: '2'}], [{a: {b: null}}, {n: 2}], [{a: {}}, {n: 2}], [{a: {b: true}}, {n: 3}]]) {
      expect(key(flags, entity, host)).not.toBe(base)
    }
    expect(key(flags, {a: {b: null}}, {})).not.toBe(key(flags, {a: {}}, {}))
  })

  it('key lists by their elements only for operators that read elements', () => {
    const nonEmpty = {all: [{fact: 'entity', path: 'macs', operator: 'nonEmpty', value: true}]}
    expect(key(nonEmpty, {macs: ['a', 'b']})).toBe(key(nonEmpty, {macs: ['a', 'b']}))
    expect(key(nonEmpty, {macs: ['a', 'b']})).not.toBe(key(nonEmpty, {macs: ['a,b']}))
    expect(key(nonEmpty, {macs: [{x: 1}]})).toBeUndefined()
    // equal compares lists by identity: no key can stand for that.
    expect(key({all: [{fact: 'entity', path: 'macs', operator: 'equal', value: ['a']}]}, {macs: ['a']})).toBeUndefined()
    expect(key(flags, {a: {b: [true]}}, {n: 2})).toBeUndefined()
  })

  it('are not made for conditions that read more than paths', () => {
    expect(key({all: [{fact: 'entity', operator: 'equal', value: true}]} as never, {})).toBeUndefined()
    expect(key({all: [{fact: 'entity', path: 'x', operator: 'equal', value: true, params: {p: 1}}]} as never, {x: true})).toBeUndefined()
    expect(key({all: [{condition: 'shared'}]} as never, {})).toBeUndefined()
    expect(key({all: [{fact: 'entity', path: 'x', operator: 'equal', value: {fact: 'host', path: 'y'}}]}, {x: 1}, {y: 1})).toBe(key({all: [{fact: 'entity', path: 'x', operator: 'equal', value: {fact: 'host', path: 'y'}}]}, {x: 1}, {y: 1}))
    expect(key({all: [{fact: 'entity', path: 'x', operator: 'equal', value: {fact: 'host', path: 'y'}}]}, {x: 1}, {y: 1})).not.toBe(key({all: [{fact: 'entity', path: 'x', operator: 'equal', value: {fact: 'host', path: 'y'}}]}, {x: 1}, {y: 2}))
  })

  it('follow nested any / not', () => {
    const nested = {any: [{not: {fact: 'entity', path: 'p', operator: 'equal', value: 1}}, {all: [{fact: 'entity', path: 'q', operator: 'in', value: [1, 2]}]}]}
    expect(key(nested, {p: 1, q: 2})).not.toBe(key(nested, {p: 1, q: 3}))
    expect(key(nested, {p: 1, q: 2})).not.toBe(key(nested, {p: 2, q: 2}))
  })
})

describe('evaluate with shared answers', () => {
  const rule: RuleDefinition = {
    id: 'link-down',
    severity: 'high',
    scope: 'link',
    title: '{name} down',
    requires: [],
    conditions: {all: [{fact: 'entity', path: 'down', operator: 'equal', value: true}, {fact: 'entity', path: 'peers', operator: 'nonEmpty', value: true}]},
    summary: '',
    evidence: [],
    fix: [],
  }
  const link = (name: string, down: boolean, peers: string[]): EntityView => ({kind: 'link', name, context: {}, affectedGuests: 0, down, peers})
  const model = (links: EntityView[]) => ({probes: {}, entities: {host: [{kind: 'host', name: 'h', context: {}, affectedGuests: 0}], link: links}}) as unknown as Model

  it('fires on exactly the entities whose values make the rule true, in any order of alike and unlike ones', async () => {
    const links = Array.from({length: 400}, (_, i) => link(`l${i}`, i % 3 === 0, i % 5 === 0 ? [] : [`p${i % 2}`]))
    const ev = await evaluate(model(links), [rule])
    const expected = links.filter((l) => l.down && (l.peers as string[]).length > 0).map((l) => l.name).sort()
    expect(ev.findings.map((f) => f.entity.name).sort()).toEqual(expected)
    expect(ev.checked).toHaveLength(400)
  })
})
