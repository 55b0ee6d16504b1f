import {Command, Flags} from '@oclif/core'
import {FORMATS, type Format, render} from '../../reports/index.js'
import {toJsonReport} from '../../reports/json.js'
import {summaryLine} from '../../reports/summary.js'
import {DEFAULT_EXPECTATIONS_FILE, DEFAULT_IGNORE_FILE, runDiagnose} from '../core/diagnose-service.js'
import {EXIT, describeFailure} from '../core/errors.js'
import {checkDiagnosisNames, errorLine, reportable, requireNonEmpty, usageErrorText} from '../core/output.js'
import {checkTarget, withLock, writeTextSafely} from '../core/safe-write.js'
import {scrubText} from '../core/scrub.js'
import {type FailOn, SEVERITIES} from '../core/severity.js'
import {exitCodeFor, inconclusiveReason} from '../core/verdict.js'

export {exitCodeFor} from '../core/verdict.js'

export default class Diagnose extends Command {
  static summary = 'Diagnose VM networking on this KVM/libvirt host (or on a recorded snapshot or bundle)'
  static description = `Reads links, routes, neighbours, sysctls, iptables/nftables, libvirt networks and domains, DHCP leases and listeners; matches them against known failure patterns; prints ranked findings with the commands that fix them. Read-only: nothing on the host is changed.

Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it, 2 usage error or bad input, 3 kvmdoctor itself failed, 4 inconclusive (nothing at or above --fail-on, but the libvirt probe, or every rule able to reach --fail-on, could not be checked).`

  static examples = [
    '<%= config.bin %> diagnose',
    '<%= config.bin %> diagnose --format json --fail-on critical',
    '<%= config.bin %> diagnose --format sarif --output kvmdoctor.sarif',
    '<%= config.bin %> diagnose --record /tmp/snap',
    '<%= config.bin %> diagnose --from ticket-1234.tar.gz',
  ]

  static enableJsonFlag = true

  static flags = {
    format: Flags.string({char: 'f', summary: 'Report format.', options: [...FORMATS], default: 'text'}),
    output: Flags.string({char: 'o', summary: 'Write the report to this file; print only the summary line.'}),
    'fail-on': Flags.string({summary: 'Lowest severity that makes the exit code 1.', options: [...SEVERITIES, 'none'], default: 'high'}),
    ignore: Flags.string({summary: `Ignore file (default: ${DEFAULT_IGNORE_FILE} here, when present).`}),
    expect: Flags.string({summary: `Expectations file (default: ${DEFAULT_EXPECTATIONS_FILE} here, when present).`}),
    'show-suppressed': Flags.boolean({summary: 'List the findings the ignore file suppressed.', default: false}),
    timeout: Flags.integer({summary: 'Seconds each command may run before it is killed.', default: 5, min: 1, max: 600}),
    deadline: Flags.integer({summary: 'Seconds the whole live run may take; then commands still running are stopped and the report says what could not be read.', default: 120, min: 1, max: 3600}),
    record: Flags.string({summary: 'Also write everything read into this snapshot directory.', exclusive: ['from']}),
    from: Flags.string({summary: 'Analyse a snapshot directory or a bundle (.tar.gz) instead of this host.', exclusive: ['record', 'active']}),
    active: Flags.boolean({summary: 'Allow probes that send packets (arp-scan on guest bridges).', default: false}),
    connect: Flags.string({char: 'c', summary: 'libvirt URI.', default: 'qemu:///system'}),
    internet: Flags.string({summary: 'What stands for the internet in guests\' egress flows (ADDR[:PORT][/tcp|udp|icmp]; default 9.9.9.9:443/tcp, a lookup key never contacted).'}),
  }

  /** Under --json a usage error is the same JSON error object as any other, with exit 2 (oclif's default: exit 1, its own shape). */
  protected async catch(error: Error & {exitCode?: number}): Promise<unknown> {
    const usage = usageErrorText(error)
    if (usage === undefined || !this.jsonEnabled()) return super.catch(error)
    process.exitCode = 2
    this.logJson({error: {code: 2, message: usage}})
    return undefined
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(Diagnose)
    const json = this.jsonEnabled()
    const spinner = !json && process.stderr.isTTY && flags.from === undefined ? (await import('ora')).default({text: 'probing host', stream: process.stderr}).start() : undefined
    try {
      requireNonEmpty(flags, ['from', 'record', 'output', 'ignore', 'expect', 'connect'])
      // A report path that cannot be written is refused before the run, and held against a second run.
      const output = flags.output === undefined ? undefined : await checkTarget(flags.output, 'the report')
      const diagnose = () =>
        runDiagnose(
          {
            from: flags.from,
            record: flags.record,
            timeoutMs: flags.timeout * 1000,
            deadlineMs: flags.deadline * 1000,
            options: {active: flags.active, libvirtUri: flags.connect, ...(flags.internet ? {internet: flags.internet} : {})},
            ignoreFile: flags.ignore,
            expectationsFile: flags.expect,
            version: this.config.version,
          },
          {now: () => new Date(), cwd: process.cwd()},
        ).then((d) => {
          checkDiagnosisNames(d)
          return d
        })
      const failOn = flags['fail-on'] as FailOn
      const result = await (output === undefined ? diagnose() : withLock(output, 'the report', async () => {
        const d = await diagnose()
        const report = await render(reportable(d, flags.format), flags.format as Format, {tty: false, showSuppressed: flags['show-suppressed']})
        await writeTextSafely(output, report, {what: 'the report'})
        return d
      }))
      spinner?.stop()
      process.exitCode = exitCodeFor(result, failOn)
      // Straight to stderr: oclif drops logToStderr under --json, and these matter there too.
      const warn = (line: string) => process.stderr.write(`${errorLine(line)}\n`)
      for (const e of result.expiredIgnores) warn(`kvmdoctor: warning: ignore entry for ${e.rule}${e.entity ? ` (${e.entity})` : ''} expired on ${e.expires}: it no longer suppresses anything`)
      for (const p of result.probes) for (const missing of p.degraded ?? []) warn(`kvmdoctor: warning: probe ${p.id} ran on partial data: ${missing}`)
      const undecided = inconclusiveReason(result, failOn)
      if (undecided && process.exitCode === EXIT.unchecked) warn(`kvmdoctor: inconclusive (exit 4): ${undecided}; no finding here does not mean healthy`)
      if (json) return toJsonReport(reportable(result, 'json'))
      const format = flags.format as Format
      if (output !== undefined) this.log(errorLine(summaryLine(reportable(result, format))))
      else this.log((await render(reportable(result, format), format, {tty: Boolean(process.stdout.isTTY), showSuppressed: flags['show-suppressed']})).trimEnd())
      if (flags.record) this.logToStderr(errorLine(`snapshot written to ${flags.record}`))
      return undefined
    } catch (error) {
      spinner?.stop()
      return this.fail(error, json)
    }
  }

  private fail(error: unknown, json: boolean): unknown {
    const failure = describeFailure(error)
    process.exitCode = failure.code
    if (json) return {error: {code: failure.code, message: scrubText(failure.jsonMessage)}}
    this.logToStderr(errorLine(`kvmdoctor: ${failure.message}`))
    return undefined
  }
}
