import {existsSync, readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {ALL_RULES} from '../../rules/index.js'
import type {Rule} from '../../rules/kit.js'
import type {RuleInfo} from '../result/diagnosis.js'
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
export const EVERY_RULE: Rule[] = ALL_RULES

/** A rule by its id or one it was known by. */
export function findRule(id: string): Rule {
  const rule = EVERY_RULE.find((r) => r.id === id) ?? EVERY_RULE.find((r) => r.aliases.includes(id))
  if (!rule) throw new UserError(`unknown rule "${id}" (kvmdoctor rules lists them)`)
  return rule
}

/** The rules as reports list them. */
export function ruleInfos(rules: Rule[]): RuleInfo[] {
  return rules.map((r) => ({
    id: r.id,
    aliases: r.aliases,
    stableId: r.stableId,
    severity: r.severity,
    ...(r.escalate ? {escalatesTo: r.escalate.to} : {}),
    kinds: r.kinds,
    scopes: r.scopes,
    expectation: r.askedFor !== undefined,
    doc: () => ruleDoc(r.id),
    headline: () => ruleHeadline(r.id),
  }))
}

/**
 * The rule as the engine runs it, in Markdown after its doc (`kvmdoctor rules show`): the ids it is
 * known by, the views it runs on, the probes it needs, and its conditions exactly as json-rules-engine
 * evaluates them (fact "entity" is the view, "host" the host's view).
 */
export function ruleSpecMarkdown(rule: Rule): string {
  const lines = ['', '**The rule as kvmdoctor runs it.**', '']
  lines.push(`- id: \`${rule.id}\`${rule.aliases.length > 0 ? `, also known as ${rule.aliases.map((a) => `\`${a}\``).join(', ')} (ignore files, SARIF fingerprints and metrics keep honouring it)` : ''}`)
  lines.push(`- severity: ${rule.severity}${rule.escalate ? `, ${rule.escalate.to} where its fault does more harm` : ''}`)
  lines.push(`- runs on: ${rule.scopes.join(', ')} views${rule.general ? ' (the datapath elements no other rule owns)' : ''}${rule.askedFor ? ' (only where kvmdoctor.yaml asks for it)' : ''}`)
  lines.push(`- needs probes: ${[...rule.needs, ...rule.needsAny.map((g) => g.join(' or '))].join(', ') || 'none'}${rule.known.length > 0 ? `; not checked where unknown: ${rule.known.join(', ')}` : ''}`)
  if (rule.explains.length > 0) lines.push(`- root cause of: ${rule.explains.map((e) => `${e.rule} (same ${e.via}${e.onlyWhereText ? `, where ${e.onlyWhereText}` : ''})`).join(', ')}`)
  if (rule.owns.length > 0) lines.push(`- owns the datapath elements of kind: ${[...new Set(rule.owns.map((o) => o.kind))].join(', ')}`)
  lines.push('', 'Conditions (json-rules-engine):', '', '```json', JSON.stringify(rule.conditions, null, 2), '```', '')
  return lines.join('\n')
}
