/** Small builders for hand-made rulesets in evaluator tests (real rulesets are tested through the parsers). */
import type {NfBackend, NfBaseChain, NfChain, NfExpr, NfFamily, NfHook, NfMatch, NfRuleset, NfScalar, NfSet, NfTable, NfValue} from '../../src/lib/netfilter.js'

export const str = (v: string): NfScalar => ({t: 'str', v})
export const num = (v: number): NfScalar => ({t: 'num', v})
export const prefix = (v: string): NfValue => ({t: 'prefix', v})
export const cmp = (field: Extract<NfMatch, {kind: 'cmp'}>['field'], value: NfValue, op: 'eq' | 'ne' | 'lt' | 'gt' | 'le' | 'ge' = 'eq', extra: {mask?: number} = {}): NfExpr => ({kind: 'cmp', field, op, value, ...extra})
export const accept: NfExpr = {kind: 'verdict', verdict: 'accept'}
export const drop: NfExpr = {kind: 'verdict', verdict: 'drop'}
export const reject: NfExpr = {kind: 'verdict', verdict: 'reject'}
export const ret: NfExpr = {kind: 'verdict', verdict: 'return'}
export const jump = (target: string): NfExpr => ({kind: 'jump', target})
export const goto = (target: string): NfExpr => ({kind: 'goto', target})

interface ChainSpec {
  base?: Partial<NfBaseChain> & {hook: NfHook}
  rules: NfExpr[][]
}

const IPT_BASE: Record<string, Record<string, {hook: NfHook; priority: number; type: NfBaseChain['type']}>> = {
  raw: {PREROUTING: {hook: 'prerouting', priority: -300, type: 'filter'}, OUTPUT: {hook: 'output', priority: -300, type: 'filter'}},
  mangle: {PREROUTING: {hook: 'prerouting', priority: -150, type: 'route'}, INPUT: {hook: 'input', priority: -150, type: 'filter'}, FORWARD: {hook: 'forward', priority: -150, type: 'filter'}, OUTPUT: {hook: 'output', priority: -150, type: 'route'}, POSTROUTING: {hook: 'postrouting', priority: -150, type: 'filter'}},
  nat: {PREROUTING: {hook: 'prerouting', priority: -100, type: 'nat'}, INPUT: {hook: 'input', priority: 100, type: 'nat'}, OUTPUT: {hook: 'output', priority: -100, type: 'nat'}, POSTROUTING: {hook: 'postrouting', priority: 100, type: 'nat'}},
  filter: {INPUT: {hook: 'input', priority: 0, type: 'filter'}, FORWARD: {hook: 'forward', priority: 0, type: 'filter'}, OUTPUT: {hook: 'output', priority: 0, type: 'filter'}},
}

function table(backend: NfBackend, family: NfFamily, name: string, chains: Record<string, ChainSpec>): NfTable {
  const out: Record<string, NfChain> = {}
  for (const [chain, spec] of Object.entries(chains)) {
    out[chain] = {
      backend,
      family,
      table: name,
      name: chain,
      ...(spec.base ? {base: {type: 'filter', priority: 0, policy: 'accept', ...spec.base}} : {}),
      rules: spec.rules.map((exprs, index) => ({ref: {backend, family, table: name, chain, index, ...(backend === 'nft' ? {handle: 100 + index} : {})}, text: `rule ${chain}#${index + 1}`, exprs})),
    }
  }
  return {backend, family, name, chains: out}
}

/** An iptables-nft table: built-in chains get their hook, type and priority; `policies` sets DROP where wanted. */
export function ipt(name: string, chains: Record<string, NfExpr[][]>, policies: Record<string, 'accept' | 'drop'> = {}, family: NfFamily = 'ip'): NfTable {
  const specs: Record<string, ChainSpec> = {}
  for (const [chain, rules] of Object.entries(chains)) {
    const b = IPT_BASE[name]?.[chain]
    specs[chain] = {rules, ...(b ? {base: {...b, policy: policies[chain] ?? 'accept'}} : {})}
  }
  return table('iptables-nft', family, name, specs)
}

export function nft(family: NfFamily, name: string, chains: Record<string, ChainSpec>): NfTable {
  return table('nft', family, name, chains)
}

export function ruleset(tables: NfTable[], sets: Record<string, NfSet> = {}): NfRuleset {
  return {tables, sets, warnings: []}
}
