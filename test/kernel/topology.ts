/**
 * A libvirt-shaped host in network namespaces, for the differential test: a host namespace with a bridge,
 * two veth ports ("taps") to two guest namespaces and an uplink veth to an outside namespace that plays
 * the internet, each with an IPv4 and an IPv6 address. Neighbours and bridge forwarding entries are static (no
 * ARP, no neighbour discovery, no flooding: a rule that drops ARP or ICMPv6 NS/NA cannot make an IP verdict
 * disagree; the differential does not check them). Each namespace runs agent.mjs: servers that say what
 * arrived, and a client. Nothing touches the root namespace.
 */
import {type ChildProcess, spawn} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {createInterface} from 'node:readline'
import {fileURLToPath} from 'node:url'
import {execa} from 'execa'
import type {CommandCapture, DirCapture, FileCapture, Runner} from '../../src/lib/runner.js'
import {type GeneratedRuleset, RULE_PRIORITIES, TOPOLOGY as T} from './generator.js'

const V6 = T.v6
const AGENT = join(dirname(fileURLToPath(import.meta.url)), 'agent.mjs')
export type Role = 'host' | 'g1' | 'g2' | 'out'
const MAC = {kbr0: '02:00:00:00:01:01', g1: '02:00:00:00:01:11', g2: '02:00:00:00:01:12', up0: '02:00:00:00:02:01', out: '02:00:00:00:02:02'}

export async function sh(argv: string[], input?: string): Promise<string> {
  const r = await execa(argv[0], argv.slice(1), {input, reject: false, env: {LC_ALL: 'C'}})
  if (r.exitCode !== 0) throw new Error(`${argv.join(' ')}: exit ${r.exitCode}: ${String(r.stderr).slice(0, 2000)}`)
  return String(r.stdout)
}

/** br_netfilter built in or loaded: the bridge sysctls exist (per namespace since Linux 5.3). */
export const brNetfilterAvailable = () => existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables')

/** The kernel forwards IPv6 per device when told to (net.ipv6.conf.DEV.force_forwarding, Linux 6.17 on). */
export const forceForwardingAvailable = () => existsSync('/proc/sys/net/ipv6/conf/all/force_forwarding')

interface AgentEvent {
  ev?: 'tcp' | 'udp'
  port?: number
  token?: string
  from?: string
  id?: number
  ready?: boolean
  connected?: boolean
  replied?: boolean
}

export interface ClientResult {
  connected?: boolean
  replied: boolean
}

class Agent {
  private readonly child: ChildProcess
  private readonly waiting = new Map<number, (r: ClientResult) => void>()
  readonly arrivals: AgentEvent[] = []
  readonly ready: Promise<void>
  private next = 1

  constructor(
    readonly ns: string,
    addresses: string[],
  ) {
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, AGENT, ...addresses], {stdio: ['pipe', 'pipe', 'inherit']})
    let ready!: () => void
    this.ready = new Promise((resolve) => (ready = resolve))
    createInterface({input: this.child.stdout!}).on('line', (line) => {
      const e = JSON.parse(line) as AgentEvent
      if (e.ready) ready()
      else if (e.ev) this.arrivals.push(e)
      else if (e.id !== undefined) {
        this.waiting.get(e.id)?.({connected: e.connected, replied: e.replied ?? false})
        this.waiting.delete(e.id)
      }
    })
  }

  send(c: {kind: 'tcp' | 'udp' | 'ping'; dst: string; port?: number; token: string; timeoutMs: number}): Promise<ClientResult> {
    const id = this.next++
    return new Promise((resolve) => {
      this.waiting.set(id, resolve)
      this.child.stdin!.write(`${JSON.stringify({...c, id})}\n`)
    })
  }

  stop(): void {
    this.child.stdin!.end()
  }
}

/**
 * Commands of the real probes run inside a namespace (the probes see that namespace's host). Run with execa,
 * which waits for the pipes to close: LiveRunner's grace after exit is made for descendants holding pipes on a
 * host, and a test process this busy (four topologies, their evaluation) is not what it is tuned for.
 */
