import {Args, Flags} from '@oclif/core'
import {renderTrace} from '../../reports/trace.js'
import {parseDestination} from '../datapath/destination.js'
import {KvmdoctorCommand} from '../cli/command.js'
import {EXIT, UserError} from '../core/errors.js'
import {requireNonEmpty, visibleControlsDeep, warnOnStderr} from '../core/output.js'
import {scrubDeep} from '../lib/scrub.js'
import {runTrace} from '../core/trace-service.js'
import {sshFlags, sshTargetOf} from '../cli/ssh-flags.js'

export default class Trace extends KvmdoctorCommand {
  static summary = "Follow a guest's packets through the host, hop by hop, and name what decides their fate"
  static description = `Without --to: the guest's standard flows (DHCP to its server, DNS to its resolver, out to the internet through routing and NAT, and the replies). Each hop passes, fails or cannot be told: the guest NIC, tap, bridge and STP port state, every netfilter base chain on each hook (iptables and nftables, by priority, with the rules that matched), the routing decision with policy rules, forwarding and rp_filter, NAT, the egress device, the listener.

Exit codes: 0 every flow passes, 1 a flow fails, 2 usage error or bad input, 3 kvmdoctor itself failed, 4 a flow cannot be decided (or the facts to follow it could not be read).`

  static examples = ['<%= config.bin %> trace web01', '<%= config.bin %> trace web01/vnet0 --to 203.0.113.10:443/tcp', '<%= config.bin %> trace web01 --from ticket-1234.tar.gz --json', '<%= config.bin %> trace web01 --ssh root@hv12.example.com']

  static enableJsonFlag = true

  static args = {guest: Args.string({description: 'GUEST or GUEST/IFACE (tap name or MAC)', required: true})}

  static flags = {
    to: Flags.string({summary: 'Trace one flow to ADDR[:PORT][/tcp|udp|icmp] instead of the standard flows.'}),
    internet: Flags.string({summary: 'What stands for the internet in the egress flow (ADDR[:PORT][/proto]; default 9.9.9.9:443/tcp, only a lookup key).'}),
    from: Flags.string({summary: 'Read a snapshot directory or a bundle (.tar.gz) instead of this host.'}),
    timeout: Flags.integer({summary: 'Seconds each command may run before it is killed.', default: 5, min: 1, max: 600}),
    deadline: Flags.integer({summary: 'Seconds the whole live run may take; then what could not be read is reported as such.', default: 120, min: 1, max: 3600}),
    connect: Flags.string({char: 'c', summary: 'libvirt URI.', default: 'qemu:///system'}),
    ...sshFlags(['from']),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Trace)
    const json = this.jsonEnabled()
    try {
      requireNonEmpty(flags, ['from', 'connect', 'to', 'internet', 'ssh'])
      const [guest, iface] = args.guest.split('/', 2)
      if (!guest) throw new UserError('name a guest: kvmdoctor trace GUEST[/IFACE]')
      const to = flags.to === undefined ? undefined : parseDestination(flags.to)
      if (typeof to === 'string') throw new UserError(`--to: ${to}`)
      if (flags.internet !== undefined && typeof parseDestination(flags.internet) === 'string') throw new UserError(`--internet: ${parseDestination(flags.internet)}`)
      // Host data leaves scrubbed of secrets, with control characters made visible on a terminal.
      const result = scrubDeep(await runTrace({
        from: flags.from,
        ssh: sshTargetOf(flags),
        timeoutMs: flags.timeout * 1000,
        deadlineMs: flags.deadline * 1000,
        options: {active: false, libvirtUri: flags.connect, ...(flags.internet ? {internet: flags.internet} : {})},
        guest,
        iface,
        to,
        warn: warnOnStderr,
      }))
      const verdicts = result.flows.map((f) => f.verdict)
      process.exitCode = result.unavailable ? EXIT.unchecked : verdicts.includes('fail') ? EXIT.findings : verdicts.includes('indeterminate') ? EXIT.unchecked : EXIT.clean
      if (json) return result
      this.log(renderTrace(visibleControlsDeep(result)).trimEnd())
      return undefined
    } catch (error) {
      this.reportFailure(error)
      return undefined
    }
  }
}
