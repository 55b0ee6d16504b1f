/**
 * SARIF 2.1.0 that GitHub code scanning accepts: every rule in tool.driver,
 * one result per finding (suppressed ones marked), each with a physical
 * location, a fingerprint that includes the host, and one automation id per
 * host so several hypervisors uploading to one repository keep apart.
 * The ingestion rules this follows are written down in test/gate-sarif.test.ts.
 */
import {createHash} from 'node:crypto'
import type {Diagnosis} from '../src/result/diagnosis.js'
import type {Finding} from '../src/result/findings.js'
import type {Severity} from '../src/lib/severity.js'
import {fixHead} from './summary.js'

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = {critical: 'error', high: 'error', medium: 'warning', low: 'note', info: 'note'}
/** GitHub's scale: >= 9 critical, 7-8.9 high, 4-6.9 medium, 0.1-3.9 low. */
const SECURITY_SEVERITY: Record<Severity, string> = {critical: '9.5', high: '8.0', medium: '5.5', low: '3.0', info: '0.1'}
/** GitHub's problem.severity for results that are not security alerts. */
const PROBLEM_SEVERITY: Record<Severity, 'error' | 'warning' | 'recommendation'> = {critical: 'error', high: 'error', medium: 'warning', low: 'recommendation', info: 'recommendation'}

/**
 * A relative URI path segment: pchar keeps ':' and '@' readable, everything else outside unreserved is
 * escaped ('/' too: a name never adds a segment). No segment is a dot segment, nor holds "..": a name
 * like ".." or "../../etc/x" must not lead a consumer that resolves the path out of its root.
 */
const segment = (s: string) => {
  const escaped = encodeURIComponent(s).replace(/%3A/g, ':').replace(/%40/g, '@').replace(/\.(?=\.)|(?<=\.)\./g, '%2E')
  return /^(?:\.|%2E)*$/.test(escaped) ? `_${escaped}` : escaped
}

/** Where a result is: the file to change, or kvmdoctor/HOST/KIND/NAME with a name that survives guest restarts. */
export function artifactUri(host: string, f: Pick<Finding, 'entity' | 'stable'>): string {
  if (f.stable.file) return f.stable.file.map(segment).join('/')
  return ['kvmdoctor', host, f.entity.kind, ...f.stable.name.split('/')].map(segment).join('/')
}

/**
 * Same rule on the same entity of the same host is the same alert on every run, across guest restarts
 * and rule renames (a renamed rule keeps the catalogue id it had).
 */
export function fingerprint(host: string, f: Pick<Finding, 'entity' | 'stable'>): string {
  return createHash('sha256').update([host, f.stable.ruleId, f.entity.kind, f.stable.name].join('\u0000')).digest('hex')
}

/** SARIF for a diagnosis; `docs` is where the rule docs are published (validated by the caller: KVMDOCTOR_DOCS_URL). */
export function toSarif(d: Diagnosis, docs?: string) {
  const ruleIndex = new Map(d.rules.map((r, i) => [r.id, i]))
  const result = (f: Finding, suppression?: {reason: string; expires: string}) => ({
    ruleId: f.id,
    ruleIndex: ruleIndex.get(f.id),
    level: LEVEL[f.severity],
    message: {text: `${f.title} (${f.entity.kind} ${f.entity.name} on ${d.host}). ${f.summary}${fixText(f)}`},
    locations: [
      {
        physicalLocation: {artifactLocation: {uri: artifactUri(d.host, f)}, region: {startLine: 1}},
        logicalLocations: [{name: f.entity.name, kind: f.entity.kind, fullyQualifiedName: `${d.host}/${f.entity.kind}/${f.entity.name}`}],
      },
    ],
    partialFingerprints: {'kvmdoctorFinding/v2': fingerprint(d.host, f)},
    properties: {'security-severity': SECURITY_SEVERITY[f.severity], severity: f.severity, host: d.host, rank: f.rank, evidence: f.evidence, fix: f.fix, fixSteps: f.fixSteps, explains: f.explains, ...(f.explainedBy ? {explainedBy: f.explainedBy} : {})},
    ...(suppression ? {suppressions: [{kind: 'external', status: 'accepted', justification: `${suppression.reason} (until ${suppression.expires})`}]} : {}),
  })
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'kvmdoctor',
            version: d.version,
            ...(docs ? {informationUri: `${docs}/README.md`} : {}),
            rules: d.rules.map((r) => ({
              id: r.id,
              // The ids it was known by: code scanning keeps the alerts of a renamed rule.
              ...(r.aliases.length > 0 ? {deprecatedIds: r.aliases} : {}),
              name: r.id.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase()),
              shortDescription: {text: r.headline()},
              fullDescription: {text: r.headline()},
              help: {text: r.doc(), markdown: r.doc()},
              ...(docs ? {helpUri: `${docs}/rules/${r.id}.md`} : {}),
              defaultConfiguration: {level: LEVEL[r.severity]},
              properties: {'security-severity': SECURITY_SEVERITY[r.severity], problem: {severity: PROBLEM_SEVERITY[r.severity]}, tags: ['kvm', 'libvirt', 'networking', ...r.kinds]},
            })),
          },
        },
        // One category per host (the part before the last slash): each hypervisor's alerts stay its own.
        automationDetails: {id: `kvmdoctor/${d.host}/${d.capturedAt}`},
        invocations: [invocation(d, ruleIndex)],
        // The headline every format prints: CRITICAL..LOW, NOT CHECKED, OK (host side; ...), OK.
        properties: {verdict: d.verdict.status, headline: d.verdict.text},
        results: [...d.findings.map((f) => result(f)), ...d.suppressed.map((s) => result(s.finding, s.entry))],
      },
    ],
  }
}

/**
 * The run as code scanning judges it: a run that could not check every rule did not succeed
 * (uploaded with `if: always()`, a run that checked nothing must not close the open alerts), and
 * says why: one notification per probe that could not run, and one per rule not checked.
 */
function invocation(d: Diagnosis, ruleIndex: Map<string, number>) {
  const probes = d.probes.filter((p) => !p.ok && !p.skipped).map((p) => ({level: 'error', message: {text: `probe ${p.id} unavailable: ${p.error}`}}))
  const partial = d.probes.filter((p) => p.ok && p.degraded && p.degraded.length > 0).map((p) => ({level: 'error', message: {text: `probe ${p.id} read only part of its sources: ${p.degraded!.join('; ')}`}}))
  const rules = d.notChecked.map((n) => ({
    level: 'error',
    message: {text: `not checked: ${n.ruleId}${n.entity ? ` on ${n.entity.kind} ${n.entity.name}` : ''}: ${n.reason}`},
    associatedRule: {id: n.ruleId, index: ruleIndex.get(n.ruleId)},
  }))
  return {executionSuccessful: d.verdict.status !== 'not-checked' && d.verdict.rulesNotChecked === 0 && d.verdict.unread.length === 0, endTimeUtc: d.capturedAt, toolExecutionNotifications: [...probes, ...partial, ...rules]}
}

export function renderSarif(d: Diagnosis, docs?: string): string {
  return JSON.stringify(toSarif(d, docs), null, 2) + '\n'
}

/**
 * The fix in the alert's one line: its first command, or every command through the last that brings back what a
 * disrupting one cut off (fixHead), joined by && as `fix --yes` runs them (in order, stopping at the first that fails).
 */
function fixText(f: Finding): string {
  const shown = fixHead(f.fix, 1).filter((line) => !line.startsWith('#'))
  return shown.length === 0 ? '' : ` Fix: ${shown.join(' && ')}`
}