export class NetnsRunner implements Runner {
  readonly capturedAt = new Date()
  constructor(private readonly ns: string) {}
  async run(argv: string[]): Promise<CommandCapture> {
    const started = performance.now()
    const r = await execa('ip', ['netns', 'exec', this.ns, ...argv], {reject: false, env: {LC_ALL: 'C'}, timeout: 60_000, stripFinalNewline: false})
    // A tool missing in the namespace is missing on the host: the error a live run gives.
    const missing = r.exitCode === 255 && /No such file or directory/.test(String(r.stderr))
    const base = {kind: 'command' as const, argv, output: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? null, timedOut: r.timedOut, truncated: false, durationMs: Math.round(performance.now() - started)}
    if (missing) return {...base, error: `${argv[0]}: not found`, errorCode: 'not-found'}
    if (r.exitCode !== 0) return {...base, error: `${argv.join(' ')}: exit ${r.exitCode}: ${String(r.stderr).split('\n')[0]}`, errorCode: 'exit-status'}
    if (process.env.KDX_DEBUG && base.output === '') console.log(`${this.ns}: ${argv.join(' ')}: empty output`)
    return base
  }
  /** /proc/sys/net as one read took it (see readSysctls), or none. */
  private sysctls?: Map<string, string>

  /**
   * Reads the namespace's network sysctls in one process, for the sysctl probe's many single reads (a process each in
   * the namespace: on a loaded two-core machine they cost more than the rest of a ruleset's probes). Until forgotten.
   */
  async readSysctls(): Promise<void> {
    const dump = await this.run(['grep', '-rsH', '', '/proc/sys/net/ipv4/conf', '/proc/sys/net/ipv6/conf', '/proc/sys/net/ipv4/ip_forward', '/proc/sys/net/bridge', '/proc/sys/net/netfilter'])
    this.sysctls = new Map(dump.output.split('\n').filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), `${l.slice(l.indexOf(':') + 1)}\n`]))
  }

  forgetSysctls(): void {
    this.sysctls = undefined
  }

  async readFile(path: string): Promise<FileCapture> {
    if (this.sysctls && path.startsWith('/proc/sys/net/')) {
      const output = this.sysctls.get(path)
      if (output !== undefined) return {kind: 'file', path, output, durationMs: 0, truncated: false}
      return {kind: 'file', path, output: '', durationMs: 0, truncated: false, error: `${path}: not found`, errorCode: 'not-found'}
    }
    const c = await this.run(['cat', path])
    return {kind: 'file', path, output: c.output, durationMs: c.durationMs, truncated: false, ...(c.error !== undefined ? {error: c.error, errorCode: 'failed' as const} : {})}
  }
  async listDir(path: string): Promise<DirCapture> {
    const c = await this.run(['ls', '-1', path])
    return {kind: 'dir', path, output: c.output, durationMs: c.durationMs, truncated: false, ...(c.error !== undefined ? {error: c.error, errorCode: 'failed' as const} : {})}
  }
}

/** One host topology: its namespaces and their agents. */
export class Topology {
  readonly ns: Record<Role, string>
  private agents?: Record<Role, Agent>
  readonly runner: NetnsRunner

  constructor(tag: string) {
    this.ns = {host: `kdx${tag}h`, g1: `kdx${tag}a`, g2: `kdx${tag}b`, out: `kdx${tag}o`}
    this.runner = new NetnsRunner(this.ns.host)
  }

  private in(role: Role, argv: string[], input?: string) {
    return sh(['ip', 'netns', 'exec', this.ns[role], ...argv], input)
  }

