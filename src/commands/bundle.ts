import {Flags} from '@oclif/core'
import {bundleReports} from '../../reports/bundle-files.js'
import {createBundle} from '../core/bundle.js'
import {KvmdoctorCommand} from '../cli/command.js'
import {openLiveRunner} from '../core/source.js'
import {sshFlags, sshTargetOf} from '../cli/ssh-flags.js'
import {errorLine, requireNonEmpty} from '../core/output.js'

export default class Bundle extends KvmdoctorCommand {
  static summary = 'Write a support bundle: everything read from this host, the facts, the findings and a report, in one .tar.gz'
  static description = `Attach the bundle to a ticket; anyone can analyse it later with \`kvmdoctor diagnose --from FILE\` and get the same findings (checked against the bundle's SHA256SUMS). Passwords, keys and secrets are always removed. With --redact, addresses, MACs and names are replaced by consistent pseudonyms (private addresses stay private); the mapping is written beside the bundle, never inside it, or with --redact-map into one map file that later bundles of this host or others reuse and extend.

This is the one command that writes a file; it changes nothing else on the host.`

  static examples = ['<%= config.bin %> bundle', '<%= config.bin %> bundle -o /tmp/ticket-1234.tar.gz --redact', '<%= config.bin %> bundle --redact --redact-map ~/fleet.redaction-map.json', '<%= config.bin %> bundle --listen 10', '<%= config.bin %> bundle --ssh root@hv12.example.com -o hv12.tar.gz']

  static flags = {
    output: Flags.string({char: 'o', summary: 'Where to write the bundle (default: kvmdoctor-HOST-TIME.tar.gz here).'}),
    redact: Flags.boolean({summary: 'Replace addresses, MACs and names with consistent pseudonyms.', default: false}),
    // Checked by createBundle: oclif's dependsOn counts --redact's default as given.
    'redact-map': Flags.string({summary: 'With --redact: reuse and extend this redaction map (created if absent; an existing one must be a regular file of mode 0600), so bundles of a host or a fleet share pseudonyms.'}),
    active: Flags.boolean({summary: 'Allow probes that send packets (arp-scan on guest bridges).', default: false}),
    timeout: Flags.integer({summary: 'Seconds each command may run before it is killed.', default: 5, min: 1, max: 600}),
    deadline: Flags.integer({summary: 'Seconds the whole run may take; then commands still running are stopped and the bundle says what could not be read.', default: 120, min: 1, max: 3600}),
    connect: Flags.string({char: 'c', summary: 'libvirt URI.', default: 'qemu:///system'}),
    listen: Flags.integer({summary: 'Also listen this many seconds on every running guest\'s tap (tcpdump, passive: sends nothing; root): what guests really send (ARP, DHCP, source addresses). All taps at once; the time comes on top of --deadline.', min: 1, max: 600}),
    ...sshFlags(),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Bundle)
    const spinner = process.stderr.isTTY ? (await import('ora')).default({text: 'collecting', stream: process.stderr}).start() : undefined
    try {
      requireNonEmpty(flags, ['output', 'connect', 'redact-map', 'ssh'])
      const live = await openLiveRunner({ssh: sshTargetOf(flags), timeoutMs: flags.timeout * 1000, deadlineMs: (flags.deadline + (flags.listen ?? 0)) * 1000})
      const result = await createBundle({runner: live.runner, options: {active: flags.active, libvirtUri: flags.connect, ...(flags.listen ? {listen: flags.listen} : {})}, version: this.config.version, output: flags.output, redact: flags.redact, redactMap: flags['redact-map'], reports: bundleReports}).finally(() => live.close())
      spinner?.stop()
      this.log(errorLine(`bundle written to ${result.path} (${(result.bytes / 1024).toFixed(1)} KiB)`))
      if (result.mapPath) this.log(errorLine(`redaction mapping (keep it, do not attach it): ${result.mapPath}`))
      if (result.replayChanged) {
        const {missing, extra, probes} = result.replayChanged
        const what = [
          missing.length > 0 ? `lacks ${missing.join(', ')}` : '',
          extra.length > 0 ? `adds ${extra.join(', ')}` : '',
          ...probes.map((p) => `probe ${p.id} is ${p.inBundle} in the bundle, ${p.atCapture} in this run`),
        ].filter(Boolean).join('; ')
        const [whose, why] = !flags.redact ? ['the bundle', 'please report it'] : flags['redact-map'] ? ['redaction', "the map's pseudonyms do not fit this host's subnets; try a new map"] : ['redaction', 'please report it']
        process.stderr.write(`${errorLine(`kvmdoctor: warning: ${whose} changed what the bundle's analysis reads or finds (${what}): ${why}`)}\n`)
      }
      const roots = result.diagnosis.findings.filter((f) => !f.explainedBy && f.severity !== 'info').slice(0, 5)
      this.log(roots.length === 0 ? 'no findings above info' : 'top findings:')
      for (const f of roots) this.log(errorLine(`  ${f.rank}. [${f.severity.toUpperCase()}] ${f.id} (${f.entity.kind} ${f.entity.name}): ${f.title}`))
    } catch (error) {
      spinner?.stop()
      this.reportFailure(error)
    }
  }
}
