import type {Diagnosis, GateDecision, ResultFlow, Suppressed} from '../src/result/diagnosis.js'
import type {Finding} from '../src/result/findings.js'
import {mapStringsDeep, scrubText, stringMapper} from '../src/lib/scrub.js'

/** Bumped when a field changes meaning or goes away; new fields keep the version (docs/schemas/report.schema.json). */
export const JSON_REPORT_VERSION = 1

export type JsonReport = ReturnType<typeof toJsonReport>

/** A list of the report made from one of the diagnosis's, an element at a time (a big host has tens of thousands of flows). */
class Projected<T, U> {
  constructor(
    readonly items: readonly T[],
    private readonly project: (item: T) => U,
  ) {}

  at(i: number): U {
    return this.project(this.items[i])
  }

  all(): U[] {
    return this.items.map(this.project)
  }
}

/** The report's elements as they are listed. */
type Listed<R> = {[K in keyof R]: R[K] extends Projected<any, infer U> ? U[] : R[K]}

const findingJson = (f: Finding) => ({
  id: f.id,
  severity: f.severity,
  rank: f.rank,
  entity: f.entity,
  context: f.context,
  title: f.title,
  summary: f.summary,
  evidence: f.evidence,
  fix: f.fix,
  // The same commands as data (argv, pipeline, file write): what `kvmdoctor fix --yes` runs.
  fixSteps: f.fixSteps,
  ...(f.check ? {check: f.check, checkSteps: f.checkSteps} : {}),
  explains: f.explains,
  ...(f.explainedBy ? {explainedBy: f.explainedBy} : {}),
  ...(f.causes ? {causes: f.causes} : {}),
  blastRadius: f.blastRadius,
})

const suppressedJson = (s: Suppressed) => ({id: s.finding.id, severity: s.finding.severity, entity: s.finding.entity, title: s.finding.title, reason: s.entry.reason, expires: s.entry.expires})

const flowJson = (f: ResultFlow) => ({
  guest: f.guest,
  iface: f.iface,
  kind: f.kind,
  ...(f.guestAddress ? {guestAddress: f.guestAddress} : {}),
  verdict: f.verdict,
  description: f.description,
  ...(f.decidedBy ? {decidedBy: {hop: f.decidedBy.name, verdict: f.decidedBy.verdict, detail: f.decidedBy.detail, ...(f.decidedBy.element ? {element: f.decidedBy.element.text} : {})}} : {}),
})

/** The report's fields in order, its long lists still to be projected. */
function reportFields(d: Diagnosis, gate?: GateDecision) {
  return {
    reportVersion: JSON_REPORT_VERSION,
    version: d.version,
    host: d.host,
    capturedAt: d.capturedAt,
    // The headline every format prints, and what it rests on: what could not be read, what was skipped and why.
    verdict: {status: d.verdict.status, label: d.verdict.label, text: d.verdict.text, unread: d.verdict.unread, skipped: d.verdict.skipped, rulesNotChecked: d.verdict.rulesNotChecked, beyondHost: d.verdict.beyondHost},
    counts: d.counts,
    // The --fail-on decision of this run (diagnose --json and --format json; not in bundles).
    ...(gate ? {gate: {failOn: gate.failOn, allowUnchecked: gate.allowUnchecked, verdict: gate.verdict, exitCode: gate.exitCode, blocking: gate.blocking, unchecked: gate.unchecked}} : {}),
    findings: new Projected(d.findings, findingJson),
    notChecked: d.notChecked,
    suppressed: new Projected(d.suppressed, suppressedJson),
    expiredIgnores: d.expiredIgnores,
    probes: d.probes,
    // Each running guest's flows and where they stop: `kvmdoctor trace GUEST --json` has every hop and rule.
    flows: new Projected(d.flows, flowJson),
    ...(d.datapathUnavailable ? {datapathUnavailable: d.datapathUnavailable} : {}),
    // Running guests' interfaces no flow follows (a macvtap pool, a hostdev, user-mode networking), and why.
    ...(d.flowsNotFollowed ? {flowsNotFollowed: d.flowsNotFollowed} : {}),
    ...(d.source ? {source: d.source} : {}),
  }
}

/** The stable machine-readable shape (docs/schemas/report.schema.json). */
export function toJsonReport(d: Diagnosis, gate?: GateDecision): Listed<ReturnType<typeof reportFields>> {
  const report: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(reportFields(d, gate))) report[key] = value instanceof Projected ? value.all() : value
  return report as Listed<ReturnType<typeof reportFields>>
}

