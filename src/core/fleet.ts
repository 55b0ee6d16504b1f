/**
 * `kvmdoctor fleet`: many hosts' results in one view. It reads what kvmdoctor publishes per host,
 * the JSON report (docs/schemas/report.schema.json: diagnose --json, --format json, Ansible's
 * kvmdoctor.fact) and support bundles (analysed as `diagnose --from` does, after the bundle
 * reader's checks), and puts them side by side: per finding id the hosts it is on, per host its
 * worst severity, root causes and --fail-on verdict, what is new since a baseline. It judges
 * nothing of a host itself: every finding is the host's own report's.
 *
 * An input that is not a report (truncated JSON, another tool's file, a bundle whose checksums do
 * not match, kvmdoctor's own error object) is an error of the view, listed with its reason.
 */
import {open, readdir, stat} from 'node:fs/promises'
import {join} from 'node:path'
import pLimit from 'p-limit'
import type {Diagnosis} from './diagnose.js'
import type {NotChecked} from './engine.js'
import {UserError} from './errors.js'
import {gateDecision} from './gate.js'
import {readRegularFile} from './budget.js'
import {type FailOn, SEVERITIES, type Severity, severityWeight} from '../lib/severity.js'
import type {FleetFinding, FleetHost, FleetInputError, FleetView} from '../result/fleet.js'
import type {GateVerdict} from '../result/diagnosis.js'

export type {FleetEntity, FleetFinding, FleetHost, FleetInputError, FleetRootCause, FleetView} from '../result/fleet.js'

/** Bumped when a field of the fleet view changes meaning or goes away (docs/schemas/fleet.schema.json). */
export const FLEET_VIEW_VERSION = 1
/** The report version this reads; a newer one is refused by name, not misread. */
const READS_REPORT_VERSION = 1
/** One host's report: a big host's is a few MiB. */
const MAX_REPORT_BYTES = 64 * 1024 * 1024
/** What a directory holds that may be a report or a bundle (a redaction map, beside its bundle, is neither). */
const INPUT_NAME = /\.(json|fact|tar\.gz|tgz)$/
const NOT_INPUT = /\.redaction-map\.json$/

/** What the fleet view reads of a report (docs/schemas/report.schema.json); the rest of it is ignored. */
export interface HostReport {
  reportVersion: number
  version: string
  host: string
  capturedAt: string
  counts: Record<Severity, number>
  findings: {id: string; severity: Severity; entity: {kind: string; name: string}; title: string; context?: Record<string, string>; explainedBy?: string}[]
  notChecked: {ruleId: string; entity: {kind: string; name: string} | null; reason: string}[]
  probes: {id: string; ok: boolean; skipped?: boolean; error?: string}[]
}

const isString = (v: unknown): v is string => typeof v === 'string'
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
const isEntity = (v: unknown) => isObject(v) && isString(v.kind) && isString(v.name)
const SEVERITY_SET = new Set<unknown>(SEVERITIES)

/**
 * The report as kvmdoctor writes it, checked without loading a schema library (a fleet view reads
 * hundreds): undefined when anything the view reads is missing or of another type. Never accepts what
 * reportSchema (fleet-schema.ts, loaded only then, to say what is wrong) refuses: tested.
 */
export function wellFormedReport(raw: unknown): HostReport | undefined {
  if (!isObject(raw) || !Number.isInteger(raw.reportVersion) || !isString(raw.version) || !isString(raw.host) || !isString(raw.capturedAt)) return undefined
  const counts = raw.counts
  if (!isObject(counts) || !SEVERITIES.every((s) => Number.isInteger(counts[s]) && (counts[s] as number) >= 0)) return undefined
  const findings = raw.findings
  const goodFinding = (f: unknown) =>
    isObject(f) && isString(f.id) && SEVERITY_SET.has(f.severity) && isEntity(f.entity) && isString(f.title) &&
    (f.explainedBy === undefined || isString(f.explainedBy)) && (f.context === undefined || (isObject(f.context) && Object.values(f.context).every(isString)))
  if (!Array.isArray(findings) || !findings.every(goodFinding)) return undefined
  const notChecked = raw.notChecked
  if (!Array.isArray(notChecked) || !notChecked.every((n) => isObject(n) && isString(n.ruleId) && (n.entity === null || isEntity(n.entity)) && isString(n.reason))) return undefined
  const probes = raw.probes
  const goodProbe = (p: unknown) => isObject(p) && isString(p.id) && typeof p.ok === 'boolean' && (p.skipped === undefined || typeof p.skipped === 'boolean') && (p.error === undefined || isString(p.error))
  if (!Array.isArray(probes) || !probes.every(goodProbe)) return undefined
  return raw as unknown as HostReport
}

