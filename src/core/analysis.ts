/**
 * The diagnosis from the probes' results: model → engine → findings, flows and verdict. Loaded by
 * `diagnose` while the probes read the host, so its modules (rules, engine, datapath) cost no time
 * before the first probe.
 */
import type {ProbeResult} from '../../probes/types.js'
import {ALL_RULES} from '../../rules/index.js'
import {type Rule, ownershipOf} from '../../rules/kit.js'
import {evaluate} from './engine.js'
import {type IgnoreOutcome, applyIgnores} from './ignore.js'
import {buildModel} from '../derive/index.js'
import {hostNameOf, internetOf, probeStatuses} from './probe-runner.js'
import {SEVERITIES, type Severity} from '../lib/severity.js'
import type {Flow} from '../datapath/flows.js'
import type {Element} from '../datapath/elements.js'
import type {HostView} from '../derive/types.js'
import type {ResultFlow, ResultHop, UndoableElement} from '../result/diagnosis.js'
import type {Topology} from '../result/topology.js'
import {type FixStep, renderSteps} from '../lib/fix.js'
import {type FixHost, fixHostOf, judgeUndoSteps} from './fix-safety.js'
import {ruleInfos} from './rule-docs.js'
import {deriveTopology} from './topology.js'
import {verdictOf} from './verdict.js'
import type {DiagnoseInput, DiagnosisRun} from './diagnose.js'

export async function analyse(results: Record<string, ProbeResult>, input: DiagnoseInput): Promise<DiagnosisRun> {
  const model = buildModel(results, input.runner.capturedAt, {internet: internetOf(input.options), publish: input.publish ?? [], expectations: input.expectations})
  ;(globalThis as any).__kdmark?.('model')
  let ignored: IgnoreOutcome = {findings: [], suppressed: [], expired: []}
  const rules = input.rules ?? ALL_RULES
  const evaluation = await evaluate(model, rules, {
    suppress: (findings) => (ignored = applyIgnores(findings, input.ignores ?? [], input.now ?? new Date())).findings,
  })
  ;(globalThis as any).__kdmark?.('evaluated')
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, evaluation.findings.filter((f) => f.severity === s).length])) as Record<Severity, number>
  const flows = model.datapath.ok ? withUndo(model.datapath.datapath.flows, ALL_RULES, undoRefusalOn(fixHostOf(results)), model.entities.host[0]) : []
  const probes = probeStatuses(results)
  const host = hostNameOf(results, input.runner.origin)
  const datapathUnavailable = model.datapath.ok ? undefined : model.datapath.reason
  const flowsNotFollowed = model.datapath.ok ? model.datapath.datapath.notFollowed : []
  const run: DiagnosisRun = {
    version: input.version,
    host,
    capturedAt: input.runner.capturedAt.toISOString(),
    ...evaluation,
    verdict: verdictOf({...evaluation, probes, flows, datapathUnavailable, flowsNotFollowed, host, counts}),
    flows,
    ...(datapathUnavailable === undefined ? {} : {datapathUnavailable}),
    ...(flowsNotFollowed.length > 0 ? {flowsNotFollowed} : {}),
    counts,
    probes,
    facts: results,
    suppressed: ignored.suppressed,
    expiredIgnores: ignored.expired,
    rules: ruleInfos(rules),
    topology: () => topology ?? (topology = deriveTopology(run)),
  }
  let topology: Topology | undefined
  ;(globalThis as any).__kdmark?.('analysed')
  return run
}

/**
 * Each hop's deciding element with the commands that undo it, from the rule that owns its kind and found SAFE (the fix
 * judge on this host: undoRefusalOn), where it is shown
 * to stop the flow: a hop that fails, or one undecided by time only (it fails once a cache runs out). An element
 * that leaves a hop undecided by a fact the host hides, or that a hop passes, is offered no revert (its `undo` is
 * empty), in the JSON as in the text and HTML. Passing flows are shared as they are.
 */
export function withUndo(flows: Flow[], rules: Rule[], refusal: (steps: FixStep[]) => string | undefined, host?: HostView): ResultFlow[] {
  const undone = new Map<Element, {failing: UndoableElement; other: UndoableElement}>()
  const undo = (el: Element, failing: boolean) => {
    let known = undone.get(el)
    if (!known) {
      const owner = ownershipOf(rules, el)[0]?.ownership
      const listChain = owner?.lists?.(el)
      const proposed = owner?.undo(el, host) ?? []
      // Printed as a revert, so held to what `fix --yes` runs: an undo the judge refuses on this host (a catch-all, an
      // uplink's MTU, a form it does not know) is offered as none, with the judge's reason so its absence is explained.
      const refused = refusal(proposed)
      const undoSteps = refused === undefined ? proposed : []
      const listed = listChain ? {listChain: renderSteps(listChain).join(' && ')} : {}
      const withheld = refused === undefined ? {} : {undoWithheld: refused}
      known = {failing: {...el, undo: renderSteps(undoSteps), undoSteps, ...listed, ...withheld}, other: {...el, undo: [], undoSteps: [], ...listed}}
      undone.set(el, known)
    }
    return failing ? known.failing : known.other
  }
  return flows.map((f) => {
    if (!f.hops.some((h) => h.element)) return f as ResultFlow
    const hops = f.hops.map((h): ResultHop => (h.element ? {...h, element: undo(h.element, h.verdict === 'fail' || h.intermittent === true)} : (h as ResultHop)))
    return {...f, hops, decidedBy: f.decidedBy ? hops[f.hops.indexOf(f.decidedBy)] : undefined}
  })
}

/** Why the fix judge refuses an element's undo on HOST (its first refused step and the reason), or undefined where every step is known and safe by itself (judgeUndoSteps). */
export const undoRefusalOn = (host: FixHost) => (steps: FixStep[]) => {
  const [first] = judgeUndoSteps(steps, host)
  return first && `${first.line}: ${first.why}`
}
