/**
 * The exit code of `kvmdoctor diagnose`, the CI contract: 1 when a finding
 * reaches --fail-on; otherwise 4 when the run could not decide (no finding is
 * not the same as healthy), else 0.
 */
import type {Diagnosis} from './diagnose.js'
import {EXIT} from './errors.js'
import {EVERY_RULE} from './rule-docs.js'
import {type FailOn, atOrAbove} from './severity.js'

/**
 * Why nothing decisive was checked, or undefined when something was: the libvirt probe
 * failed (every guest and network rule needs it), or no rule able to reach --fail-on was
 * checked on any entity (every probe it needs failed or timed out).
 */
export function inconclusiveReason(d: Diagnosis, failOn: FailOn): string | undefined {
  if (failOn === 'none') return undefined
  const libvirt = d.probes.find((p) => p.id === 'libvirt')
  if (libvirt && !libvirt.ok) return `the libvirt probe could not run (${libvirt.error}), so no guest or network was checked`
  const decisive = new Set(EVERY_RULE.filter((r) => atOrAbove(r.severity, failOn) || (r.escalate && atOrAbove(r.escalate.severity, failOn))).map((r) => r.id))
  if (!d.checked.some((c) => decisive.has(c.ruleId))) return `no rule that can reach --fail-on ${failOn} could be checked`
  return undefined
}

/** Suppressed findings are not in d.findings, so they never count here. */
export function exitCodeFor(d: Diagnosis, failOn: FailOn): number {
  if (d.findings.some((f) => atOrAbove(f.severity, failOn))) return EXIT.findings
  return inconclusiveReason(d, failOn) ? EXIT.unchecked : EXIT.clean
}
