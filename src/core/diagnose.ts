/**
 * The diagnosis service: runner → probes → model → engine → findings.
 * Takes its runner and clock-bearing snapshot from the caller so tests and
 * replays inject them; it never prints and never exits.
 */
import {ALL_PROBES} from '../../probes/index.js'
import type {Probe, ProbeOptions, ProbeResult} from '../../probes/types.js'
import {ALL_RULES} from '../../rules/index.js'
import type {Rule} from '../../rules/kit.js'
import {evaluate} from './engine.js'
import type {Expectations} from './expectations.js'
import {type IgnoreEntry, type IgnoreOutcome, applyIgnores} from './ignore.js'
import {buildModel} from '../derive/index.js'
import {hostNameOf, internetOf, probeStatuses, runProbes} from './probe-runner.js'
import type {Runner} from '../lib/runner.js'
import {SEVERITIES, type Severity} from '../lib/severity.js'
import type {Flow} from '../datapath/flows.js'
import type {Element} from '../datapath/elements.js'
import {ownershipOf} from '../../rules/kit.js'
import type {Diagnosis, ResultFlow, ResultHop, UndoableElement} from '../result/diagnosis.js'
import type {Topology} from '../result/topology.js'
import {renderSteps} from '../lib/fix.js'
import {ruleInfos} from './rule-docs.js'
import {deriveTopology} from './topology.js'

export type {Diagnosis, ProbeStatus} from '../result/diagnosis.js'
export {hostNameOf, internetOf, probeStatuses} from './probe-runner.js'

export interface DiagnoseInput {
  runner: Runner
  options: ProbeOptions
  version: string
  probes?: Probe[]
  rules?: Rule[]
  /** kvmdoctor.yaml: what must hold before a deploy. */
  expectations?: Expectations
  /** Ignore file entries (--ignore, or ignore.yaml in the configuration directory), judged at `now`. */
  ignores?: IgnoreEntry[]
  /** The clock for ignore expiry (the analysis time, not the capture time). */
  now?: Date
}

/** A diagnosis as the services hold it: the result reports read, and the raw probe results (bundles, `--facts`, the topology). */
export interface DiagnosisRun extends Diagnosis {
  /** The raw probe results. */
  facts: Record<string, ProbeResult>
}

export async function diagnose(input: DiagnoseInput): Promise<DiagnosisRun> {
  const results = await runProbes(input.probes ?? ALL_PROBES, input.runner, input.options)
  const model = buildModel(results, input.runner.capturedAt, {internet: internetOf(input.options), expectations: input.expectations})
  let ignored: IgnoreOutcome = {findings: [], suppressed: [], expired: []}
  const rules = input.rules ?? ALL_RULES
  const evaluation = await evaluate(model, rules, {
    suppress: (findings) => (ignored = applyIgnores(findings, input.ignores ?? [], input.now ?? new Date())).findings,
  })
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, evaluation.findings.filter((f) => f.severity === s).length])) as Record<Severity, number>
  const run: DiagnosisRun = {
    version: input.version,
    host: hostNameOf(results, input.runner.origin),
    capturedAt: input.runner.capturedAt.toISOString(),
    ...evaluation,
    flows: model.datapath.ok ? withUndo(model.datapath.datapath.flows, ALL_RULES) : [],
    ...(model.datapath.ok ? {} : {datapathUnavailable: model.datapath.reason}),
    counts,
    probes: probeStatuses(results),
    facts: results,
    suppressed: ignored.suppressed,
    expiredIgnores: ignored.expired,
    rules: ruleInfos(rules),
    topology: () => topology ?? (topology = deriveTopology(run)),
  }
  let topology: Topology | undefined
  return run
}

/** Each hop's deciding element with the commands that undo it, from the rule that owns its kind (passing flows are shared as they are). */
export function withUndo(flows: Flow[], rules: Rule[]): ResultFlow[] {
  const undone = new Map<Element, UndoableElement>()
  const undo = (el: Element) => {
    const known = undone.get(el)
    if (known) return known
    const owner = ownershipOf(rules, el)[0]?.ownership
    const listChain = owner?.lists?.(el)
    const undoSteps = owner?.undo(el) ?? []
    const shown: UndoableElement = {...el, undo: renderSteps(undoSteps), undoSteps, ...(listChain ? {listChain: renderSteps(listChain).join(' && ')} : {})}
    undone.set(el, shown)
    return shown
  }
  return flows.map((f) => {
    if (!f.hops.some((h) => h.element)) return f as ResultFlow
    const hops = f.hops.map((h): ResultHop => (h.element ? {...h, element: undo(h.element)} : (h as ResultHop)))
    return {...f, hops, decidedBy: f.decidedBy ? hops[f.hops.indexOf(f.decidedBy)] : undefined}
  })
}