  async create(): Promise<void> {
    await this.destroy()
    for (const ns of Object.values(this.ns)) await sh(['ip', 'netns', 'add', ns])
    const {host, g1, g2, out} = this.ns
    const ipn = (ns: string, ...args: string[]) => sh(['ip', '-n', ns, ...args])
    // IPv6 on, its addresses usable at once (no DAD) and learned from nothing (no RAs, no autoconfiguration): every
    // address and route is the test's, as every neighbour is.
    const quietV6 = ['all', 'default'].flatMap((c) => [`net.ipv6.conf.${c}.accept_dad=0`, `net.ipv6.conf.${c}.accept_ra=0`, `net.ipv6.conf.${c}.autoconf=0`, `net.ipv6.conf.${c}.disable_ipv6=0`])
    for (const ns of Object.values(this.ns)) {
      await sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', ...quietV6])
      await ipn(ns, 'link', 'set', 'lo', 'up')
    }
    await ipn(host, 'link', 'add', T.bridge, 'address', MAC.kbr0, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0')
    // Every address in both families: [IPv4, IPv6] (the IPv6 prefixes are /64s).
    const both = (v4: string, v6: string, len: number) => [`${v4}/${len}`, `${v6}/${len === 32 ? 128 : 64}`]
    const addrAdd = (ns: string, dev: string, list: string[]) => Promise.all(list.map((a) => ipn(ns, 'addr', 'add', a, 'dev', dev, ...(a.includes(':') ? ['nodad'] : []))))
    const neigh = (ns: string, dev: string, mac: string, ...addrs: string[]) => Promise.all(addrs.map((a) => ipn(ns, 'neigh', 'replace', a, 'lladdr', mac, 'dev', dev, 'nud', 'permanent')))
    await addrAdd(host, T.bridge, both(T.hostBridgeAddr, V6.hostBridgeAddr, 24))
    const guests = [[g1, T.ports[0], MAC.g1, T.guests[0], V6.guests[0]], [g2, T.ports[1], MAC.g2, T.guests[1], V6.guests[1]]] as const
    for (const [ns, port, mac, addr, addr6] of guests) {
      await ipn(host, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'address', mac, 'netns', ns)
      await ipn(host, 'link', 'set', port, 'master', T.bridge, 'up')
      await addrAdd(ns, 'eth0', both(addr, addr6, 24))
      await ipn(ns, 'link', 'set', 'eth0', 'up')
      await ipn(ns, 'route', 'add', 'default', 'via', T.hostBridgeAddr)
      await ipn(ns, '-6', 'route', 'add', 'default', 'via', V6.hostBridgeAddr)
      await neigh(ns, 'eth0', MAC.kbr0, T.hostBridgeAddr, V6.hostBridgeAddr)
      await sh(['bridge', '-n', host, 'fdb', 'replace', mac, 'dev', port, 'master', 'static'])
      await neigh(host, T.bridge, mac, addr, addr6)
    }
    await neigh(g1, 'eth0', MAC.g2, T.guests[1], V6.guests[1])
    await neigh(g2, 'eth0', MAC.g1, T.guests[0], V6.guests[0])
    await ipn(host, 'link', 'set', T.bridge, 'up')
    await ipn(host, 'link', 'add', T.uplink, 'address', MAC.up0, 'type', 'veth', 'peer', 'name', 'eth0', 'address', MAC.out, 'netns', out)
    await addrAdd(host, T.uplink, both(T.hostUplinkAddr, V6.hostUplinkAddr, 24))
    await ipn(host, 'link', 'set', T.uplink, 'group', '5', 'up')
    await ipn(host, 'route', 'add', 'default', 'via', T.outside)
    await ipn(host, '-6', 'route', 'add', 'default', 'via', V6.outside)
    await neigh(host, T.uplink, MAC.out, T.outside, V6.outside)
    await addrAdd(out, 'eth0', both(T.outside, V6.outside, 24))
    await addrAdd(out, 'lo', both(T.internet, V6.internet, 32))
    await ipn(out, 'link', 'set', 'eth0', 'up')
    // The outside routes the guests' subnet back to the host: replies come back with or without NAT.
    await ipn(out, 'route', 'add', T.subnet, 'via', T.hostUplinkAddr)
    await ipn(out, '-6', 'route', 'add', V6.subnet, 'via', V6.hostUplinkAddr)
    await neigh(out, 'eth0', MAC.up0, T.hostUplinkAddr, V6.hostUplinkAddr)
    await this.in('host', ['sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1'])
    // The legacy nat table registers the NAT core first, as on a host whose first nat table came at boot (see compile.ts).
    await this.in('host', ['iptables-legacy', '-t', 'nat', '-L', '-n'])
    await this.in('host', ['ip6tables-legacy', '-t', 'nat', '-L', '-n'])
    await this.in('host', ['ipset', 'create', 'kdxaddr', 'hash:ip'])
    await this.in('host', ['ipset', 'create', 'kdxaddr6', 'hash:ip', 'family', 'inet6'])
    const addresses: Record<Role, string[]> = {host: [T.hostBridgeAddr, T.hostUplinkAddr, V6.hostBridgeAddr, V6.hostUplinkAddr], g1: [T.guests[0], V6.guests[0]], g2: [T.guests[1], V6.guests[1]], out: [T.outside, T.internet, V6.outside, V6.internet]}
    this.agents = Object.fromEntries((Object.keys(this.ns) as Role[]).map((r) => [r, new Agent(this.ns[r], addresses[r])])) as Record<Role, Agent>
    await Promise.all(Object.values(this.agents).map((a) => a.ready))
  }

  agent(role: Role): Agent {
    return this.agents![role]
  }

  /**
   * Empties every table (legacy ones keep their registered built-in chains, policy ACCEPT), loads a ruleset
   * and empties conntrack (no connection of an earlier ruleset may answer for one of this one), in one
   * shell in the host namespace: the files are written first, `set -e` stops at the first tool that refuses.
   */
  async load(r: GeneratedRuleset): Promise<void> {
    const dir = this.work ??= mkdtempSync(join(tmpdir(), 'kdx-load-'))
    const file = (name: string, text: string) => {
      writeFileSync(join(dir, name), text)
      return join(dir, name)
    }
    const legacyReset = ['raw', 'mangle', 'nat', 'filter'].map((t) => `*${t}\nCOMMIT\n`).join('')
    const script = [
      'set -e',
      'nft flush ruleset',
      `iptables-legacy-restore < ${file('legacy-reset', legacyReset)}`,
      `ip6tables-legacy-restore < ${file('legacy-reset', legacyReset)}`,
      `ipset restore -exist < ${file('ipset', [...['kdxaddr', 'kdxaddr6'].map((s) => `flush ${s}`), ...r.ipset.map((a) => `add ${a.includes(':') ? 'kdxaddr6' : 'kdxaddr'} ${a}`)].join('\n') + '\n')}`,
      // br_netfilter passes bridged frames of each family to its own tables: both keys follow the ruleset.
      ...(brNetfilterAvailable() ? [`sysctl -qw net.bridge.bridge-nf-call-iptables=${r.brnf ? 1 : 0} net.bridge.bridge-nf-call-ip6tables=${r.brnf ? 1 : 0}`] : []),
      // IPv6 forwarding as this ruleset sets it (conf/all first: writing it sets every device's key).
      `sysctl -qw ${r.forwarding6.join(' ')}`,
      ...(r.legacy ? [`iptables-legacy-restore < ${file('legacy', r.legacy)}`] : []),
      ...(r.legacy6 ? [`ip6tables-legacy-restore < ${file('legacy6', r.legacy6)}`] : []),
      ...(r.iptablesNft ? [`iptables-nft-restore < ${file('iptables-nft', r.iptablesNft)}`] : []),
      ...(r.ip6tablesNft ? [`ip6tables-nft-restore < ${file('ip6tables-nft', r.ip6tablesNft)}`] : []),
      ...(r.nft ? [`nft -f ${file('nft', r.nft)}`] : []),
      ...(r.incompatible ? [`nft -f ${file('incompatible', r.incompatible)}`] : []),
      // Policy routing: the last ruleset's rules and table 100 go, this one's come (ip -batch stops at a command it refuses).
      // One process per family (-force: a priority that holds no rule, an empty table, are no error); each priority holds one rule.
      ...(['', '6'] as const).map((v) => `ip ${v ? '-6 ' : ''}-force -batch ${file(`unroute${v}`, `${[...RULE_PRIORITIES.map((p) => `rule del priority ${p}`), 'route flush table 100'].join('\n')}\n`)} 2>/dev/null || true`),
      ...(r.routing.length > 0 ? [`ip -batch ${file('routing', `${r.routing.join('\n')}\n`)}`] : []),
      ...(r.routing6.length > 0 ? [`ip -6 -batch ${file('routing6', `${r.routing6.join('\n')}\n`)}`] : []),
      'conntrack -F 2>/dev/null || true',
      'conntrack -F -f ipv6 2>/dev/null || true',
    ].join('\n')
    await this.in('host', ['sh', '-c', script])
  }

  private work?: string

  async destroy(): Promise<void> {
    if (this.agents) for (const a of Object.values(this.agents)) a.stop()
    this.agents = undefined
    for (const ns of Object.values(this.ns)) await sh(['ip', 'netns', 'del', ns]).catch(() => undefined)
    if (this.work) rmSync(this.work, {recursive: true, force: true})
    this.work = undefined
  }
}
