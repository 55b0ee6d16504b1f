#!/usr/bin/env node
/**
 * Writes rules/registry.generated.ts: every rule of rules/ (a .ts file with its doc, ID.md,
 * beside it), in the knowledge base's order (test/data/failure-patterns.md, by the rule's id or
 * an id it was known by), then the others (the expectation rules) by id. Adding a rule is its
 * file, its doc and its tests: the build, the type check and the test run write this list.
 *
 *   node scripts/rules-registry.mjs           write it (only when it changes)
 *   node scripts/rules-registry.mjs --check   exit 1 when it is stale
 */
import {existsSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const RULES = join(ROOT, 'rules')
export const REGISTRY = join(RULES, 'registry.generated.ts')

/** The rule ids of the knowledge base, in its order: "### id — severity" and "### a — x / b — y". */
function catalogueOrder() {
  const text = readFileSync(join(ROOT, 'test/data/failure-patterns.md'), 'utf8')
  return [...text.matchAll(/^### (.+)$/gm)].flatMap((m) => [...m[1].matchAll(/([a-z0-9]+(?:-[a-z0-9]+)+) —/g)].map((x) => x[1]))
}

export function registrySource() {
  const ids = readdirSync(RULES)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && existsSync(join(RULES, f.replace(/\.ts$/, '.md'))))
    .map((f) => f.replace(/\.ts$/, ''))
  const order = catalogueOrder()
  // A rule renamed when its scope grew keeps its catalogue place through the id it was known by.
  const place = (id) => {
    const aliases = /aliases:\s*\[([^\]]*)\]/.exec(readFileSync(join(RULES, `${id}.ts`), 'utf8'))?.[1].match(/[a-z0-9-]+/g) ?? []
    const at = [id, ...aliases].map((x) => order.indexOf(x)).find((i) => i >= 0)
    return at ?? order.length
  }
  const sorted = ids.map((id) => ({id, at: place(id)})).sort((a, b) => a.at - b.at || a.id.localeCompare(b.id))
  const name = (id) => id.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase())
  return [
    '// Written by scripts/rules-registry.mjs (build, typecheck, tests): every rule of rules/, in the knowledge base\'s order. Not edited by hand.',
    ...sorted.map(({id}) => `import ${name(id)} from './${id}.js'`),
    "import type {Rule} from './kit.js'",
    '',
    `export const REGISTRY: Rule[] = [${sorted.map(({id}) => name(id)).join(', ')}]`,
    '',
  ].join('\n')
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const source = registrySource()
  const current = existsSync(REGISTRY) ? readFileSync(REGISTRY, 'utf8') : ''
  if (process.argv.includes('--check')) {
    if (current !== source) {
      console.error('rules/registry.generated.ts is stale: node scripts/rules-registry.mjs')
      process.exit(1)
    }
  } else if (current !== source) writeFileSync(REGISTRY, source)
}