export interface FleetInputs {
  reports: {source: string; report: HostReport}[]
  errors: FleetInputError[]
}

export interface FleetReadDeps {
  /** A bundle's diagnosis as its JSON report (reports/json.ts): the command layer renders, the fleet reads. */
  toReport: (d: Diagnosis) => unknown
  version: string
}

/** Every report and bundle named (directories: their *.json, *.fact, *.tar.gz and *.tgz files, not recursively). */
export async function readFleetInputs(paths: string[], deps: FleetReadDeps): Promise<FleetInputs> {
  const errors: FleetInputError[] = []
  const files: string[] = []
  for (const path of paths) {
    if (path.trim() === '') throw new UserError('fleet: an input path is empty')
    const info = await stat(path).catch((error: NodeJS.ErrnoException) => error)
    if (info instanceof Error) {
      errors.push({source: path, message: info.code === 'ENOENT' ? 'no such file or directory' : `cannot read (${info.code ?? info.message})`})
    } else if (info.isDirectory()) {
      const names = (await readdir(path, {withFileTypes: true})).filter((e) => !e.isDirectory() && INPUT_NAME.test(e.name) && !NOT_INPUT.test(e.name)).map((e) => e.name)
      if (names.length === 0) errors.push({source: path, message: 'a directory with no report (*.json, *.fact) or bundle (*.tar.gz) in it'})
      files.push(...names.sort().map((n) => join(path, n)))
    } else {
      files.push(path)
    }
  }
  // Bundles are analysed (probes replayed, rules evaluated): a couple at once; JSON reads are cheap.
  const limit = pLimit(2)
  const read = await Promise.all(files.map((file) => limit(() => readOne(file, deps))))
  const reports: FleetInputs['reports'] = []
  for (const [i, r] of read.entries()) {
    if ('message' in r) errors.push({source: files[i], message: r.message})
    else reports.push({source: files[i], report: r})
  }
  return {reports, errors}
}

async function readOne(file: string, deps: FleetReadDeps): Promise<HostReport | {message: string}> {
  try {
    // A FIFO or a device would block or never end: only a regular file is read.
    const info = await stat(file).catch(() => undefined)
    if (info && !info.isFile()) return {message: `not a regular file (${info.isDirectory() ? 'a directory' : info.isFIFO() ? 'a FIFO' : 'a device or socket'})`}
    return (await isGzip(file)) ? await readBundle(file, deps) : await parseReport(await readRegularFile(file, {maxBytes: MAX_REPORT_BYTES, label: file}))
  } catch (error) {
    if (error instanceof UserError) return {message: error.message.startsWith(`${file}: `) ? error.message.slice(file.length + 2) : error.message}
    throw error
  }
}

async function isGzip(file: string): Promise<boolean> {
  const handle = await open(file, 'r').catch(() => undefined)
  // Unreadable: the report reader says why.
  if (!handle) return false
  try {
    const head = Buffer.alloc(2)
    const {bytesRead} = await handle.read(head, 0, 2, 0).catch(() => ({bytesRead: 0}))
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b
  } finally {
    await handle.close()
  }
}

