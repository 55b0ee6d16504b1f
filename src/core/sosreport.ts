/**
 * A sosreport as a source: the runner answers the probes' commands and file reads from what sos
 * recorded (sos 4.x layout: sos_commands/PLUGIN/ outputs named after their commands,
 * sos_reports/manifest.json listing each command with its output file and exit status, copied
 * files under their host paths), so the very same probe code runs on it. Where sos keeps only a
 * text form of what kvmdoctor reads as JSON, the text is read back into that JSON by parsers
 * beside the probes (iproute-text.ts, netfilter/nft-text.ts ...). What sos did not record is "not
 * recorded" (never "absent"), and remembered with the `sos report` options that would collect it.
 */
import type {CommandCapture, DirCapture, FileCapture, ReadOptions, Runner} from '../lib/runner.js'
import {bridgeFdbTextToJson, ipAddressTextToJson, ipNeighTextToJson, ipRouteTextToJson, ipRuleTextToJson} from '../../probes/iproute-text.js'
import {netstatToSs} from '../../probes/listeners-text.js'
import {type ListingTable, listingsToSave} from '../../probes/netfilter/iptables-list.js'
import {nftTextToJson} from '../../probes/netfilter/nft-text.js'
import {ovsdbListToJson} from '../../probes/ovs-text.js'
import {psListingToPidArgs, psListingToPidStat} from '../../probes/processes-text.js'
import {qdiscTextToJson} from '../../probes/tc-text.js'
import {VIRSH_LISTINGS} from '../../probes/libvirt.js'
import {JOURNAL_DIRS} from '../../probes/logs.js'
import {SYSTEMD_BOOTED} from '../../probes/services.js'
import {isObj} from '../../probes/types.js'
import {UserError} from './errors.js'
import type {SosTree, Wanted} from './sosreport-tree.js'
import type {NotCollected, SosSourceDescription} from '../result/diagnosis.js'

/** What a sosreport says of itself, for the report header. */
export interface SosInfo {
  sosVersion?: string
  host?: string
  capturedAt: Date
  /** Where capturedAt comes from. */
  capturedAtFrom: string
  /** The plugins that ran. */
  plugins: string[]
  cmdline?: string
}

/** One input of kvmdoctor's probes this sosreport does not hold, and how to get it; what a diagnosis was read from (the reports' header). */
export type {NotCollected, SosSourceDescription} from '../result/diagnosis.js'

/** The process listings sos keeps, each with the command line and the STAT column. */
const PS_WITH_STATE = ['ps auxwww', 'ps alxwww', 'ps auxwwwm', 'ps auxfwww']

interface ManifestCommand {
  exec: string
  filepath: string | null
  returnCode: number
  plugin: string
}

/** How a sos plugin names a command's output file (sos/report/plugins/__init__.py, _mangle_command). */
export function sosCommandFile(exec: string): string {
  return exec
    .replace(/^\/(usr\/|)(bin|sbin)\//, '')
    .replace(/[^\w\-./]+/g, '_')
    .replace(/\//g, '.')
    .replace(/^[ ._-]+|[ ._-]+$/g, '')
    .slice(0, 255)
}

/** Directories and files of a sosreport that kvmdoctor reads: an archive keeps only these. */
export const SOS_WANTED: Wanted = (path) =>
  /^sos_reports\/manifest\.json$|^sos_logs\/sos\.log$|^version\.txt$/.test(path) ||
  /^sos_commands\/(networking|openvswitch|firewall_tables|kernel|process|libvirt|virsh|host|systemd|services|firewalld|date|logs|dnsmasq|dhcp)\//.test(path) ||
  /^(etc\/libvirt|run\/libvirt|run\/openvswitch|var\/lib\/libvirt\/dnsmasq|etc\/dhcp|var\/lib\/dhcp|var\/lib\/dhcpd)\//.test(path) ||
  /^(proc\/modules|proc\/misc|etc\/hostname|var\/log\/libvirt\/libvirtd\.log)$/.test(path) ||
  /^proc\/\d+\/cgroup$|^sys\/fs\/cgroup\/(.+\/)?(cgroup\.events|freezer\.state)$/.test(path)

const FIREWALL_PLUGIN_SINCE = [4, 1]
/** sos copies each process's /proc/PID/cgroup (cgroups plugin) from 4.8.1 on. */
const CGROUPS_PER_PROCESS_SINCE = [4, 8, 1]

const versionAtLeast = (version: string | undefined, since: number[]) => {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(version ?? '')
  if (!m) return false
  const parts = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)]
  for (let i = 0; i < since.length; i++) if (parts[i] !== since[i]) return parts[i] > since[i]
  return true
}

