import type {Diagnosis} from '../src/core/diagnose.js'

export const JSON_REPORT_VERSION = 1

/** The stable machine-readable shape (documented in docs/json-report.md). */
export function toJsonReport(d: Diagnosis) {
  return {
    reportVersion: JSON_REPORT_VERSION,
    version: d.version,
    host: d.host,
    capturedAt: d.capturedAt,
    counts: d.counts,
    findings: d.findings.map((f) => ({
      id: f.id,
      severity: f.severity,
      rank: f.rank,
      entity: f.entity,
      title: f.title,
      summary: f.summary,
      evidence: f.evidence,
      fix: f.fix,
      explains: f.explains,
      ...(f.explainedBy ? {explainedBy: f.explainedBy} : {}),
      blastRadius: f.blastRadius,
    })),
    notChecked: d.notChecked,
    suppressed: d.suppressed.map((s) => ({id: s.finding.id, severity: s.finding.severity, entity: s.finding.entity, title: s.finding.title, reason: s.entry.reason, expires: s.entry.expires})),
    expiredIgnores: d.expiredIgnores,
    probes: d.probes,
  }
}

export function renderJson(d: Diagnosis): string {
  return JSON.stringify(toJsonReport(d), null, 2) + '\n'
}