/** A bundle, read by the bundle reader (its entries and SHA256SUMS checked) and analysed as `diagnose --from` does. */
async function readBundle(file: string, deps: FleetReadDeps): Promise<HostReport> {
  const [{openBundle}, {diagnose}] = await Promise.all([import('./bundle.js'), import('./diagnose.js')])
  const {runner, cleanup} = await openBundle(file)
  try {
    const d = await diagnose({runner, options: runner.manifest.options ?? {active: false, libvirtUri: 'qemu:///system'}, version: deps.version})
    return await parseReport(JSON.stringify(deps.toReport(d)))
  } finally {
    await cleanup()
  }
}

/** A JSON report, or why the text is not one. */
export async function parseReport(text: string): Promise<HostReport> {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (error) {
    const message = (error as Error).message
    // Where the parser stopped: at the very end of the text, the report was cut short (a full disk, a killed copy).
    const at = Number(/position (\d+)/.exec(message)?.[1] ?? Number.NaN)
    const cut = /Unexpected end|Unterminated/.test(message) || at >= text.trimEnd().length - 1
    throw new UserError(`not valid JSON${cut ? ', cut short' : ''}: ${message}`)
  }
  const obj = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : undefined
  const failure = (obj?.error ?? undefined) as {code?: unknown; message?: unknown} | undefined
  if (failure && typeof failure === 'object' && typeof failure.message === 'string') {
    throw new UserError(`kvmdoctor did not diagnose this host (exit ${String(failure.code)}): ${failure.message}`)
  }
  if (!obj || typeof obj.reportVersion !== 'number') throw new UserError('not a kvmdoctor report (no reportVersion: kvmdoctor diagnose --format json writes one)')
  if (obj.reportVersion !== READS_REPORT_VERSION) throw new UserError(`report version ${obj.reportVersion}: this kvmdoctor reads version ${READS_REPORT_VERSION}`)
  const report = wellFormedReport(obj)
  if (report) return report
  // Not as kvmdoctor writes reports: the schema says what is wrong.
  const {reportSchema} = await import('./fleet-schema.js')
  const parsed = reportSchema.safeParse(obj)
  const issue = parsed.success ? undefined : parsed.error.issues[0]
  throw new UserError(`not a kvmdoctor report: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'malformed'}`)
}



type Finding = HostReport['findings'][number]

/** A finding's identity across runs: a guest's interface by domain and MAC (a tap is renamed on restart). */
function findingKey(f: Finding): string {
  const c = f.context ?? {}
  const where = c.domain && c.mac ? `${c.domain}/${c.mac}` : f.entity.name
  return `${f.id}@${f.entity.kind}:${where}`
}

const bySeverity = (a: {severity: Severity}, b: {severity: Severity}) => severityWeight(b.severity) - severityWeight(a.severity)

/** The newest report of each host; the older ones are named on it. */
function latestPerHost(reports: FleetInputs['reports']): Map<string, {source: string; report: HostReport; superseded: string[]}> {
  const hosts = new Map<string, {source: string; report: HostReport; superseded: string[]}>()
  for (const r of reports) {
    const known = hosts.get(r.report.host)
    if (!known) hosts.set(r.report.host, {...r, superseded: []})
    else if (Date.parse(r.report.capturedAt) > Date.parse(known.report.capturedAt)) hosts.set(r.report.host, {...r, superseded: [...known.superseded, known.source]})
    else known.superseded.push(r.source)
  }
  return hosts
}

