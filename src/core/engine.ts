/**
 * Runs the rules on the model's views with json-rules-engine, one engine per
 * kind of view holding every rule of that kind, each view run once; turns the
 * events into findings with the rules' own texts, and ranks them, root causes
 * first. A datapath element is judged by the one rule that owns its kind: an
 * element rule that applies to it, or a rule on another view whose finding
 * stands for it; the general rules speak only for the elements nobody else does.
 */
import {Engine, Fact} from 'json-rules-engine'
import {ALL_RULES} from '../../rules/index.js'
import {type Line, type Rule, type RuleContext, type Steps, ownershipOf} from '../../rules/kit.js'
import type {Element} from '../datapath/elements.js'
import {type EntityView, type HostView, type Model, type Scope, guestTaps, stableName} from '../derive/index.js'
import type {ElementView} from '../derive/types.js'
import {SEVERITIES, severityWeight} from '../lib/severity.js'
import {countRepeats, getOrCreate} from '../lib/collections.js'
import {type EntityRef, type Evaluation, type Finding, type NotChecked, findingKey} from '../result/findings.js'
import {type FixStep, renderSteps, stepKey} from '../lib/fix.js'

export {countRepeats, findingKey}
export type {EntityRef, Evaluation, Finding, NotChecked} from '../result/findings.js'

/** Plain dotted-path lookup (json-rules-engine's pathResolver): JSONPath is far slower and we never need its power. */
export function resolvePath(value: unknown, path: string): unknown {
  let current = value
  const parts = pathParts(path)
  for (let i = 0; i < parts.length; i++) {
    if (current === null || current === undefined) return undefined
    current = (current as Record<string, unknown>)[parts[i]]
  }
  return current
}

/** A path's parts, split once: the rules' few paths are read on every view (a list per read at 10,000 views adds up). */
const splitPaths = new Map<string, readonly string[]>()
function pathParts(path: string): readonly string[] {
  let parts = splitPaths.get(path)
  if (parts === undefined) splitPaths.set(path, (parts = path.split('.')))
  return parts
}

/**
 * What a set of conditions reads of the entity, when that is all of it they read: plain `all`/`any`/`not` trees
 * of {fact, path, operator, value} over 'entity' and 'host' (the same object for every view of a run). Anything
 * else (a whole-fact read, a condition reference, params, another fact) gives undefined: no sharing. `compared`
 * are the entity paths compared with another fact's value: json-rules-engine compares objects by identity, so
 * two views agree there only when those values are not objects.
 */
export function entityPathsOf(conditions: readonly unknown[]): {paths: string[]; compared: Set<string>} | undefined {
  const paths = new Set<string>()
  const compared = new Set<string>()
  const factRead = (c: Record<string, unknown>, againstFact: boolean): boolean => {
    if (c.fact === 'host') return true
    if (c.fact !== 'entity' || typeof c.path !== 'string') return false
    paths.add(c.path)
    if (againstFact) compared.add(c.path)
    return true
  }
  const walk = (c: unknown): boolean => {
    if (c === null || typeof c !== 'object' || Array.isArray(c)) return false
    const o = c as Record<string, unknown>
    const keys = Object.keys(o)
    if (keys.length === 1 && (keys[0] === 'all' || keys[0] === 'any')) return Array.isArray(o[keys[0]]) && (o[keys[0]] as unknown[]).every(walk)
    if (keys.length === 1 && keys[0] === 'not') return walk(o.not)
    if (!keys.every((k) => k === 'fact' || k === 'path' || k === 'operator' || k === 'value') || typeof o.operator !== 'string') return false
    const value = o.value
    // A value that is an object with a `fact` is another fact's value (json-rules-engine compares fact with fact).
    const isFact = value !== null && typeof value === 'object' && !Array.isArray(value) && 'fact' in value
    if (!factRead(o, isFact)) return false
    return isFact ? factRead(value as Record<string, unknown>, true) : valueKey(value) !== undefined
  }
  return conditions.every(walk) ? {paths: [...paths].sort(), compared} : undefined
}

