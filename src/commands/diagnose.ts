import {Command, Flags} from '@oclif/core'
import ora from 'ora'
import {renderJson, toJsonReport} from '../../reports/json.js'
import {renderMarkdown} from '../../reports/markdown.js'
import {renderTerminal} from '../../reports/terminal.js'
import {type Diagnosis, diagnose} from '../core/diagnose.js'
import {UserError} from '../core/errors.js'
import {type FailOn, SEVERITIES, atOrAbove} from '../core/severity.js'
import {writeSnapshot} from '../core/snapshot.js'
import {openSource} from '../core/source.js'

export const EXIT = {clean: 0, findings: 1, usage: 2, internal: 3} as const

export function exitCodeFor(d: Diagnosis, failOn: FailOn): number {
  return d.findings.some((f) => atOrAbove(f.severity, failOn)) ? EXIT.findings : EXIT.clean
}

export default class Diagnose extends Command {
  static summary = 'Diagnose VM networking on this KVM/libvirt host (or on a recorded snapshot)'
  static description = `Reads links, routes, neighbours, sysctls, iptables/nftables, libvirt networks and domains, DHCP leases and listeners; matches them against known failure patterns; prints ranked findings with the commands that fix them. Read-only: nothing on the host is changed.

Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it, 2 usage error or bad input, 3 kvmdoctor itself failed.`

  static examples = [
    '<%= config.bin %> diagnose',
    '<%= config.bin %> diagnose --format json --fail-on critical',
    '<%= config.bin %> diagnose --record /tmp/snap',
    '<%= config.bin %> diagnose --from /tmp/snap',
  ]

  static enableJsonFlag = true

  static flags = {
    format: Flags.string({char: 'f', summary: 'Report format.', options: ['text', 'md', 'json'], default: 'text'}),
    'fail-on': Flags.string({summary: 'Lowest severity that makes the exit code 1.', options: [...SEVERITIES, 'none'], default: 'high'}),
    timeout: Flags.integer({summary: 'Seconds each command may run before it is killed.', default: 5, min: 1, max: 600}),
    record: Flags.string({summary: 'Also write everything read into this snapshot directory.', exclusive: ['from']}),
    from: Flags.string({summary: 'Analyse a snapshot directory or a bundle (.tar.gz) instead of this host.', exclusive: ['record', 'active']}),
    active: Flags.boolean({summary: 'Allow probes that send packets (arp-scan on guest bridges).', default: false}),
    connect: Flags.string({char: 'c', summary: 'libvirt URI.', default: 'qemu:///system'}),
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(Diagnose)
    const json = this.jsonEnabled()
    const spinner = !json && process.stderr.isTTY && !flags.from ? ora({text: 'probing host', stream: process.stderr}).start() : undefined
    try {
      const source = await openSource({from: flags.from, record: flags.record, timeoutMs: flags.timeout * 1000})
      const {runner, recorder} = source
      const options = source.recordedOptions ?? {active: flags.active, libvirtUri: flags.connect}
      const diagnosis = await diagnose({runner, options, version: this.config.version}).finally(() => source.close())
      if (recorder && flags.record) {
        await writeSnapshot(flags.record, recorder.all(), {kvmdoctorVersion: this.config.version, capturedAt: runner.capturedAt, host: diagnosis.host, kernel: kernelOf(diagnosis), options}).catch((error: Error) => {
          throw new UserError(`cannot write the snapshot to ${flags.record}: ${error.message}`)
        })
      }
      spinner?.stop()
      process.exitCode = exitCodeFor(diagnosis, flags['fail-on'] as FailOn)
      if (json) return toJsonReport(diagnosis)
      if (flags.format === 'json') this.log(renderJson(diagnosis).trimEnd())
      else if (flags.format === 'md') this.log(renderMarkdown(diagnosis))
      else this.log(renderTerminal(diagnosis, Boolean(process.stdout.isTTY)))
      if (flags.record) this.logToStderr(`snapshot written to ${flags.record}`)
      return undefined
    } catch (error) {
      spinner?.stop()
      return this.fail(error, json)
    }
  }

  private fail(error: unknown, json: boolean): unknown {
    const user = error instanceof UserError
    const code = user ? EXIT.usage : EXIT.internal
    const message = user ? (error as Error).message : `internal error: ${process.env.KVMDOCTOR_DEBUG ? (error as Error)?.stack : (error as Error)?.message ?? String(error)} (KVMDOCTOR_DEBUG=1 shows the stack)`
    process.exitCode = code
    if (json) return {error: {code, message: user ? message : (error as Error).message}}
    this.logToStderr(`kvmdoctor: ${message}`)
    return undefined
  }
}

function kernelOf(d: Diagnosis): string | undefined {
  const host = d.facts.host
  return host?.ok ? (host.data as {kernel: string}).kernel : undefined
}

