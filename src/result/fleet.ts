/** `kvmdoctor fleet`'s answer: many hosts' results side by side (docs/schemas/fleet.schema.json), as the fleet reports read it. */
import type {FailOn, Severity} from '../lib/severity.js'
import type {GateVerdict} from './diagnosis.js'

export interface FleetInputError {
  /** The file (or directory) as given. */
  source: string
  message: string
}

export interface FleetEntity {
  kind: string
  name: string
}

export interface FleetRootCause {
  id: string
  severity: Severity
  entity: FleetEntity
  title: string
  /** Not in the baseline's report of this host (only with a baseline). */
  new?: boolean
}

export interface FleetHost {
  host: string
  source: string
  capturedAt: string
  kvmdoctorVersion: string
  /** The worst severity of its findings; null: none. */
  worst: Severity | null
  counts: Record<Severity, number>
  /** Its --fail-on verdict: fail, not-checked or pass (as diagnose's exit code would be 1, 4, 0). */
  verdict: GateVerdict
  /** Findings nothing else explains, worst first. */
  rootCauses: FleetRootCause[]
  /** Findings another one explains (symptoms of a root cause). */
  symptoms: number
  /** Rules at or above --fail-on that could not be checked there. */
  notChecked: string[]
  /** Probes that could not read their source there (skipped ones aside). */
  probesFailed: string[]
  /** Only with a baseline: the baseline has no report of this host. */
  new?: boolean
  /** Older reports of the same host that were given too: the newest counts. */
  superseded?: string[]
}

export interface FleetFinding {
  id: string
  /** The worst severity it has on any host. */
  severity: Severity
  hosts: {host: string; entities: FleetEntity[]; rootCause: boolean; new?: boolean}[]
}

export interface FleetView {
  fleetVersion: number
  failOn: FailOn
  allowUnchecked: boolean
  summary: {hosts: number; failing: number; notChecked: number; passing: number; errors: number; newFindings?: number; resolvedFindings?: number}
  hosts: FleetHost[]
  findings: FleetFinding[]
  errors: FleetInputError[]
  /** The previous run compared against (--baseline). */
  baseline?: {hosts: number; errors: FleetInputError[]}
  /** With a baseline: findings its reports had that the current ones of the same hosts no longer have. */
  resolved?: {host: string; id: string; entity: FleetEntity}[]
}
