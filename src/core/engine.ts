/**
 * Evaluates rules on the model's entities with json-rules-engine and turns
 * the events into ranked findings, root causes first.
 */
import {Engine, Fact} from 'json-rules-engine'
import type {RuleDefinition} from '../../rules/types.js'
import type {EntityContext, EntityKind, EntityView, Model} from '../derive/index.js'
import {type Severity, severityWeight} from '../lib/severity.js'
import {countRepeats, getOrCreate} from '../lib/collections.js'
import {ruleInputKey} from './rule-inputs.js'

export {countRepeats}

export interface EntityRef {
  kind: EntityKind
  name: string
}

export interface Finding {
  id: string
  severity: Severity
  rank: number
  entity: EntityRef
  title: string
  summary: string
  evidence: string[]
  /** Commands to paste, filled in with this host's names and values: never prose, never placeholders. */
  fix: string[]
  /** Prose that goes with the fix: when it applies, what to check, how to persist it. */
  note?: string[]
  /** Keys (`ruleId@kind:name`) of findings this one is the root cause of. */
  explains: string[]
  /** The cause it is listed under. */
  explainedBy?: string
  /** Every finding that explains this one, the listed cause first (a symptom may have several causes). */
  causes?: string[]
  /** Running guests cut off by this fault. */
  blastRadius: number
  /** The entity's network, bridge, domain and MAC: names that outlive a guest restart (tap names and addresses do not). Always set by evaluate(). */
  context?: EntityContext
}

export interface NotChecked {
  ruleId: string
  entity: EntityRef | null
  reason: string
}

export interface Evaluation {
  findings: Finding[]
  notChecked: NotChecked[]
  /** Every (rule, entity) pair that was evaluated. */
  checked: {ruleId: string; entity: EntityRef}[]
  /** The checked pairs where the rule means something (each rule's `appliesTo`), for JUnit-style reports. */
  applicable: {ruleId: string; entity: EntityRef}[]
}

export const findingKey = (f: {id: string; entity: EntityRef}) => `${f.id}@${f.entity.kind}:${f.entity.name}`

/** Plain dotted-path lookup: JSONPath is far slower and we never need its power. */
export function resolvePath(value: unknown, path: string): unknown {
  let current = value
  for (const part of path.split('.')) {
    if (current === null || current === undefined) return undefined
    current = (current as Record<string, unknown>)[part]
  }
  return current
}

/** Fills `{path}` placeholders; returns undefined when an array placeholder is empty (the line is dropped). */
export function fillTemplate(template: string, entity: EntityView, host: EntityView): string | undefined {
  let empty = false
  const text = template.replace(/\{([A-Za-z0-9_.]+)\}/g, (_, path: string) => {
    const value = path.startsWith('host.') ? resolvePath(host, path.slice(5)) : resolvePath(entity, path)
    if (Array.isArray(value)) {
      if (value.length === 0) empty = true
      return value.join(', ')
    }
    return value === null || value === undefined ? 'none' : String(value)
  })
  return empty ? undefined : text
}

/** A check decided outside the engine (expectations), ranked and reported like any rule. */
export interface ExternalCheck {
  rule: RuleDefinition
  entity: EntityView
  violated: boolean
}

/** Fills templates into lines; a template that is one array placeholder (`{undo}`) gives one line per element. */
export function fillLines(templates: string[], entity: EntityView, host: EntityView): string[] {
  return templates.flatMap((t) => {
    const whole = /^\{([A-Za-z0-9_.]+)\}$/.exec(t)
    if (whole) {
      const value = whole[1].startsWith('host.') ? resolvePath(host, whole[1].slice(5)) : resolvePath(entity, whole[1])
      if (Array.isArray(value)) return value.map(String)
    }
    const line = fillTemplate(t, entity, host)
    return line === undefined ? [] : [line]
  })
}

/**
 * Fix lines are commands: a trailing shell comment ("cmd   # why") is prose and
 * moves to the note, after the rule's own note lines. Lines are de-duplicated.
 */
