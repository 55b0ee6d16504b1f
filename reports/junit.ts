/**
 * JUnit XML for CI test reports: one testcase per rule and entity checked;
 * a finding fails it, "not checked" and suppressed skip it, otherwise it passes.
 */
import {XMLBuilder} from 'fast-xml-parser'
import type {Diagnosis} from '../src/core/diagnose.js'
import {findingKey} from '../src/core/engine.js'
import {entityLabel} from './summary.js'

interface TestCase {
  '@_classname': string
  '@_name': string
  '@_time': string
  failure?: {'@_message': string; '@_type': string; '#text': string}
  skipped?: {'@_message': string}
}

export function renderJunit(d: Diagnosis): string {
  const findings = new Map(d.findings.map((f) => [findingKey(f), f]))
  const suppressed = new Map(d.suppressed.map((s) => [findingKey(s.finding), s]))
  const cases: TestCase[] = []
  const name = (e: {kind: string; name: string} | null) => entityLabel(e)
  for (const c of d.checked) {
    const key = findingKey({id: c.ruleId, entity: c.entity})
    const tc: TestCase = {'@_classname': `kvmdoctor.${c.ruleId}`, '@_name': name(c.entity), '@_time': '0'}
    const f = findings.get(key)
    const s = suppressed.get(key)
    if (f) {
      tc.failure = {
        '@_message': `[${f.severity}] ${f.title}`,
        '@_type': f.severity,
        '#text': [f.summary, ...f.evidence.map((e) => `evidence: ${e}`), ...f.fix.map((x) => `fix: ${x}`), ...(f.explainedBy ? [`explained by: ${f.explainedBy}`] : [])].join('\n'),
      }
    } else if (s) {
      tc.skipped = {'@_message': `suppressed until ${s.entry.expires}: ${s.entry.reason}`}
    }
    cases.push(tc)
  }
  for (const n of d.notChecked) cases.push({'@_classname': `kvmdoctor.${n.ruleId}`, '@_name': name(n.entity), '@_time': '0', skipped: {'@_message': `not checked: ${n.reason}`}})
  const failures = cases.filter((c) => c.failure).length
  const skipped = cases.filter((c) => c.skipped).length
  const builder = new XMLBuilder({ignoreAttributes: false, format: true, suppressEmptyNode: true, processEntities: true})
  const doc = {
    '?xml': {'@_version': '1.0', '@_encoding': 'UTF-8'},
    testsuites: {
      '@_name': 'kvmdoctor',
      '@_tests': cases.length,
      '@_failures': failures,
      '@_errors': 0,
      '@_skipped': skipped,
      testsuite: {
        '@_name': `kvmdoctor ${d.host}`,
        '@_tests': cases.length,
        '@_failures': failures,
        '@_errors': 0,
        '@_skipped': skipped,
        '@_timestamp': d.capturedAt,
        '@_hostname': d.host,
        testcase: cases,
      },
    },
  }
  return builder.build(doc)
}
