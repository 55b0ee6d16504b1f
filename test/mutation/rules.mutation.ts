/**
 * Mutation check of the rules' judgements (npm run mutation:rules; not in CI). Each catalogue rule's
 * conditions are data, so they are mutated in memory, one change at a time: an operator turned into
 * its opposite or its off-by-one neighbour, a threshold moved by one, a boolean flipped, a condition
 * dropped from its all/any, all and any swapped, a not removed; and its appliesTo forced true or
 * negated. Each mutant runs on the rule's must-fire and must-not-fire inputs (test/rules/cases.ts)
 * (and its inputs where it must say "not checked") and is killed when an outcome changes. Survivors are
 * listed; the score is printed and written to test/mutation/out/rules.json. Mutants that cannot change
 * an outcome are listed in EQUIVALENT, each with why, and left out of the count.
 */
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import type {NestedCondition, TopLevelCondition} from 'json-rules-engine'
import {expect, it} from 'vitest'
import {ALL_RULES} from '../../rules/index.js'
import type {Rule} from '../../rules/kit.js'
import {evaluate} from '../../src/core/engine.js'
import type {Model} from '../../src/derive/index.js'
import {ROOT, model} from '../helpers.js'
import {RULE_CASES, type RuleInput} from '../rules/cases.js'

type Node = TopLevelCondition | NestedCondition
interface Mutant {
  rule: string
  change: string
  mutated: Rule
}

const OPPOSITE: Record<string, string> = {equal: 'notEqual', notEqual: 'equal', greaterThan: 'lessThanInclusive', lessThanInclusive: 'greaterThan', greaterThanInclusive: 'lessThan', lessThan: 'greaterThanInclusive', in: 'notIn', notIn: 'in', contains: 'doesNotContain', doesNotContain: 'contains'}
/** The off-by-one neighbour of a comparison: > for >=, and so on. */
const BOUNDARY: Record<string, string> = {greaterThan: 'greaterThanInclusive', greaterThanInclusive: 'greaterThan', lessThan: 'lessThanInclusive', lessThanInclusive: 'lessThan'}

/** Every condition tree one change away from `root`, each with what changed. */
function conditionMutants(root: Node): {change: string; tree: Node}[] {
  const out: {change: string; tree: Node}[] = []
  // Walks the tree by path; `replace` rebuilds the root with one node swapped.
  const visit = (node: Node, replace: (n: Node | undefined) => Node) => {
    const n = node as Record<string, unknown>
    for (const group of ['all', 'any'] as const) {
      const list = n[group] as Node[] | undefined
      if (!list) continue
      const other = group === 'all' ? 'any' : 'all'
      if (list.length > 1) out.push({change: `${group} → ${other}`, tree: replace({[other]: list} as unknown as Node)})
      list.forEach((child, i) => {
        const at = (c: Node | undefined) => replace({[group]: c === undefined ? list.filter((_, j) => j !== i) : list.map((x, j) => (j === i ? c : x))} as unknown as Node)
        if (list.length > 1) out.push({change: `drop ${describe(child)} from ${group}`, tree: at(undefined)})
        visit(child, (c) => at(c))
      })
      return
    }
    if (n.not) {
      out.push({change: `drop not(${describe(n.not as unknown as Node)})`, tree: replace(n.not as unknown as Node)})
      visit(n.not as Node, (c) => replace({not: c} as unknown as Node))
      return
    }
    const op = n.operator as string
    if (OPPOSITE[op]) out.push({change: `${describe(node)}: ${op} → ${OPPOSITE[op]}`, tree: replace({...n, operator: OPPOSITE[op]} as unknown as Node)})
    if (BOUNDARY[op]) out.push({change: `${describe(node)}: ${op} → ${BOUNDARY[op]}`, tree: replace({...n, operator: BOUNDARY[op]} as unknown as Node)})
    if (typeof n.value === 'number') for (const d of [-1, 1]) out.push({change: `${describe(node)}: value ${n.value} → ${n.value + d}`, tree: replace({...n, value: n.value + d} as unknown as Node)})
    if (typeof n.value === 'boolean') out.push({change: `${describe(node)}: value ${n.value} → ${!n.value}`, tree: replace({...n, value: !n.value} as unknown as Node)})
  }
  visit(root, (n) => n ?? root)
  return out
}

function describe(node: Node): string {
  const n = node as Record<string, unknown>
  if (n.all || n.any) return `${n.all ? 'all' : 'any'}(…)`
  if (n.not) return 'not(…)'
  return `${n.fact}.${n.path ?? ''} ${n.operator} ${JSON.stringify(n.value)}`
}

function mutantsOf(rule: Rule): Mutant[] {
  const mutants: Mutant[] = conditionMutants(rule.conditions).map(({change, tree}) => ({rule: rule.id, change, mutated: {...rule, conditions: tree as TopLevelCondition}}))
  if (rule.appliesTo) {
    const applies = rule.appliesTo
    mutants.push({rule: rule.id, change: 'appliesTo always true', mutated: {...rule, appliesTo: () => true}})
    mutants.push({rule: rule.id, change: 'appliesTo negated', mutated: {...rule, appliesTo: (e: never, host) => !applies(e, host)}})
  }
  for (const attr of rule.known) mutants.push({rule: rule.id, change: `known: drop ${attr}`, mutated: {...rule, known: rule.known.filter((a) => a !== attr)}})
  return mutants
}