/** The values a view holds at the paths its conditions read, as one key that tells apart every two that a condition could; undefined when it cannot. */
export function readValuesKey(valueAt: (path: string) => unknown, read: {paths: readonly string[]; compared: ReadonlySet<string>}): string | undefined {
  let key = ''
  for (const path of read.paths) {
    const value = valueAt(path)
    if (value !== null && typeof value === 'object' && read.compared.has(path)) return undefined
    const part = valueKey(value)
    if (part === undefined) return undefined
    key += `${part}\u0000`
  }
  return key
}

/** An injective text of plain data (undefined, null, booleans, numbers, strings, arrays, plain objects); undefined for anything else. */
function valueKey(v: unknown): string | undefined {
  switch (typeof v) {
    case 'undefined':
      return 'u'
    case 'boolean':
      return v ? 't' : 'f'
    case 'number':
      return Object.is(v, -0) ? 'n-0' : `n${v}`
    case 'string':
      return JSON.stringify(v)
    case 'object': {
      if (v === null) return 'z'
      if (Array.isArray(v)) {
        let out = '['
        for (let i = 0; i < v.length; i++) {
          if (!(i in v)) return undefined
          const item = valueKey(v[i])
          if (item === undefined) return undefined
          out += `${item},`
        }
        return `${out}]`
      }
      const proto = Object.getPrototypeOf(v)
      if (proto !== Object.prototype && proto !== null) return undefined
      let out = '{'
      for (const k of Reflect.ownKeys(v)) {
        if (typeof k !== 'string' || !Object.prototype.propertyIsEnumerable.call(v, k)) return undefined
        const item = valueKey((v as Record<string, unknown>)[k])
        if (item === undefined) return undefined
        out += `${JSON.stringify(k)}:${item},`
      }
      return `${out}}`
    }
    default:
      return undefined
  }
}

/** A rule's fix or check lines as steps: sequences flattened, lines left out dropped, repeats removed. */
export function stepsOf(lines: readonly Steps[]): FixStep[] {
  const seen = new Set<string>()
  const out: FixStep[] = []
  for (const line of lines) {
    for (const step of line === undefined ? [] : 'argv' in line || 'pipeline' in line || 'write' in line ? [line as FixStep] : (line as readonly FixStep[])) {
      const key = stepKey(step)
      if (!seen.has(key)) (seen.add(key), out.push(step))
    }
  }
  return out
}

/** A finding's fix and check lines: the steps, and the text they render to (the one renderer every report prints). */
export function fixAndCheck(fix: FixStep[], check: FixStep[]): Pick<Finding, 'fix' | 'fixSteps' | 'check' | 'checkSteps'> {
  return {fix: renderSteps(fix), fixSteps: fix, ...(check.length > 0 ? {check: renderSteps(check), checkSteps: check} : {})}
}

export interface EvaluateOptions {
  /** Takes findings out before ranking (the ignore file), so no symptom is left under a cause that is not shown. */
  suppress?: (findings: Finding[]) => Finding[]
}

/** Expectation views first (what kvmdoctor.yaml asks), then the host's, elements last: they need the other findings. */
const SCOPE_ORDER: Scope[] = ['expected-network', 'expected-guest', 'expected-host', 'host', 'network', 'link', 'domain', 'interface', 'apipa', 'address', 'dhcp-service', 'ovs-bridge', 'element', 'forward']

/** What happened to one rule on one view. */
type Outcome = {status: 'skip'} | {status: 'not-applicable'} | {status: 'unknown'; reason: string} | {status: 'run'; fired: boolean; view: object; extra?: object}

/** The view the engine reads: each rule's derived view ({...view, ...extra}) merged over the last, in rule order. */
function mergedView(view: object, extras: readonly object[]): object {
  let merged: object | undefined
  for (const extra of extras) merged = {...(merged ?? view), ...{...view, ...extra}}
  return merged ?? view
}

