import {existsSync, readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {EXPECTATION_RULES} from '../../rules/expectations.js'
import {ALL_RULES} from '../../rules/index.js'
import type {RuleDefinition} from '../../rules/types.js'
import {UserError} from './errors.js'

/** The installed package: rules/*.md ship beside dist/ (found upwards, so it works from dist/ and from sources). */
export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)))

function findPackageRoot(start: string): string {
  for (let dir = start; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'rules'))) return dir
  }
  return start
}

export function ruleDocPath(id: string): string {
  return join(PACKAGE_ROOT, 'rules', `${id}.md`)
}

export function ruleDoc(id: string): string {
  return readFileSync(ruleDocPath(id), 'utf8')
}

/** The first sentence of the doc's "What it means." paragraph. */
export function ruleHeadline(id: string): string {
  const meaning = (/\*\*What it means\.\*\*\s+([\s\S]+?)(\n\n|$)/.exec(ruleDoc(id))?.[1] ?? '').replace(/\s*\n\s*/g, ' ')
  return (/^(.+?\.)(\s|$)/.exec(meaning)?.[1] ?? meaning).replace(/`/g, '')
}

/** The knowledge-base rules, then the expectation rules of kvmdoctor.yaml. */
export const EVERY_RULE: RuleDefinition[] = [...ALL_RULES, ...EXPECTATION_RULES]

export function findRule(id: string): RuleDefinition {
  const rule = EVERY_RULE.find((r) => r.id === id)
  if (!rule) throw new UserError(`unknown rule "${id}" (kvmdoctor rules lists them)`)
  return rule
}
