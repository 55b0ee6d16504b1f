import {Args, Flags, ux} from '@oclif/core'
import {FORMATS, type Format, type RenderOptions, render} from '../../reports/index.js'
import {summaryLine} from '../../reports/summary.js'
import {checklist} from '../../reports/checks.js'
import {KvmdoctorCommand} from '../cli/command.js'
import {type DiagnosisRun, publishOf} from '../core/diagnose.js'
import {CONFIG_FILES, userConfigDir} from '../core/config-file.js'
import {runDiagnose} from '../core/diagnose-service.js'
import {LIVE_READ_DEFAULTS} from '../core/early-probes.js'
import {checkGuests, narrowToGuests} from '../core/narrow.js'
import {suggest} from '../cli/suggest.js'
import {reportableJson, reportableJsonText} from '../../reports/json.js'
import {checkDiagnosisNames, docsBaseUrl, errorLine, reportable, requireNonEmpty, warnOnStderr} from '../core/output.js'
import {checkTarget, withLock, writeTextSafely} from '../core/safe-write.js'
import {sshFlags, sshTargetOf} from '../cli/ssh-flags.js'
import {type FailOn, SEVERITIES} from '../lib/severity.js'

/** The report in a format, made safe (JSON is scrubbed after projection: see reportableJson). */
async function renderReport(d: DiagnosisRun, format: Format, options: RenderOptions): Promise<string> {
  return format === 'json' ? reportableJsonText(d, options.gate) : render(reportable(d, format), format, {...options, ...(format === 'sarif' ? {docsUrl: docsBaseUrl()} : {})})
}

export default class Diagnose extends KvmdoctorCommand {
  static summary = 'Diagnose VM networking on this KVM/libvirt host (or on a recorded snapshot or bundle)'
  static description = `Reads links, routes, neighbours, sysctls, iptables/nftables, libvirt networks and domains, DHCP leases and listeners; matches them against known failure patterns; prints ranked findings with the commands that fix them. Read-only: nothing on the host is changed.

Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it, 2 usage error or bad input, 3 kvmdoctor itself failed, 4 not checked: no finding at or above --fail-on, but a rule that could report one could not be checked (its probes could not run; --allow-unchecked turns this into 0).

Configuration: the ignore file and the expectations file are read from --ignore and --expect, or else from $XDG_CONFIG_HOME/kvmdoctor/ (default ~/.config/kvmdoctor/: ${CONFIG_FILES.ignore}, ${CONFIG_FILES.expectations}; refused when another user owns or can write them), never from the working directory or a snapshot or bundle.`

  static examples = [
    '<%= config.bin %> diagnose',
    '<%= config.bin %> diagnose --format json --fail-on critical',
    '<%= config.bin %> diagnose --checks',
    '<%= config.bin %> diagnose web01 db01',
    '<%= config.bin %> diagnose --format html -o report.html',
    '<%= config.bin %> diagnose --format sarif --output kvmdoctor.sarif',
    '<%= config.bin %> diagnose --record /tmp/snap',
    '<%= config.bin %> diagnose --from ticket-1234.tar.gz',
    '<%= config.bin %> diagnose --ssh root@hv12.example.com --format json -o hv12.json',
  ]

  static enableJsonFlag = true
  static strict = false
  static args = {guest: Args.string({description: 'only these guests: their findings, flows and the host-wide causes that reach them', required: false})}