/** resolvePath(mergedView(view, extras), path) without making the merged view: the last derived view holding the key decides. */
export function resolveMerged(view: object, extras: readonly object[], path: string): unknown {
  const dot = path.indexOf('.')
  const key = dot < 0 ? path : path.slice(0, dot)
  const own = (o: object) => Object.prototype.propertyIsEnumerable.call(o, key)
  let top: unknown = ({} as Record<string, unknown>)[key]
  for (let k = extras.length - 1; k >= 0; k--) {
    // Each derived view holds the view's own keys, its rule's extra over them.
    if (own(extras[k])) top = (extras[k] as Record<string, unknown>)[key]
    else if (own(view)) top = (view as Record<string, unknown>)[key]
    else continue
    break
  }
  return dot < 0 ? top : resolvePath(top, path.slice(dot + 1))
}

/** A rule whose probe is opt-in and was not asked for (--listen) is no check at all: neither run nor "not checked". */
const optedOut = (model: Model, rule: Rule) => optedOutBecause(model, rule) !== undefined
/** Why an opted-out rule did not run: the probe it needs and what that probe asks for. */
function optedOutBecause(model: Model, rule: Rule): string | undefined {
  const id = rule.needs.find((p) => model.probes[p]?.ok === false && (model.probes[p] as {skipped?: boolean}).skipped)
  const probe = id === undefined ? undefined : model.probes[id]
  return probe && !probe.ok ? `probe ${id} skipped: ${probe.error}` : undefined
}

