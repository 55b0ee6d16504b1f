/**
 * node_exporter textfile-collector format: findings by rule, severity and
 * entity, counts, probe availability (skipped on purpose is not down) and
 * duration, the run's timestamp. Finding labels survive guest restarts:
 * domain and MAC, network, bridge; never a tap name or an address.
 */
import type {Diagnosis} from '../src/core/diagnose.js'
import type {Finding} from '../src/core/engine.js'
import {SEVERITIES} from '../src/lib/severity.js'
import {type GuestNic, guestTaps, stableName} from './identity.js'

/** Label values escape backslash, double quote and newline (exposition format). */
const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

/** What identifies a finding across runs. Elements (datapath rules, chains) are named by their text, which may hold addresses: they are told apart by network and bridge alone. */
export function findingLabels(f: Finding, taps: Map<string, GuestNic>): Record<string, string> {
  const c = f.context ?? {}
  const entity = f.entity.kind === 'element' ? '' : stableName(f, taps)
  const tap = f.entity.kind === 'link' ? taps.get(f.entity.name) : undefined
  return {
    rule: f.id,
    severity: f.severity,
    entity_kind: f.entity.kind,
    entity,
    domain: c.domain ?? tap?.domain ?? '',
    mac: c.mac ?? tap?.mac ?? '',
    network: c.network ?? '',
    bridge: c.bridge ?? '',
    root_cause: f.explainedBy ? 'false' : 'true',
  }
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
  const taps = guestTaps(d)
  // Findings that share every label (two drops on one bridge) are one series counting them.
  const series = new Map<string, [Record<string, string>, number]>()
  for (const f of d.findings) {
    const labels = findingLabels(f, taps)
    const key = JSON.stringify(labels)
    const known = series.get(key)
    if (known) known[1]++
    else series.set(key, [labels, 1])
  }
  metric('kvmdoctor_finding', 'Current findings (usually 1) by rule, severity and entity; labels survive guest restarts.', [...series.values()])
  metric('kvmdoctor_findings', 'Number of current findings by severity (suppressed ones excluded).', SEVERITIES.map((s) => [{severity: s}, d.counts[s]]))
  metric('kvmdoctor_findings_suppressed', 'Findings suppressed by the ignore file.', [[{}, d.suppressed.length]])
  metric('kvmdoctor_rule_not_checked', 'Rules that could not be checked (1) because a probe was unavailable.', [...new Set(d.notChecked.map((n) => n.ruleId))].map((id) => [{rule: id}, 1]))
  metric('kvmdoctor_probe_up', 'Whether a probe that ran could read its source (1) or not (0); probes skipped on purpose have no sample here.', d.probes.filter((p) => !p.skipped).map((p) => [{probe: p.id}, p.ok ? 1 : 0]))
  metric('kvmdoctor_probe_skipped', 'Whether a probe was skipped on purpose (1), e.g. arp-scan without --active.', d.probes.map((p) => [{probe: p.id}, p.skipped ? 1 : 0]))
  metric('kvmdoctor_probe_duration_seconds', 'How long each probe took (replays: as recorded).', d.probes.map((p) => [{probe: p.id}, p.durationMs / 1000]))
  metric('kvmdoctor_last_run_timestamp_seconds', 'When the facts were captured (Unix time).', [[{}, Math.floor(Date.parse(d.capturedAt) / 1000)]])
  return out.join('\n') + '\n'
}
