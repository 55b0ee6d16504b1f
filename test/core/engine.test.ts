import {describe, expect, it} from 'vitest'
import {ALL_RULES} from '../../rules/index.js'
import {type Rule, line, text} from '../../rules/kit.js'
import {type Finding, entityPathsOf, evaluate, rank, readValuesKey, resolveMerged, resolvePath} from '../../src/core/engine.js'
import type {EntityView} from '../../src/derive/index.js'
import {factsOf, model, unavailable} from '../helpers.js'

const view = (kind: EntityView['kind'], name: string, context: EntityView['context'], extra: Record<string, unknown> = {}): EntityView => ({kind, name, context, affectedGuests: 0, ...extra}) as EntityView

describe('texts and paths', () => {
  it('fills values into a line, joins lists, prints none for null', () => {
    const guests = ['a', 'b']
    expect(line`virsh net-start ${'default'} on ${'virbr0'} (${guests}) fwd=${0} x=${null}`).toBe('virsh net-start default on virbr0 (a, b) fwd=0 x=none')
  })
  it('drops a line whose list is empty; a title reads it as nothing', () => {
    expect(line`guests: ${[]}`).toBeUndefined()
    expect(text`guests: ${[]}`).toBe('')
  })
  it('resolves dotted paths without JSONPath (a list\'s length included)', () => {
    expect(resolvePath({a: {b: {c: 3}}}, 'a.b.c')).toBe(3)
    expect(resolvePath({a: null}, 'a.b')).toBeUndefined()
    expect(resolvePath({a: [1, 2]}, 'a.length')).toBe(2)
  })
})

describe('ranking', () => {
  const rule = (id: string, explains: Rule['explains'] = []) => ({id, explains}) as unknown as Rule
  const finding = (id: string, severity: Finding['severity'], name: string, blastRadius = 0): Finding => ({
    id, severity, rank: 0, entity: {kind: 'network', name}, title: id, summary: '', evidence: [], fix: [], fixSteps: [], explains: [], blastRadius, stable: {ruleId: id, name},
  })

  it('orders by severity, then blast radius', () => {
    const fs = [finding('b', 'high', 'x'), finding('a', 'critical', 'small', 1), finding('c', 'critical', 'big', 5)]
    const out = rank(fs, fs.map((f) => ({rule: rule(f.id), entity: view('network', f.entity.name, {network: f.entity.name})})))
    expect(out.map((f) => `${f.rank}:${f.id}`)).toEqual(['1:c', '2:a', '3:b'])
  })

  it('lists a symptom right under its root cause, even when the symptom is more severe', () => {
    const root = finding('root', 'high', 'n1')
    const symptom = finding('symptom', 'critical', 'n1')
    const other = finding('other', 'critical', 'n2')
    const sources = [
      {rule: rule('root', [{rule: 'symptom', via: 'network'}]), entity: view('network', 'n1', {network: 'n1'})},
      {rule: rule('symptom'), entity: view('network', 'n1', {network: 'n1'})},
      {rule: rule('other'), entity: view('network', 'n2', {network: 'n2'})},
    ]
    const out = rank([root, symptom, other], sources)
    expect(out.map((f) => f.id)).toEqual(['other', 'root', 'symptom'])
    expect(symptom.explainedBy).toBe('root@network:n1')
    expect(root.explains).toEqual(['symptom@network:n1'])
  })

  it('does not group findings on different entities, and never makes a cycle', () => {
    const a = finding('a', 'critical', 'n1')
    const b = finding('b', 'high', 'n2')
    const c = finding('c', 'high', 'n1')
    const sources = [
      {rule: rule('a', [{rule: 'c', via: 'network'}]), entity: view('network', 'n1', {network: 'n1'})},
      {rule: rule('b', [{rule: 'a', via: 'network'}]), entity: view('network', 'n2', {network: 'n2'})},
      {rule: rule('c', [{rule: 'a', via: 'network'}]), entity: view('network', 'n1', {network: 'n1'})},
    ]
    const out = rank([a, b, c], sources)
    expect(b.explains).toEqual([])
    expect(out.map((f) => f.id)).toEqual(['a', 'c', 'b'])
    expect(a.explainedBy).toBeUndefined()
    expect(c.explainedBy).toBe('a@network:n1')
  })
})