export async function evaluate(model: Model, rules: Rule[], options: EvaluateOptions = {}): Promise<Evaluation> {
  const host = model.entities.host[0]
  const hostFact = new Fact('host', host, {cache: false})
  // Every element kind has its owner among all the rules, whichever are run.
  const context: RuleContext = {undo: (el) => ownershipOf(ALL_RULES, el)[0]?.ownership.undo(el, host) ?? []}
  const unavailable = new Map<Rule, string>()
  const active: Rule[] = []
  for (const rule of rules) {
    if (optedOut(model, rule)) continue
    const missing = unavailableProbe(model, rule)
    if (missing) unavailable.set(rule, missing)
    else active.push(rule)
  }
  // Each rule's outcome on each view of each scope it runs on.
  const outcomes = new Map<Rule, Map<Scope, Outcome[]>>(active.map((r) => [r, new Map()]))
  const fired = (rule: Rule) => [...(outcomes.get(rule)?.entries() ?? [])].flatMap(([scope, list]) => list.flatMap((o, i) => (o.status === 'run' && o.fired ? [{view: o.view, entity: model.entities[scope][i]}] : [])))
  for (const scope of SCOPE_ORDER) {
    const here = active.filter((r) => r.scopes.includes(scope))
    const views = model.entities[scope] as EntityView[]
    if (here.length === 0 || views.length === 0) continue
    const covered = scope === 'element' ? coveredElements(views as ElementView[], active, fired) : undefined
    // The rules of the kind, each view run once (an Engine must never run concurrently). A view is run
    // through the kind's rules that apply to it: an engine for each set of them, made once for the kind.
    const engines = new Map<string, {engine: Engine; reads: ReturnType<typeof entityPathsOf>; fired: Map<string, Set<string>>}>()
    const engineFor = (key: string, pending: number[]) => {
      let engine = engines.get(key)
      if (!engine) {
        engine = {
          engine: new Engine(
            pending.map((k) => ({name: here[k].id, conditions: here[k].conditions, event: {type: here[k].id}})),
            {allowUndefinedFacts: true, pathResolver: resolvePath},
          ),
          reads: entityPathsOf(pending.map((k) => here[k].conditions)),
          fired: new Map(),
        }
        engines.set(key, engine)
      }
      return engine
    }
    const results = here.map((r) => {
      const list: Outcome[] = []
      outcomes.get(r)!.set(scope, list)
      return list
    })
    for (let v = 0; v < views.length; v++) {
      const view = views[v]
      // What the rules' derive added, in rule order: the merged and per-rule views are made only when needed.
      const extras: object[] = []
      const pending: number[] = []
      for (let k = 0; k < here.length; k++) {
        const rule = here[k]
        let outcome: Outcome
        if ((rule.askedFor && !rule.askedFor(view as never)) || (rule.general && covered!.has(view as ElementView))) outcome = {status: 'skip'}
        else if (rule.appliesTo && !rule.appliesTo(view as never, host)) outcome = {status: 'not-applicable'}
        else {
          const unknown = [...rule.known, ...(rule.knownWhere?.(view as never) ?? [])].filter((attr) => (view as unknown as Record<string, unknown>)[attr] === null || (view as unknown as Record<string, unknown>)[attr] === undefined)
          if (unknown.length > 0) {
            const because = unknown.map((attr) => view.unknownBecause?.[attr]).filter((r): r is string => r !== undefined)
            outcome = {status: 'unknown', reason: `unknown: ${unknown.join(', ')} (${because.length > 0 ? because.join('; ') : probeReasons(model, rule)})`}
          } else {
            const extra = rule.derive?.(view as never, host)
            if (extra) extras.push(extra)
            outcome = {status: 'run', fired: false, view, ...(extra ? {extra} : {})}
            pending.push(k)
          }
        }
        results[k].push(outcome)
      }
      if (pending.length === 0) continue
      const run = engineFor(pending.join(','), pending)
      // Views that agree on every attribute the rules read get the same events: the engine runs once for them
      // (json-rules-engine deep-copies every rule's conditions on each run; 10,000 guests are a few classes).
      const valuesKey = run.reads && readValuesKey(extras.length === 0 ? (path) => resolvePath(view, path) : (path) => resolveMerged(view, extras, path), run.reads)
      let firedTypes = valuesKey === undefined ? undefined : run.fired.get(valuesKey)
      if (!firedTypes) {
        const {events} = await run.engine.run({entity: new Fact('entity', mergedView(view, extras), {cache: false}), host: hostFact})
        firedTypes = new Set(events.map((e) => e.type))
        if (valuesKey !== undefined) run.fired.set(valuesKey, firedTypes)
      }
      for (const k of pending) {
        const outcome = results[k][v] as Extract<Outcome, {status: 'run'}>
        outcome.fired = firedTypes.has(here[k].id)
        // A finding reads the view with what its own rule derived.
        if (outcome.fired && outcome.extra) outcome.view = {...view, ...outcome.extra}
      }
      // An element a specific pattern judged is its own: the general rules say nothing of it.
      if (scope === 'element' && pending.some((k) => !here[k].general && (results[k][v] as {fired: boolean}).fired)) {
        for (const k of pending) if (here[k].general) results[k][v] = {status: 'skip'}
      }
    }
  }

  // Listed as rules are given: what the user asked for first (view by view), then each rule, general rules last.
  const evaluation: Evaluation = {findings: [], notChecked: [], checked: [], applicable: [], skipped: []}
  for (const rule of rules) {
    const reason = optedOutBecause(model, rule)
    if (reason !== undefined) evaluation.skipped.push({ruleId: rule.id, entity: null, reason})
  }
  const raw: {rule: Rule; view: object; entity: EntityView}[] = []
  // One reference per entity, and one pair for checked and applicable: a big host checks hundreds of thousands of
  // (rule, entity) pairs, and an object each was some 15 MB held to the end of the run. Nothing changes them.
  // By scope and view index (no hashing of the view, no closure per pair).
  const refs = new Map<Scope, (EntityRef | undefined)[]>()
  const list = (rule: Rule, scope: Scope, i: number, outcome: Outcome | undefined) => {
    if (!outcome || outcome.status === 'skip') return
    const entity = model.entities[scope][i] as EntityView
    let ofScope = refs.get(scope)
    if (ofScope === undefined) refs.set(scope, (ofScope = []))
    let ref = ofScope[i]
    if (ref === undefined) ofScope[i] = ref = {kind: entity.kind, name: entity.name}
    if (outcome.status === 'unknown') return void evaluation.notChecked.push({ruleId: rule.id, entity: ref, reason: outcome.reason})
    const pair = {ruleId: rule.id, entity: ref}
    evaluation.checked.push(pair)
    if (outcome.status === 'not-applicable') return
    evaluation.applicable.push(pair)
    if (outcome.fired) raw.push({rule, view: outcome.view, entity})
  }
  const asked = rules.filter((r) => r.askedFor && !optedOut(model, r))
  for (const scope of SCOPE_ORDER.filter((s) => asked.some((r) => r.scopes.includes(s)))) {
    model.entities[scope].forEach((view, i) => {
      for (const rule of asked.filter((r) => r.scopes.includes(scope))) {
        const reason = unavailable.get(rule)
        if (reason === undefined) list(rule, scope, i, outcomes.get(rule)!.get(scope)![i])
        else if (rule.askedFor!(view as never)) evaluation.notChecked.push({ruleId: rule.id, entity: {kind: view.kind, name: view.name}, reason})
      }
    })
  }
  const others = rules.filter((r) => !r.askedFor && !optedOut(model, r))
  for (const rule of [...others.filter((r) => !r.general), ...others.filter((r) => r.general)]) {
    const reason = unavailable.get(rule)
    if (reason !== undefined) {
      evaluation.notChecked.push({ruleId: rule.id, entity: null, reason})
      continue
    }
    for (const scope of rule.scopes) model.entities[scope].forEach((_, i) => list(rule, scope, i, outcomes.get(rule)!.get(scope)?.[i]))
  }

  const taps = guestTaps(model.probes.libvirt?.ok ? (model.probes.libvirt.data as Parameters<typeof guestTaps>[0]) : undefined)
  const unranked = raw.map(({rule, view, entity}) => ({finding: findingOf(rule, view as never, entity, host, context, taps), source: {rule, entity}}))
  const shown = new Set(options.suppress ? options.suppress(unranked.map((u) => u.finding)) : unranked.map((u) => u.finding))
  const kept = unranked.filter((u) => shown.has(u.finding))
  evaluation.findings = rank(
    kept.map((u) => u.finding),
    kept.map((u) => u.source),
  )
  return evaluation
}

