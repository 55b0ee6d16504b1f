/**
 * The diagnosis service: runner → probes → model → engine → findings.
 * Takes its runner and clock-bearing snapshot from the caller so tests and
 * replays inject them; it never prints and never exits.
 */
import {ALL_PROBES} from '../../probes/index.js'
import type {Probe, ProbeOptions, ProbeResult} from '../../probes/types.js'
import {ALL_RULES} from '../../rules/index.js'
import type {RuleDefinition} from '../../rules/types.js'
import {type Evaluation, evaluate} from './engine.js'
import {buildModel} from './model.js'
import {runProbes} from './probe-runner.js'
import type {Runner} from './runner.js'
import {SEVERITIES, type Severity} from './severity.js'

export interface DiagnoseInput {
  runner: Runner
  options: ProbeOptions
  version: string
  probes?: Probe[]
  rules?: RuleDefinition[]
}

export interface ProbeStatus {
  id: string
  ok: boolean
  durationMs: number
  error?: string
  skipped?: boolean
}

export interface Diagnosis extends Evaluation {
  version: string
  host: string
  capturedAt: string
  probes: ProbeStatus[]
  counts: Record<Severity, number>
  /** The raw probe results, for bundles and `--facts`. */
  facts: Record<string, ProbeResult>
}

export async function diagnose(input: DiagnoseInput): Promise<Diagnosis> {
  const results = await runProbes(input.probes ?? ALL_PROBES, input.runner, input.options)
  const model = buildModel(results, input.runner.capturedAt)
  const evaluation = await evaluate(model, input.rules ?? ALL_RULES)
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, evaluation.findings.filter((f) => f.severity === s).length])) as Record<Severity, number>
  return {
    version: input.version,
    host: model.hostname,
    capturedAt: input.runner.capturedAt.toISOString(),
    ...evaluation,
    counts,
    probes: Object.values(results).map((r) => ({
      id: r.id,
      ok: r.ok,
      durationMs: r.durationMs,
      ...(r.ok ? {} : {error: r.error, ...(r.skipped ? {skipped: true} : {})}),
    })),
    facts: results,
  }
}
