import {Args, Flags, ux} from '@oclif/core'
import {FORMATS} from '../../reports/index.js'
import {KvmdoctorCommand} from '../cli/command.js'
import {runDiagnoseCommand} from '../cli/diagnose-run.js'
import {CONFIG_FILES} from '../core/config-file.js'
import {LIVE_READ_DEFAULTS} from '../core/early-probes.js'
import {sshFlags, sshTargetOf} from '../cli/ssh-flags.js'
import {SEVERITIES} from '../lib/severity.js'

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
    return runDiagnoseCommand(flags, sshTargetOf(flags), argv as string[], {
      json: this.jsonEnabled(),
      version: this.config.version,
      log: (text) => this.log(text),
      logToStderr: (text) => this.logToStderr(text),
      stderr: (text) => ux.stderr(text),
      reportFailure: (error) => this.reportFailure(error),
    })
  }
}
