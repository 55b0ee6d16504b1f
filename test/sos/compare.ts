/** Findings of a sosreport against the live run's: equal for every rule the sosreport could check. */
export interface ComparableReport {
  findings: {id: string; severity: string; entity: {kind: string; name: string}}[]
  notChecked: {ruleId: string; reason: string}[]
}

export const findingKey = (f: ComparableReport['findings'][number]) => `${f.id} ${f.severity} ${f.entity.kind}:${f.entity.name}`

export function sosComparison(live: ComparableReport, sos: ComparableReport) {
  const notCheckedRules = [...new Set(sos.notChecked.map((n) => n.ruleId))].sort()
  const skip = new Set(notCheckedRules)
  const liveAll = live.findings.map(findingKey).sort()
  const liveChecked = live.findings.filter((f) => !skip.has(f.id)).map(findingKey).sort()
  return {live: liveChecked, liveAll, sos: sos.findings.map(findingKey).sort(), notCheckedRules, compared: liveChecked.length}
}
