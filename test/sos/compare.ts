import {ALL_RULES} from '../../rules/index.js'

/** Findings of a sosreport against the live run's: equal for every rule the sosreport could check. */
export interface ComparableReport {
  findings: {id: string; severity: string; entity: {kind: string; name: string}}[]
  notChecked: {ruleId: string; reason: string}[]
  probes: {id: string; ok: boolean; skipped?: boolean}[]
}

export const findingKey = (f: ComparableReport['findings'][number]) => `${f.id} ${f.severity} ${f.entity.kind}:${f.entity.name}`

/**
 * The rules the sosreport could not check: those it says are not checked, and those of opt-in probes
 * (--listen, --active) a sosreport cannot run, which the live run may have asked for.
 */
export function sosComparison(live: ComparableReport, sos: ComparableReport) {
  const notCheckedRules = [...new Set(sos.notChecked.map((n) => n.ruleId))].sort()
  const skippedProbes = new Set(sos.probes.filter((p) => !p.ok && p.skipped).map((p) => p.id))
  const optInRules = ALL_RULES.filter((r) => r.needs.some((p) => skippedProbes.has(p))).map((r) => r.id).sort()
  const skip = new Set([...notCheckedRules, ...optInRules])
  const liveAll = live.findings.map(findingKey).sort()
  const liveChecked = live.findings.filter((f) => !skip.has(f.id)).map(findingKey).sort()
  return {live: liveChecked, liveAll, sos: sos.findings.map(findingKey).sort(), notCheckedRules, optInRules, compared: liveChecked.length}
}
