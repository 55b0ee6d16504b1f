/**
 * The diagnosis service: runner → probes → model → engine → findings.
 * Takes its runner and clock-bearing snapshot from the caller so tests and
 * replays inject them; it never prints and never exits.
 */
import {ALL_PROBES} from '../../probes/index.js'
import type {Probe, ProbeOptions, ProbeResult} from '../../probes/types.js'
import type {Rule} from '../../rules/kit.js'
import type {Expectations} from './expectations.js'
import type {IgnoreEntry} from './ignore.js'
import {runProbes} from './probe-runner.js'
import type {Runner} from '../lib/runner.js'
import {UserError} from './errors.js'
import {parsePublish} from '../datapath/destination.js'
import type {PublishRequest} from '../datapath/published.js'
import type {Diagnosis} from '../result/diagnosis.js'

export type {Diagnosis, ProbeStatus} from '../result/diagnosis.js'
export {hostNameOf, internetOf, probeStatuses} from './probe-runner.js'

export interface DiagnoseInput {
  runner: Runner
  options: ProbeOptions
  /** Services the user expects guests to offer from outside (--publish): followed like the host's own forwards. */
  publish?: PublishRequest[]
  version: string
  probes?: Probe[]
  rules?: Rule[]
  /** kvmdoctor.yaml: what must hold before a deploy. */
  expectations?: Expectations
  /** Ignore file entries (--ignore, or ignore.yaml in the configuration directory), judged at `now`. */
  ignores?: IgnoreEntry[]
  /** The clock for ignore expiry (the analysis time, not the capture time). */
  now?: Date
  /** The probes' results when they are being read already (a live run started early: src/core/early-probes.ts). */
  results?: Promise<Record<string, ProbeResult>>
  /** Told once the probes have read all they read, before the analysis: a caller that owns the runner may let go of its outputs. */
  probed?: () => void
}

/** A diagnosis as the services hold it: the result reports read, and the raw probe results (bundles, `--facts`, the topology). */
export interface DiagnosisRun extends Diagnosis {
  /** The raw probe results. */
  facts: Record<string, ProbeResult>
}

export async function diagnose(input: DiagnoseInput): Promise<DiagnosisRun> {
  // The analysis loads while the probes read the host: the first command starts before rules and engine are compiled.
  ;(globalThis as any).__kdmark?.('probes-start')
  const probing = input.results ?? runProbes(input.probes ?? ALL_PROBES, input.runner, input.options)
  const [{analyse}, results] = await Promise.all([import('./analysis.js'), probing])
  ;(globalThis as any).__kdmark?.('probed')
  input.probed?.()
  ;(globalThis as any).__kdmark?.('forgotten', results)
  return analyse(results, input)
}

/** --publish GUEST:PORT/PROTO values, each checked (a bad one is a usage error naming it). */
export function publishOf(values: readonly string[] | undefined): PublishRequest[] {
  return (values ?? []).map((text) => {
    const p = parsePublish(text)
    if (typeof p === 'string') throw new UserError(`--publish: ${p}`)
    return p
  })
}
