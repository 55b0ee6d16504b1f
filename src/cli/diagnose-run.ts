/**
 * What `kvmdoctor diagnose` does with its parsed flags, without oclif: run by the oclif command and, for a plain live
 * diagnose, by bin/run.js before oclif would load (src/cli/quick-diagnose.ts). One body, so both print, gate and
 * report failures alike.
 */
import {type Format, type RenderOptions, render} from '../../reports/index.js'
import {summaryLine} from '../../reports/summary.js'
import {checklist} from '../../reports/checks.js'
import {type DiagnosisRun, publishOf} from '../core/diagnose.js'
import {userConfigDir} from '../core/config-file.js'
import {runDiagnose} from '../core/diagnose-service.js'
import {checkGuests, narrowToGuests} from '../core/narrow.js'
import {suggest} from './suggest.js'
import {reportableJson, reportableJsonLines, reportableJsonText} from '../../reports/json.js'
import {checkDiagnosisNames, docsBaseUrl, errorLine, reportable, requireNonEmpty, warnOnStderr} from '../core/output.js'
import {checkTarget, withLock, writeTextSafely} from '../core/safe-write.js'
import type {SshTarget} from '../core/ssh-runner.js'
import type {FailOn} from '../lib/severity.js'

/** diagnose's flags as oclif parses them (defaults filled in). */
export type DiagnoseFlags = {
  format: string
  output?: string
  'fail-on': string
  'allow-unchecked': boolean
  ignore?: string
  expect?: string
  'show-suppressed': boolean
  timeout: number
  deadline: number
  record?: string
  from?: string
  active: boolean
  connect: string
  checks: boolean
  color?: boolean
  listen?: number
  publish?: string[]
  internet?: string
  ssh?: string
  'ssh-option'?: string[]
}

/** How the command speaks: oclif's Command, or the console for a run without oclif. */
export interface CommandIO {
  /** --json (or KVMDOCTOR_CONTENT_TYPE=json): the returned report is printed by the caller. */
  json: boolean
  version: string
  log(text: string): void
  logToStderr(text: string): void
  stderr(text: string): void
  reportFailure(error: unknown): void
}

/** The report in a format, made safe (JSON is scrubbed after projection: see reportableJson). */
async function renderReport(d: DiagnosisRun, format: Format, options: RenderOptions): Promise<string> {
  return format === 'json' ? reportableJsonText(d, options.gate) : render(reportable(d, format), format, {...options, ...(format === 'sarif' ? {docsUrl: docsBaseUrl()} : {})})
}

/** Diagnoses as FLAGS ask (over SSH when SSH is given), narrowed to GUESTS; returns the report object only with --json. */
export async function runDiagnoseCommand(flags: DiagnoseFlags, ssh: SshTarget | undefined, guests: string[], io: CommandIO): Promise<unknown> {
  const {json} = io
  const spinner = !json && process.stderr.isTTY && flags.from === undefined ? (await import('ora')).default({text: 'probing host', stream: process.stderr}).start() : undefined
  try {
    requireNonEmpty(flags, ['from', 'record', 'output', 'ignore', 'expect', 'connect', 'ssh'])
    // A report path that cannot be written is refused before the run, and held against a second run.
    const output = flags.output === undefined ? undefined : await checkTarget(flags.output, 'the report')
    const failOn = flags['fail-on'] as FailOn
    const publish = publishOf(flags.publish)
    const diagnose = () =>
      runDiagnose(
        {
          from: flags.from,
          ssh,
          record: flags.record,
          timeoutMs: flags.timeout * 1000,
          deadlineMs: (flags.deadline + (flags.listen ?? 0)) * 1000,
          options: {active: flags.active, libvirtUri: flags.connect, ...(flags.internet ? {internet: flags.internet} : {}), ...(flags.listen ? {listen: flags.listen} : {})},
          publish,
          ignoreFile: flags.ignore,
          expectationsFile: flags.expect,
          version: io.version,
          warn: warnOnStderr,
        },
        {now: () => new Date(), configDir: userConfigDir()},
      ).then((d) => {
        checkDiagnosisNames(d)
        if (guests.length === 0) return d
        checkGuests(d, guests, suggest)
        return narrowToGuests(d, guests)
      })
    const result: DiagnosisRun = await (output === undefined
      ? diagnose()
      : withLock(output, 'the report', async () => {
          const d = await diagnose()
          const {gateDecision} = await import('../core/gate.js')
          const report = await renderReport(d, flags.format as Format, {showSuppressed: flags['show-suppressed'], checks: flags.checks, gate: gateDecision(d, failOn, flags['allow-unchecked'])})
          // 0600 like every file kvmdoctor writes, but node_exporter's textfile collector runs as another user.
          await writeTextSafely(output, report, {what: 'the report', ...(flags.format === 'prometheus' ? {mode: 0o644} : {})})
          return d
        }))
    spinner?.stop()
    // The gate reads the rule catalogue: loaded after the probes, like the rest of the analysis.
    const {gateDecision, uncheckedMessage} = await import('../core/gate.js')
    const gate = gateDecision(result, failOn, flags['allow-unchecked'])
    process.exitCode = gate.exitCode
    for (const e of result.expiredIgnores) warnOnStderr(`ignore entry for ${e.rule}${e.entity ? ` (${e.entity})` : ''} expired on ${e.expires}: it no longer suppresses anything`)
    for (const p of result.probes) for (const missing of p.degraded ?? []) warnOnStderr(`probe ${p.id} ran on partial data: ${missing}`)
    // After the report, in every mode: a CI log shows why the gate did not pass, --json output stays clean.
    const explainGate = () => gate.verdict === 'not-checked' && io.stderr(errorLine(`kvmdoctor: ${uncheckedMessage(gate)}`))
    if (json) {
      explainGate()
      const report = reportableJson(result, gate)
      return flags.checks ? {...report, checks: checklist(reportable(result, 'json'))} : report
    }
    const format = flags.format as Format
    if (output !== undefined) io.log(errorLine(summaryLine(reportable(result, format))))
    else if (format === 'json') {
      // A piece at a time, each flow projected as it is written: no copy of the report to hold beside the diagnosis.
      for (const chunk of reportableJsonLines(result, gate)) io.log(chunk)
    } else {
      // Colour and width are the text report's alone (and they load chalk).
      const terminal = format === 'text' ? await import('../../reports/style.js') : undefined
      ;(globalThis as any).__kdmark?.('render-start', result)
      const rendered = (await renderReport(result, format, {color: terminal?.colorLevel({flag: flags.color}) ?? 0, width: terminal?.outputWidth(), showSuppressed: flags['show-suppressed'], checks: flags.checks, gate})).trimEnd()
      ;(globalThis as any).__kdmark?.('rendered')
      io.log(rendered)
      ;(globalThis as any).__kdmark?.('logged')
    }
    if (flags.record) io.logToStderr(errorLine(`snapshot written to ${flags.record}`))
    explainGate()
    return undefined
  } catch (error) {
    spinner?.stop()
    io.reportFailure(error)
    return undefined
  }
}