export function renderJson(d: Diagnosis, gate?: GateDecision): string {
  return JSON.stringify(toJsonReport(d, gate), null, 2) + '\n'
}

/**
 * The JSON report with every string scrubbed of credentials (what --format json prints, as data). The projection
 * is already a fresh object: only what scrubbing changes is copied (a big host's tens of thousands of flows were
 * copied whole before).
 */
export function reportableJson(d: Diagnosis, gate?: GateDecision): JsonReport {
  return mapStringsDeep(toJsonReport(d, gate), scrubText, {scrubKeys: true})
}

/**
 * reportableJsonText in pieces (jsonLines), each element of a long list projected and scrubbed as it is written:
 * neither the report nor a scrubbed copy of it is ever held whole (on a big host, tens of MiB more at the run's
 * peak). One mapper scrubs it all, as reportableJson's walk does: a value under a key is scrubbed as a field of an
 * object with that key alone, an element as an element.
 */
export function reportableJsonLines(d: Diagnosis, gate?: GateDecision): Generator<string> {
  const scrub = stringMapper(scrubText, {scrubKeys: true})
  const report: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(reportFields(d, gate))) {
    if (!(value instanceof Projected)) report[key] = scrub({[key]: value})[key]
    else report[key] = value.items.length === 0 ? [] : new ListedOneByOne(value.items.length, (i) => scrub(value.at(i)))
  }
  return jsonLines(report)
}

/** A list whose elements jsonLines asks for one at a time: each is made then, and let go once written. */
class ListedOneByOne {
  constructor(
    readonly length: number,
    readonly at: (i: number) => unknown,
  ) {}
}

/** The same report as the text written for --format json. */
export function reportableJsonText(d: Diagnosis, gate?: GateDecision): string {
  return JSON.stringify(reportableJson(d, gate), null, 2) + '\n'
}

/** How much text jsonLines gathers before it yields: few writes, and never the whole report as one string. */
const JSON_CHUNK_CHARS = 1 << 20
/** Elements of a list stringified in one call: JSON.stringify called for each element, its text re-indented, was 5 times slower. */
const JSON_BATCH = 256
/** How a list's text ends under its key, stringified alone ({key: [...]}). */
const LIST_END = '\n  ]\n}'

/**
 * JSON.stringify(REPORT, null, 2) in pieces that end where its lines do (joined with newlines they are that text):
 * the elements of a top-level array (or of a list made one by one: reportableJsonLines) are stringified a batch at a
 * time, so a big host's report (tens of thousands of flows, some 15 MB) is never one string, nor are the engine's
 * buffers for building one.
 */
export function* jsonLines(report: object): Generator<string> {
  // What JSON.stringify keeps: a key whose value has no JSON text (undefined, a function) is left out.
  const entries: [string, ListedOneByOne | string][] = []
  for (const [key, value] of Object.entries(report)) {
    const text = value instanceof ListedOneByOne ? value : Array.isArray(value) && value.length > 0 ? new ListedOneByOne(value.length, (i) => value[i]) : JSON.stringify(value, null, 2)
    if (text !== undefined) entries.push([key, text])
  }
  if (entries.length === 0) {
    yield '{}'
    return
  }
  let lines = ['{']
  let size = 0
  const add = (line: string) => {
    lines.push(line)
    size += line.length + 1
  }
  for (let k = 0; k < entries.length; k++) {
    const [key, value] = entries[k]
    const comma = k < entries.length - 1 ? ',' : ''
    if (typeof value === 'string') {
      add(`  ${JSON.stringify(key)}: ${value.replaceAll('\n', '\n  ')}${comma}`)
      continue
    }
    add(`  ${JSON.stringify(key)}: [`)
    for (let start = 0; start < value.length; start += JSON_BATCH) {
      const end = Math.min(start + JSON_BATCH, value.length)
      const batch: unknown[] = []
      for (let i = start; i < end; i++) batch.push(value.at(i))
      // Stringified under the same key, so each element's lines are indented as in the whole report's text; an
      // element with no JSON text is null, as JSON.stringify writes it in an array.
      const text = JSON.stringify({[key]: batch}, null, 2)
      add(`${text.slice(text.indexOf('\n', 2) + 1, text.length - LIST_END.length)}${end < value.length ? ',' : ''}`)
      if (size >= JSON_CHUNK_CHARS) {
        yield lines.join('\n')
        lines = []
        size = 0
      }
    }
    add(`  ]${comma}`)
  }
  add('}')
  yield lines.join('\n')
}
