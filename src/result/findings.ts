/**
 * Findings as every report reads them: what the engine made of the rules'
 * judgements, ranked, with the names that identify them across runs.
 */
import type {EntityContext, EntityKind} from '../derive/types.js'
import type {Severity} from '../lib/severity.js'
import type {FixStep} from '../lib/fix.js'

export interface EntityRef {
  kind: EntityKind
  name: string
}

/** What identifies a finding across runs (SARIF fingerprints and locations, Prometheus labels): names that outlive a guest restart. */
export interface StableIdentity {
  /** The rule's id as the catalogue knows it (an alias the rule was renamed from, else its id). */
  ruleId: string
  /** The entity's name with tap names and addresses replaced by DOMAIN/MAC, network, bridge. */
  name: string
  /** The guest and MAC it is about, where it is about one (a tap's link included). */
  domain?: string
  mac?: string
  /** The file on the host a person edits to fix it, as path segments from / (a name is one segment, whatever it holds), where there is one. */
  file?: string[]
}

export interface Finding {
  id: string
  /** Ids the rule was known by: ignore files naming them still match. */
  aliases?: string[]
  severity: Severity
  rank: number
  entity: EntityRef
  title: string
  summary: string
  evidence: string[]
  /** Commands to paste, filled in with this host's names and values, quoted: never prose, never placeholders (rendered from `fixSteps`). */
  fix: string[]
  /** The same commands as data: argvs, pipelines, file writes (what `kvmdoctor fix --yes` runs). */
  fixSteps: FixStep[]
  /** Commands that only look (listings, lease tables): to confirm the finding or the fix, never run by `fix --yes`. */
  check?: string[]
  checkSteps?: FixStep[]
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
  /** What the rule found, as a list (the rogue DHCP servers a guest heard), where it names one. */
  found?: string[]
  /** The entity's network, bridge, domain and MAC: names that outlive a guest restart (tap names and addresses do not). */
  context?: EntityContext
  stable: StableIdentity
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
