/**
 * The result object every report is given: the findings with their stable
 * identities, what was and was not checked, each guest's flows with the
 * commands that undo what stops them, the rule catalogue, and the topology.
 * Reports read this and nothing else (no facts, no services).
 */
import type {Flow, FlowNotFollowed, Hop} from '../datapath/flows.js'
import type {Element} from '../datapath/elements.js'
import type {EntityKind} from '../derive/types.js'
import type {FailOn, Severity} from '../lib/severity.js'
import type {Evaluation, Finding, NotChecked} from './findings.js'
import type {Topology} from './topology.js'
import type {FixStep} from '../lib/fix.js'

export interface ProbeStatus {
  id: string
  ok: boolean
  durationMs: number
  error?: string
  skipped?: boolean
  /** It ran on partial data: what it could not read. */
  degraded?: string[]
}

export interface IgnoreEntry {
  rule: string
  entity?: string
  reason: string
  /** yyyy-mm-dd; the entry suppresses through the end of that day (UTC). */
  expires: string
}

export interface Suppressed {
  finding: Finding
  entry: IgnoreEntry
}

/** A datapath element with the commands that undo it (and list its chain), from the rule that owns its kind. */
export interface UndoableElement extends Element {
  /** Rendered from `undoSteps`: quoted shell lines. */
  undo: string[]
  undoSteps: FixStep[]
  /** Where the owning rule's undo was refused by the fix judge on this host: the refused line and why (so no revert is printed). */
  undoWithheld?: string
  /** Netfilter elements: the command that lists its chain, with the tool that can read its table. */
  listChain?: string
}

export interface ResultHop extends Omit<Hop, 'element'> {
  element?: UndoableElement
}

/** A guest's flow as reports show it: its hops' elements carry their undo commands. */
export interface ResultFlow extends Omit<Flow, 'hops' | 'decidedBy'> {
  hops: ResultHop[]
  decidedBy?: ResultHop
}

/** A rule as reports list it. */
export interface RuleInfo {
  id: string
  aliases: string[]
  /** The id fingerprints and metrics use: the catalogue's (an alias) when the rule was renamed. */
  stableId: string
  severity: Severity
  /** The severity it escalates to where its fault does more harm. */
  escalatesTo?: Severity
  kinds: EntityKind[]
  /** What it runs on, narrower than its kinds (an Open vSwitch bridge is a link): what the checklist names. */
  scopes: string[]
  /** Checked only where kvmdoctor.yaml asks for it. */
  expectation: boolean
  /** Its doc (rules/ID.md) and the doc's first sentence, read when asked. */
  doc: () => string
  headline: () => string
}

/** An input kvmdoctor reads that a sosreport did not collect. */
export interface NotCollected {
  /** What kvmdoctor reads (a command or a file). */
  input: string
  /** What sos records for it. */
  sos: string
  reason: string
  /** The sos options that collect it (`sos report -o PLUGIN [--allow-system-changes]`), when sos can. */
  collect?: string
}

/** What a diagnosis was read from, when it is a sosreport (the reports' header). */
export interface SosSourceDescription {
  kind: 'sosreport'
  path: string
  sosVersion?: string
  host?: string
  capturedAt: string
  capturedAtFrom: string
  plugins: string[]
  notCollected: NotCollected[]
}

/**
 * How the host is, in the one vocabulary every format prints: the worst root cause's severity, else
 * NOT CHECKED (something could not be read: never OK), else OK of the host's side only (a passing flow
 * takes for granted what lies beyond the host), else OK. Computed once with the findings; reports render it.
 */
export type VerdictStatus = Severity | 'not-checked' | 'ok-host-side' | 'ok'

export interface Verdict {
  status: VerdictStatus
  /** "CRITICAL", "NOT CHECKED", "OK (host side; beyond the host not verified)", "OK". */
  label: string
  health: 'ok' | 'warn' | 'fail'
  /** The worst severity above info, or null. */
  worst: Severity | null
  /** Keys (findingKey) of the root causes of everything above info, in rank order. */
  roots: string[]
  /** The headline: label, host, what it rests on. */
  text: string
  /** What could not be read: probes that failed or read part of their sources, the datapath not followed. */
  unread: string[]
  /** Probes that did not run, with why (needs --listen, --active, root, a tool). */
  skipped: {probe: string; why: string}[]
  /** Rules that could not be checked. */
  rulesNotChecked: number
  /** What passing flows take for granted beyond the host (a reply's way back, a server on the LAN). */
  beyondHost: string[]
}

export interface Diagnosis extends Evaluation {
  /** The headline every format prints. */
  verdict: Verdict
  /** Every running guest's flows through the host (empty when the datapath could not be followed). */
  flows: ResultFlow[]
  /** Why the datapath could not be followed, when it could not. */
  datapathUnavailable?: string
  /** Running guests' interfaces whose traffic is not followed, and why (`unread`: what decides it was not read): never a pass. */
  flowsNotFollowed?: FlowNotFollowed[]
  version: string
  host: string
  capturedAt: string
  probes: ProbeStatus[]
  counts: Record<Severity, number>
  /** Findings an ignore entry suppressed: listed apart, never counted for the exit code. */
  suppressed: Suppressed[]
  /** Ignore entries past their expiry: they no longer suppress anything. */
  expiredIgnores: IgnoreEntry[]
  /** Every rule that could run, in catalogue order. */
  rules: RuleInfo[]
  /** The host as people draw it, made when a report asks (a thousand guests' topology costs). */
  topology: () => Topology
  /** What the diagnosis was read from, when it is a sosreport (the report's header). */
  source?: SosSourceDescription
}

export type GateVerdict = 'pass' | 'fail' | 'not-checked'

/** The --fail-on decision of a run. */
export interface GateDecision {
  failOn: FailOn
  allowUnchecked: boolean
  exitCode: number
  verdict: GateVerdict
  /** Findings at or above --fail-on (suppressed ones never count). */
  blocking: number
  /** Rules at or above --fail-on that could not be checked, with why. */
  unchecked: NotChecked[]
}

/** One report file inside a bundle: JSON data or rendered text. */
export type BundleReport = {file: string; json: unknown; text?: never} | {file: string; text: string; json?: never}
