import {type Obj, type Probe, ParseError, isObj, num, outputOf, parseJson, str} from './types.js'

export interface NftChain {
  family: string
  table: string
  name: string
  /** Base chains only. */
  type?: string
  hook?: string
  priority?: number
  policy?: string
  rules: NftRule[]
}

export interface NftRule {
  /** accept, drop, reject, masquerade, snat, dnat, jump, goto, return, or none. */
  verdict: string
  jumpTarget?: string
  iif?: string
  oif?: string
  saddr?: string
  daddr?: string
  /** Which of the above were matched with !=. */
  negated: string[]
  summary: string
}

export interface NftTable {
  family: string
  name: string
}

export interface NftFacts {
  tables: NftTable[]
  chains: NftChain[]
}

const VERDICTS = ['accept', 'drop', 'reject', 'masquerade', 'snat', 'dnat', 'return', 'jump', 'goto', 'redirect']

function addressOf(right: unknown): string | undefined {
  if (typeof right === 'string') return right
  if (isObj(right) && isObj(right.prefix)) return `${str(right.prefix.addr)}/${num(right.prefix.len)}`
  if (isObj(right) && Array.isArray(right.set)) return right.set.map((v) => addressOf(v) ?? '?').join(',')
  return undefined
}

export function summarizeRule(exprs: unknown[]): NftRule {
  const rule: NftRule = {verdict: 'none', negated: [], summary: ''}
  const parts: string[] = []
  for (const e of exprs.filter(isObj)) {
    if (isObj(e.match)) {
      const {left, right, op} = e.match as Obj
      let field: 'iif' | 'oif' | 'saddr' | 'daddr' | undefined
      if (isObj(left) && isObj(left.meta)) {
        const key = str(left.meta.key)
        if (key === 'iifname' || key === 'iif') field = 'iif'
        if (key === 'oifname' || key === 'oif') field = 'oif'
      } else if (isObj(left) && isObj(left.payload) && (left.payload.field === 'saddr' || left.payload.field === 'daddr')) {
        field = left.payload.field
      }
      const value = addressOf(right)
      if (field && value !== undefined) {
        rule[field] = value
        if (op === '!=') rule.negated.push(field)
        parts.push(`${field} ${op === '!=' ? '!= ' : ''}${value}`)
      }
      continue
    }
    // iptables-nft writes its targets as xtables compat expressions: {"xt": {"type": "target", "name": "MASQUERADE"}}.
    if (isObj(e.xt) && e.xt.type === 'target' && typeof e.xt.name === 'string') {
      rule.verdict = e.xt.name.toLowerCase()
      parts.push(`xt ${e.xt.name}`)
      continue
    }
    for (const verdict of VERDICTS) {
      if (verdict in e) {
        rule.verdict = verdict
        const arg = e[verdict]
        if ((verdict === 'jump' || verdict === 'goto') && isObj(arg)) rule.jumpTarget = str(arg.target)
        parts.push(rule.jumpTarget && rule.verdict === verdict ? `${verdict} ${rule.jumpTarget}` : verdict)
      }
    }
  }
  rule.summary = parts.join(' ')
  return rule
}

export function parseNftRuleset(text: string): NftFacts {
  const doc = parseJson<unknown>(text, 'nft -j list ruleset')
  if (!isObj(doc) || !Array.isArray(doc.nftables)) throw new ParseError('nft -j list ruleset: no "nftables" array')
  const facts: NftFacts = {tables: [], chains: []}
  const chains = new Map<string, NftChain>()
  const key = (family: unknown, table: unknown, chain: unknown) => `${family}\u0000${table}\u0000${chain}`
  for (const item of doc.nftables.filter(isObj)) {
    if (isObj(item.table)) {
      facts.tables.push({family: str(item.table.family) ?? '', name: str(item.table.name) ?? ''})
    } else if (isObj(item.chain)) {
      const c = item.chain
      const chain: NftChain = {family: str(c.family) ?? '', table: str(c.table) ?? '', name: str(c.name) ?? '', rules: []}
      if (c.hook !== undefined) Object.assign(chain, {type: str(c.type), hook: str(c.hook), priority: num(c.prio), policy: str(c.policy) ?? 'accept'})
      chains.set(key(c.family, c.table, c.name), chain)
      facts.chains.push(chain)
    } else if (isObj(item.rule)) {
      const r = item.rule
      const chain = chains.get(key(r.family, r.table, r.chain))
      if (!chain) throw new ParseError(`nft -j list ruleset: rule in unknown chain ${str(r.table)}/${str(r.chain)}`)
      chain.rules.push(summarizeRule(Array.isArray(r.expr) ? r.expr : []))
    }
  }
  return facts
}

export const nftablesProbe: Probe<NftFacts> = {
  id: 'nftables',
  title: 'nftables ruleset',
  reads: ['nft -j list ruleset'],
  async collect({runner}) {
    return parseNftRuleset(outputOf(await runner.run(['nft', '-j', 'list', 'ruleset'])))
  },
}
