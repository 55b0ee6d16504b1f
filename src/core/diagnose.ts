/**
 * The diagnosis service: runner → probes → model → engine → findings.
 * Takes its runner and clock-bearing snapshot from the caller so tests and
 * replays inject them; it never prints and never exits.
 */
import {ALL_PROBES} from '../../probes/index.js'
import {type Probe, type ProbeOptions, type ProbeResult, dataOf} from '../../probes/types.js'
import type {HostFacts} from '../../probes/host.js'
import {ALL_RULES} from '../../rules/index.js'
import type {RuleDefinition} from '../../rules/types.js'
import {type Evaluation, evaluate} from './engine.js'
import {type Expectations, checkExpectations} from './expectations.js'
import {type IgnoreEntry, type IgnoreOutcome, type Suppressed, applyIgnores} from './ignore.js'
import {buildModel} from '../derive/index.js'
import {runProbes} from './probe-runner.js'
import type {Runner} from '../lib/runner.js'
import {SEVERITIES, type Severity} from '../lib/severity.js'
import {UserError} from './errors.js'
import {parseDestination} from '../datapath/destination.js'
import type {Destination, Flow} from '../datapath/flows.js'
import type {SosSourceDescription} from './sosreport.js'

export interface DiagnoseInput {
  runner: Runner
  options: ProbeOptions
  version: string
  probes?: Probe[]
  rules?: RuleDefinition[]
  /** kvmdoctor.yaml: what must hold before a deploy. */
  expectations?: Expectations
  /** Ignore file entries (--ignore, or ignore.yaml in the configuration directory), judged at `now`. */
  ignores?: IgnoreEntry[]
  /** The clock for ignore expiry (the analysis time, not the capture time). */
  now?: Date
}

export interface ProbeStatus {
  id: string
  ok: boolean
  durationMs: number
  error?: string
  skipped?: boolean
  /** It ran on partial data: what it could not read. */
  degraded?: string[]
}

export interface Diagnosis extends Evaluation {
  /** Every running guest's flows through the host (empty when the datapath could not be followed). */
  flows: Flow[]
  /** Why the datapath could not be followed, when it could not. */
  datapathUnavailable?: string
  version: string
  host: string
  capturedAt: string
  probes: ProbeStatus[]
  counts: Record<Severity, number>
  /** The raw probe results, for bundles and `--facts`. */
  facts: Record<string, ProbeResult>
  /** Findings an ignore entry suppressed: listed apart, never counted for the exit code. */
  suppressed: Suppressed[]
  /** Ignore entries past their expiry: they no longer suppress anything. */
  expiredIgnores: IgnoreEntry[]
  /** What the diagnosis was read from, when it is a sosreport (the report's header). */
  source?: SosSourceDescription
}

export async function diagnose(input: DiagnoseInput): Promise<Diagnosis> {
  const results = await runProbes(input.probes ?? ALL_PROBES, input.runner, input.options)
  const model = buildModel(results, input.runner.capturedAt, {internet: internetOf(input.options)})
  let ignored: IgnoreOutcome = {findings: [], suppressed: [], expired: []}
  const evaluation = await evaluate(model, input.rules ?? ALL_RULES, input.expectations ? checkExpectations(model, input.expectations) : [], {
    suppress: (findings) => (ignored = applyIgnores(findings, input.ignores ?? [], input.now ?? new Date())).findings,
  })
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, evaluation.findings.filter((f) => f.severity === s).length])) as Record<Severity, number>
  return {
    version: input.version,
    host: hostNameOf(results, input.runner.origin),
    capturedAt: input.runner.capturedAt.toISOString(),
    ...evaluation,
    flows: model.datapath.ok ? model.datapath.datapath.flows : [],
    ...(model.datapath.ok ? {} : {datapathUnavailable: model.datapath.reason}),
    counts,
    probes: probeStatuses(results),
    facts: results,
    suppressed: ignored.suppressed,
    expiredIgnores: ignored.expired,
  }
}

/** The host's own name; when it could not be read, the name it was reached by (--ssh), else localhost. */
export function hostNameOf(results: Record<string, ProbeResult>, origin?: string): string {
  return dataOf<HostFacts>(results.host)?.hostname ?? origin ?? 'localhost'
}

/** The run's stand-in for the internet, from its options (a recording keeps the one it was made with). */
export function internetOf(options: ProbeOptions): Destination | undefined {
  if (options.internet === undefined) return undefined
  const d = parseDestination(options.internet)
  if (typeof d === 'string') throw new UserError(`--internet: ${d}`)
  return d
}

/** What the reports say of each probe: ran or not, how long, why not. */
export function probeStatuses(results: Record<string, ProbeResult>): ProbeStatus[] {
  return Object.values(results).map((r) => ({
    id: r.id,
    ok: r.ok,
    durationMs: r.durationMs,
    ...(r.ok ? (r.degraded ? {degraded: r.degraded} : {}) : {error: r.error, ...(r.skipped ? {skipped: true} : {})}),
  }))
}
