import {readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {ALL_RULES} from '../../rules/index.js'
import {ROOT} from '../helpers.js'

/** Every source file outside the tests: what has to change when a rule is added. */
function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), {withFileTypes: true}).flatMap((d) => {
    const path = join(dir, d.name)
    if (d.isDirectory()) return sources(path)
    return /\.(ts|mjs|json|md)$/.test(d.name) && d.name !== 'registry.generated.ts' ? [path] : []
  })
}

/**
 * Files that read some findings by their rule's id, and why: `kvmdoctor ip` shows what the address and
 * wire findings say of each guest (conflict, silent, foreign address, DHCP unanswered, gateway unanswered,
 * wrong netmask, the rogue servers).
 */
const READS_FINDINGS: Record<string, string[]> = {
  'src/core/ip-service.ts': ['ip-address-conflict', 'mac-duplicate', 'guest-silent', 'guest-address-foreign', 'dhcp-no-offer', 'guest-gateway-unanswered', 'guest-netmask-wrong', 'rogue-dhcp-server'],
}

describe('a rule needs its file, its doc and its tests, nothing else', () => {
  const files = ['src', 'rules', 'reports', 'probes', 'scripts', 'docs'].flatMap(sources).concat(['package.json', 'README.md'])
  const text = new Map(files.map((f) => [f, readFileSync(join(ROOT, f), 'utf8')]))
  const mentions = (id: string) => files.filter((f) => new RegExp(`(?<![\\w-])${id}(?![\\w-])`).test(text.get(f)!))

  for (const rule of ALL_RULES) {
    it(`${rule.id}: named in code only by its own files, other rules, and what reads its findings`, () => {
      const own = [`rules/${rule.id}.ts`, `rules/${rule.id}.md`]
      // Other rules may say where their judgement ends and another's begins; docs, README and the commands' help may cite it.
      const elsewhere = mentions(rule.id).filter(
        (f) => !own.includes(f) && !/^rules\/[a-z0-9-]+\.(md|ts)$/.test(f) && !(READS_FINDINGS[f] ?? []).includes(rule.id) && f !== 'README.md' && !f.startsWith('docs/') && !f.startsWith('src/commands/'),
      )
      expect(elsewhere).toEqual([])
    })
  }

  it('the registry is written from the rule files: no hand-kept list of rules', () => {
    const lists = files.filter((f) => f.endsWith('.ts') && ALL_RULES.filter((r) => new RegExp(`'\\./${r.id}\\.js'`).test(text.get(f)!)).length > 3)
    expect(lists).toEqual([])
  })

  it("README's \"Adding a rule\" shows a real rule, as it is", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    const shown = /## Adding a rule[\s\S]*?`(rules\/[a-z0-9-]+\.ts)`:\n\n```ts\n([\s\S]+?)\n```/.exec(readme)
    expect(shown, 'README has an "Adding a rule" section with a rule file in a ts block').not.toBeNull()
    expect(shown![2]).toBe(readFileSync(join(ROOT, shown![1]), 'utf8').trimEnd())
  })
})
