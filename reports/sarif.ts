/**
 * SARIF 2.1.0 for code-scanning dashboards: every rule in tool.driver, one
 * result per finding (suppressed ones marked), stable fingerprints.
 */
import {createHash} from 'node:crypto'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import type {Diagnosis} from '../src/core/diagnose.js'
import {type Finding, scopesOf} from '../src/core/engine.js'
import {EVERY_RULE, PACKAGE_ROOT, ruleDoc, ruleDocPath, ruleHeadline} from '../src/core/rule-docs.js'
import type {Severity} from '../src/core/severity.js'

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = {critical: 'error', high: 'error', medium: 'warning', low: 'note', info: 'note'}
/** GitHub's scale: >= 9 critical, 7-8.9 high, 4-6.9 medium, 0.1-3.9 low. */
const SECURITY_SEVERITY: Record<Severity, string> = {critical: '9.5', high: '8.0', medium: '5.5', low: '3.0', info: '0.1'}

/** The file a person would edit to fix it, where there is one. */
function fileToChange(f: Finding): string | undefined {
  if (f.entity.kind === 'network') return `/etc/libvirt/qemu/networks/${f.entity.name}.xml`
  if (f.entity.kind === 'dhcp-service') return '/etc/dhcp/dhcpd.conf'
  if (f.entity.kind === 'domain') return `/etc/libvirt/qemu/${f.entity.name}.xml`
  if (f.entity.kind === 'interface') return `/etc/libvirt/qemu/${f.entity.name.split('/')[0]}.xml`
  if (['ip-forward-disabled', 'expect-forwarding', 'rp-filter-strict', 'arp-flux', 'conntrack-table-full', 'bridge-netfilter-enabled'].includes(f.id)) return '/etc/sysctl.d/90-kvmdoctor.conf'
  return undefined
}

/** Same rule on the same entity is the same result on every run. */
export const fingerprint = (f: Finding) => createHash('sha256').update(`${f.id}\u0000${f.entity.kind}\u0000${f.entity.name}`).digest('hex')

export function toSarif(d: Diagnosis) {
  const ruleIndex = new Map(EVERY_RULE.map((r, i) => [r.id, i]))
  const result = (f: Finding, suppression?: {reason: string; expires: string}) => {
    const file = fileToChange(f)
    return {
      ruleId: f.id,
      ruleIndex: ruleIndex.get(f.id),
      level: LEVEL[f.severity],
      message: {text: `${f.title} (${f.entity.kind} ${f.entity.name}). ${f.summary}${f.fix[0] ? ` Fix: ${f.fix[0]}` : ''}`},
      locations: [
        {
          ...(file ? {physicalLocation: {artifactLocation: {uri: pathToFileURL(file).href}}} : {}),
          logicalLocations: [{name: f.entity.name, kind: f.entity.kind, fullyQualifiedName: `${d.host}/${f.entity.kind}/${f.entity.name}`}],
        },
      ],
      partialFingerprints: {'kvmdoctorFinding/v1': fingerprint(f)},
      properties: {'security-severity': SECURITY_SEVERITY[f.severity], severity: f.severity, rank: f.rank, evidence: f.evidence, fix: f.fix, explains: f.explains, ...(f.explainedBy ? {explainedBy: f.explainedBy} : {})},
      ...(suppression ? {suppressions: [{kind: 'external', status: 'accepted', justification: `${suppression.reason} (until ${suppression.expires})`}]} : {}),
    }
  }
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'kvmdoctor',
            version: d.version,
            informationUri: pathToFileURL(join(PACKAGE_ROOT, 'README.md')).href,
            rules: EVERY_RULE.map((r) => ({
              id: r.id,
              name: r.id.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase()),
              shortDescription: {text: ruleHeadline(r.id)},
              fullDescription: {text: ruleHeadline(r.id)},
              help: {text: ruleDoc(r.id), markdown: ruleDoc(r.id)},
              helpUri: pathToFileURL(ruleDocPath(r.id)).href,
              defaultConfiguration: {level: LEVEL[r.severity]},
              properties: {'security-severity': SECURITY_SEVERITY[r.severity], tags: ['kvm', 'libvirt', 'networking', ...scopesOf(r)]},
            })),
          },
        },
        invocations: [{executionSuccessful: true, endTimeUtc: d.capturedAt, toolExecutionNotifications: d.probes.filter((p) => !p.ok && !p.skipped).map((p) => ({level: 'warning', message: {text: `probe ${p.id} unavailable: ${p.error}`}}))}],
        results: [...d.findings.map((f) => result(f)), ...d.suppressed.map((s) => result(s.finding, s.entry))],
      },
    ],
  }
}

export function renderSarif(d: Diagnosis): string {
  return JSON.stringify(toSarif(d), null, 2) + '\n'
}
