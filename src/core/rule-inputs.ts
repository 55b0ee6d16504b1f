/**
 * What a rule's conditions read, so the engine runs once per distinct input
 * instead of once per entity: a thousand guests with the same values at the
 * paths a rule reads get the same answer from json-rules-engine, and asking it
 * a thousand times is pure cost (an almanac, facts, a deep copy of the
 * conditions and a chain of promises per run).
 *
 * Exact by construction: a rule is keyed only when every condition reads a
 * fact through a path, and only by values whose every operator result follows
 * from the key (primitives; lists of primitives for operators that look at
 * their contents). Anything else (a whole fact, a condition reference, params,
 * an object or a list compared by identity) is not keyed: the engine decides
 * each entity itself.
 */
import type {NestedCondition, TopLevelCondition} from 'json-rules-engine'

/** Operators whose result on a list depends only on its elements (`equal` compares lists by identity). */
const BY_CONTENT = new Set(['nonEmpty', 'contains', 'doesNotContain'])

interface Input {
  fact: string
  path: string
  /** Every operator applied to it (a fact compared with a fact counts as `equal`-like: identity). */
  operators: Set<string>
}

export type Resolve = (value: unknown, path: string) => unknown

/** The key of a run's input for one rule, or undefined when the rule (or this input) cannot be keyed. */
export type InputKey = (facts: Record<string, unknown>) => string | undefined

export function ruleInputKey(conditions: TopLevelCondition, resolve: Resolve): InputKey {
  const inputs = new Map<string, Input>()
  const read = (fact: unknown, path: unknown, operator: string): boolean => {
    if (typeof fact !== 'string' || typeof path !== 'string' || path === '') return false
    const id = `${fact}\u0000${path}`
    const input = inputs.get(id) ?? inputs.set(id, {fact, path, operators: new Set()}).get(id)!
    input.operators.add(operator)
    return true
  }
  const visit = (c: TopLevelCondition | NestedCondition): boolean => {
    const node = c as Record<string, unknown>
    if ('condition' in node) return false
    if (Array.isArray(node.all)) return node.all.every(visit)
    if (Array.isArray(node.any)) return node.any.every(visit)
    if (node.not !== undefined) return visit(node.not as NestedCondition)
    if (node.params !== undefined || typeof node.operator !== 'string') return false
    const value = node.value as Record<string, unknown> | null
    if (value !== null && typeof value === 'object' && 'fact' in value) {
      if (value.params !== undefined) return false
      // Fact against fact: a list on either side would be compared by identity.
      return read(node.fact, node.path, 'equal') && read(value.fact, value.path, 'equal')
    }
    return read(node.fact, node.path, node.operator)
  }
  if (!visit(conditions)) return () => undefined
  const list = [...inputs.values()]
  return (facts) => {
    const parts: string[] = []
    for (const input of list) {
      const fact = facts[input.fact]
      const value = fact !== null && typeof fact === 'object' ? resolve(fact, input.path) : fact
      const key = valueKey(value, input.operators)
      if (key === undefined) return undefined
      parts.push(key)
    }
    return parts.join('\n')
  }
}

function primitiveKey(v: unknown): string | undefined {
  if (typeof v === 'string') return JSON.stringify(v)
  if (v === null || v === undefined || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `${v === null ? 'null' : typeof v}:${String(v)}`
  return undefined
}

function valueKey(v: unknown, operators: Set<string>): string | undefined {
  if (!Array.isArray(v)) return primitiveKey(v)
  for (const op of operators) if (!BY_CONTENT.has(op)) return undefined
  const elements: string[] = []
  for (const e of v) {
    const k = primitiveKey(e)
    if (k === undefined) return undefined
    elements.push(k)
  }
  return JSON.stringify(elements)
}