  static flags = {
    format: Flags.string({char: 'f', summary: 'Report format (html: one self-contained file with a picture of the host).', options: [...FORMATS], default: 'text', exclusive: ['json']}),
    output: Flags.string({char: 'o', summary: 'Write the report to this file (atomically: temporary file, then rename); print only the summary line.', exclusive: ['json']}),
    'fail-on': Flags.string({summary: 'Lowest severity that makes the exit code 1.', options: [...SEVERITIES, 'none'], default: 'high'}),
    'allow-unchecked': Flags.boolean({summary: 'Exit 0 instead of 4 when rules at or above --fail-on could not be checked.', default: false}),
    ignore: Flags.string({summary: `Ignore file (default: $XDG_CONFIG_HOME/kvmdoctor/${CONFIG_FILES.ignore}, or ~/.config/kvmdoctor/${CONFIG_FILES.ignore}, when present; never the working directory).`}),
    expect: Flags.string({summary: `Expectations file (default: $XDG_CONFIG_HOME/kvmdoctor/${CONFIG_FILES.expectations}, or ~/.config/kvmdoctor/${CONFIG_FILES.expectations}, when present; never the working directory).`}),
    'show-suppressed': Flags.boolean({summary: 'List the findings the ignore file suppressed.', default: false}),
    timeout: Flags.integer({summary: 'Seconds each command may run before it is killed.', default: LIVE_READ_DEFAULTS.timeoutSeconds, min: 1, max: 600}),
    deadline: Flags.integer({summary: 'Seconds the whole live run may take; then commands still running are stopped and the report says what could not be read.', default: LIVE_READ_DEFAULTS.deadlineSeconds, min: 1, max: 3600}),
    record: Flags.string({summary: 'Also write everything read into this snapshot directory.', exclusive: ['from']}),
    from: Flags.string({summary: 'Analyse a snapshot directory or a bundle (.tar.gz) instead of this host.', exclusive: ['record', 'active']}),
    active: Flags.boolean({summary: 'Allow probes that send packets (arp-scan on guest bridges).', default: false}),
    connect: Flags.string({char: 'c', summary: 'libvirt URI.', default: LIVE_READ_DEFAULTS.libvirtUri}),
    checks: Flags.boolean({summary: 'Show every check that ran with PASS, WARN, FAIL or SKIP (text), in the manner of virt-host-validate.', default: false}),
    color: Flags.boolean({summary: 'Colour the text report (default: on a terminal, unless NO_COLOR is set; FORCE_COLOR forces it).', allowNo: true}),
    listen: Flags.integer({summary: 'Also listen this many seconds on every running guest\'s tap (tcpdump, passive: sends nothing; root): what guests really send (ARP, DHCP, source addresses). All taps at once; the time comes on top of --deadline.', min: 1, max: 600, exclusive: ['from']}),
    publish: Flags.string({summary: 'A service a guest is expected to offer from outside, GUEST:PORT/tcp|udp (repeatable): followed from outside like the host\'s own forwards, a finding when nothing forwards it or something drops it.', multiple: true}),
    internet: Flags.string({summary: 'What stands for the internet in guests\' egress flows (ADDR[:PORT][/tcp|udp|icmp]; default 9.9.9.9:443/tcp, a lookup key never contacted).'}),
    ...sshFlags(['from']),
  }

  async run(): Promise<unknown> {
    const {argv, flags} = await this.parse(Diagnose)
    const guests = argv as string[]
    const json = this.jsonEnabled()
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
            ssh: sshTargetOf(flags),
            record: flags.record,
            timeoutMs: flags.timeout * 1000,
            deadlineMs: (flags.deadline + (flags.listen ?? 0)) * 1000,
            options: {active: flags.active, libvirtUri: flags.connect, ...(flags.internet ? {internet: flags.internet} : {}), ...(flags.listen ? {listen: flags.listen} : {})},
            publish,
            ignoreFile: flags.ignore,
            expectationsFile: flags.expect,
            version: this.config.version,
            warn: warnOnStderr,
          },
          {now: () => new Date(), configDir: userConfigDir()},
        ).then((d) => {
          checkDiagnosisNames(d)
          if (guests.length === 0) return d
          checkGuests(d, guests, suggest)
          return narrowToGuests(d, guests)
        })
      const result = await (output === undefined
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
      const explainGate = () => gate.verdict === 'not-checked' && ux.stderr(errorLine(`kvmdoctor: ${uncheckedMessage(gate)}`))
      if (json) {
        explainGate()
        const report = reportableJson(result, gate)
        return flags.checks ? {...report, checks: checklist(reportable(result, 'json'))} : report
      }
      const format = flags.format as Format
      if (output !== undefined) this.log(errorLine(summaryLine(reportable(result, format))))
      else {
        // Colour and width are the text report's alone (and they load chalk).
        const terminal = format === 'text' ? await import('../../reports/style.js') : undefined
        this.log((await renderReport(result, format, {color: terminal?.colorLevel({flag: flags.color}) ?? 0, width: terminal?.outputWidth(), showSuppressed: flags['show-suppressed'], checks: flags.checks, gate})).trimEnd())
      }
      if (flags.record) this.logToStderr(errorLine(`snapshot written to ${flags.record}`))
      explainGate()
      return undefined
    } catch (error) {
      spinner?.stop()
      this.reportFailure(error)
      return undefined
    }
  }
}
