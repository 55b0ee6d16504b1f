import {lines} from '../src/lib/runner.js'
import {scrubText} from '../src/lib/scrub.js'
import {type Probe, ParseError, ProbeUnavailable} from './types.js'

export interface Process {
  pid: number
  args: string
}

export interface DnsmasqInstance {
  pid: number
  confFile?: string
  /** libvirt's instances use /var/lib/libvirt/dnsmasq/NET.conf. */
  libvirtNetwork?: string
  args: string
}

export interface Listener {
  proto: 'tcp' | 'udp'
  address: string
  /** Interface from `0.0.0.0%virbr0`. */
  iface?: string
  port: number
  process?: string
  pid?: number
}

export interface ProcessFacts {
  processes: Process[]
  dnsmasq: DnsmasqInstance[]
  /** Whether a process that looks like ISC dhcpd runs. */
  dhcpdRunning: boolean
  libvirtdRunning: boolean
  /** null when ss was unavailable. */
  listeners: Listener[] | null
  listenersError?: string
}

export function parsePs(text: string): Process[] {
  return lines(text).map((line, i) => {
    const m = /^\s*(\d+)\s+(.*)$/.exec(line)
    if (!m) throw new ParseError(`ps line ${i + 1}: expected "PID ARGS"`)
    return {pid: Number(m[1]), args: m[2]}
  })
}

export function dnsmasqInstances(processes: Process[]): DnsmasqInstance[] {
  return processes
    .filter((p) => /^(\S*\/)?dnsmasq(\s|$)/.test(p.args))
    .map((p) => {
      const confFile = /--conf-file=(\S+)/.exec(p.args)?.[1]
      const instance: DnsmasqInstance = {pid: p.pid, args: p.args}
      if (confFile) {
        instance.confFile = confFile
        const net = /^\/var\/lib\/libvirt\/dnsmasq\/(.+)\.conf$/.exec(confFile)?.[1]
        if (net) instance.libvirtNetwork = net
      }
      return instance
    })
}

export function parseSs(text: string): Listener[] {
  return lines(text).map((line, i) => {
    const cols = line.trim().split(/\s+/)
    const proto = cols[0]
    if ((proto !== 'tcp' && proto !== 'udp') || cols.length < 6) throw new ParseError(`ss line ${i + 1}: unexpected "${line.slice(0, 60)}"`)
    const local = cols[4]
    const at = local.lastIndexOf(':')
    let address = local.slice(0, at)
    let iface: string | undefined
    const pct = address.indexOf('%')
    if (pct >= 0) {
      iface = address.slice(pct + 1)
      address = address.slice(0, pct)
    }
    const listener: Listener = {proto, address: address.replace(/^\[|\]$/g, ''), port: Number(local.slice(at + 1))}
    if (iface) listener.iface = iface
    const user = /users:\(\("([^"]+)",pid=(\d+)/.exec(line)
    if (user) Object.assign(listener, {process: user[1], pid: Number(user[2])})
    return listener
  })
}

export const processesProbe: Probe<ProcessFacts> = {
  id: 'processes',
  title: 'Processes and listeners',
  reads: ['ps -eo pid=,args=', 'ss -H -lunpt'],
  async collect({runner}) {
    const [ps, ss] = await Promise.all([runner.run(['ps', '-eo', 'pid=,args=']), runner.run(['ss', '-H', '-lunpt'])])
    if (ps.error !== undefined) throw new ProbeUnavailable(ps.error)
    // Command lines carry credentials (mysql -p, --password=, PGPASSWORD=): facts never hold them.
    const processes = parsePs(ps.output).map((p) => ({...p, args: scrubText(p.args)}))
    const facts: ProcessFacts = {
      processes,
      dnsmasq: dnsmasqInstances(processes),
      dhcpdRunning: processes.some((p) => /^(\S*\/)?dhcpd(\s|$)/.test(p.args)),
      libvirtdRunning: processes.some((p) => /^(\S*\/)?(libvirtd|virtnetworkd)(\s|$)/.test(p.args)),
      listeners: null,
    }
    if (ss.error === undefined) facts.listeners = parseSs(ss.output)
    else facts.listenersError = ss.error
    return facts
  },
}
