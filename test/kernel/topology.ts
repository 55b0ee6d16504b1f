/**
 * A libvirt-shaped host in network namespaces, for the differential test: a host namespace with a bridge,
 * two veth ports ("taps") to two guest namespaces and an uplink veth to an outside namespace that plays
 * the internet. Neighbours and bridge forwarding entries are static (no ARP, no flooding: a rule that
 * drops ARP cannot make an IP verdict disagree). Each namespace runs agent.mjs: servers that say what
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
import {RULE_PRIORITIES, TOPOLOGY as T} from './generator.js'

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
  async readFile(path: string): Promise<FileCapture> {
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
    for (const ns of Object.values(this.ns)) {
      await ipn(ns, 'link', 'set', 'lo', 'up')
      await sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'])
    }
    await ipn(host, 'link', 'add', T.bridge, 'address', MAC.kbr0, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0')
    await ipn(host, 'addr', 'add', `${T.hostBridgeAddr}/24`, 'dev', T.bridge)
    const guests = [[g1, T.ports[0], MAC.g1, T.guests[0]], [g2, T.ports[1], MAC.g2, T.guests[1]]] as const
    for (const [ns, port, mac, addr] of guests) {
      await ipn(host, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'address', mac, 'netns', ns)
      await ipn(host, 'link', 'set', port, 'master', T.bridge, 'up')
      await ipn(ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0')
      await ipn(ns, 'link', 'set', 'eth0', 'up')
      await ipn(ns, 'route', 'add', 'default', 'via', T.hostBridgeAddr)
      await ipn(ns, 'neigh', 'replace', T.hostBridgeAddr, 'lladdr', MAC.kbr0, 'dev', 'eth0', 'nud', 'permanent')
      await sh(['bridge', '-n', host, 'fdb', 'replace', mac, 'dev', port, 'master', 'static'])
      await ipn(host, 'neigh', 'replace', addr, 'lladdr', mac, 'dev', T.bridge, 'nud', 'permanent')
    }
    await ipn(g1, 'neigh', 'replace', T.guests[1], 'lladdr', MAC.g2, 'dev', 'eth0', 'nud', 'permanent')
    await ipn(g2, 'neigh', 'replace', T.guests[0], 'lladdr', MAC.g1, 'dev', 'eth0', 'nud', 'permanent')
    await ipn(host, 'link', 'set', T.bridge, 'up')
    await ipn(host, 'link', 'add', T.uplink, 'address', MAC.up0, 'type', 'veth', 'peer', 'name', 'eth0', 'address', MAC.out, 'netns', out)
    await ipn(host, 'addr', 'add', `${T.hostUplinkAddr}/24`, 'dev', T.uplink)
    await ipn(host, 'link', 'set', T.uplink, 'group', '5', 'up')
    await ipn(host, 'route', 'add', 'default', 'via', T.outside)
    await ipn(host, 'neigh', 'replace', T.outside, 'lladdr', MAC.out, 'dev', T.uplink, 'nud', 'permanent')
    await ipn(out, 'addr', 'add', `${T.outside}/24`, 'dev', 'eth0')
    await ipn(out, 'addr', 'add', `${T.internet}/32`, 'dev', 'lo')
    await ipn(out, 'link', 'set', 'eth0', 'up')
    // The outside routes the guests' subnet back to the host: replies come back with or without NAT.
    await ipn(out, 'route', 'add', T.subnet, 'via', T.hostUplinkAddr)
    await ipn(out, 'neigh', 'replace', T.hostUplinkAddr, 'lladdr', MAC.up0, 'dev', 'eth0', 'nud', 'permanent')
    await this.in('host', ['sysctl', '-qw', 'net.ipv4.ip_forward=1'])
    // The legacy nat table registers the NAT core first, as on a host whose first nat table came at boot (see compile.ts).
    await this.in('host', ['iptables-legacy', '-t', 'nat', '-L', '-n'])
    await this.in('host', ['ipset', 'create', 'kdxaddr', 'hash:ip'])
    const addresses: Record<Role, string[]> = {host: [T.hostBridgeAddr, T.hostUplinkAddr], g1: [T.guests[0]], g2: [T.guests[1]], out: [T.outside, T.internet]}
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
  async load(r: {brnf: boolean; legacy: string; iptablesNft: string; nft: string; incompatible: string; ipset: string[]; routing: string[]}): Promise<void> {
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
      `ipset restore -exist < ${file('ipset', ['flush kdxaddr', ...r.ipset.map((a) => `add kdxaddr ${a}`)].join('\n') + '\n')}`,
      ...(brNetfilterAvailable() ? [`sysctl -qw net.bridge.bridge-nf-call-iptables=${r.brnf ? 1 : 0}`] : []),
      ...(r.legacy ? [`iptables-legacy-restore < ${file('legacy', r.legacy)}`] : []),
      ...(r.iptablesNft ? [`iptables-nft-restore < ${file('iptables-nft', r.iptablesNft)}`] : []),
      ...(r.nft ? [`nft -f ${file('nft', r.nft)}`] : []),
      ...(r.incompatible ? [`nft -f ${file('incompatible', r.incompatible)}`] : []),
      // Policy routing: the last ruleset's rules and table 100 go, this one's come (ip -batch stops at a command it refuses).
      ...RULE_PRIORITIES.map((p) => `while ip rule del priority ${p} 2>/dev/null; do :; done`),
      'ip route flush table 100 2>/dev/null || true',
      ...(r.routing.length > 0 ? [`ip -batch ${file('routing', `${r.routing.join('\n')}\n`)}`] : []),
      'conntrack -F 2>/dev/null || true',
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
