import {readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {listingsToSave} from '../../probes/netfilter/iptables-list.js'
import {parseIptablesSaveIR} from '../../probes/netfilter/iptables-save.js'

/**
 * `iptables -t TABLE -nvL` of real rule sets (Docker, ufw, libvirt's iptables backend, a kitchen
 * sink of matches and targets; iptables-nft and legacy), read back into iptables-save -c text and
 * compared rule by rule with iptables-save -c of the same rules (test/data/sos/iptables/generate.sh).
 */
const DIR = join(import.meta.dirname, '../data/sos/iptables')
const sets = [...new Set(readdirSync(DIR).filter((f) => f.endsWith('.save-c')).map((f) => f.replace(/\.save-c$/, '')))]

function load(base: string) {
  const [name, variant, tool] = base.split('.')
  const tables = readdirSync(DIR)
    .filter((f) => f.startsWith(`${base}.-t_`))
    .map((f) => ({table: /-t_(\w+)_-nvL$/.exec(f)![1], text: readFileSync(join(DIR, f), 'utf8')}))
  return {name, variant: variant === 'nft' ? ('nf_tables' as const) : ('legacy' as const), family: tool === 'ip6tables' ? ('ip6' as const) : ('ip' as const), tables, save: readFileSync(join(DIR, `${base}.save-c`), 'utf8')}
}

const backendOf = (variant: 'nf_tables' | 'legacy') => (variant === 'nf_tables' ? 'iptables-nft' : 'iptables-legacy') as 'iptables-nft' | 'iptables-legacy'

describe('iptables -nvL listings read back as iptables-save -c', () => {
  it('has listings of several rule sets, both variants, both families', () => {
    expect(sets.length).toBeGreaterThanOrEqual(6)
  })

  for (const base of sets) {
    it(`${base}: every rule it reads back is iptables-save's, text and meaning; the others are marked, never guessed`, () => {
      const s = load(base)
      const {text, lossy} = listingsToSave(s.tables, {family: s.family, variant: s.variant, lossy: 'opaque'})
      const opts = {backend: backendOf(s.variant), family: s.family}
      const mine = parseIptablesSaveIR(text, opts)
      const real = parseIptablesSaveIR(s.save, opts)
      expect(mine.map((t) => t.name).sort()).toEqual(real.map((t) => t.name).sort())
      let exact = 0
      for (const t of real) {
        const other = mine.find((x) => x.name === t.name)!
        for (const [name, chain] of Object.entries(t.chains)) {
          const c = other.chains[name]
          expect(c, `${t.name} ${name}`).toBeDefined()
          expect(c.base?.policy, `${t.name} ${name} policy`).toBe(chain.base?.policy)
          expect(c.rules.length, `${t.name} ${name}`).toBe(chain.rules.length)
          chain.rules.forEach((r, i) => {
            const m = c.rules[i]
            if (lossy.some((l) => l.table === t.name && l.chain === name && l.index === i)) {
              expect(m.exprs.map((e) => e.kind), `${t.name} ${name} #${i} unreadable`).toEqual(['opaque', 'opaque-statement'])
              return
            }
            expect(m.text, `${t.name} ${name} #${i}`).toBe(r.text)
            expect(m.exprs, `${t.name} ${name} #${i}: ${r.text}`).toEqual(r.exprs)
            exact++
          })
        }
      }
      console.info(`${base}: ${exact} rules read back exactly, ${lossy.length} marked unreadable (${lossy.map((l) => l.line.replace(/^\s*\d+\s+\d+\s+/, '')).slice(0, 4).join(' | ')})`)
      expect(exact).toBeGreaterThan(lossy.length)
    })
  }
})
