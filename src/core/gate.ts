/**
 * The CI gate: what exit code a diagnosis earns under --fail-on. A finding at
 * or above the threshold fails (1); otherwise, when a rule that could have
 * produced such a finding was not checked (its probes could not run), the gate
 * cannot pass blind: 4, unless --allow-unchecked.
 */
import type {NotChecked} from '../result/findings.js'
import type {GateDecision, GateVerdict} from '../result/diagnosis.js'
import {EXIT} from './errors.js'
import {EVERY_RULE} from './rule-docs.js'
import {type FailOn, type Severity, atOrAbove, severityWeight} from '../lib/severity.js'
import {plural} from '../lib/plural.js'

export type {GateDecision, GateVerdict} from '../result/diagnosis.js'

const worst = new Map<string, Severity>(EVERY_RULE.map((r) => [r.id, r.escalate && severityWeight(r.escalate.to) > severityWeight(r.severity) ? r.escalate.to : r.severity]))

/** The highest severity a rule can report (an escalating rule counts at its escalated severity). */
export const worstSeverityOf = (ruleId: string): Severity => worst.get(ruleId) ?? 'critical'

/** The decision for a diagnosis, or for anything with its findings' severities and its unchecked rules (a JSON report). */
export function gateDecision(d: {findings: readonly {severity: Severity}[]; notChecked: readonly NotChecked[]}, failOn: FailOn, allowUnchecked = false): GateDecision {
  const blocking = d.findings.filter((f) => atOrAbove(f.severity, failOn)).length
  const unchecked = d.notChecked.filter((n) => atOrAbove(worstSeverityOf(n.ruleId), failOn))
  const verdict: GateVerdict = blocking > 0 ? 'fail' : unchecked.length > 0 && !allowUnchecked ? 'not-checked' : 'pass'
  const exitCode = verdict === 'fail' ? EXIT.findings : verdict === 'not-checked' ? EXIT.unchecked : EXIT.clean
  return {failOn, allowUnchecked, exitCode, verdict, blocking, unchecked}
}

/** The stderr line that says why the gate could not pass. */
export function uncheckedMessage(g: GateDecision): string {
  const rules = [...new Set(g.unchecked.map((n) => n.ruleId))]
  const reasons = [...new Set(g.unchecked.map((n) => n.reason))]
  const shown = (list: string[], n: number) => list.slice(0, n).join(', ') + (list.length > n ? ` (+${list.length - n} more)` : '')
  return `not checked: ${plural(rules.length, 'rule')} at or above --fail-on ${g.failOn} could not be checked (${shown(rules, 6)}): ${shown(reasons, 3)}. The gate does not pass blind: exit 4; --allow-unchecked passes it anyway.`
}

/** The exit code of a diagnosis under --fail-on (suppressed findings are not in d.findings, so they never count). */
export function exitCodeFor(d: {findings: readonly {severity: Severity}[]; notChecked: readonly NotChecked[]}, failOn: FailOn, allowUnchecked = false): number {
  return gateDecision(d, failOn, allowUnchecked).exitCode
}
