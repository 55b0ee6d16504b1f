import {type Runner, lines} from '../src/lib/runner.js'
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
  /**
   * Processes in a stop state (ps STAT T; t: stopped by their tracer): each keeps its sockets, and what reaches them
   * waits unanswered. null: the states could not be read; absent: a recording made before kvmdoctor read them.
   */
  stopped?: StoppedProcess[] | null
}

export interface StoppedProcess {
  pid: number
  /** Stopped by a tracer (gdb, strace): only the tracer resumes it, SIGCONT does not. */
  traced: boolean
}

/** The listing the services probe reads too (each process's age): one ps process serves both. */
export const PS_ELAPSED = ['ps', '-eo', 'pid=,etimes=,args=']
/** What recordings made before the services probe, and sosreports, hold. */
const PS = ['ps', '-eo', 'pid=,args=']
/** Every process's state, a read of its own: the listings above stay what recordings and the services probe hold. */
export const PS_STATE = ['ps', '-eo', 'pid=,stat=']

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

/** The stopped processes of `ps -eo pid=,stat=`: STAT begins with T (job control stop) or t (tracing stop). */
export function parseStoppedProcesses(text: string): StoppedProcess[] {
  if (lines(text).length === 0) throw new ParseError('ps: empty output (it lists at least itself)')
  return lines(text).flatMap((line, i) => {
    const m = /^\s*(\d+)\s+(\S+)\s*$/.exec(line)
    if (!m) throw new ParseError(`ps line ${i + 1}: expected "PID STAT"`)
    return m[2].startsWith('T') || m[2].startsWith('t') ? [{pid: Number(m[1]), traced: m[2].startsWith('t')}] : []
  })
}

/** Stopped processes as facts: absent when the recording has no such read, null when it failed or was garbled. */
async function stoppedProcesses(runner: Runner): Promise<{stopped?: StoppedProcess[] | null}> {
  const ps = await runner.run(PS_STATE)
  if (ps.errorCode === 'not-recorded') return {}
  if (ps.error !== undefined) return {stopped: null}
  try {
    return {stopped: parseStoppedProcesses(ps.output)}
  } catch (e) {
    if (e instanceof ParseError) return {stopped: null}
    throw e
  }
}

const DHCPD = /^(\S*\/)?dhcpd(\s|$)/

/**
 * The ISC dhcpd processes that are stopped, and whether any dhcpd answers (one that runs and is not stopped): null when
 * one runs and the states could not be read.
 */
export function dhcpdState(p: ProcessFacts): {answers: boolean | null; stopped: StoppedProcess[]} {
  const pids = p.processes.filter((x) => DHCPD.test(x.args)).map((x) => x.pid)
  if (p.stopped === null && pids.length > 0) return {answers: null, stopped: []}
  const stopped = (p.stopped ?? []).filter((s) => pids.includes(s.pid))
  return {answers: stopped.length < pids.length, stopped}
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
  reads: [PS_ELAPSED.join(' '), `${PS.join(' ')} (recordings without the former)`, PS_STATE.join(' ')],
  async collect({runner}) {
    // The states are read alongside the listing (two short reads, not one after the other).
    const [elapsedPs, stopped] = await Promise.all([runner.run(PS_ELAPSED), stoppedProcesses(runner)])
    let ps = elapsedPs
    const elapsed = ps.errorCode !== 'not-recorded'
    if (!elapsed) ps = await runner.run(PS)
    if (ps.error !== undefined) throw new ProbeUnavailable(ps.error)
    // Command lines carry credentials (mysql -p, --password=, PGPASSWORD=): facts never hold them.
    const processes = parsePs(ps.output, elapsed).map((p) => ({...p, args: scrubText(p.args)}))
    const facts: ProcessFacts = {
      processes,
      dnsmasq: dnsmasqInstances(processes),
      dhcpdRunning: processes.some((p) => DHCPD.test(p.args)),
      libvirtdRunning: processes.some((p) => /^(\S*\/)?(libvirtd|virtnetworkd)(\s|$)/.test(p.args)),
      ...stopped,
    }
    return facts
  },
}
