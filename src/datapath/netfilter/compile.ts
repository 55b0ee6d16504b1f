/**
 * A ruleset compiled once for many packets: chains indexed by name, base chains
 * grouped by hook in the order the kernel runs them, addresses and sets
 * pre-parsed. Evaluating a thousand guests' flows reuses all of it.
 */
import {type IpRange, parsePrefix, parseRange} from '../../lib/addr.js'
import type {NfBackend, NfChain, NfFamily, NfHook, NfRuleset, NfSet, NfValue} from '../../lib/netfilter.js'

export interface CompiledRuleset {
  source: NfRuleset
  /** `${backend} ${family} ${table}` → chain name → chain. */
  chains: Map<string, Map<string, NfChain>>
  /** Base chains per hook and family, by priority (stable for equal priorities). */
  baseChains(hook: NfHook, families: NfFamily[]): NfChain[]
  set(name: string): NfSet | undefined
  /** Parsed address of a value (cached): prefix, single address or address range. */
  range(text: string): IpRange | undefined
}

const tableKey = (backend: NfBackend, family: NfFamily, table: string) => `${backend} ${family} ${table}`
export const tableOf = (c: Pick<NfChain, 'backend' | 'family' | 'table'>) => tableKey(c.backend, c.family, c.table)

export function compile(rs: NfRuleset): CompiledRuleset {
  const chains = new Map<string, Map<string, NfChain>>()
  const bases: NfChain[] = []
  for (const table of rs.tables) {
    const byName = new Map<string, NfChain>()
    for (const chain of Object.values(table.chains)) {
      byName.set(chain.name, chain)
      if (chain.base) bases.push(chain)
    }
    chains.set(tableKey(table.backend, table.family, table.name), byName)
  }
  const baseCache = new Map<string, NfChain[]>()
  const ranges = new Map<string, IpRange | undefined>()
  return {
    source: rs,
    chains,
    baseChains(hook, families) {
      const key = `${hook} ${families.join(',')}`
      let list = baseCache.get(key)
      if (!list) {
        list = bases.filter((c) => c.base!.hook === hook && families.includes(c.family)).sort((a, b) => a.base!.priority - b.base!.priority)
        baseCache.set(key, list)
      }
      return list
    },
    set: (name) => rs.sets[name],
    range(text) {
      if (!ranges.has(text)) ranges.set(text, parseRange(text) ?? parsePrefix(text))
      return ranges.get(text)
    },
  }
}

/** The text of a scalar value as the packet model compares it. */
export function scalarText(v: NfValue): string | undefined {
  return v.t === 'str' || v.t === 'addr' ? v.v : v.t === 'num' ? String(v.v) : v.t === 'prefix' ? v.v : undefined
}
