import {Args, Flags} from '@oclif/core'
import {sourceHeaderLines} from '../../reports/source-header.js'
import {renderIpTable} from '../../reports/ip-table.js'
import {colorLevel, makeStyle, outputWidth} from '../../reports/style.js'
import {KvmdoctorCommand} from '../cli/command.js'
import {EXIT} from '../core/errors.js'
import {ipInventory} from '../core/ip-service.js'
import {unreadSources} from '../result/ip.js'
import {checkNames, requireNonEmpty, visibleControlsDeep, warnOnStderr} from '../core/output.js'
import {scrubDeep} from '../lib/scrub.js'
import {openSource} from '../core/source.js'
import {sshFlags, sshTargetOf} from '../cli/ssh-flags.js'

export default class Ip extends KvmdoctorCommand {
  static summary = "Every guest's addresses, from every source, reconciled"
  static description = `One row per guest interface: domain, state, tap, MAC, network or bridge, IPv4 and IPv6 addresses with the sources that reported each (DHCP lease, host neighbour table, QEMU guest agent, arp-scan with --active, the guest's own frames with --listen: "wire"), when the lease ends, and a verdict:
  ok               an address confirmed by something other than a lease file
  no address       nothing reports one
  unknown          no source of addresses could be read (the notes below the table say why)
  APIPA            only 169.254.x.x (DHCP failed: run kvmdoctor diagnose)
  conflict         another MAC claims the same address, or another running guest has the same MAC
  stale            a lease on file, but the guest does not answer from it
  silent           (--listen) the guest sent not a single frame while kvmdoctor listened
  foreign address  (--listen) the guest sends from an address its network cannot route
  DHCP unanswered  (--listen) the guest asks for DHCP again and again, and no server offers
  gateway unanswered  (--listen) the guest asks again and again for an address on its subnet nobody holds, and none of its traffic leaves the subnet: a wrong gateway
  wrong netmask    (--listen) the guest ARPs directly for addresses beyond its subnet, or sends its subnet's addresses to the gateway
  shut off         not running
Exit codes: 0 when every running guest is ok, 1 when one is not, 2 on bad usage or bad input, 3 kvmdoctor itself failed, 4 not checked: the guests could not be listed (libvirt unread), or no guest is found not ok but a source of addresses could not be read whole (--allow-unchecked turns this last into 0).`

  static strict = false
  static args = {guest: Args.string({description: 'only these guests (libvirt domain names)', required: false})}
  static enableJsonFlag = true

  static examples = ['<%= config.bin %> ip', '<%= config.bin %> ip web01 db01 --json', '<%= config.bin %> ip --active', '<%= config.bin %> ip --listen 10', '<%= config.bin %> ip --wide', '<%= config.bin %> ip --ssh admin@hv12.example.com --ssh-option Port=2222']

  static flags = {
    active: Flags.boolean({summary: 'Also arp-scan guest bridges (sends ARP; finds bridged guests).', default: false}),
    from: Flags.string({summary: 'Read a snapshot directory or bundle instead of this host.', exclusive: ['active', 'listen']}),
    listen: Flags.integer({summary: 'Also listen this many seconds on every running guest\'s tap (tcpdump, passive: sends nothing; root): what guests really send (ARP, DHCP, source addresses). All taps at once; the time comes on top of --deadline.', min: 1, max: 600}),
    timeout: Flags.integer({summary: 'Seconds each command may run before it is killed.', default: 5, min: 1, max: 600}),
    deadline: Flags.integer({summary: 'Seconds the whole live run may take; then guest agents still being asked are given up on.', default: 30, min: 1, max: 3600}),
    connect: Flags.string({char: 'c', summary: 'libvirt URI.', default: 'qemu:///system'}),
    wide: Flags.boolean({summary: 'Show every column, however wide (on a terminal the table fits its width; piped, it is whole).', default: false}),
    'allow-unchecked': Flags.boolean({summary: 'Exit 0 instead of 4 when every guest listed is ok but a source of addresses could not be read whole.', default: false}),
    color: Flags.boolean({summary: 'Colour the verdicts (default: on a terminal, unless NO_COLOR is set).', allowNo: true}),
    ...sshFlags(['from']),
  }

  async run(): Promise<unknown> {
    const {argv, flags} = await this.parse(Ip)
    try {
      requireNonEmpty(flags, ['from', 'connect', 'ssh'])
      const source = await openSource({from: flags.from, ssh: sshTargetOf(flags), timeoutMs: flags.timeout * 1000, deadlineMs: (flags.deadline + (flags.listen ?? 0)) * 1000, warn: warnOnStderr})
      const options = source.recordedOptions ?? {active: flags.active, libvirtUri: flags.connect, ...(flags.listen ? {listen: flags.listen} : {})}
      const inventory = scrubDeep(await ipInventory(source.runner, options, argv as string[]).finally(() => source.close()))
      checkNames(inventory.rows.map((r) => ({kind: 'domain', name: r.domain})))
      // A script's answer: is every running guest's networking as it should be? Not proven while a source
      // of addresses went unread: a lease or a conflict only it would show is not seen.
      const unread = unreadSources(inventory)
      process.exitCode = inventory.rows.some((r) => r.verdict !== 'ok' && r.verdict !== 'shut off') ? EXIT.findings : unread.length > 0 && !flags['allow-unchecked'] ? EXIT.unchecked : EXIT.clean
      if (process.exitCode === EXIT.unchecked) warnOnStderr(`not checked: ${unread.map((u) => `${u.id} (${u.degraded !== undefined ? `read in part: ${u.degraded}` : u.error})`).join('; ')}`)
      const described = source.describe ? scrubDeep(source.describe()) : undefined
      if (this.jsonEnabled()) return described ? {...inventory, source: described} : inventory
      for (const line of sourceHeaderLines(described)) this.log(visibleControlsDeep(line))
      this.log(renderIpTable(visibleControlsDeep(inventory), {width: outputWidth(), wide: flags.wide, style: makeStyle(colorLevel({flag: flags.color}))}))
      return undefined
    } catch (error) {
      this.reportFailure(error)
      return undefined
    }
  }
}
