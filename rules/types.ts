import type {TopLevelCondition} from 'json-rules-engine'
import type {EntityContext, EntityKind, EntityView} from '../src/derive/index.js'
import type {Severity} from '../src/lib/severity.js'

/**
 * A rule is data: json-rules-engine conditions on one entity (fact `entity`)
 * and the host (fact `host`), plus text templates. `{path}` in a template is
 * filled from the entity (`{name}`, `{bridge}`, `{context.network}`) or the
 * host (`{host.ipForward}`); arrays are joined with ", ", and a template whose
 * array placeholder is empty is dropped.
 */
export interface RuleDefinition {
  id: string
  severity: Severity
  /** The entity kinds it is checked on (one, or several sharing the attributes it reads). */
  scope: EntityKind | EntityKind[]
  title: string
  /** Probes that must have succeeded for the rule to be checked at all. */
  requires: string[]
  /** Groups of probes of which at least one must have succeeded (iptables or nftables). */
  requiresAny?: string[][]
  /** Entity attributes that must be known (not null) for this entity to be checked. */
  needs?: string[]
  /**
   * The rule's own judgements over the entity's facts (thresholds, comparisons), merged into the
   * entity its conditions, texts, fixes and `escalate` read: the model holds facts, the rule decides.
   */
  derive?: (entity: EntityView, host: EntityView) => Record<string, unknown>
  /**
   * Where the rule means something (a DHCP rule on a network with DHCP, mtu-mismatch on bridges):
   * reports that list checks (JUnit) list it only there. Unset: every entity of its scope.
   */
  appliesTo?: (entity: EntityView) => boolean
  conditions: TopLevelCondition
  summary: string
  evidence: string[]
  /** Commands only, every value filled in from the entity: a person pastes them as they are. */
  fix: string[]
  /** Prose that goes with the fix (when it applies, how to persist it), filled like `evidence`. */
  note?: string[]
  /** A higher severity when an entity attribute is true (bridge-netfilter-enabled is high only when it drops). */
  escalate?: {when: string; severity: Severity}
  /**
   * Findings this one is the root cause of, when they share the named context key; with `onlyWhere`,
   * only those whose entity has that attribute true (a host-wide cause of some elements' findings).
   */
  explains?: {rule: string; via: keyof EntityContext; onlyWhere?: string}[]
  /**
   * Datapath elements (ids like `sysctl:net.ipv4.ip_forward`, `link:virbr0`) a finding of this rule
   * stands for, as templates: a general rule (`fallback`) stays silent on an element a finding claims.
   * Element-scoped rules claim their element without saying so.
   */
  claims?: string[]
  /** Checked after every other rule, only on elements no finding claimed (guest-flow-blocked). */
  fallback?: boolean
  /** Fix commands that depend on the kind of element (a policy needs an accept, a rule its deletion): replaces `fix` templates. */
  fixLines?: (entity: EntityView, host: EntityView) => string[]
}
