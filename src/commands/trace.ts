import {Args, Flags} from '@oclif/core'
import {renderTrace} from '../../reports/trace.js'
import {outputWidth} from '../../reports/style.js'
import {parseDestination, parseInbound} from '../datapath/destination.js'
import {publishOf} from '../core/diagnose.js'
import {parseIp} from '../lib/addr.js'
import {KvmdoctorCommand} from '../cli/command.js'
import {EXIT, UserError} from '../core/errors.js'
import {requireNonEmpty, visibleControlsDeep, warnOnStderr} from '../core/output.js'
import {scrubDeep} from '../lib/scrub.js'
import {runTrace} from '../core/trace-service.js'
import {sshFlags, sshTargetOf} from '../cli/ssh-flags.js'

export default class Trace extends KvmdoctorCommand {
  static summary = "Follow a guest's packets through the host, hop by hop, and name what decides their fate"
  static description = `Without --to: the guest's standard flows (DHCP to its server, DNS to its resolver, out to the internet through routing and NAT, and the replies). With --inbound PORT/PROTO (or GUEST --from ADDR): connections from outside to a published port (a DNAT, an nft dnat map, a libvirt hook's forward, --publish), the answer back out, and from the host and other guests by the published address (hairpin). Each hop passes, fails or cannot be told: the guest NIC, tap, bridge and STP port state, every netfilter base chain on each hook (iptables and nftables, by priority, with the rules that matched), the routing decision with policy rules, forwarding and rp_filter, NAT, the egress device, the listener.

Exit codes: 0 every flow passes, 1 a flow fails, 2 usage error or bad input, 3 kvmdoctor itself failed, 4 a flow cannot be decided (or the facts to follow it could not be read).`

  static examples = ['<%= config.bin %> trace web01', '<%= config.bin %> trace web01/vnet0 --to 203.0.113.10:443/tcp', '<%= config.bin %> trace web01 --from ticket-1234.tar.gz --json', '<%= config.bin %> trace web01 --ssh root@hv12.example.com', '<%= config.bin %> trace --inbound 8080/tcp', '<%= config.bin %> trace --inbound 198.51.100.1:8080/tcp --publish web01:80/tcp', '<%= config.bin %> trace web01 --from 203.0.113.7']

  static enableJsonFlag = true

  static args = {guest: Args.string({description: 'GUEST or GUEST/IFACE (tap name or MAC); none with --inbound', required: false})}

  static flags = {
    to: Flags.string({summary: 'Trace one flow to ADDR[:PORT][/tcp|udp|icmp] instead of the standard flows.'}),
    internet: Flags.string({summary: 'What stands for the internet in the egress flow (ADDR[:PORT][/proto]; default 9.9.9.9:443/tcp, only a lookup key).'}),
    from: Flags.string({
      summary: 'Read a snapshot directory or a bundle (.tar.gz) instead of this host; or, given an IPv4 address, follow connections from that client outside to the guest\'s published ports (repeatable: one of each). Write ./NAME for a recording named like an address.',
      multiple: true,
    }),
    inbound: Flags.string({summary: 'Follow connections from outside to a published port, [HOST_ADDR:]PORT/tcp|udp (no GUEST: the guest is where the port leads).'}),
    publish: Flags.string({summary: 'A service a guest is expected to offer from outside, GUEST:PORT/tcp|udp (repeatable): followed like the host\'s own forwards.', multiple: true}),
    timeout: Flags.integer({summary: 'Seconds each command may run before it is killed.', default: 5, min: 1, max: 600}),
    deadline: Flags.integer({summary: 'Seconds the whole live run may take; then what could not be read is reported as such.', default: 120, min: 1, max: 3600}),
    connect: Flags.string({char: 'c', summary: 'libvirt URI.', default: 'qemu:///system'}),
    // --from may be an outside client's address: a recording and --ssh exclude each other below.
    ...sshFlags(),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Trace)
    const json = this.jsonEnabled()
    try {
      requireNonEmpty(flags, ['connect', 'to', 'internet', 'ssh', 'inbound'])
      // Each --from is a client's address or a recording: at most one of each.
      const froms = (flags.from ?? []).map((f) => f.trim())
      if (froms.includes('')) throw new UserError('--from needs a value, got an empty string')
      const clients = froms.filter((f) => parseIp(f)?.family === 4)
      const recordings = froms.filter((f) => !clients.includes(f))
      if (clients.length > 1 || recordings.length > 1) throw new UserError('--from: at most one recording and one client address')
      if (recordings.length > 0 && flags.ssh !== undefined) throw new UserError('--from RECORDING and --ssh exclude each other')
      const inbound = flags.inbound === undefined ? undefined : parseInbound(flags.inbound)
      if (typeof inbound === 'string') throw new UserError(`--inbound: ${inbound}`)
      const publish = publishOf(flags.publish)
      const [guest, iface] = (args.guest ?? '').split('/', 2)
      if (inbound && args.guest !== undefined) throw new UserError('--inbound follows a published port wherever it leads: name no guest')
      if (!inbound && !guest) throw new UserError('name a guest: kvmdoctor trace GUEST[/IFACE], or a published port: kvmdoctor trace --inbound PORT/PROTO')
      if (clients.length > 0 && flags.to !== undefined) throw new UserError('--from ADDR follows connections to the guest, --to from it: give one')
      const to = flags.to === undefined ? undefined : parseDestination(flags.to)
      if (typeof to === 'string') throw new UserError(`--to: ${to}`)
      if (flags.internet !== undefined && typeof parseDestination(flags.internet) === 'string') throw new UserError(`--internet: ${parseDestination(flags.internet)}`)
      // Host data leaves scrubbed of secrets, with control characters made visible on a terminal.
      const result = scrubDeep(await runTrace({
        from: recordings[0],
        ssh: sshTargetOf(flags),
        timeoutMs: flags.timeout * 1000,
        deadlineMs: flags.deadline * 1000,
        options: {active: false, libvirtUri: flags.connect, ...(flags.internet ? {internet: flags.internet} : {})},
        guest,
        iface,
        to,
        ...(inbound ? {inbound} : {}),
        ...(clients[0] ? {client: clients[0]} : {}),
        publish,
        warn: warnOnStderr,
      }))
      const verdicts = result.flows.map((f) => f.verdict)
      // A published port asked about that nothing publishes reaches nothing: that is the answer, a failing one.
      const unpublished = result.inbound !== undefined && result.flows.length === 0
      process.exitCode = result.unavailable ? EXIT.unchecked : verdicts.includes('fail') || unpublished ? EXIT.findings : verdicts.includes('indeterminate') ? EXIT.unchecked : EXIT.clean
      if (json) return result
      this.log(renderTrace(visibleControlsDeep(result), {width: outputWidth()}).trimEnd())
      return undefined
    } catch (error) {
      this.reportFailure(error)
      return undefined
    }
  }
}
