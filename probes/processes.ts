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

export interface ProcessFacts {
  processes: Process[]
  dnsmasq: DnsmasqInstance[]
  /** Whether a process that looks like ISC dhcpd runs. */
  dhcpdRunning: boolean
  libvirtdRunning: boolean
}

/** The listing the services probe reads too (each process's age): one ps process serves both. */
export const PS_ELAPSED = ['ps', '-eo', 'pid=,etimes=,args=']
/** What recordings made before the services probe, and sosreports, hold. */
const PS = ['ps', '-eo', 'pid=,args=']

/** ps lists at least itself: output without a single process was cut or lost, not a host running nothing. `elapsed`: PS_ELAPSED's listing. */
export function parsePs(text: string, elapsed = false): Process[] {
  if (lines(text).length === 0) throw new ParseError('ps: empty output (it lists at least itself)')
  const row = elapsed ? /^\s*(\d+)\s+\d+\s+(.*)$/ : /^\s*(\d+)\s+(.*)$/
  return lines(text).map((line, i) => {
    const m = row.exec(line)
    if (!m) throw new ParseError(`ps line ${i + 1}: expected "PID ${elapsed ? 'ELAPSED ' : ''}ARGS"`)
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

export const processesProbe: Probe<ProcessFacts> = {
  id: 'processes',
  title: 'Processes',
  reads: [PS_ELAPSED.join(' '), `${PS.join(' ')} (recordings without the former)`],
  async collect({runner}) {
    let ps = await runner.run(PS_ELAPSED)
    const elapsed = ps.errorCode !== 'not-recorded'
    if (!elapsed) ps = await runner.run(PS)
    if (ps.error !== undefined) throw new ProbeUnavailable(ps.error)
    // Command lines carry credentials (mysql -p, --password=, PGPASSWORD=): facts never hold them.
    const processes = parsePs(ps.output, elapsed).map((p) => ({...p, args: scrubText(p.args)}))
    const facts: ProcessFacts = {
      processes,
      dnsmasq: dnsmasqInstances(processes),
      dhcpdRunning: processes.some((p) => /^(\S*\/)?dhcpd(\s|$)/.test(p.args)),
      libvirtdRunning: processes.some((p) => /^(\S*\/)?(libvirtd|virtnetworkd)(\s|$)/.test(p.args)),
    }
    return facts
  },
}
