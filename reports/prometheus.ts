/**
 * node_exporter textfile-collector format: findings by rule, severity and
 * entity, counts, probe availability and duration.
 */
import type {Diagnosis} from '../src/core/diagnose.js'
import {SEVERITIES} from '../src/core/severity.js'

/** Label values escape backslash, double quote and newline (exposition format). */
const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

export function renderPrometheus(d: Diagnosis): string {
  const out: string[] = []
  const metric = (name: string, help: string, type: 'gauge', samples: [Record<string, string>, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    for (const [labels, value] of samples) {
      const l = Object.entries(labels).map(([k, v]) => `${k}="${label(v)}"`).join(',')
      out.push(`${name}${l ? `{${l}}` : ''} ${value}`)
    }
  }
  metric('kvmdoctor_finding', 'A current finding (1) by rule id, severity and entity.', 'gauge',
    d.findings.map((f) => [{rule: f.id, severity: f.severity, entity_kind: f.entity.kind, entity: f.entity.name, root_cause: f.explainedBy ? 'false' : 'true'}, 1]))
  metric('kvmdoctor_findings', 'Number of current findings by severity (suppressed ones excluded).', 'gauge', SEVERITIES.map((s) => [{severity: s}, d.counts[s]]))
  metric('kvmdoctor_findings_suppressed', 'Findings suppressed by the ignore file.', 'gauge', [[{}, d.suppressed.length]])
  metric('kvmdoctor_rule_not_checked', 'Rules that could not be checked (1) because a probe was unavailable.', 'gauge',
    [...new Set(d.notChecked.map((n) => n.ruleId))].map((id) => [{rule: id}, 1]))
  metric('kvmdoctor_probe_up', 'Whether a probe could read its source (1) or not (0).', 'gauge', d.probes.map((p) => [{probe: p.id}, p.ok ? 1 : 0]))
  metric('kvmdoctor_probe_duration_seconds', 'How long each probe took.', 'gauge', d.probes.map((p) => [{probe: p.id}, p.durationMs / 1000]))
  metric('kvmdoctor_last_run_timestamp_seconds', 'When the facts were captured (Unix time).', 'gauge', [[{}, Math.floor(Date.parse(d.capturedAt) / 1000)]])
  return out.join('\n') + '\n'
}