export function fleetView(current: FleetInputs, options: {failOn: FailOn; allowUnchecked?: boolean; baseline?: FleetInputs}): FleetView {
  const allowUnchecked = options.allowUnchecked ?? false
  const latest = latestPerHost(current.reports)
  const before = options.baseline ? latestPerHost(options.baseline.reports) : undefined
  const keysBefore = new Map([...(before ?? new Map()).values()].map((b) => [b.report.host, new Set(b.report.findings.map(findingKey))]))
  const hosts: FleetHost[] = []
  const findings = new Map<string, FleetFinding>()
  let newFindings = 0
  for (const {source, report, superseded} of latest.values()) {
    const old = keysBefore.get(report.host)
    const isNew = (f: Finding) => (before ? !old?.has(findingKey(f)) : undefined)
    const gate = gateDecision({findings: report.findings, notChecked: report.notChecked as NotChecked[]}, options.failOn, allowUnchecked)
    const roots = report.findings.filter((f) => f.explainedBy === undefined).sort(bySeverity)
    if (before) newFindings += report.findings.filter((f) => isNew(f)).length
    hosts.push({
      host: report.host,
      source,
      capturedAt: report.capturedAt,
      kvmdoctorVersion: report.version,
      worst: report.findings.reduce<Severity | null>((w, f) => (w === null || severityWeight(f.severity) > severityWeight(w) ? f.severity : w), null),
      counts: report.counts,
      verdict: gate.verdict,
      rootCauses: roots.map((f) => ({id: f.id, severity: f.severity, entity: {kind: f.entity.kind, name: f.entity.name}, title: f.title, ...(before ? {new: isNew(f)} : {})})),
      symptoms: report.findings.length - roots.length,
      notChecked: [...new Set(gate.unchecked.map((n) => n.ruleId))].sort(),
      probesFailed: report.probes.filter((p) => !p.ok && !p.skipped).map((p) => p.id).sort(),
      ...(before ? {new: !old} : {}),
      ...(superseded.length > 0 ? {superseded} : {}),
    })
    for (const f of report.findings) {
      const entry = findings.get(f.id) ?? {id: f.id, severity: f.severity, hosts: []}
      if (severityWeight(f.severity) > severityWeight(entry.severity)) entry.severity = f.severity
      let onHost = entry.hosts.find((h) => h.host === report.host)
      if (!onHost) entry.hosts.push((onHost = {host: report.host, entities: [], rootCause: false, ...(before ? {new: false} : {})}))
      onHost.entities.push({kind: f.entity.kind, name: f.entity.name})
      onHost.rootCause ||= f.explainedBy === undefined
      if (before && isNew(f)) onHost.new = true
      findings.set(f.id, entry)
    }
  }
  const verdictOrder: Record<GateVerdict, number> = {fail: 0, 'not-checked': 1, pass: 2}
  hosts.sort((a, b) => verdictOrder[a.verdict] - verdictOrder[b.verdict] || (b.worst ? severityWeight(b.worst) : 0) - (a.worst ? severityWeight(a.worst) : 0) || a.host.localeCompare(b.host))
  const findingList = [...findings.values()].sort((a, b) => bySeverity(a, b) || b.hosts.length - a.hosts.length || a.id.localeCompare(b.id))
  for (const f of findingList) f.hosts.sort((a, b) => a.host.localeCompare(b.host))
  const count = (v: GateVerdict) => hosts.filter((h) => h.verdict === v).length
  const view: FleetView = {
    fleetVersion: FLEET_VIEW_VERSION,
    failOn: options.failOn,
    allowUnchecked,
    summary: {hosts: hosts.length, failing: count('fail'), notChecked: count('not-checked'), passing: count('pass'), errors: current.errors.length + (options.baseline?.errors.length ?? 0)},
    hosts,
    findings: findingList,
    errors: current.errors,
  }
  if (options.baseline && before) {
    const resolved: NonNullable<FleetView['resolved']> = []
    for (const {report} of before.values()) {
      const now = latest.get(report.host)?.report
      // A host with no current report is not resolved: it was not looked at.
      if (!now) continue
      const keys = new Set(now.findings.map(findingKey))
      for (const f of report.findings) if (!keys.has(findingKey(f))) resolved.push({host: report.host, id: f.id, entity: {kind: f.entity.kind, name: f.entity.name}})
    }
    view.baseline = {hosts: before.size, errors: options.baseline.errors}
    view.resolved = resolved
    view.summary.newFindings = newFindings
    view.summary.resolvedFindings = resolved.length
  }
  return view
}

/**
 * The fleet's exit code: 2 when an input could not be read (the view is incomplete), else 1 when a host
 * fails --fail-on, else 4 when a host could not be checked at it (unless --allow-unchecked), else 0.
 */
export function fleetExitCode(view: FleetView): number {
  if (view.summary.errors > 0) return 2
  if (view.summary.failing > 0) return 1
  if (view.summary.notChecked > 0) return 4
  return 0
}