describe('evaluate', () => {
  it('reports rules whose probes failed as not checked, with the reason', async () => {
    const facts = unavailable(await factsOf('healthy'), 'libvirt', 'libvirtd is not reachable')
    const ev = await evaluate(model(facts), ALL_RULES)
    const ids = ev.notChecked.map((n) => n.ruleId)
    expect(ids).toContain('libvirt-network-inactive')
    expect(ev.notChecked.find((n) => n.ruleId === 'ip-forward-disabled')?.reason).toContain('libvirtd is not reachable')
    expect(ev.checked.some((c) => c.ruleId === 'libvirt-network-inactive')).toBe(false)
  })

  it('records every (rule, entity) pair it checked', async () => {
    const ev = await evaluate(model(await factsOf('healthy')), ALL_RULES)
    expect(ev.findings.filter((f) => f.severity !== 'info')).toEqual([])
    expect(ev.checked).toContainEqual({ruleId: 'libvirt-network-inactive', entity: {kind: 'network', name: 'default'}})
    expect(ev.checked.filter((c) => c.ruleId === 'link-down').length).toBeGreaterThan(3)
  })

  it('runs many entities through one engine without losing any (no concurrent engine runs)', async () => {
    const facts = await factsOf('bridge-down')
    const m = model(facts)
    const link = m.entities.link.find((l) => l.name === 'virbr0')!
    m.entities.link = Array.from({length: 300}, (_, i) => ({...link, name: `br${i}`}))
    const ev = await evaluate(m, ALL_RULES.filter((r) => r.id === 'link-down'))
    expect(ev.findings).toHaveLength(300)
  })

  it('runs the engine once per class of views that agree on what the rules read, each view keeping its own result', async () => {
    const facts = await factsOf('bridge-down')
    const m = model(facts)
    const link = m.entities.link.find((l) => l.name === 'virbr0')!
    const up = m.entities.link.find((l) => l.name !== 'virbr0' && (l as {up?: boolean}).up === true)!
    // Down and up links interleaved: sharing runs across views must not carry one class's events to the other.
    m.entities.link = Array.from({length: 40}, (_, i) => ({...(i % 2 === 0 ? link : up), name: `br${i}`}))
    const ev = await evaluate(m, ALL_RULES.filter((r) => r.id === 'link-down'))
    expect(ev.findings.map((f) => f.entity.name).sort()).toEqual(Array.from({length: 20}, (_, i) => `br${2 * i}`).sort())
  })
})

describe('which views share an engine run', () => {
  it('reads the entity paths of plain condition trees, fact-to-fact comparisons marked', () => {
    const read = entityPathsOf([{all: [{fact: 'entity', path: 'up', operator: 'equal', value: false}, {not: {any: [{fact: 'entity', path: 'mtu', operator: 'lessThan', value: {fact: 'host', path: 'mtu'}}, {fact: 'host', path: 'x', operator: 'equal', value: 1}]}}]}])
    expect(read?.paths).toEqual(['mtu', 'up'])
    expect([...read!.compared]).toEqual(['mtu'])
  })
  it('shares nothing for conditions it cannot read whole: a whole-fact read, params, a condition reference, another fact', () => {
    expect(entityPathsOf([{all: [{fact: 'entity', operator: 'equal', value: 1}]}])).toBeUndefined()
    expect(entityPathsOf([{all: [{fact: 'entity', path: 'a', params: {x: 1}, operator: 'equal', value: 1}]}])).toBeUndefined()
    expect(entityPathsOf([{all: [{condition: 'shared'}]}])).toBeUndefined()
    expect(entityPathsOf([{all: [{fact: 'clock', path: 'a', operator: 'equal', value: 1}]}])).toBeUndefined()
  })
  it('tells apart values a condition could: undefined from null, a number from its text, list contents and order', () => {
    const read = {paths: ['a', 'b.length'], compared: new Set<string>()}
    const key = (v: object) => readValuesKey((path) => resolvePath(v, path), read)
    expect(key({a: null, b: []})).not.toBe(key({b: []}))
    expect(key({a: 1, b: []})).not.toBe(key({a: '1', b: []}))
    expect(key({a: [1, 2], b: [0]})).not.toBe(key({a: [2, 1], b: [0]}))
    expect(key({a: {x: 1}, b: [0]})).not.toBe(key({a: {x: '1'}, b: [0]}))
    expect(key({a: [1, 2], b: [0], c: 'other'})).toBe(key({a: [1, 2], b: [9]}))
    // Not plain data (a Set, a Date), or an object compared with another fact (compared by identity): no key.
    expect(key({a: new Set([1]), b: []})).toBeUndefined()
    expect(readValuesKey(() => [1], {paths: ['a'], compared: new Set(['a'])})).toBeUndefined()
    expect(readValuesKey(() => 1, {paths: ['a'], compared: new Set(['a'])})).toBeDefined()
  })
  it('reads a path of the merged view without making it, as the merge would: the last derived view holding the key decides', () => {
    const view = {a: 1, b: {c: 2}, d: 'x'}
    const extras = [{a: 10, e: [1, 2]}, {b: {c: 20}}, {f: null}]
    let merged: object = view
    for (const extra of extras) merged = {...merged, ...{...view, ...extra}}
    for (const path of ['a', 'b.c', 'd', 'e', 'e.length', 'f', 'g', 'g.h', 'toString']) expect(resolveMerged(view, extras, path)).toBe(resolvePath(merged, path))
  })
})
