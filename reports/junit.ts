/**
 * JUnit XML for CI test reports, valid against both the Ant JUnit schema and
 * the Jenkins xunit junit-10.xsd (test/gate-junit.test.ts validates both):
 * one testcase per rule and entity the rule applies to; a finding fails it,
 * a rule that could not be checked is an error (the check did not happen; it
 * did not pass), a suppressed finding skips it, otherwise it passes.
 */
import {XMLBuilder} from 'fast-xml-parser'
import type {Diagnosis} from '../src/result/diagnosis.js'
import {findingKey} from '../src/result/findings.js'

interface Outcome {
  '@_message': string
  '@_type': string
  '#text'?: string
}

interface TestCase {
  '@_classname': string
  '@_name': string
  '@_time': string
  failure?: Outcome
  error?: Outcome
  skipped?: {'@_message': string}
}

/** XML 1.0 allows no control characters but tab, newline and carriage return. */
const xmlSafe = (s: string) => s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '\ufffd')

const caseName = (e: {kind: string; name: string} | null) => (e ? `${e.kind} ${e.name}` : 'all entities')

/** Ant's schema wants the timestamp without zone or fraction: UTC, to the second. */
const antTimestamp = (iso: string) => new Date(iso).toISOString().slice(0, 19)

export function renderJunit(d: Diagnosis): string {
  const findings = new Map(d.findings.map((f) => [findingKey(f), f]))
  const suppressed = new Map(d.suppressed.map((s) => [findingKey(s.finding), s]))
  const cases: TestCase[] = []
  for (const c of d.applicable) {
    const key = findingKey({id: c.ruleId, entity: c.entity})
    const tc: TestCase = {'@_classname': `kvmdoctor.${c.ruleId}`, '@_name': xmlSafe(caseName(c.entity)), '@_time': '0'}
    const f = findings.get(key)
    const s = suppressed.get(key)
    if (f) {
      tc.failure = {
        '@_message': xmlSafe(`[${f.severity}] ${f.title}`),
        '@_type': f.severity,
        '#text': xmlSafe([f.summary, ...f.evidence.map((e) => `evidence: ${e}`), ...f.fix.map((x) => `fix: ${x}`), ...(f.explainedBy ? [`explained by: ${f.explainedBy}`] : [])].join('\n')),
      }
    } else if (s) {
      tc.skipped = {'@_message': xmlSafe(`suppressed until ${s.entry.expires}: ${s.entry.reason}`)}
    }
    cases.push(tc)
  }
  for (const n of d.notChecked) {
    cases.push({
      '@_classname': `kvmdoctor.${n.ruleId}`,
      '@_name': xmlSafe(caseName(n.entity)),
      '@_time': '0',
      error: {'@_message': xmlSafe(`not checked: ${n.reason}`), '@_type': 'not-checked', '#text': xmlSafe(`kvmdoctor could not check ${n.ruleId}: ${n.reason}`)},
    })
  }
  const unavailable = d.probes.filter((p) => !p.ok && !p.skipped).map((p) => `probe ${p.id} unavailable: ${p.error}`)
  const builder = new XMLBuilder({ignoreAttributes: false, format: true, suppressEmptyNode: true, processEntities: true})
  const doc = {
    '?xml': {'@_version': '1.0', '@_encoding': 'UTF-8'},
    // Ant's schema allows no attributes on <testsuites>; the counts are on the one testsuite.
    testsuites: {
      testsuite: {
        '@_name': xmlSafe(`kvmdoctor ${d.host}`),
        '@_package': 'kvmdoctor',
        '@_id': 0,
        '@_timestamp': antTimestamp(d.capturedAt),
        '@_hostname': xmlSafe(d.host || 'localhost'),
        '@_tests': cases.length,
        '@_failures': cases.filter((c) => c.failure).length,
        '@_errors': cases.filter((c) => c.error).length,
        '@_skipped': cases.filter((c) => c.skipped).length,
        '@_time': '0',
        properties: {property: [{'@_name': 'kvmdoctor.version', '@_value': d.version}, {'@_name': 'capturedAt', '@_value': d.capturedAt}]},
        testcase: cases,
        'system-out': xmlSafe(unavailable.join('\n')),
        'system-err': '',
      },
    },
  }
  return builder.build(doc)
}
