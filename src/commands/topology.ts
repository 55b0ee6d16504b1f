import {Flags, ux} from '@oclif/core'
import {KvmdoctorCommand} from '../cli/command.js'
import {renderTree} from '../../reports/layout.js'
import {colorLevel, makeStyle, outputWidth} from '../../reports/style.js'
import {topologyTree} from '../../reports/topology-text.js'
import {sourceHeaderLines} from '../../reports/source-header.js'
import {userConfigDir} from '../core/config-file.js'
import {runDiagnose} from '../core/diagnose-service.js'
import {errorLine, reportable, warnOnStderr} from '../core/output.js'
import {EXIT} from '../core/errors.js'
import {topologyJson} from '../core/topology.js'
import {scrubDeep} from '../lib/scrub.js'

export default class Topology extends KvmdoctorCommand {
  static summary = 'Draw the host as a tree: uplinks and default route, libvirt networks, bridges, taps and guests, with what is failing'
  static description = `Each element is marked ✓ ok, ! warning, ✗ failing (a finding on it, or guests' flows stop there) or ○ inactive, with the findings on it by rank (kvmdoctor diagnose tells more about each). Networks show their mode, subnet, DHCP range and dnsmasq; guests their state, MAC, addresses, the \`kvmdoctor ip\` verdict, and their flows with the hop where one stops. Read-only, like every kvmdoctor command.

Exit codes: 0 the picture is whole (findings on it do not change that: \`kvmdoctor diagnose\` is the gate), 2 usage error or bad input, 3 kvmdoctor itself failed, 4 partial: libvirt, the links or the routes could not be read, or guests' flows were not followed (--allow-unchecked turns this into 0).`

  static aliases = ['topo']
  static enableJsonFlag = true

  static examples = ['<%= config.bin %> topology', '<%= config.bin %> topo --from ticket-1234.tar.gz', '<%= config.bin %> topology --json']

  static flags = {
    from: Flags.string({summary: 'Read a snapshot directory or a bundle (.tar.gz) instead of this host.', exclusive: ['active']}),
    active: Flags.boolean({summary: 'Allow probes that send packets (arp-scan on guest bridges).', default: false}),
    timeout: Flags.integer({summary: 'Seconds each command may run before it is killed.', default: 5, min: 1, max: 600}),
    connect: Flags.string({char: 'c', summary: 'libvirt URI.', default: 'qemu:///system'}),
    color: Flags.boolean({summary: 'Colour the tree (default: on a terminal, unless NO_COLOR is set; FORCE_COLOR forces it).', allowNo: true}),
    'allow-unchecked': Flags.boolean({summary: 'Exit 0 instead of 4 when the picture is partial (libvirt, links or routes unread, guest flows not followed).', default: false}),
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(Topology)
    const json = this.jsonEnabled()
    try {
      const diagnosis = await runDiagnose(
        {from: flags.from, timeoutMs: flags.timeout * 1000, options: {active: flags.active, libvirtUri: flags.connect}, version: this.config.version, warn: warnOnStderr},
        {now: () => new Date(), configDir: userConfigDir()},
      )
      const partial = diagnosis.topology().partial
      // A picture, not a gate: findings leave it 0; one drawn without some of its sources is not checked (4), in every mode.
      process.exitCode = partial && !flags['allow-unchecked'] ? EXIT.unchecked : EXIT.clean
      if (partial) ux.stderr(errorLine(`kvmdoctor: the topology is partial: ${partial.join('; ')}${flags['allow-unchecked'] ? '' : '. Exit 4; --allow-unchecked exits 0'}`))
      // Host data leaves scrubbed of secrets, with control characters made visible in text.
      if (json) return scrubDeep(topologyJson(diagnosis.topology()))
      const shown = reportable(diagnosis, 'text')
      const topology = shown.topology()
      const style = makeStyle(colorLevel({flag: flags.color}))
      const verdict = shown.verdict
      const lines = [style.health(verdict.health, verdict.text), ...sourceHeaderLines(shown.source).map((l) => style.dim(l)), '', ...renderTree(topologyTree(topology, {style}), outputWidth(), style)]
      this.log(lines.join('\n'))
      return undefined
    } catch (error) {
      this.reportFailure(error)
      return undefined
    }
  }
}