export function fixAndNote(lines: string[], notes: string[]): {fix: string[]; note?: string[]} {
  // Sets keep the de-duplication linear: a finding may carry a fix line per guest (20k leases of one address).
  const fix = new Set<string>()
  const note = new Set(notes)
  for (const line of lines) {
    const found = /^(.*?\S)\s+#\s+(.+)$/.exec(line)
    // A # inside quotes is part of the command (an iptables --comment), not a shell comment.
    const comment = found && !/^[^'"]*(('[^']*'|"[^"]*")[^'"]*)*$/.test(found[1]) ? null : found
    const command = comment ? comment[1] : line.trim()
    if (comment) note.add(comment[2])
    if (command) fix.add(command)
  }
  return note.size > 0 ? {fix: [...fix], note: [...note]} : {fix: [...fix]}
}

export interface EvaluateOptions {
  /** Takes findings out before ranking (the ignore file), so no symptom is left under a cause that is not shown. */
  suppress?: (findings: Finding[]) => Finding[]
}

export async function evaluate(model: Model, rules: RuleDefinition[], external: ExternalCheck[] = [], options: EvaluateOptions = {}): Promise<Evaluation> {
  const evaluation: Evaluation = {findings: [], notChecked: [], checked: [], applicable: []}
  const host = model.entities.host[0]
  const raw: {rule: RuleDefinition; entity: EntityView}[] = []
  for (const c of external) {
    const ref = {kind: c.entity.kind, name: c.entity.name}
    const missing = unavailableProbe(model, c.rule)
    if (missing) {
      evaluation.notChecked.push({ruleId: c.rule.id, entity: ref, reason: missing})
      continue
    }
    evaluation.checked.push({ruleId: c.rule.id, entity: ref})
    evaluation.applicable.push({ruleId: c.rule.id, entity: ref})
    if (c.violated) raw.push({rule: c.rule, entity: c.entity})
  }
  // General rules last: they speak only for elements no specific finding claimed.
  const ordered = [...rules.filter((r) => !r.fallback), ...rules.filter((r) => r.fallback)]
  let claimed: Set<string> | undefined
  // Constant facts need no cache key (hashing one per run is most of a run's cost).
  const hostFact = new Fact('host', host, {cache: false})
  for (const rule of ordered) {
    if (rule.fallback && !claimed) claimed = claimedElements(raw, host)
    // A rule of an opt-in probe nobody asked for (--listen) is no check at all: neither run nor "not checked".
    // (A probe a recording predates is unavailable, not skipped: its rules are not checked.)
    if (rule.requires.some((id) => model.probes[id]?.ok === false && (model.probes[id] as {skipped?: boolean}).skipped)) continue
    const missing = unavailableProbe(model, rule)
    if (missing) {
      evaluation.notChecked.push({ruleId: rule.id, entity: null, reason: missing})
      continue
    }
    // One engine per rule, run strictly one entity after another: a json-rules-engine
    // Engine must never run concurrently (it silently drops rules).
    const engine = new Engine([{conditions: rule.conditions, event: {type: rule.id}}], {
      allowUndefinedFacts: true,
      pathResolver: resolvePath,
    })
    // Lists compare by identity in json-rules-engine's `equal`: rules say `nonEmpty: true` instead.
    engine.addOperator('nonEmpty', (fact: unknown, value: boolean) => Array.isArray(fact) && fact.length > 0 === value)
    // Entities alike in everything the rule reads get the engine's answer once (src/core/rule-inputs.ts).
    const inputKey = ruleInputKey(rule.conditions, resolvePath)
    const answers = new Map<string, boolean>()
    for (const viewed of scopesOf(rule).flatMap((kind) => model.entities[kind])) {
      const ref = {kind: viewed.kind, name: viewed.name}
      // Where a rule cannot mean anything (mtu-mismatch on a tap, an RA rule on a link without RA
      // routes) it is neither run nor owed its facts: an unknown there is no unchecked risk.
      if (rule.appliesTo && !rule.appliesTo(viewed)) {
        evaluation.checked.push({ruleId: rule.id, entity: ref})
        continue
      }
      const unknown = (rule.needs ?? []).filter((attr) => viewed[attr] === null || viewed[attr] === undefined)
      if (unknown.length > 0) {
        const because = unknown.map((attr) => viewed.unknownBecause?.[attr]).filter((r): r is string => r !== undefined)
        evaluation.notChecked.push({ruleId: rule.id, entity: ref, reason: `unknown: ${unknown.join(', ')} (${because.length > 0 ? because.join('; ') : probeReasons(model, rule)})`})
        continue
      }
      if (rule.fallback && typeof viewed.elementId === 'string' && claimed!.has(viewed.elementId)) continue
      const entity = rule.derive ? {...viewed, ...rule.derive(viewed, host)} : viewed
      evaluation.checked.push({ruleId: rule.id, entity: ref})
      evaluation.applicable.push({ruleId: rule.id, entity: ref})
      // Keyed on the entity the rule reads, its own derived facts included.
      const key = inputKey({entity, host})
      let fires = key === undefined ? undefined : answers.get(key)
      if (fires === undefined) {
        fires = (await engine.run({entity: new Fact('entity', entity, {cache: false}), host: hostFact})).events.length > 0
        if (key !== undefined) answers.set(key, fires)
      }
      if (fires) raw.push({rule, entity})
    }
  }
  const unranked = raw.map(({rule, entity}) => ({
    finding: {
      id: rule.id,
      severity: rule.escalate && resolvePath(entity, rule.escalate.when) === true ? rule.escalate.severity : rule.severity,
      rank: 0,
      entity: {kind: entity.kind, name: entity.name},
      title: fillTemplate(rule.title, entity, host) ?? rule.title,
      summary: fillTemplate(rule.summary, entity, host) ?? '',
      evidence: countRepeats(fillLines(rule.evidence, entity, host)),
      ...fixAndNote(rule.fixLines ? rule.fixLines(entity, host) : fillLines(rule.fix, entity, host), rule.note ? fillLines(rule.note, entity, host) : []),
      explains: [],
      blastRadius: entity.affectedGuests,
      context: entity.context,
    } as Finding,
    source: {rule, entity},
  }))
  const shown = new Set(options.suppress ? options.suppress(unranked.map((u) => u.finding)) : unranked.map((u) => u.finding))
  const kept = unranked.filter((u) => shown.has(u.finding))
  evaluation.findings = rank(
    kept.map((u) => u.finding),
    kept.map((u) => u.source),
  )
  return evaluation
}

