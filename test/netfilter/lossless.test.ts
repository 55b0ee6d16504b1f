/**
 * Nothing is dropped: every token of every real iptables-save rule shows up in
 * the rendered IR of that rule, and every expression of every real nft rule
 * becomes exactly one IR expression (plus the implicit dependencies nft adds).
 */
import {describe, expect, it} from 'vitest'
import type {NfRule} from '../../src/lib/netfilter.js'
import {detectIptablesVariant, parseIptablesSaveIR} from '../../probes/netfilter/iptables-save.js'
import {l4protoValue} from '../../probes/netfilter/names.js'
import {parseNftJsonIR} from '../../probes/netfilter/nft-json.js'
import {renderRule} from '../../probes/netfilter/render.js'
import {DATA_FILES, IPTABLES_SAVE, data, fixtureOutputs, saveFamily} from './data.js'

const iptablesSamples: [string, string][] = [
  ...DATA_FILES.filter((f) => /\.ip6?tables(-legacy)?-save/.test(f)).map((f): [string, string] => [f, data(f)]),
  ...fixtureOutputs(IPTABLES_SAVE),
]
const nftSamples: [string, string][] = [
  ...DATA_FILES.filter((f) => f.endsWith('.json')).map((f): [string, string] => [f, data(f)]),
  ...fixtureOutputs(/nft--j-list-ruleset\.txt$/),
]

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
const appears = (part: string, text: string) => new RegExp(`(?<![\\w.:-])${escape(part)}(?![\\w.:-])`).test(text)

/** The value tokens of a rule line: option names, "!", module names and set directions carry no value of their own. */
function valueTokens(line: string): {token: string; parts: string[]}[] {
  const words = [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => ({text: m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2], quoted: m[1] !== undefined}))
  const out: {token: string; parts: string[]}[] = []
  for (let i = 2; i < words.length; i++) {
    const {text, quoted} = words[i]
    const prev = words[i - 1].text
    if (!quoted && (text === '!' || (text.startsWith('-') && text.length > 1))) continue
    if (prev === '-m' || prev === '--match') continue
    if (words[i - 2]?.text === '--match-set') continue // src,dst: the fields of the set reference
    if ((prev === '-p' && text === 'all') || (prev === 'SYN' && text === 'NONE') || text === 'NONE') continue
    if (quoted) {
      out.push({token: text.toLowerCase(), parts: [JSON.stringify(text).toLowerCase()]})
      continue
    }
    let t = text.toLowerCase().replace(/\/(32|128)$/, '')
    if (t.endsWith('+')) t = `${t.slice(0, -1)}*`
    if (t === 'unicast') t = 'host'
    if (prev === '-p') t = String(l4protoValue(t) ?? t) // ipv6-icmp is icmpv6
    out.push({token: text.toLowerCase(), parts: t.split(/[,/]/).filter((p) => p !== '').map((p) => (/^\d*:\d*$/.test(p) ? p.replace(':', '-') : p))})
  }
  return out
}

describe('iptables-save: every token of every real rule is in its IR', () => {
  it(`covers ${iptablesSamples.length} real outputs`, () => {
    let rules = 0
    let ruleLines = 0
    for (const [name, text] of iptablesSamples) {
      if (text.trim() === '') continue
      ruleLines += text.split('\n').filter((l) => /^(\[\d+:\d+\] )?-A /.test(l)).length
      const family = saveFamily(name)
      const tables = parseIptablesSaveIR(text, {backend: detectIptablesVariant(text) ?? 'iptables-legacy', family})
      for (const rule of tables.flatMap((t) => Object.values(t.chains).flatMap((c) => c.rules))) {
        const rendered = renderRule(rule).toLowerCase()
        const raw = rule.exprs.map((e) => ('text' in e && e.text ? e.text : '')).join(' ').toLowerCase()
        for (const {token, parts} of valueTokens(rule.text)) {
          // Covered: inside an opaque match's or a statement's own text, as the comment, or each part in the rendered IR.
          if (raw.includes(token) || (parts[0].startsWith('"') && rule.comment === token)) continue
          for (const part of parts) {
            // conntrack's SEEN_REPLY is nft's seen-reply.
            const covered = appears(part, rendered) || appears(part.replace(/_/g, '-'), rendered)
            expect(covered, `${name}: "${part}" of ${rule.text}\n  rendered: ${renderRule(rule)}`).toBe(true)
          }
        }
        rules++
      }
    }
    // Every "-A" line became a rule, and was checked.
    expect(rules).toBe(ruleLines)
    // 497 rules in test/data/netfilter + 1637 in the 48 lab recordings (iptables-save -c 1328, ip6tables-save -c 308, legacy 1).
    expect(rules).toBeGreaterThanOrEqual(2134)
  })
})

describe('nft JSON: every expression of every real rule becomes one IR expression', () => {
  it(`covers ${nftSamples.length} real listings`, () => {
    let rules = 0
    for (const [name, json] of nftSamples) {
      const parsed = parseNftJsonIR(json)
      expect(parsed.warnings, name).toEqual([])
      const byHandle = new Map<string, NfRule>()
      for (const t of parsed.tables) for (const c of Object.values(t.chains)) for (const r of c.rules) byHandle.set(`${t.family} ${t.name} ${c.name} ${r.ref.handle}`, r)
      for (const item of (JSON.parse(json) as {nftables: Record<string, {family: string; table: string; chain: string; handle: number; expr: unknown[]}>[]}).nftables) {
        if (!item.rule) continue
        const {family, table, chain, handle, expr} = item.rule
        const rule = byHandle.get(`${family} ${table} ${chain} ${handle}`)
        expect(rule, `${name}: rule ${handle}`).toBeDefined()
        const own = rule!.exprs.filter((e) => !(e.kind === 'cmp' && e.implicit))
        expect(own.length, `${name}: ${rule!.text}`).toBe(expr.length)
        rules++
      }
    }
    // 372 rules in test/data/netfilter + 1702 in the 48 lab recordings.
    expect(rules).toBeGreaterThanOrEqual(2074)
  })
})
