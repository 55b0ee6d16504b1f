import {readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parseNftJsonIR} from '../../probes/netfilter/nft-json.js'
import {nftTextToJson, parseRuleText} from '../../probes/netfilter/nft-text.js'
import type {NfRule, NfSet} from '../../src/lib/netfilter.js'

const ROOT = join(import.meta.dirname, '../..')

/** Every recording and test listing that holds both `nft -a list ruleset` and `nft -j list ruleset` of one ruleset. */
function pairs(): {name: string; text: string; json: string}[] {
  const out: {name: string; text: string; json: string}[] = []
  for (const fixture of readdirSync(join(ROOT, 'fixtures'))) {
    const dir = join(ROOT, 'fixtures', fixture, 'outputs')
    let files: string[]
    try {
      files = readdirSync(dir)
    } catch {
      continue
    }
    const text = files.find((f) => f.includes('command-nft--a-list-ruleset'))
    const json = files.find((f) => f.includes('command-nft--j-list-ruleset'))
    if (text && json) out.push({name: fixture, text: readFileSync(join(dir, text), 'utf8'), json: readFileSync(join(dir, json), 'utf8')})
  }
  const data = join(ROOT, 'test/data/netfilter')
  for (const f of readdirSync(data).filter((f) => f.endsWith('.nft-a-list-ruleset.txt'))) {
    const base = f.replace('.nft-a-list-ruleset.txt', '')
    out.push({name: `test/data/netfilter/${base}`, text: readFileSync(join(data, f), 'utf8'), json: readFileSync(join(data, `${base}.nft-j-list-ruleset.json`), 'utf8')})
  }
  return out.filter((p) => p.json.trim().startsWith('{'))
}

/** A rule's meaning, without the texts that name it (nft renders `reject` and its JSON `reject with icmp port-unreachable`) or counter values (the listings were taken moments apart). */
const meaning = (r: NfRule) => JSON.stringify({exprs: r.exprs.map((e) => ({...e, text: undefined})), counted: r.counters !== undefined, comment: r.comment, ref: r.ref})
/** nft's JSON leaves out a set's `dynamic` flag, which its listing prints. */
const setMeaning = (s: NfSet | undefined) => JSON.stringify(s && {...s, flags: s.flags.filter((f) => f !== 'dynamic')})
const hasXt = (r: NfRule) => r.exprs.some((e) => 'text' in e && /^xt /.test(String(e.text)))

describe('nft list ruleset text read back as its JSON', () => {
  const corpus = pairs()

  it('has a corpus of real listings', () => {
    expect(corpus.length).toBeGreaterThan(40)
  })

  it('every table, chain, base-chain hook and rule of every recording is read as nft -j reads it', () => {
    const problems: string[] = []
    let rules = 0
    let translated = 0
    for (const {name, text, json} of corpus) {
      const fromText = parseNftJsonIR(nftTextToJson(text), {text})
      const fromJson = parseNftJsonIR(json, {text})
      expect(fromText.tables.map((t) => `${t.family} ${t.name}`), name).toEqual(fromJson.tables.map((t) => `${t.family} ${t.name}`))
      expect(Object.keys(fromText.sets).sort(), name).toEqual(Object.keys(fromJson.sets).sort())
      for (const [key, set] of Object.entries(fromJson.sets)) if (setMeaning(fromText.sets[key]) !== setMeaning(set)) problems.push(`${name} set ${key}:\n   json: ${JSON.stringify(set)}\n   text: ${JSON.stringify(fromText.sets[key])}`)
      fromJson.tables.forEach((t, i) => {
        const other = fromText.tables[i]
        for (const [chainName, chain] of Object.entries(t.chains)) {
          const mine = other.chains[chainName]
          if (!mine) {
            problems.push(`${name}: ${t.family} ${t.name} ${chainName} missing`)
            continue
          }
          expect(mine.base, `${name} ${chainName}`).toEqual(chain.base)
          expect(mine.rules.length, `${name} ${chainName}`).toBe(chain.rules.length)
          chain.rules.forEach((r, k) => {
            rules++
            if (meaning(mine.rules[k]) === meaning(r)) return
            if (hasXt(r)) {
              translated++
              return
            }
            problems.push(`${name} ${t.family} ${t.name} ${chainName} #${k}: ${r.text}\n   json: ${meaning(r)}\n   text: ${meaning(mine.rules[k])}`)
          })
        }
      })
    }
    expect(problems.join('\n')).toBe('')
    expect(rules).toBeGreaterThan(1000)
    console.info(`${rules} rules read alike from text and JSON; ${translated} iptables-nft extensions the text shows translated`)
  })

  it('a statement it cannot read becomes an unparsed statement (any match, any verdict), never a guess', () => {
    const {expr} = parseRuleText('iifname "virbr0" tproxy to :3128 accept')
    expect(expr).toHaveLength(1)
    const ir = parseNftJsonIR(JSON.stringify({nftables: [{table: {family: 'ip', name: 't'}}, {chain: {family: 'ip', table: 't', name: 'c'}}, {rule: {family: 'ip', table: 't', chain: 'c', expr}}]}))
    expect(ir.tables[0].chains.c.rules[0].exprs.map((e) => e.kind)).toEqual(['opaque', 'opaque-statement'])
    expect(JSON.stringify(ir.tables[0].chains.c.rules[0].exprs[1])).toContain('"terminal":"unknown"')
  })
})