/** A template with one array placeholder gives one string per element ("link:{bridges}" → link:a, link:b). */
function expandTemplate(template: string, entity: EntityView, host: EntityView): string[] {
  const lookup = (path: string) => (path.startsWith('host.') ? resolvePath(host, path.slice(5)) : resolvePath(entity, path))
  const arrayPath = [...template.matchAll(/\{([A-Za-z0-9_.]+)\}/g)].map((m) => m[1]).find((p) => Array.isArray(lookup(p)))
  if (!arrayPath) {
    const line = fillTemplate(template, entity, host)
    return line === undefined ? [] : [line]
  }
  return (lookup(arrayPath) as unknown[]).flatMap((value) => {
    const line = fillTemplate(template.replaceAll(`{${arrayPath}}`, String(value)), entity, host)
    return line === undefined ? [] : [line]
  })
}

/** Element ids the findings so far stand for: their rules' `claims`, and the element an element-scoped finding is about. */
function claimedElements(raw: {rule: RuleDefinition; entity: EntityView}[], host: EntityView): Set<string> {
  const ids = new Set<string>()
  for (const {rule, entity} of raw) {
    if (typeof entity.elementId === 'string') ids.add(entity.elementId)
    for (const template of rule.claims ?? []) for (const id of expandTemplate(template, entity, host)) ids.add(id)
  }
  return ids
}

export const scopesOf = (rule: RuleDefinition): EntityKind[] => (Array.isArray(rule.scope) ? rule.scope : [rule.scope])

function unavailableProbe(model: Model, rule: RuleDefinition): string | undefined {
  for (const id of rule.requires) {
    const p = model.probes[id]
    if (!p?.ok) return `probe ${id} unavailable: ${p && !p.ok ? p.error : 'not run'}`
    // Partial data is not a pass: a rule reading it is not checked.
    if (p.degraded && p.degraded.length > 0) return `probe ${id} read only part of its sources: ${p.degraded.join('; ')}`
  }
  for (const group of rule.requiresAny ?? []) {
    if (!group.some((id) => model.probes[id]?.ok)) {
      return `probes ${group.join(' and ')} unavailable: ${group.map((id) => {
        const p = model.probes[id]
        return p && !p.ok ? p.error : 'not run'
      }).join('; ')}`
    }
  }
  return undefined
}