/**
 * Mutants that cannot change what the rule says, each with why: they are left out of the count. Mostly a
 * `known` attribute that is null only where a probe the rule `needs` was not read (the engine then says
 * "not checked" before `known` is looked at), or where another known attribute is null too.
 */
const EQUIVALENT: Record<string, string> = {
  'nat-masquerade-missing: known: drop sourceNatRules': 'null exactly where subnet is (netfilter is needed), and subnet is known too',
  'nat-masquerade-missing: known: drop subnet': 'null exactly where sourceNatRules is (netfilter is needed), and sourceNatRules is known too',
  'nat-masquerade-wrong-interface: known: drop forwardDevState': 'null only without the links probe, which it needs',
  'dhcp-server-not-running: known: drop dhcpServerRunning': 'null only without the processes probe, which it needs',
  'dns-port-conflict: known: drop portConflicts': 'null only without the listeners probe, which it needs',
  'ovs-port-missing: known: drop ovsState': 'null only off OVS (appliesTo) or without the ovs probe, which it needs',
  'tc-policer-drops: known: drop tapDropsGrowing': 'null only without a tap (appliesTo) or the tc probe, which it needs',
  'hook-rules-lost: known: drop hookRulesMissing': 'null only without the libvirt-hooks probe, which it needs',
  'firewall-backend-mismatch: known: drop legacyRulesKnown': 'null only with an iptables-legacy-save gap, which marks the netfilter probe it needs degraded (not checked first)',
  'guest-unaddressed-network: known: drop networkHandsOutAddresses': "null exactly where networkSubnet is (the network has no IPv4), and networkSubnet is known too",
  'guest-unaddressed-network: known: drop networkSubnet': 'null exactly where networkHandsOutAddresses is (the network has no IPv4), and that is known too',
  'ip-address-conflict: entity.macCount greaterThanInclusive 2: value 2 → 1': 'an address view exists only where two or more MACs claim it (src/derive/addresses.ts)',
}

const models = new Map<string, Promise<Model>>()
const modelOf = (input: RuleInput) => {
  if (!models.has(input.name)) models.set(input.name, input.facts().then(model))
  return models.get(input.name)!
}

/** Whether the rule gives each of its inputs the outcome the catalogue asserts (the same judgement as test/rules/catalogue.test.ts). */
async function holds(rule: Rule): Promise<boolean> {
  const cases = RULE_CASES[rule.id]
  for (const input of cases.fires) {
    const e = await evaluate(await modelOf(input), [rule])
    const names = e.findings.map((f) => f.entity.name)
    if (names.length === 0 || (input.on && JSON.stringify(names) !== JSON.stringify(input.on))) return false
  }
  for (const input of cases.silent) {
    const e = await evaluate(await modelOf(input), [rule])
    if (e.findings.length > 0 || e.notChecked.length > 0) return false
    const because = input.silentBecause ?? 'judged'
    const seen = {judged: e.applicable.length > 0, excluded: e.checked.length > 0 && e.applicable.length === 0, 'no entity': e.checked.length === 0}
    if (!seen[because]) return false
  }
  for (const input of cases.unknown ?? []) {
    const e = await evaluate(await modelOf(input), [rule])
    if (e.findings.length > 0 || e.notChecked.length === 0 || !e.notChecked.every((n) => n.reason.startsWith('unknown: '))) return false
  }
  return true
}

it('every rule condition mutant is killed by the rule\'s must-fire and must-not-fire inputs', async () => {
  const rules = ALL_RULES.filter((r) => r.askedFor === undefined && RULE_CASES[r.id])
  const survivors: Mutant[] = []
  const equivalent: Mutant[] = []
  let total = 0
  for (const rule of rules) {
    // The unmutated rule must pass, or every mutant would look killed.
    expect(await holds(rule), `${rule.id} does not pass its own cases`).toBe(true)
    for (const mutant of mutantsOf(rule)) {
      if (`${mutant.rule}: ${mutant.change}` in EQUIVALENT) {
        equivalent.push(mutant)
        continue
      }
      total++
      // A mutant that throws (a value the view cannot compare) is killed: the run fails.
      const survived = await holds(mutant.mutated).catch(() => false)
      if (survived) survivors.push(mutant)
    }
  }
  const score = total === 0 ? 0 : (100 * (total - survivors.length)) / total
  const named = (m: Mutant) => `${m.rule}: ${m.change}`
  const report = {rules: rules.length, mutants: total, killed: total - survivors.length, survived: survivors.length, score: Number(score.toFixed(1)), survivors: survivors.map(named), equivalent: equivalent.map((m) => `${named(m)} (${EQUIVALENT[named(m)]})`)}
  mkdirSync(join(ROOT, 'test/mutation/out'), {recursive: true})
  writeFileSync(join(ROOT, 'test/mutation/out/rules.json'), JSON.stringify(report, null, 2) + '\n')
  console.log(`rule mutants: ${report.mutants} (and ${equivalent.length} equivalent, left out), killed ${report.killed}, survived ${report.survived} (score ${report.score}%)\n${report.survivors.map((s) => `  survived: ${s}`).join('\n')}`)
  expect(total).toBeGreaterThan(rules.length)
  // An entry that names no mutant any more (the rule changed) must go: the list only holds what it says.
  expect(Object.keys(EQUIVALENT).filter((k) => !equivalent.some((m) => named(m) === k))).toEqual([])
}, 3_600_000)
