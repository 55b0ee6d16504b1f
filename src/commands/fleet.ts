import {Args, Flags} from '@oclif/core'
import {FLEET_FORMATS, type FleetFormat, renderFleet} from '../../reports/fleet.js'
import {toJsonReport} from '../../reports/json.js'
import {KvmdoctorCommand} from '../cli/command.js'
import {type FleetInputs, fleetExitCode, fleetView, readFleetInputs} from '../core/fleet.js'
import {errorLine, requireNonEmpty, visibleControlsDeep} from '../core/output.js'
import {checkTarget, withLock, writeTextSafely} from '../core/safe-write.js'
import {UserError} from '../core/errors.js'
import {scrubDeep} from '../lib/scrub.js'
import {type FailOn, SEVERITIES} from '../lib/severity.js'

export default class Fleet extends KvmdoctorCommand {
  static summary = "Many hosts' results in one view: per finding the hosts it is on, per host its worst severity and root causes"
  static description = `Reads kvmdoctor's JSON reports (diagnose --format json, --json, Ansible's kvmdoctor.fact) and support bundles (analysed as diagnose --from does) of many hosts, from files or directories (their *.json, *.fact, *.tar.gz and *.tgz files), and prints one view. A host given twice counts by its newest report. With --baseline (the previous run's reports), findings new since then are marked and the resolved ones listed. An input that is not a report (truncated JSON, a bundle whose checksums do not match, kvmdoctor's error object) is listed as an input error.

Exit codes: 0 every host passes --fail-on, 1 a host has findings at or above it, 2 usage error or an input (or baseline) could not be read (the view is printed without it), 4 no host fails but one could not be checked at --fail-on (--allow-unchecked turns this into 0).`

  static examples = [
    '<%= config.bin %> fleet reports/',
    '<%= config.bin %> fleet reports/ --baseline reports.yesterday/ --format md',
    '<%= config.bin %> fleet hv1.json hv2.json ticket-1234.tar.gz --format html -o fleet.html',
    '<%= config.bin %> fleet reports/ --json --fail-on critical',
  ]

  static strict = false
  static args = {inputs: Args.string({description: 'report files, bundles, or directories holding them', required: true})}
  static enableJsonFlag = true

  static flags = {
    format: Flags.string({char: 'f', summary: 'Output format.', options: [...FLEET_FORMATS], default: 'text', exclusive: ['json']}),
    output: Flags.string({char: 'o', summary: 'Write the view to this file (atomically); print only its headline.', exclusive: ['json']}),
    baseline: Flags.string({summary: 'The previous run\'s reports (a directory or files; repeatable): what is new since then, what was resolved.', multiple: true}),
    'fail-on': Flags.string({summary: 'Lowest severity that fails a host (exit 1).', options: [...SEVERITIES, 'none'], default: 'high'}),
    'allow-unchecked': Flags.boolean({summary: 'Exit 0 instead of 4 when a host could not be checked at --fail-on.', default: false}),
  }

  async run(): Promise<unknown> {
    const {argv, flags} = await this.parse(Fleet)
    try {
      requireNonEmpty(flags, ['output'])
      const inputs = argv as string[]
      if (inputs.length === 0) throw new UserError('name the reports: kvmdoctor fleet DIR|FILE...')
      const output = flags.output === undefined ? undefined : await checkTarget(flags.output, 'the fleet view')
      const deps = {toReport: (d: Parameters<typeof toJsonReport>[0]) => toJsonReport(d), version: this.config.version}
      const read = (paths: string[]): Promise<FleetInputs> => readFleetInputs(paths, deps)
      const [current, baseline] = await Promise.all([read(inputs), flags.baseline ? read(flags.baseline) : undefined])
      // Host data leaves scrubbed of secrets (a report is a file anyone may have edited).
      const view = scrubDeep(fleetView(current, {failOn: flags['fail-on'] as FailOn, allowUnchecked: flags['allow-unchecked'], baseline}))
      process.exitCode = fleetExitCode(view)
      const format = flags.format as FleetFormat
      // The text view lists them itself; beside JSON or a written file, a log still shows why the exit is 2.
      if (this.jsonEnabled() || format !== 'text' || output !== undefined) {
        for (const e of [...view.errors, ...(view.baseline?.errors ?? [])]) process.stderr.write(`${errorLine(`kvmdoctor: fleet: cannot read ${e.source}: ${e.message}`)}\n`)
      }
      // Printed here, not returned: oclif would colourise (tokenise) the whole view first, a third of the time of 500 hosts.
      if (this.jsonEnabled()) {
        process.stdout.write(JSON.stringify(view, null, 2) + '\n')
        return undefined
      }
      const render = async () => {
        if (format === 'json') return JSON.stringify(view, null, 2) + '\n'
        const style = format === 'text' && output === undefined ? await import('../../reports/style.js') : undefined
        return renderFleet(format === 'html' ? view : visibleControlsDeep(view), format, {style: style?.makeStyle(style.colorLevel({}))})
      }
      if (output === undefined) {
        this.log((await render()).trimEnd())
        return undefined
      }
      await withLock(output, 'the fleet view', async () => writeTextSafely(output, await render(), {what: 'the fleet view'}))
      const {fleetHeadline} = await import('../../reports/fleet.js')
      this.log(errorLine(fleetHeadline(view)))
      return undefined
    } catch (error) {
      this.reportFailure(error)
      return undefined
    }
  }
}