function probeReasons(model: Model, rule: RuleDefinition): string {
  const failed = [...rule.requires, ...(rule.requiresAny ?? []).flat()].map((id) => model.probes[id]).filter((p) => p && !p.ok)
  return failed.length > 0 ? failed.map((p) => `${p!.id}: ${!p!.ok ? p!.error : ''}`).join('; ') : 'the facts it needs were not collected'
}

const byImportance = (a: Finding, b: Finding) =>
  severityWeight(b.severity) - severityWeight(a.severity) ||
  b.blastRadius - a.blastRadius ||
  a.id.localeCompare(b.id) ||
  a.entity.name.localeCompare(b.entity.name)

/**
 * Orders findings: each root is followed by the findings it explains. A finding
 * is explained by every finding whose rule declares it and shares the declared
 * context key; it is listed under the most important of them (all are named in
 * `causes`). Roots are ordered by the worst severity, then the largest blast
 * radius, in their whole subtree: a medium cause of a critical symptom comes
 * before an unrelated high.
 */
export function rank(findings: Finding[], sources: {rule: RuleDefinition; entity: EntityView}[]): Finding[] {
  const order = findings.map((f, i) => ({f, src: sources[i]})).sort((a, b) => byImportance(a.f, b.f))
  const parentOf = new Map<Finding, Finding>()
  const causesOf = new Map<Finding, Finding[]>()
  const isAncestor = (candidate: Finding, of: Finding): boolean => {
    for (let p = parentOf.get(candidate); p; p = parentOf.get(p)) if (p === of) return true
    return false
  }
  // Only findings whose rule declares the child's rule can explain it: look at those alone,
  // so a thousand unrelated findings cost nothing here.
  const candidatesFor = new Map<string, typeof order>()
  for (const item of order) for (const e of item.src.rule.explains ?? []) getOrCreate(candidatesFor, e.rule, () => []).push(item)
  // Least important first: where two findings explain each other, the more important one stays the root.
  for (const child of [...order].reverse()) {
    for (const parent of candidatesFor.get(child.f.id) ?? []) {
      if (parent === child) continue
      const explains = parent.src.rule.explains?.some((e) => {
        if (e.rule !== child.f.id) return false
        if (e.onlyWhere !== undefined && child.src.entity[e.onlyWhere] !== true) return false
        const key = parent.src.entity.context[e.via]
        return key !== undefined && key === child.src.entity.context[e.via]
      })
      if (!explains || isAncestor(parent.f, child.f)) continue
      getOrCreate(causesOf, child.f, () => []).push(parent.f)
      if (!parentOf.has(child.f)) parentOf.set(child.f, parent.f)
    }
  }
  const childrenOf = new Map<Finding, Finding[]>()
  for (const {f} of order) {
    const parent = parentOf.get(f)
    if (parent) getOrCreate(childrenOf, parent, () => []).push(f)
  }
  // The worst severity and blast radius anywhere under a root decide where the root goes.
  const weight = new Map<Finding, {severity: number; blast: number}>()
  const weigh = (f: Finding): {severity: number; blast: number} => {
    const known = weight.get(f)
    if (known) return known
    const w = {severity: severityWeight(f.severity), blast: f.blastRadius}
    weight.set(f, w)
    for (const c of childrenOf.get(f) ?? []) {
      const cw = weigh(c)
      w.severity = Math.max(w.severity, cw.severity)
      w.blast = Math.max(w.blast, cw.blast)
    }
    return w
  }
  const roots = order.filter(({f}) => !parentOf.has(f)).map(({f}) => f)
  roots.sort((a, b) => weigh(b).severity - weigh(a).severity || weigh(b).blast - weigh(a).blast || byImportance(a, b))
  const out: Finding[] = []
  const emit = (f: Finding) => {
    f.rank = out.length + 1
    out.push(f)
    for (const c of childrenOf.get(f) ?? []) {
      c.explainedBy = findingKey(f)
      const causes = causesOf.get(c) ?? []
      if (causes.length > 1) c.causes = [f, ...causes.filter((x) => x !== f)].map(findingKey)
      f.explains.push(findingKey(c))
      emit(c)
    }
  }
  for (const f of roots) emit(f)
  return out
}
