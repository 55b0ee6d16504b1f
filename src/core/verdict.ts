/**
 * The verdict of a diagnosis, computed once where its findings are made: every format prints this
 * (text, md, html, json, sarif, junit, prometheus) and never judges for itself. A run claims no more
 * than was checked: a probe that failed or read part of its sources, or rules that could not be
 * checked, make it NOT CHECKED (never OK); a pass that rests on what lies beyond the host is OK of
 * the host's side only.
 */
import type {Diagnosis, ProbeStatus, Verdict, VerdictStatus} from '../result/diagnosis.js'
import {type Finding, findingKey} from '../result/findings.js'
import {SEVERITIES, type Severity, severityWeight} from '../lib/severity.js'

export const VERDICT_LABEL: Record<VerdictStatus, string> = {
  critical: 'CRITICAL',
  high: 'HIGH',
  medium: 'MEDIUM',
  low: 'LOW',
  info: 'INFO',
  'not-checked': 'NOT CHECKED',
  'ok-host-side': 'OK (host side; beyond the host not verified)',
  ok: 'OK',
}

/** Why a probe did not run, as a person acts on it: the flag or privilege it needs. */
export function skipReason(p: ProbeStatus): string {
  const error = p.error ?? ''
  if (/--listen/.test(error)) return 'needs --listen'
  if (/--active/.test(error)) return 'needs --active'
  if (/permission denied|must be root|not permitted/i.test(error)) return 'needs root'
  if (/not found|ENOENT|not installed/i.test(error)) return `needs a tool: ${error}`
  return error || 'not run'
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

type VerdictInput = Pick<Diagnosis, 'findings' | 'notChecked' | 'probes' | 'flows' | 'datapathUnavailable' | 'flowsNotFollowed' | 'host' | 'counts'>

export function verdictOf(d: VerdictInput): Verdict {
  const serious = d.findings.filter((f) => f.severity !== 'info')
  const byKey = new Map(d.findings.map((f) => [findingKey(f), f]))
  const rootOf = (f: Finding): Finding => (f.explainedBy && byKey.get(f.explainedBy) ? rootOf(byKey.get(f.explainedBy)!) : f)
  const rootSet = new Set(serious.map(rootOf))
  const roots = d.findings.filter((f) => rootSet.has(f))
  // The banner is the worst root cause (a root carries the worst of what it explains: see rank()).
  const worst = roots.map((f) => f.severity).filter((s) => s !== 'info').sort((a, b) => severityWeight(b) - severityWeight(a))[0] ?? null
  const unread = [
    ...d.probes.filter((p) => !p.ok && !p.skipped).map((p) => `${p.id} could not be read (${p.error ?? 'failed'})`),
    ...d.probes.filter((p) => p.ok && (p.degraded?.length ?? 0) > 0).map((p) => `${p.id} read in part (${p.degraded!.join('; ')})`),
    ...(d.datapathUnavailable ? [`guest flows not followed (${d.datapathUnavailable})`] : []),
    ...(d.flowsNotFollowed ?? []).filter((n) => n.unread).map((n) => `${n.guest} ${n.iface}: flows not followed (${n.why})`),
  ]
  const skipped = d.probes.filter((p) => !p.ok && p.skipped).map((p) => ({probe: p.id, why: skipReason(p)}))
  const rulesNotChecked = new Set(d.notChecked.map((n) => n.ruleId)).size
  // Flows that pass only as far as the host can tell: what they take for granted lies outside it.
  // And guests whose traffic never passes the host's bridges or stack: nothing of theirs was verified.
  const beyondHost = [
    ...new Set([
      ...d.flows.filter((f) => f.verdict === 'pass' && (f.assumptions?.length ?? 0) > 0).flatMap((f) => f.assumptions!),
      ...(d.flowsNotFollowed ?? []).filter((n) => !n.unread).map((n) => `${n.guest} ${n.iface}: not followed (${n.why})`),
    ]),
  ]
  const status = (worst ?? (unread.length > 0 || rulesNotChecked > 0 ? 'not-checked' : beyondHost.length > 0 ? 'ok-host-side' : 'ok')) as VerdictStatus
  const health = worst !== null ? (severityWeight(worst) >= severityWeight('high') ? 'fail' : 'warn') : status === 'not-checked' ? 'warn' : 'ok'
  const label = VERDICT_LABEL[status]
  const info = d.counts.info > 0 ? ` (${d.counts.info} info)` : ''
  const counts = SEVERITIES.filter((s: Severity) => d.counts[s] > 0).map((s) => `${d.counts[s]} ${s}`).join(', ')
  const unchecked = [unread.length > 0 ? `${unread.map((u) => u.replace(/ \(.*$/s, '')).join(', ')}` : '', rulesNotChecked > 0 ? `${plural(rulesNotChecked, 'rule')} not checked` : ''].filter(Boolean).join('; ')
  const text =
    worst !== null
      ? `${label}  ${d.host}: ${plural(roots.length, 'root cause')} (${counts})${unchecked ? `; ${unchecked}` : ''}`
      : status === 'not-checked'
        ? `${label}  ${d.host}: no problems found in what could be checked${info}; ${unchecked}`
        : status === 'ok-host-side'
          ? `${label}  ${d.host}: no problems found on the host${info}`
          : `${label}  ${d.host}: no problems found${info}`
  return {status, label, health, worst, roots: roots.map(findingKey), text, unread, skipped, rulesNotChecked, beyondHost}
}
