/**
 * node_exporter textfile-collector format: findings by rule, severity and
 * entity, counts, probe availability (skipped on purpose is not down) and
 * duration, the run's timestamp. Finding labels survive guest restarts:
 * domain and MAC, network, bridge; never a tap name or an address.
 */
import type {Diagnosis} from '../src/result/diagnosis.js'
import type {Finding} from '../src/result/findings.js'
import {SEVERITIES} from '../src/lib/severity.js'

const VERDICT_STATUSES = ['critical', 'high', 'medium', 'low', 'not-checked', 'ok-host-side', 'ok'] as const

/** Label values escape backslash, double quote and newline (exposition format). */
const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

/**
 * What identifies a finding across runs: the rule's catalogue id (a renamed rule keeps it), names
 * that outlive guest restarts. Elements (datapath rules, chains) are named by their text, which may
 * hold addresses: they are told apart by network and bridge alone; forwards by their published port.
 */
export function findingLabels(f: Finding): Record<string, string> {
  const c = f.context ?? {}
  return {
    rule: f.stable.ruleId,
    severity: f.severity,
    entity_kind: f.entity.kind,
    entity: f.entity.kind === 'element' ? '' : f.entity.kind === 'forward' ? publishedPort(f.stable.name) : f.stable.name,
    domain: f.stable.domain ?? '',
    mac: f.stable.mac ?? '',
    network: c.network ?? '',
    bridge: c.bridge ?? '',
    root_cause: f.explainedBy ? 'false' : 'true',
  }
}

/** A forward ("tcp 198.51.100.1:8080 -> 192.168.122.50:80") by its protocol and published port: its addresses change with leases. */
function publishedPort(name: string): string {
  const m = /^(\w+) (?:\S*:)?(\d+)\b/.exec(name)
  return m ? `${m[1]} ${m[2]}` : ''
}

export function renderPrometheus(d: Diagnosis): string {
  const out: string[] = []
  const metric = (name: string, help: string, samples: [Record<string, string>, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`)
    for (const [labels, value] of samples) {
      const l = Object.entries(labels).map(([k, v]) => `${k}="${label(v)}"`).join(',')
      out.push(`${name}${l ? `{${l}}` : ''} ${value}`)
    }
  }
  // Findings that share every label (two drops on one bridge) are one series counting them.
  const series = new Map<string, [Record<string, string>, number]>()
  for (const f of d.findings) {
    const labels = findingLabels(f)
    const key = JSON.stringify(labels)
    const known = series.get(key)
    if (known) known[1]++
    else series.set(key, [labels, 1])
  }
  metric('kvmdoctor_finding', 'Current findings (usually 1) by rule, severity and entity; labels survive guest restarts.', [...series.values()])
  // One sample per status, 1 for this run's: an alert on verdict="not-checked" sees a run that could not read its host.
  metric('kvmdoctor_verdict', 'The run\'s headline (1): critical, high, medium, low, not-checked, ok-host-side (beyond the host not verified) or ok.', VERDICT_STATUSES.map((s) => [{verdict: s}, d.verdict.status === s ? 1 : 0]))
  metric('kvmdoctor_findings', 'Number of current findings by severity (suppressed ones excluded).', SEVERITIES.map((s) => [{severity: s}, d.counts[s]]))
  metric('kvmdoctor_findings_suppressed', 'Findings suppressed by the ignore file.', [[{}, d.suppressed.length]])
  const stableId = new Map(d.rules.map((r) => [r.id, r.stableId]))
  metric('kvmdoctor_rule_not_checked', 'Rules that could not be checked (1) because a probe was unavailable.', [...new Set(d.notChecked.map((n) => stableId.get(n.ruleId) ?? n.ruleId))].map((id) => [{rule: id}, 1]))
  metric('kvmdoctor_probe_up', 'Whether a probe that ran could read its source (1) or not (0); probes skipped on purpose have no sample here.', d.probes.filter((p) => !p.skipped).map((p) => [{probe: p.id}, p.ok ? 1 : 0]))
  // Up is not whole: a probe that read only part of its sources leaves the rules reading it not checked.
  metric('kvmdoctor_probe_degraded', 'Whether a probe that could read its source read only part of it (1) or all (0); no sample for a probe that could not read it or was skipped.', d.probes.filter((p) => p.ok).map((p) => [{probe: p.id}, (p.degraded?.length ?? 0) > 0 ? 1 : 0]))
  metric('kvmdoctor_probe_skipped', 'Whether a probe was skipped on purpose (1), e.g. arp-scan without --active.', d.probes.map((p) => [{probe: p.id}, p.skipped ? 1 : 0]))
  metric('kvmdoctor_probe_duration_seconds', 'How long each probe took (replays: as recorded).', d.probes.map((p) => [{probe: p.id}, p.durationMs / 1000]))
  metric('kvmdoctor_last_run_timestamp_seconds', 'When the facts were captured (Unix time).', [[{}, Math.floor(Date.parse(d.capturedAt) / 1000)]])
  return out.join('\n') + '\n'
}