/** A rule's finding on a view: its texts and fixes, severity, and what identifies it across runs. */
function findingOf(rule: Rule, view: EntityView, entity: EntityView, host: HostView, context: RuleContext, taps: ReturnType<typeof guestTaps>): Finding {
  const lines = (list: Line[]) => list.filter((l): l is string => l !== undefined)
  const ref = {kind: entity.kind, name: entity.name}
  const tap = entity.kind === 'link' ? taps.get(entity.name) : undefined
  const file = fileOf(entity) ?? rule.fileToChange?.(view as never)?.split('/')
  const note = [...new Set(lines(rule.note?.(view as never, host) ?? []))]
  return {
    id: rule.id,
    ...(rule.aliases.length > 0 ? {aliases: rule.aliases} : {}),
    severity: rule.escalate && rule.escalate.when(view as never, host) ? rule.escalate.to : rule.severity,
    rank: 0,
    entity: ref,
    title: rule.title(view as never, host),
    summary: rule.summary(view as never, host),
    evidence: countRepeats(lines(rule.evidence(view as never, host))),
    ...fixAndCheck(stepsOf(rule.fix(view as never, host, context)), stepsOf(rule.check?.(view as never, host) ?? [])),
    ...(note.length > 0 ? {note} : {}),
    explains: [],
    blastRadius: entity.affectedGuests,
    ...(rule.found ? {found: rule.found(view as never)} : {}),
    context: entity.context,
    stable: {
      ruleId: rule.stableId,
      name: stableName(ref, entity.context, taps),
      ...(entity.context.domain ?? tap?.domain ? {domain: entity.context.domain ?? tap?.domain} : {}),
      ...(entity.context.mac ?? tap?.mac ? {mac: entity.context.mac ?? tap?.mac} : {}),
      ...(file ? {file} : {}),
    },
  }
}