/** Files sos copies (its plugins' copy specs, sos 4.x): a path one of them covers is absent from the host when the plugin ran and the file is not there. */
const KNOWN_COPIES: {plugin: string; spec: RegExp; since?: number[]}[] = [
  {plugin: 'kernel', spec: /^\/proc\/(modules|misc)$/},
  {plugin: 'openvswitch', spec: /^\/run\/openvswitch\/(ovsdb-server|ovs-vswitchd)\.pid$/},
  {plugin: 'cgroups', spec: /^\/sys\/fs\/cgroup\//},
  {plugin: 'cgroups', spec: /^\/proc\/\d+\/cgroup$/, since: CGROUPS_PER_PROCESS_SINCE},
  {plugin: 'libvirt', spec: /^\/etc\/libvirt\/qemu\/[^/]+\.xml$|^\/etc\/libvirt\/qemu\/networks\/(autostart\/)?[^/]+\.xml$|^\/run\/libvirt\/|^\/var\/log\/libvirt\/libvirtd\.log$/},
]

/** A glob of a sos copy spec ("/etc/libvirt/qemu/*.xml", "/run/libvirt/") as a test of a path. */
function specMatches(spec: string, path: string): boolean {
  if (spec.endsWith('/')) return path.startsWith(spec)
  const re = new RegExp(`^${spec.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`)
  return re.test(path) || path.startsWith(`${spec}/`)
}

/** A failed command's recorded output is what it printed on stderr (sos records both in one file). */
type Answer = {output: string; truncated?: boolean} | {error: string; errorCode: CommandCapture['errorCode']; stderr?: string}

/** A command kvmdoctor runs, answered from what sos recorded (one of its `execs`), read back by `convert`. */
interface CommandSource {
  /** The plugins that record it, newest sos first (sos moved firewall commands to firewall_tables in 4.1). */
  plugins: string[]
  execs: string[]
  convert?: (text: string) => string
  /** sos runs it only when kernel modules are loaded (else with --allow-system-changes). */
  gatedByModules?: boolean
}

const json = (f: (text: string) => unknown) => (text: string) => JSON.stringify(f(text))

export class SosRunner implements Runner {
  readonly capturedAt: Date
  private readonly commands = new Map<string, ManifestCommand>()
  private readonly copies: {plugin: string; spec: string}[] = []
  private readonly skipped = new Map<string, {reason: string; changes: boolean}>()
  private readonly missing = new Map<string, NotCollected>()
  /** The sos commands looked up (found or not): what a recording of this sosreport must keep of its manifest. */
  readonly consulted = new Set<string>()

  constructor(
    readonly tree: SosTree,
    readonly info: SosInfo,
    manifest: unknown,
    sosLog: string,
    private readonly libvirtUri = 'qemu:///system',
  ) {
    this.capturedAt = info.capturedAt
    // A manifest's entries that are not objects (a damaged or hand-edited file) are skipped: what they named is then not recorded.
    const plugins = manifestPlugins(manifest)
    for (const [plugin, p] of Object.entries(plugins)) {
      if (!isObj(p)) continue
      for (const cmd of Array.isArray(p.commands) ? p.commands.filter(isObj) : []) {
        if (typeof cmd.exec !== 'string') continue
        this.commands.set(normalizeExec(cmd.exec), {exec: cmd.exec, filepath: typeof cmd.filepath === 'string' ? cmd.filepath : null, returnCode: typeof cmd.return_code === 'number' ? cmd.return_code : 0, plugin})
      }
      for (const f of Array.isArray(p.files) ? p.files.filter(isObj) : []) {
        if (typeof f.specification === 'string') this.copies.push({plugin, spec: f.specification})
      }
    }
    // sos says in its log which commands a predicate made it skip (kernel modules not loaded).
    for (const m of sosLog.matchAll(/skipped command '([^']+)': ([^\n]*?)\.\s*(Use '--allow-system-changes' to enable collection\.)?\s*$/gm)) {
      this.skipped.set(normalizeExec(m[1]), {reason: m[2], changes: m[3] !== undefined})
    }
  }

  /** Every input the probes asked for that this sosreport does not hold, in the order asked. */
  notCollected(): NotCollected[] {
    return [...this.missing.values()]
  }

  private ran(plugin: string): boolean {
    return this.info.plugins.includes(plugin)
  }

  private firewallPlugin(): string {
    return versionAtLeast(this.info.sosVersion, FIREWALL_PLUGIN_SINCE) ? 'firewall_tables' : 'networking'
  }

  private note(entry: NotCollected): void {
    if (!this.missing.has(entry.input)) this.missing.set(entry.input, entry)
  }

  /** The recorded output of the first of `execs` sos ran, or why there is none. */
  private recorded(input: string, source: CommandSource): Answer {
    for (const exec of source.execs) {
      const key = normalizeExec(exec)
      this.consulted.add(key)
      const cmd = this.commands.get(key)
      const files = cmd ? (cmd.filepath ? [cmd.filepath] : []) : source.plugins.map((p) => `sos_commands/${p}/${sosCommandFile(exec)}`)
      if (cmd && cmd.returnCode === 127) return {error: `${exec}: not installed on the host (sos: exit status 127)`, errorCode: 'not-found'}
      for (const file of files) {
        const r = this.tree.read(file)
        if ('text' in r) {
          if (cmd && cmd.returnCode !== 0) return {error: `${exec}: exit status ${cmd.returnCode} when sos ran it`, errorCode: 'exit-status', stderr: r.text}
          if (!source.convert) return {output: r.text, truncated: r.truncated}
          try {
            return {output: source.convert(r.text)}
          } catch (error) {
            return {error: `${exec} (in the sosreport): ${(error as Error).message}`, errorCode: 'failed'}
          }
        }
        if ('error' in r) return {error: r.error, errorCode: r.code === 'too-large' ? 'too-large' : 'failed'}
      }
    }
    const skipped = source.execs.map((e) => ({exec: e, why: this.skipped.get(normalizeExec(e))})).find((s) => s.why)
    const plugin = source.plugins[0]
    const changes = skipped?.why?.changes || (source.gatedByModules && skipped !== undefined)
    const reason = skipped
      ? `sos skipped \`${skipped.exec}\`: ${skipped.why!.reason}`
      : this.ran(plugin) || source.plugins.some((p) => this.ran(p))
        ? `sos ran the ${source.plugins.filter((p) => this.ran(p)).join('/') || plugin} plugin but recorded no \`${source.execs[0]}\``
        : `the ${plugin} plugin did not run`
    this.note({input, sos: `${source.execs[0]} (plugin ${plugin})`, reason, collect: `sos report -o ${plugin}${changes || source.gatedByModules ? ' --allow-system-changes' : ''}`})
    return {error: `${input}: not collected by this sosreport (${reason})`, errorCode: 'not-recorded'}
  }

  private commandSource(key: string): CommandSource | undefined {
    const firewall = this.firewallPlugin()
    const sources: Record<string, CommandSource> = {
      'ip -j -d addr show': {plugins: ['networking'], execs: ['ip -d address'], convert: json(ipAddressTextToJson)},
      'ip -j route show table all': {plugins: ['networking'], execs: ['ip route show table all'], convert: json(ipRouteTextToJson)},
      'ip -6 -j route show table all': {plugins: ['networking'], execs: ['ip -6 route show table all'], convert: json(ipRouteTextToJson)},
      'ip -j rule show': {plugins: ['networking'], execs: ['ip -4 rule list', 'ip -4 rule'], convert: json(ipRuleTextToJson)},
      'ip -6 -j rule show': {plugins: ['networking'], execs: ['ip -6 rule list', 'ip -6 rule'], convert: json(ipRuleTextToJson)},
      'ip -j neigh show': {plugins: ['networking'], execs: ['ip -s -s neigh show', 'ip neigh show'], convert: json(ipNeighTextToJson)},
      'bridge -j fdb show': {plugins: ['networking'], execs: ['bridge -s -s -d -t fdb show', 'bridge fdb show'], convert: json(bridgeFdbTextToJson)},
      'nft -j list ruleset': {plugins: [firewall], execs: ['nft -a list ruleset', 'nft list ruleset'], convert: nftTextToJson, gatedByModules: true},
      'nft -a list ruleset': {plugins: [firewall], execs: ['nft -a list ruleset', 'nft list ruleset'], gatedByModules: true},
      'ps -eo pid=,args=': {plugins: ['process'], execs: PS_WITH_STATE, convert: (t) => psListingToPidArgs(t, 'ps')},
      'ps -eo pid=,stat=': {plugins: ['process'], execs: PS_WITH_STATE, convert: (t) => psListingToPidStat(t, 'ps')},
      'ss -H -lunpt': {plugins: ['networking'], execs: ['netstat -W -neopa', 'netstat -T -neopa', 'netstat -neopa'], convert: netstatToSs},
      'virsh -r version': {plugins: ['virsh'], execs: ['virsh -r version']},
      'tc -j -s qdisc show': {plugins: ['networking'], execs: ['tc -s qdisc show'], convert: json(qdiscTextToJson)},
    }
    return sources[key]
  }

  async run(argv: string[]): Promise<CommandCapture> {
    const capture = (a: Answer): CommandCapture => ({
      kind: 'command',
      argv,
      stderr: 'stderr' in a ? (a.stderr ?? '') : '',
      durationMs: 0,
      timedOut: false,
      exitCode: 'error' in a ? null : 0,
      ...('error' in a ? {output: '', truncated: false, error: a.error, errorCode: a.errorCode} : {output: a.output, truncated: a.truncated ?? false}),
    })
    let args = argv
    if (argv[0] === 'virsh') {
      // sos runs virsh on its default connection: the system instance.
      const at = argv.indexOf('-c')
      if (at >= 0) {
        if (argv[at + 1] !== this.libvirtUri || this.libvirtUri !== 'qemu:///system') return capture(this.unrecorded(argv.join(' '), `sos ran virsh on qemu:///system only`))
        args = [...argv.slice(0, at), ...argv.slice(at + 2)]
      }
    }
    const key = args.join(' ')
    // sos ran each listing on its own: asked for them together, the probe then asks for each (noted there when missing).
    if (args[0] === 'virsh' && args.at(-1) === VIRSH_LISTINGS) return capture({error: `${key}: not collected by this sosreport`, errorCode: 'not-recorded'})
    const source = this.commandSource(key)
    if (source) return capture(this.recorded(key, source))
    const unknown = this.neverCollected(key)
    if (unknown) return capture(unknown)
    const save = /^(ip6?)tables(-legacy)?-save -c$/.exec(key)
    if (save) return capture(this.iptablesSave(key, save[1] === 'ip6' ? 'ip6' : 'ip', save[2] !== undefined))
    const dynamic = this.dynamicCommand(args)
    if (dynamic) return capture(dynamic)
    return capture(this.unrecorded(key, 'sos does not collect it'))
  }

  /**
   * Reads whose absence a recording takes as "nothing there" (made before kvmdoctor read them), but that a sosreport
   * never holds: answered as failed reads, so the hops they decide are undecided, never passed. sos runs no
   * `ip xfrm policy getdefault` and lists no ebtables table (firewall_tables only triggers on the module); it lists
   * the IPsec policies only in the libreswan plugin (`ip xfrm policy`, where libreswan is installed).
   */
  private neverCollected(key: string): Answer | undefined {
    const failed = (reason: string): Answer => {
      this.note({input: key, sos: '-', reason})
      return {error: `${key}: not collected by this sosreport (${reason})`, errorCode: 'failed'}
    }
    if (key === 'ip xfrm policy list') {
      const listed = this.recorded(key, {plugins: ['libreswan'], execs: ['ip xfrm policy']})
      if (!('error' in listed) || listed.errorCode !== 'not-recorded') return listed
      this.missing.delete(key)
      return failed('sos lists the IPsec policies only in its libreswan plugin, which did not record them: a policy may drop or capture guest traffic')
    }
    if (key === 'ip xfrm policy getdefault') return failed('sos does not read the IPsec default policies: a default of block would drop what no policy matches')
    if (key === 'ebtables --version') return failed('sos lists no ebtables table: legacy ebtables rules may drop guest frames')
    return undefined
  }

  private unrecorded(input: string, reason: string, collect?: string): Answer {
    this.note({input, sos: '-', reason, ...(collect ? {collect} : {})})
    return {error: `${input}: not collected by this sosreport (${reason})`, errorCode: 'not-recorded'}
  }

  /** The listings sos recorded of one family's iptables tables (`iptables -t TABLE -nvL`; the filter table exact from `iptables -vnxL`). */
  private iptablesListings(family: 'ip' | 'ip6'): ListingTable[] {
    const tool = family === 'ip6' ? 'ip6tables' : 'iptables'
    const tables = new Set<string>()
    for (const c of this.commands.values()) {
      const m = new RegExp(`^${tool} -t (\\S+) -nvL$`).exec(normalizeExec(c.exec))
      if (!m) continue
      tables.add(m[1])
      // Its manifest entry names the table even when the listing read is iptables -vnxL's.
      this.consulted.add(normalizeExec(c.exec))
    }
    // Without a manifest (older sos), the output files name the tables.
    for (const plugin of this.commands.size === 0 ? ['firewall_tables', 'networking'] : []) {
      for (const f of this.tree.list(`sos_commands/${plugin}`) ?? []) {
        const m = new RegExp(`^${tool}_-t_(\\w+)_-nvL$`).exec(f)
        if (m) tables.add(m[1])
      }
    }
    const out: ListingTable[] = []
    for (const table of [...tables].sort()) {
      const exact = table === 'filter' ? this.recorded(`${tool} -vnxL`, {plugins: [this.firewallPlugin(), 'networking'], execs: [`${tool} -vnxL`]}) : undefined
      this.missing.delete(`${tool} -vnxL`)
      const r = exact && !('error' in exact) ? exact : this.recorded(`${tool} -t ${table} -nvL`, {plugins: [this.firewallPlugin(), 'networking'], execs: [`${tool} -t ${table} -nvL`]})
      if (!('error' in r)) out.push({table, text: r.output})
    }
    return out
  }

  /**
   * iptables-save -c (and ip6tables-, -legacy-), read back from sos's -nvL listings. The listings
   * do not say which iptables printed them: the nft listing does (iptables-nft's tables are in it,
   * legacy ones are not). On iptables-nft a rule the listing shows in part is left bare, and the
   * ruleset builder takes it from nft; on legacy it is unreadable, so its flows are indeterminate.
   */
  private iptablesSave(input: string, family: 'ip' | 'ip6', legacyCommand: boolean): Answer {
    const plugin = this.firewallPlugin()
    const nft = this.recorded('nft -a list ruleset', {plugins: [plugin], execs: ['nft -a list ruleset', 'nft list ruleset'], gatedByModules: true})
    if ('error' in nft) {
      this.missing.delete('nft -a list ruleset')
      if (nft.errorCode === 'not-recorded') return this.unrecorded(input, 'without sos\'s nft listing, iptables-nft cannot be told from iptables-legacy', `sos report -o ${plugin} --allow-system-changes`)
    }
    const listings = this.iptablesListings(family)
    const tool = family === 'ip6' ? 'ip6tables' : 'iptables'
    if (listings.length === 0) {
      if (legacyCommand) return this.unrecorded(input, `sos recorded no ${tool} listing: legacy tables, if any, are unknown`, `sos report -o ${plugin} --allow-system-changes`)
      // iptables-nft's tables are in the nft listing; an empty output lets the ruleset come from it alone.
      this.note({input, sos: `${tool} -t TABLE -nvL (plugin ${plugin})`, reason: `sos recorded no ${tool} listing: iptables-nft rules are read from the nft listing, legacy tables are unknown`, collect: `sos report -o ${plugin} --allow-system-changes`})
      return {output: ''}
    }
    const nftText = 'error' in nft ? '' : nft.output
    const inNft = listings.some((l) => new RegExp(`^table ${family} ${l.table} \\{`, 'm').test(nftText))
    const variant = inNft ? 'nf_tables' : 'legacy'
    if (legacyCommand && variant === 'nf_tables') {
      return this.unrecorded(input, 'sos does not list the legacy tables of a host whose iptables is iptables-nft', undefined)
    }
    const {text} = listingsToSave(listings, {family, variant, lossy: variant === 'nf_tables' ? 'bare' : 'opaque'})
    const warning = listings.some((l) => /iptables-legacy tables present/.test(l.text)) ? '# Warning: iptables-legacy tables present, use iptables-legacy to see them\n' : ''
    return {output: text + warning}
  }

  /** Commands that name a network, a domain or an interface, and those built from several sos files. */
  private dynamicCommand(args: string[]): Answer | undefined {
    const key = args.join(' ')
    const dump = /^virsh -r (net-dumpxml|dumpxml) (\S+)$/.exec(key)
    if (dump) {
      const direct = this.recorded(key, {plugins: ['virsh'], execs: [key]})
      if (!('error' in direct) || dump[1] === 'dumpxml') return direct
      // An inactive network is not in sos's `virsh net-list`: its definition is.
      const name = dump[2]
      const active = this.tree.read(`run/libvirt/network/${name}.xml`)
      if ('text' in active) {
        const inner = /<network[\s>][\s\S]*<\/network>/.exec(active.text)
        if (inner) return {output: inner[0] + '\n'}
      }
      const file = this.tree.read(`etc/libvirt/qemu/networks/${name}.xml`)
      if ('text' in file) return {output: file.text}
      return direct
    }
    const ovs = this.openvswitchCommand(key)
    if (ovs) return ovs
    const tc = this.tcCommand(key)
    if (tc) return tc
    if (key === 'virsh -r net-list --all') return this.networkList(key)
    if (key === 'virsh -r list --all') return this.domainList(key)
    return undefined
  }

  /**
   * Open vSwitch as sos's openvswitch plugin lists it: the Bridge and Interface tables (`ovs-vsctl list`, as text),
   * `ovs-vsctl show`, and each bridge's flows (plain, and in each OpenFlow version the bridge allows). sos lists no
   * Port or Controller table: the probe reads them from show.
   */
  private openvswitchCommand(key: string): Answer | undefined {
    const plugins = ['openvswitch']
    const listing = /^ovs-vsctl --timeout=5 -f json --columns=(\S+) list (Bridge|Port|Interface|Controller)$/.exec(key)
    if (listing) {
      const table = listing[2].toLowerCase()
      if ((table === 'port' || table === 'controller') && this.ran('openvswitch')) {
        return this.unrecorded(key, table === 'port' ? "sos lists no Port table: ports are read from `ovs-vsctl show`, which does not print a port's vlan_mode" : "sos lists no Controller table: controllers are read from `ovs-vsctl show` (whether each is connected), not their state, last error or role")
      }
      return this.recorded(key, {plugins, execs: [`ovs-vsctl -t 5 list ${table}`, `ovs-vsctl list ${table}`], convert: json((t) => ovsdbListToJson(t, listing[1].split(',')))})
    }
    if (key === 'ovs-vsctl --timeout=5 show') return this.recorded(key, {plugins, execs: ['ovs-vsctl -t 5 show', 'ovs-vsctl show']})
    const flows = /^ovs-ofctl --timeout=5 ((?:-O \S+ )?dump-flows \S+)$/.exec(key)
    if (flows) return this.recorded(key, {plugins, execs: [`ovs-ofctl ${flows[1]}`]})
    return undefined
  }

  /**
   * Traffic control as sos's networking plugin lists it, in text only: the qdiscs once (`tc -s qdisc show`), and per
   * device (sos 4.1 and later; ingress from 4.2) the filters of its root qdisc (`tc -s filter show dev DEV`) and of
   * its ingress hook. No class, no clsact egress hook, no filter under a class or a child qdisc, no second read.
   */
  private tcCommand(key: string): Answer | undefined {
    const plugins = ['networking']
    // The probe reads tc's text listing where its JSON is not recorded.
    if (/^tc -j -s filter show /.test(key)) return {error: `${key}: not collected by this sosreport (sos keeps tc's text listings only)`, errorCode: 'not-recorded'}
    if (key === 'tc -j -s qdisc list') return this.unrecorded(key, 'sos lists the qdiscs once (`tc -s qdisc show`)')
    if (/^tc -s class show dev \S+$/.test(key)) return this.unrecorded(key, 'sos lists no tc classes: what a classful qdisc (htb) does with a packet is unknown')
    const filters = /^tc -s filter show dev (\S+) (ingress|egress|parent (\S+))$/.exec(key)
    if (!filters) return undefined
    const [, dev, where, parent] = filters
    if (where === 'egress') return this.unrecorded(key, 'sos lists no clsact egress filters (only `tc -s filter show dev DEV` and `... ingress`)')
    const since = where === 'ingress' ? [4, 2] : [4, 1]
    if (this.info.sosVersion && !versionAtLeast(this.info.sosVersion, since)) return this.unrecorded(key, `sos ${this.info.sosVersion} lists no ${where === 'ingress' ? 'ingress ' : ''}tc filters (sos ${since.join('.')} and later do)`, `sos ${since.join('.')} or later: sos report -o networking`)
    if (where === 'ingress') return this.recorded(key, {plugins, execs: [key]})
    // `tc filter show dev DEV` lists the filters of the device's root qdisc: those under another handle are not listed.
    if (this.rootQdiscHandle(dev) !== parent) return this.unrecorded(key, `sos lists the filters of ${dev}'s root qdisc and ingress hook only, not those under ${parent}`)
    return this.recorded(key, {plugins, execs: [`tc -s filter show dev ${dev}`]})
  }

  private rootQdiscs: Map<string, string> | undefined

  /** A device's root qdisc handle in sos's qdisc listing. */
  private rootQdiscHandle(dev: string): string | undefined {
    if (!this.rootQdiscs) {
      this.rootQdiscs = new Map()
      const r = this.recorded('tc -j -s qdisc show', this.commandSource('tc -j -s qdisc show')!)
      if (!('error' in r)) for (const q of JSON.parse(r.output) as {dev: string; handle: string; root?: boolean}[]) if (q.root) this.rootQdiscs.set(q.dev, q.handle)
    }
    return this.rootQdiscs.get(dev)
  }

  /**
   * `virsh net-list --all` from what sos keeps: its `virsh -r net-list` (active networks, with
   * autostart and persistence) and libvirt's files (every defined network, the autostart links,
   * the status files of active ones).
   */
  private networkList(input: string): Answer {
    const active = this.recorded('virsh -r net-list', {plugins: ['virsh'], execs: ['virsh -r net-list']})
    this.missing.delete('virsh -r net-list')
    const defined = this.tree.list('etc/libvirt/qemu/networks')
    const libvirtRan = this.ran('libvirt')
    if ('error' in active && !libvirtRan) {
      return this.unrecorded(input, 'neither the virsh nor the libvirt plugin ran', 'sos report -o libvirt,virsh')
    }
    const rows = new Map<string, {state: string; autostart: string; persistent: string}>()
    if (!('error' in active)) {
      for (const line of active.output.split('\n').slice(2)) {
        const cells = line.trim().split(/\s{2,}|\s+/)
        if (cells.length >= 4) rows.set(cells[0], {state: cells[1], autostart: cells[2], persistent: cells[3]})
      }
    } else {
      // Without virsh: a network is active when libvirt keeps its status file in /run.
      for (const f of this.tree.list('run/libvirt/network') ?? []) {
        if (!f.endsWith('.xml')) continue
        const name = f.slice(0, -4)
        rows.set(name, {state: 'active', autostart: 'no', persistent: 'no'})
      }
    }
    const autostart = new Set((this.tree.list('etc/libvirt/qemu/networks/autostart') ?? []).filter((f) => f.endsWith('.xml')).map((f) => f.slice(0, -4)))
    for (const f of defined ?? []) {
      if (!f.endsWith('.xml')) continue
      const name = f.slice(0, -4)
      const row = rows.get(name)
      if (row) {
        if ('error' in active) Object.assign(row, {persistent: 'yes', autostart: autostart.has(name) ? 'yes' : 'no'})
        continue
      }
      rows.set(name, {state: 'inactive', autostart: autostart.has(name) ? 'yes' : 'no', persistent: 'yes'})
    }
    const lines = [' Name      State      Autostart   Persistent', '----------------------------------------------']
    for (const [name, r] of [...rows].sort(([a], [b]) => a.localeCompare(b))) lines.push(` ${name}   ${r.state}   ${r.autostart}   ${r.persistent}`)
    return {output: lines.join('\n') + '\n\n'}
  }

  /**
   * `virsh list --all`: sos's own, else from libvirt's files (Debian's sos 4.0 does not run its virsh
   * plugin): every defined domain, running where libvirt keeps its status file, with the state it says.
   */
  private domainList(input: string): Answer {
    const recorded = this.recorded(input, {plugins: ['virsh'], execs: ['virsh -r list --all']})
    if (!('error' in recorded) || recorded.errorCode !== 'not-recorded' || !this.ran('libvirt')) return recorded
    this.missing.delete(input)
    const rows = new Map<string, {id: string; state: string}>()
    for (const f of this.tree.list('etc/libvirt/qemu') ?? []) if (f.endsWith('.xml')) rows.set(f.slice(0, -4), {id: '-', state: 'shut off'})
    for (const f of this.tree.list('run/libvirt/qemu') ?? []) {
      if (!f.endsWith('.xml')) continue
      const status = this.tree.read(`run/libvirt/qemu/${f}`)
      if (!('text' in status)) continue
      const state = /<domstatus\s+state='([^']+)'/.exec(status.text)?.[1]
      const id = /<domain\s[^>]*\bid='(\d+)'/.exec(status.text)?.[1]
      if (state) rows.set(f.slice(0, -4), {id: id ?? '-', state: state === 'shutoff' ? 'shut off' : state})
    }
    const lines = [' Id   Name   State', '--------------------']
    for (const [name, r] of [...rows].sort(([a], [b]) => a.localeCompare(b))) lines.push(` ${r.id}    ${name}   ${r.state}`)
    return {output: lines.join('\n') + '\n\n'}
  }

  async readFile(path: string, options?: ReadOptions): Promise<FileCapture> {
    const answer = this.file(path, options)
    return {kind: 'file', path, durationMs: 0, ...('error' in answer ? {output: '', truncated: false, error: answer.error, errorCode: answer.errorCode} : {output: answer.output, truncated: answer.truncated ?? false})}
  }

  private sysctlText: Map<string, string> | null | undefined

  /** `sysctl -a` (kernel plugin) as key → value; null when sos did not record it. */
  private sysctls(): Map<string, string> | null {
    if (this.sysctlText !== undefined) return this.sysctlText
    const r = this.recorded('sysctl -a', {plugins: ['kernel'], execs: ['sysctl -a']})
    this.missing.delete('sysctl -a')
    if ('error' in r) return (this.sysctlText = null)
    const map = new Map<string, string>()
    for (const line of r.output.split('\n')) {
      const at = line.indexOf(' = ')
      if (at > 0) map.set(line.slice(0, at), line.slice(at + 3))
    }
    return (this.sysctlText = map)
  }

  private file(path: string, options?: ReadOptions): Answer {
    if (COMMAND_GATES.has(path)) return GATE_UNRECORDED(path)
    if (path.startsWith('/proc/sys/')) {
      const sysctls = this.sysctls()
      if (sysctls) {
        // sysctl prints an interface's dots as slashes (eth0.100 is net.ipv4.conf.eth0/100.rp_filter).
        const parts = path.slice('/proc/sys/'.length).split('/')
        const key = parts.map((p) => p.replaceAll('.', '/')).join('.')
        const value = sysctls.get(key)
        if (value !== undefined) return {output: `${value}\n`}
        // sysctl -a prints every key the kernel has (as root, as sos runs): one it lacks does not exist.
        return {error: `${path}: no such key in the sosreport's sysctl -a`, errorCode: 'not-found'}
      }
      const copied = this.copied(path, options)
      if (!('errorCode' in copied) || copied.errorCode !== 'not-recorded') return copied
      this.missing.delete(path)
      this.note({input: '/proc/sys/... (sysctls)', sos: 'sysctl -a (plugin kernel)', reason: this.ran('kernel') ? 'sos ran the kernel plugin but recorded no `sysctl -a`' : 'the kernel plugin did not run', collect: 'sos report -o kernel'})
      return copied
    }
    if (path === '/sys/class/misc/vhost-net/dev') {
      // The misc device exists exactly when vhost_net is loaded; /proc/misc (kernel plugin) lists it.
      const misc = this.tree.read('proc/misc')
      if ('text' in misc) {
        const line = misc.text.split('\n').find((l) => /\svhost-net$/.test(l))
        return line ? {output: `${line.trim()}\n`} : {error: `${path}: vhost-net is not in the sosreport's /proc/misc`, errorCode: 'not-found'}
      }
    }
    return this.copied(path, options)
  }

  /** A file sos copied under its host path. */
  private copied(path: string, options?: ReadOptions): Answer {
    const r = this.tree.read(path.replace(/^\/+/, ''), options)
    if ('text' in r) return {output: r.text, truncated: r.truncated}
    if ('error' in r) return {error: r.error, errorCode: r.code === 'too-large' ? 'too-large' : 'failed'}
    const covering = this.coveredBy(path)
    if (covering) return {error: `${path}: no such file (the ${covering} plugin copies it and found none)`, errorCode: 'not-found'}
    const plugin = this.pluginFor(path)
    const cgroup = /^\/proc\/\d+\/cgroup$/.test(path)
    if (cgroup) {
      // One entry for every process's: what it leaves unknown is a server frozen by its cgroup (ps shows it asleep).
      const since = CGROUPS_PER_PROCESS_SINCE.join('.')
      const why = this.ran('cgroups') ? `the cgroups plugin of sos ${this.info.sosVersion ?? '(version unknown)'} does not copy it (sos ${since} and later do)` : `only sos's cgroups plugin copies it (sos ${since} and later), and it did not run`
      this.note({input: '/proc/PID/cgroup (dnsmasq, dhcpd)', sos: '/proc/[0-9]*/cgroup (plugin cgroups)', reason: `${why}: whether a DHCP or DNS server is frozen by its cgroup's freezer is not known (ps shows a frozen process asleep, as a running one)`, collect: `sos ${since} or later: sos report -o cgroups`})
    } else this.note({input: path, sos: `${path}${plugin ? ` (plugin ${plugin})` : ''}`, reason: plugin ? (this.ran(plugin) ? `the ${plugin} plugin of this sos version does not copy it` : `the ${plugin} plugin did not run`) : 'sos does not collect it', ...(plugin && !this.ran(plugin) ? {collect: `sos report -o ${plugin}`} : {})})
    return {error: `${path}: not collected by this sosreport`, errorCode: 'not-recorded'}
  }

  /** The plugin whose copy of a path ran, so that a missing file is absent from the host. */
  private coveredBy(path: string): string | undefined {
    const spec = this.copies.find((c) => specMatches(c.spec, path))
    if (spec) return spec.plugin
    return KNOWN_COPIES.find((k) => this.ran(k.plugin) && k.spec.test(path) && (!k.since || versionAtLeast(this.info.sosVersion, k.since)))?.plugin
  }

  private pluginFor(path: string): string | undefined {
    if (/^\/(etc|run|var\/log|var\/lib)\/libvirt\//.test(path)) return 'libvirt'
    if (/^\/(etc\/dhcp|var\/lib\/dhcpd?)\//.test(path)) return 'dhcp'
    if (/^\/proc\/\d+\/cgroup$|^\/sys\/fs\/cgroup\//.test(path)) return 'cgroups'
    if (path.startsWith('/run/openvswitch/')) return 'openvswitch'
    if (/^\/(proc|lib\/modules)\//.test(path)) return 'kernel'
    return undefined
  }

  async listDir(path: string): Promise<DirCapture> {
    const names = this.tree.list(path.replace(/^\/+/, ''))
    const base = {kind: 'dir' as const, path, durationMs: 0, truncated: false}
    if (names) return {...base, output: names.join('\n')}
    const covering = this.coveredBy(`${path.replace(/\/$/, '')}/`) ?? this.copies.find((c) => c.spec.startsWith(`${path}/`))?.plugin
    if (covering) return {...base, output: '', error: `${path}: no such directory (the ${covering} plugin copies it and found none)`, errorCode: 'not-found'}
    if (COMMAND_GATES.has(path)) return {...base, output: '', ...GATE_UNRECORDED(path)}
    const plugin = this.pluginFor(`${path}/`)
    this.note({input: path, sos: `${path}/${plugin ? ` (plugin ${plugin})` : ''}`, reason: plugin && this.ran(plugin) ? `the ${plugin} plugin of this sos version does not copy it (sos 4.2 and later do)` : plugin ? `the ${plugin} plugin did not run` : 'sos does not collect it', ...(plugin ? {collect: `sos report -o ${plugin}`} : {})})
    return {...base, output: '', error: `${path}: not collected by this sosreport`, errorCode: 'not-recorded'}
  }
}

/** Read only to learn whether systemctl or journalctl can answer: when sos lacks them, those commands are named, not these. */
const COMMAND_GATES = new Set([SYSTEMD_BOOTED, ...JOURNAL_DIRS])
const GATE_UNRECORDED = (path: string) => ({error: `${path}: not collected by this sosreport`, errorCode: 'not-recorded' as const})

const normalizeExec = (exec: string) => exec.trim().replace(/\s+/g, ' ')

/** The manifest's plugins (components.report.plugins), by name: an object, else none. */
function manifestPlugins(manifest: unknown): Record<string, unknown> {
  const components = isObj(manifest) ? manifest.components : undefined
  const report = isObj(components) ? components.report : undefined
  return isObj(report) && isObj(report.plugins) ? report.plugins : {}
}

/** The identity of a sosreport: version, host, when it was taken, which plugins ran. */
export function readSosInfo(tree: SosTree, manifest: unknown): SosInfo {
  const m = (manifest ?? {}) as {version?: unknown; cmdline?: unknown; start_time?: unknown}
  const text = (path: string) => {
    const r = tree.read(path)
    return 'text' in r ? r.text.trim() : undefined
  }
  const sosVersion = typeof m.version === 'string' ? m.version : /^sosreport: (\S+)/m.exec(text('version.txt') ?? '')?.[1]
  const host = text('sos_commands/host/hostname') ?? text('etc/hostname')
  const utc = text('sos_commands/date/date_--utc')
  let capturedAt: Date | undefined
  let capturedAtFrom = ''
  if (utc && !Number.isNaN(Date.parse(utc.replace(/\s+/g, ' ')))) {
    capturedAt = new Date(Date.parse(utc.replace(/\s+/g, ' ')))
    capturedAtFrom = '`date --utc` (date plugin)'
  } else if (typeof m.start_time === 'string' && !Number.isNaN(Date.parse(`${m.start_time.replace(' ', 'T').slice(0, 23)}Z`))) {
    // The manifest's times are the host's local time, without a zone.
    capturedAt = new Date(`${m.start_time.replace(' ', 'T').slice(0, 23)}Z`)
    capturedAtFrom = "the manifest's start time (the host's local time, read as UTC: run the date plugin for the exact time)"
  }
  const plugins = Object.keys(manifestPlugins(manifest))
  if (plugins.length === 0) for (const p of tree.list('sos_commands') ?? []) plugins.push(p)
  return {
    ...(sosVersion ? {sosVersion} : {}),
    ...(host ? {host} : {}),
    capturedAt: capturedAt ?? new Date(0),
    capturedAtFrom: capturedAt ? capturedAtFrom : 'unknown (no date plugin output and no manifest)',
    plugins: plugins.sort(),
    ...(typeof m.cmdline === 'string' ? {cmdline: m.cmdline} : {}),
  }
}

/** What a report says of a sosreport it read: its identity and what it lacks. */

export function describeSos(path: string, runner: SosRunner): SosSourceDescription {
  const {info} = runner
  return {
    kind: 'sosreport',
    path,
    ...(info.sosVersion ? {sosVersion: info.sosVersion} : {}),
    ...(info.host ? {host: info.host} : {}),
    capturedAt: info.capturedAt.toISOString(),
    capturedAtFrom: info.capturedAtFrom,
    plugins: info.plugins,
    notCollected: runner.notCollected(),
  }
}

/** A directory in sos's layout: its manifest, or its sos_commands tree. */
export function looksLikeSosDirectory(tree: SosTree): boolean {
  return tree.exists('sos_reports/manifest.json') || tree.list('sos_commands') !== undefined
}

/** Opens a sosreport directory or archive (.tar.xz, .tar.gz, .tar) for replay. */
export async function openSosreport(path: string, options: {directory: boolean; libvirtUri?: string}): Promise<SosRunner> {
  const {openSosArchive, openSosDirectory} = await import('./sosreport-tree.js')
  const tree = options.directory ? openSosDirectory(path) : await openSosArchive(path, SOS_WANTED)
  if (!looksLikeSosDirectory(tree)) throw new UserError(`${path}: not a sosreport (no sos_reports/manifest.json, no sos_commands/)`)
  const manifestText = tree.read('sos_reports/manifest.json')
  let manifest: unknown
  if ('text' in manifestText) {
    try {
      manifest = JSON.parse(manifestText.text)
    } catch (error) {
      throw new UserError(`${path}: sos_reports/manifest.json is not valid JSON (${(error as Error).message})`)
    }
  }
  const log = tree.read('sos_logs/sos.log')
  return new SosRunner(tree, readSosInfo(tree, manifest), manifest, 'text' in log ? log.text : '', options.libvirtUri)
}
