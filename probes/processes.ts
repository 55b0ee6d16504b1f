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

/** The columns of a `ps -eo` listing kvmdoctor reads, in their order: the command line, which holds spaces, last. */
export type PsColumn = 'pid' | 'stat' | 'etimes' | 'args'
export interface PsRow {
  pid: number
  stat?: string
  /** Seconds since the process started. */
  etimes?: number
  args?: string
}

const COLUMN_PATTERN: Record<PsColumn, string> = {pid: '(\\d+)', stat: '(\\S+)', etimes: '(\\d+)', args: '(.*)'}
const COLUMN_TITLE: Record<PsColumn, string> = {pid: 'PID', stat: 'STAT', etimes: 'ELAPSED', args: 'ARGS'}

/** ps printing COLUMNS without headers. */
export const psArgv = (columns: readonly PsColumn[]): string[] => ['ps', '-eo', columns.map((c) => `${c}=`).join(',')]

/** One listing serves the processes and services probes (a run asks for it once): each process's state, age and command line. */
export const PS_LISTING: readonly PsColumn[] = ['pid', 'stat', 'etimes', 'args']
/** What recordings made before the one listing hold: ages with command lines, and the states apart. */
export const PS_ELAPSED: readonly PsColumn[] = ['pid', 'etimes', 'args']
const PS_STATE: readonly PsColumn[] = ['pid', 'stat']
/** What recordings made before the services probe, and sosreports, hold. */
const PS: readonly PsColumn[] = ['pid', 'args']

/** ps lists at least itself: output without a single process was cut or lost, not a host running nothing. */
export function parsePsRows(text: string, columns: readonly PsColumn[]): PsRow[] {
  const rows = lines(text)
  if (rows.length === 0) throw new ParseError('ps: empty output (it lists at least itself)')
  const last = columns[columns.length - 1]
  const row = new RegExp(`^\\s*${columns.map((c) => COLUMN_PATTERN[c]).join('\\s+')}${last === 'args' ? '$' : '\\s*$'}`)
  return rows.map((line, i) => {
    const m = row.exec(line)
    if (!m) throw new ParseError(`ps line ${i + 1}: expected "${columns.map((c) => COLUMN_TITLE[c]).join(' ')}"`)
    const out: PsRow = {pid: Number(m[1])}
    columns.forEach((c, k) => {
      if (c === 'stat' || c === 'args') out[c] = m[k + 1]
      else if (c === 'etimes') out.etimes = Number(m[k + 1])
    })
    return out
  })
}

/** The processes of a listing holding command lines (`ps -eo pid=,args=` unless COLUMNS says otherwise). */
export function parsePs(text: string, columns: readonly PsColumn[] = PS): Process[] {
  return parsePsRows(text, columns).map((r) => ({pid: r.pid, args: r.args ?? ''}))
}

/** STAT begins with T (job control stop) or t (tracing stop). */
const stoppedOf = (rows: PsRow[]): StoppedProcess[] => rows.flatMap((r) => (r.stat?.startsWith('T') || r.stat?.startsWith('t') ? [{pid: r.pid, traced: r.stat.startsWith('t')}] : []))

/** The stopped processes of a listing holding states (`ps -eo pid=,stat=` unless COLUMNS says otherwise). */
export function parseStoppedProcesses(text: string, columns: readonly PsColumn[] = PS_STATE): StoppedProcess[] {
  return stoppedOf(parsePsRows(text, columns))
}

/** Stopped processes as facts from their own read: absent when the recording has no such read, null when it failed or was garbled. */
async function stoppedProcesses(runner: Runner): Promise<{stopped?: StoppedProcess[] | null}> {
  const ps = await runner.run(psArgv(PS_STATE))
  if (ps.errorCode === 'not-recorded') return {}
  if (ps.error !== undefined) return {stopped: null}
  try {
    return {stopped: parseStoppedProcesses(ps.output)}
  } catch (e) {
    if (e instanceof ParseError) return {stopped: null}
    throw e
  }
}

/** The rows and stopped processes of the one listing, or of what a recording made before it holds. */
async function readProcesses(runner: Runner): Promise<{rows: PsRow[]; stopped?: StoppedProcess[] | null}> {
  const listing = await runner.run(psArgv(PS_LISTING))
  if (listing.errorCode !== 'not-recorded') {
    if (listing.error !== undefined) throw new ProbeUnavailable(listing.error)
    const rows = parsePsRows(listing.output, PS_LISTING)
    return {rows, stopped: stoppedOf(rows)}
  }
  // The older listings were read alongside each other.
  const [elapsedPs, stopped] = await Promise.all([runner.run(psArgv(PS_ELAPSED)), stoppedProcesses(runner)])
  let ps = elapsedPs
  let columns = PS_ELAPSED
  if (ps.errorCode === 'not-recorded') [ps, columns] = [await runner.run(psArgv(PS)), PS]
  if (ps.error !== undefined) throw new ProbeUnavailable(ps.error)
  return {rows: parsePsRows(ps.output, columns), ...stopped}
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
  reads: [psArgv(PS_LISTING).join(' '), `${psArgv(PS_ELAPSED).join(' ')} and ${psArgv(PS_STATE).join(' ')}, or ${psArgv(PS).join(' ')} (recordings without the former)`],
  async collect({runner}) {
    const {rows, stopped} = await readProcesses(runner)
    // Command lines carry credentials (mysql -p, --password=, PGPASSWORD=): facts never hold them.
    const processes = rows.map((r) => ({pid: r.pid, args: scrubText(r.args ?? '')}))
    const facts: ProcessFacts = {
      processes,
      dnsmasq: dnsmasqInstances(processes),
      dhcpdRunning: processes.some((p) => DHCPD.test(p.args)),
      libvirtdRunning: processes.some((p) => /^(\S*\/)?(libvirtd|virtnetworkd)(\s|$)/.test(p.args)),
      ...(stopped === undefined ? {} : {stopped}),
    }
    return facts
  },
}