/** The file a person edits for a finding on a network, a guest or an external DHCP server, as path segments (a name is one segment, whatever it holds). */
export function fileOf(e: Pick<EntityView, 'kind' | 'name'>): string[] | undefined {
  if (e.kind === 'network') return ['etc', 'libvirt', 'qemu', 'networks', `${e.name}.xml`]
  if (e.kind === 'dhcp-service') return ['etc', 'dhcp', 'dhcpd.conf']
  if (e.kind === 'domain') return ['etc', 'libvirt', 'qemu', `${e.name}.xml`]
  if (e.kind === 'interface') return ['etc', 'libvirt', 'qemu', `${e.name.split('/')[0]}.xml`]
  return undefined
}

/** The elements a finding of the rule that owns their kind stands for (judged on the views before the elements): no general rule speaks for them. */
function coveredElements(elements: ElementView[], rules: Rule[], fired: (rule: Rule) => {view: object}[]): Set<ElementView> {
  const covering = rules.flatMap((rule) => rule.owns.filter((o) => o.covers !== undefined).map((ownership) => ({ownership, findings: fired(rule)})))
  const covered = (el: Element) =>
    covering.some(({ownership, findings}) => ownership.kind === el.kind && (ownership.where?.(el) ?? true) && findings.some((f) => ownership.covers!(f.view as never, el)))
  return new Set(elements.filter((e) => covered(e.element)))
}

export const scopesOf = (rule: Rule) => rule.kinds

function unavailableProbe(model: Model, rule: Rule): string | undefined {
  for (const id of rule.needs) {
    const p = model.probes[id]
    if (!p?.ok) return `probe ${id} unavailable: ${p && !p.ok ? p.error : 'not run'}`
    // Partial data is not a pass: a rule reading it is not checked.
    if (p.degraded && p.degraded.length > 0) return `probe ${id} read only part of its sources: ${p.degraded.join('; ')}`
  }
  for (const group of rule.needsAny) {
    if (!group.some((id) => model.probes[id]?.ok)) {
      return `probes ${group.join(' and ')} unavailable: ${group
        .map((id) => {
          const p = model.probes[id]
          return p && !p.ok ? p.error : 'not run'
        })
        .join('; ')}`
    }
  }
  return undefined
}

function probeReasons(model: Model, rule: Rule): string {
  const failed = [...rule.needs, ...rule.needsAny.flat()].map((id) => model.probes[id]).filter((p) => p && !p.ok)
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
export function rank(findings: Finding[], sources: {rule: Rule; entity: EntityView}[]): Finding[] {
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
  for (const item of order) for (const e of item.src.rule.explains) getOrCreate(candidatesFor, e.rule, () => []).push(item)
  // Least important first: where two findings explain each other, the more important one stays the root.
  for (const child of [...order].reverse()) {
    for (const parent of candidatesFor.get(child.f.id) ?? []) {
      if (parent === child) continue
      const explains = parent.src.rule.explains.some((e) => {
        if (e.rule !== child.f.id) return false
        if (e.onlyWhere !== undefined && !e.onlyWhere(child.src.entity, parent.src.entity)) return false
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
  // Severity from impact: a cause is as severe as the worst it explains (a HIGH cause of a CRITICAL symptom is critical).
  for (const {f} of order) if (childrenOf.has(f) && weigh(f).severity > severityWeight(f.severity)) f.severity = SEVERITIES.find((s) => severityWeight(s) === weigh(f).severity)!
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

export type {Element, NotChecked as NotCheckedEntry}
