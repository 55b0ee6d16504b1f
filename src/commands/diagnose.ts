import {Flags} from '@oclif/core'
import {KvmdoctorCommand} from '../core/command.js'
import {writeFile} from 'node:fs/promises'
import {FORMATS, type Format, render} from '../../reports/index.js'
import {toJsonReport} from '../../reports/json.js'
import {colorLevel, outputWidth} from '../../reports/style.js'
import {summaryLine} from '../../reports/summary.js'
import {checklist} from '../../reports/checks.js'
import type {Diagnosis} from '../core/diagnose.js'
import {DEFAULT_EXPECTATIONS_FILE, DEFAULT_IGNORE_FILE, runDiagnose} from '../core/diagnose-service.js'
import {EXIT, UserError, describeFailure} from '../core/errors.js'
import {type FailOn, SEVERITIES, atOrAbove} from '../core/severity.js'

/** Suppressed findings are not in d.findings, so they never count here. */
export function exitCodeFor(d: Diagnosis, failOn: FailOn): number {
  return d.findings.some((f) => atOrAbove(f.severity, failOn)) ? EXIT.findings : EXIT.clean
}

export default class Diagnose extends KvmdoctorCommand {
  static summary = 'Diagnose VM networking on this KVM/libvirt host (or on a recorded snapshot or bundle)'
  static description = `Reads links, routes, neighbours, sysctls, iptables/nftables, libvirt networks and domains, DHCP leases and listeners; matches them against known failure patterns; prints ranked findings with the commands that fix them. Read-only: nothing on the host is changed.

Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it, 2 usage error or bad input, 3 kvmdoctor itself failed.`

  static examples = [
    '<%= config.bin %> diagnose',
    '<%= config.bin %> diagnose --format json --fail-on critical',
    '<%= config.bin %> diagnose --checks',
    '<%= config.bin %> diagnose --format html -o report.html',
    '<%= config.bin %> diagnose --format sarif --output kvmdoctor.sarif',
    '<%= config.bin %> diagnose --record /tmp/snap',
    '<%= config.bin %> diagnose --from ticket-1234.tar.gz',
  ]

  static enableJsonFlag = true

  static flags = {
    format: Flags.string({char: 'f', summary: 'Report format (html: one self-contained file with a picture of the host).', options: [...FORMATS], default: 'text', exclusive: ['json']}),
    output: Flags.string({char: 'o', summary: 'Write the report to this file; print only the summary line.', exclusive: ['json']}),
    'fail-on': Flags.string({summary: 'Lowest severity that makes the exit code 1.', options: [...SEVERITIES, 'none'], default: 'high'}),
    ignore: Flags.string({summary: `Ignore file (default: ${DEFAULT_IGNORE_FILE} here, when present).`}),
    expect: Flags.string({summary: `Expectations file (default: ${DEFAULT_EXPECTATIONS_FILE} here, when present).`}),
    'show-suppressed': Flags.boolean({summary: 'List the findings the ignore file suppressed.', default: false}),
    timeout: Flags.integer({summary: 'Seconds each command may run before it is killed.', default: 5, min: 1, max: 600}),
    record: Flags.string({summary: 'Also write everything read into this snapshot directory.', exclusive: ['from']}),
    from: Flags.string({summary: 'Analyse a snapshot directory or a bundle (.tar.gz) instead of this host.', exclusive: ['record', 'active']}),
    active: Flags.boolean({summary: 'Allow probes that send packets (arp-scan on guest bridges).', default: false}),
    connect: Flags.string({char: 'c', summary: 'libvirt URI.', default: 'qemu:///system'}),
    checks: Flags.boolean({summary: 'Show every check that ran with PASS, WARN, FAIL or SKIP (text), in the manner of virt-host-validate.', default: false}),
    color: Flags.boolean({summary: 'Colour the text report (default: on a terminal, unless NO_COLOR is set; FORCE_COLOR forces it).', allowNo: true}),
    internet: Flags.string({summary: 'What stands for the internet in guests\' egress flows (ADDR[:PORT][/tcp|udp|icmp]; default 9.9.9.9:443/tcp, a lookup key never contacted).'}),
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(Diagnose)
    const json = this.jsonEnabled()
    const spinner = !json && process.stderr.isTTY && !flags.from ? (await import('ora')).default({text: 'probing host', stream: process.stderr}).start() : undefined
    try {
      const diagnosis = await runDiagnose(
        {
          from: flags.from,
          record: flags.record,
          timeoutMs: flags.timeout * 1000,
          options: {active: flags.active, libvirtUri: flags.connect, ...(flags.internet ? {internet: flags.internet} : {})},
          ignoreFile: flags.ignore,
          expectationsFile: flags.expect,
          version: this.config.version,
        },
        {now: () => new Date(), cwd: process.cwd()},
      )
      spinner?.stop()
      process.exitCode = exitCodeFor(diagnosis, flags['fail-on'] as FailOn)
      for (const e of diagnosis.expiredIgnores) this.logToStderr(`kvmdoctor: warning: ignore entry for ${e.rule}${e.entity ? ` (${e.entity})` : ''} expired on ${e.expires}: it no longer suppresses anything`)
      if (json) return flags.checks ? {...toJsonReport(diagnosis), checks: checklist(diagnosis)} : toJsonReport(diagnosis)
      const format = flags.format as Format
      if (flags.output) {
        const report = await render(diagnosis, format, {showSuppressed: flags['show-suppressed'], checks: flags.checks})
        await writeFile(flags.output, report).catch((error: Error) => {
          throw new UserError(`cannot write the report to ${flags.output}: ${error.message}`)
        })
        this.log(summaryLine(diagnosis))
      } else {
        const color = colorLevel({flag: flags.color})
        this.log((await render(diagnosis, format, {color, width: outputWidth(), showSuppressed: flags['show-suppressed'], checks: flags.checks})).trimEnd())
      }
      if (flags.record) this.logToStderr(`snapshot written to ${flags.record}`)
      return undefined
    } catch (error) {
      spinner?.stop()
      return this.fail(error, json)
    }
  }

  private fail(error: unknown, json: boolean): unknown {
    const failure = describeFailure(error)
    process.exitCode = failure.code
    if (json) return {error: {code: failure.code, message: failure.jsonMessage}}
    this.logToStderr(`kvmdoctor: ${failure.message}`)
    return undefined
  }
}
