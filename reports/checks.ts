/**
 * The checklist, in the manner of virt-host-validate: every rule with PASS,
 * WARN, FAIL or SKIP and on what, so a healthy host shows what was verified.
 * A rule checked on several entities reads as one line, naming the ones that
 * did not pass.
 */
import type {Diagnosis} from '../src/result/diagnosis.js'
import {findingKey} from '../src/result/findings.js'
import {type Severity, severityWeight} from '../src/lib/severity.js'

export type CheckStatus = 'PASS' | 'WARN' | 'FAIL' | 'SKIP'

export interface CheckItem {
  entity: string
  status: CheckStatus
  severity?: Severity
  /** Why it was skipped (probe missing, fact unknown, suppressed). */
  reason?: string
}

export interface CheckRow {
  ruleId: string
  status: CheckStatus
  /** "3 networks", "host vm", "FAIL on default (critical)", or why it was skipped. */
  detail: string
  items: CheckItem[]
}

/** critical and high stop guests: FAIL; medium, low and info want attention: WARN. */
export const statusOf = (s: Severity): CheckStatus => (severityWeight(s) >= severityWeight('high') ? 'FAIL' : 'WARN')
const ORDER: CheckStatus[] = ['PASS', 'SKIP', 'WARN', 'FAIL']
const worst = (a: CheckStatus, b: CheckStatus) => (ORDER.indexOf(a) >= ORDER.indexOf(b) ? a : b)
/** What a rule's entities are called, one and many. */
const NOUN: Record<string, [string, string]> = {
  host: ['host', 'hosts'],
  network: ['network', 'networks'],
  link: ['link', 'links'],
  domain: ['guest', 'guests'],
  interface: ['guest interface', 'guest interfaces'],
  apipa: ['self-assigned address', 'self-assigned addresses'],
  address: ['address claimed twice', 'addresses claimed twice'],
  'dhcp-service': ['external DHCP server', 'external DHCP servers'],
  element: ['element stopping guest flows', 'elements stopping guest flows'],
  forward: ['published port', 'published ports'],
  'ovs-bridge': ['Open vSwitch bridge', 'Open vSwitch bridges'],
  'expected-network': ['expected network', 'expected networks'],
  'expected-guest': ['expected guest', 'expected guests'],
  'expected-host': ['host', 'hosts'],
}
const nounOf = (kinds: string[], n: number) => kinds.map((k) => (NOUN[k] ?? [k, `${k}s`])[n === 1 ? 0 : 1]).join(' or ')
const plural = (n: number, kinds: string[]) => `${n} ${nounOf(kinds, n)}`

export function checklist(d: Diagnosis): CheckRow[] {
  const findings = new Map(d.findings.map((f) => [findingKey(f), f]))
  const suppressed = new Map(d.suppressed.map((s) => [findingKey(s.finding), s]))
  const label = (e: {kind: string; name: string}) => (e.kind === 'host' ? `host ${e.name}` : e.name)
  const items = new Map<string, CheckItem[]>()
  const push = (rule: string, item: CheckItem) => items.set(rule, [...(items.get(rule) ?? []), item])
  for (const c of d.checked) {
    const key = findingKey({id: c.ruleId, entity: c.entity})
    const f = findings.get(key)
    const s = suppressed.get(key)
    if (f) push(c.ruleId, {entity: label(c.entity), status: statusOf(f.severity), severity: f.severity})
    else if (s) push(c.ruleId, {entity: label(c.entity), status: 'SKIP', reason: `suppressed until ${s.entry.expires}: ${s.entry.reason}`})
    else push(c.ruleId, {entity: label(c.entity), status: 'PASS'})
  }
  const ruleSkipped = new Map<string, string>()
  // A rule whose probe was not asked for (--listen, --active) checked nothing: SKIP with why, never "PASS nothing to check".
  for (const n of d.skipped ?? []) ruleSkipped.set(n.ruleId, n.reason)
  for (const n of d.notChecked) {
    if (n.entity) push(n.ruleId, {entity: label(n.entity), status: 'SKIP', reason: n.reason})
    else ruleSkipped.set(n.ruleId, n.reason)
  }
  const rows: CheckRow[] = []
  for (const rule of d.rules) {
    const list = items.get(rule.id) ?? []
    const skipped = ruleSkipped.get(rule.id)
    if (skipped !== undefined) {
      rows.push({ruleId: rule.id, status: 'SKIP', detail: skipped, items: []})
      continue
    }
    // Expectations are checked only when kvmdoctor.yaml asks for them.
    if (list.length === 0 && rule.expectation) continue
    // Named by what the rule runs on: "no links" where seven links exist but no Open vSwitch bridge would mislead.
    const kinds = rule.scopes
    if (list.length === 0) {
      rows.push({ruleId: rule.id, status: 'PASS', detail: `nothing to check: no ${nounOf(kinds, 2)}`, items: []})
      continue
    }
    const status = list.map((i) => i.status).reduce(worst)
    rows.push({ruleId: rule.id, status, detail: detailOf(list, kinds), items: list})
  }
  return rows
}

function detailOf(list: CheckItem[], kinds: string[]): string {
  const bad = list.filter((i) => i.status === 'FAIL' || i.status === 'WARN')
  const skipped = list.filter((i) => i.status === 'SKIP')
  const whole = list.length === 1 ? list[0].entity : plural(list.length, kinds)
  const parts: string[] = []
  if (bad.length > 0) parts.push(`${bad.map((i) => `${i.entity} (${i.severity})`).join(', ')}${list.length > 1 ? ` of ${whole}` : ''}`)
  if (skipped.length > 0) {
    const reasons = [...new Set(skipped.map((i) => i.reason))]
    parts.push(`${skipped.length === list.length ? whole : `${skipped.length} of ${whole}`} skipped: ${reasons.join('; ')}`)
  }
  return parts.length > 0 ? parts.join('; ') : whole
}

export function checkCounts(rows: CheckRow[]): Record<CheckStatus, number> {
  const counts: Record<CheckStatus, number> = {PASS: 0, WARN: 0, FAIL: 0, SKIP: 0}
  for (const r of rows) counts[r.status]++
  return counts
}
