import {Flags} from '@oclif/core'
import {KvmdoctorCommand} from '../core/command.js'
import {createBundle} from '../core/bundle.js'
import {UserError, describeFailure} from '../core/errors.js'
import {LiveRunner} from '../core/live-runner.js'

export default class Bundle extends KvmdoctorCommand {
  static summary = 'Write a support bundle: everything read from this host, the facts, the findings and a report, in one .tar.gz'
  static description = `Attach the bundle to a ticket; anyone can analyse it later with \`kvmdoctor diagnose --from FILE\` and get the same findings. Passwords, keys and secrets are always removed. With --redact, addresses, MACs and names are replaced by consistent pseudonyms; the mapping is written beside the bundle, never inside it.

This is the one command that writes a file; it changes nothing else on the host.`

  static examples = ['<%= config.bin %> bundle', '<%= config.bin %> bundle -o /tmp/ticket-1234.tar.gz --redact']

  static flags = {
    output: Flags.string({char: 'o', summary: 'Where to write the bundle (default: kvmdoctor-HOST-TIME.tar.gz here).'}),
    redact: Flags.boolean({summary: 'Replace addresses, MACs and names with consistent pseudonyms.', default: false}),
    active: Flags.boolean({summary: 'Allow probes that send packets (arp-scan on guest bridges).', default: false}),
    timeout: Flags.integer({summary: 'Seconds each command may run before it is killed.', default: 5, min: 1, max: 600}),
    connect: Flags.string({char: 'c', summary: 'libvirt URI.', default: 'qemu:///system'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Bundle)
    const spinner = process.stderr.isTTY ? (await import('ora')).default({text: 'collecting', stream: process.stderr}).start() : undefined
    try {
      const runner = new LiveRunner({timeoutMs: flags.timeout * 1000})
      const result = await createBundle({runner, options: {active: flags.active, libvirtUri: flags.connect}, version: this.config.version, output: flags.output, redact: flags.redact}).catch((error: NodeJS.ErrnoException) => {
        throw error.code ? new UserError(`cannot write the bundle: ${error.message}`) : error
      })
      spinner?.stop()
      this.log(`bundle written to ${result.path} (${(result.bytes / 1024).toFixed(1)} KiB)`)
      if (result.mapPath) this.log(`redaction mapping (keep it, do not attach it): ${result.mapPath}`)
      const roots = result.diagnosis.findings.filter((f) => !f.explainedBy && f.severity !== 'info').slice(0, 5)
      this.log(roots.length === 0 ? 'no findings above info' : 'top findings:')
      for (const f of roots) this.log(`  ${f.rank}. [${f.severity.toUpperCase()}] ${f.id} (${f.entity.kind} ${f.entity.name}): ${f.title}`)
    } catch (error) {
      spinner?.stop()
      const failure = describeFailure(error)
      this.logToStderr(`kvmdoctor: ${failure.message}`)
      process.exitCode = failure.code
    }
  }
}
