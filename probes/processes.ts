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
  /** DHCP and DNS servers (dnsmasq, dhcpd) whose cgroup's freezer could not be read: whether they answer is not known. */
  freezeUnread?: number[]
}

export interface StoppedProcess {
  pid: number
  /** Stopped by a tracer (gdb, strace): only the tracer resumes it, SIGCONT does not. */
  traced: boolean
  /**
   * Frozen by the cgroup freezer (cgroup.freeze, `systemctl freeze`, a v1 freezer.state): the cgroup file that froze
   * it. ps shows such a process sleeping (S, or D under v1), not stopped; only thawing its cgroup resumes it.
   */
  frozen?: string
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
const DNSMASQ = /^(\S*\/)?dnsmasq(\s|$)/

/** Where each cgroup hierarchy is mounted: cgroup v2 alone, or beside v1 (hybrid: systemd's "unified"). */
const CGROUP2_ROOTS = ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']
const FREEZER_V1_ROOT = '/sys/fs/cgroup/freezer'

/** The cgroups of /proc/PID/cgroup a freezer can hold: v2's (0::PATH) and v1's freezer controller; the root never freezes. */
export function parseFreezerCgroups(text: string): {v2?: string; v1?: string} {
  const out: {v2?: string; v1?: string} = {}
  for (const line of lines(text)) {
    const m = /^(\d+):([^:]*):(\/.*)$/.exec(line.trim())
    if (!m || m[3] === '/') continue
    if (m[1] === '0' && m[2] === '') out.v2 = m[3]
    else if (m[2].split(',').includes('freezer')) out.v1 = m[3]
  }
  return out
}

/** A v2 cgroup.events says frozen 1 when it or an ancestor is frozen; v1's freezer.state FROZEN (FREEZING: on its way). */
export const frozenV2 = (events: string) => /^frozen 1$/m.test(events)
export const frozenV1 = (state: string) => /^(FROZEN|FREEZING)$/m.test(state.trim())

/**
 * The frozen ones of the DHCP and DNS servers the guests need (dnsmasq, dhcpd): ps shows a frozen process asleep, so
 * its cgroup's freezer is read. Absent from recordings made before it was read; a state that could not be read is
 * `unread` (its server answering then is not proven).
 */
async function frozenServers(runner: Runner, processes: Process[]): Promise<{frozen: StoppedProcess[]; unread: number[]} | undefined> {
  const servers = processes.filter((p) => DNSMASQ.test(p.args) || DHCPD.test(p.args))
  const reads = await Promise.all(servers.map(async ({pid}) => ({pid, read: await runner.readFile(`/proc/${pid}/cgroup`)})))
  if (reads.some((r) => r.read.errorCode === 'not-recorded')) return undefined
  const frozen: StoppedProcess[] = []
  const unread: number[] = []
  await Promise.all(
    reads.map(async ({pid, read}) => {
      // Gone since ps listed it: nothing of it answers, which the listeners' read shows.
      if (read.errorCode === 'not-found') return
      if (read.error !== undefined) return void unread.push(pid)
      const {v2, v1} = parseFreezerCgroups(read.output)
      const state = await freezerState(runner, v2, v1)
      if (state === null) unread.push(pid)
      else if (state !== undefined) frozen.push({pid, traced: false, frozen: state})
    }),
  )
  return {frozen: frozen.sort((a, b) => a.pid - b.pid), unread: unread.sort((a, b) => a - b)}
}

/** The freezer file that holds a process frozen, undefined when none does, null when a cgroup's state could not be read. */
async function freezerState(runner: Runner, v2: string | undefined, v1: string | undefined): Promise<string | null | undefined> {
  let unread = false
  if (v2 !== undefined) {
    const found = await firstFound(runner, CGROUP2_ROOTS.map((root) => `${root}${v2}/cgroup.events`))
    if (!found) unread = true
    else if (frozenV2(found.output)) return found.path.replace(/cgroup\.events$/, 'cgroup.freeze')
  }
  if (v1 !== undefined) {
    const state = await runner.readFile(`${FREEZER_V1_ROOT}${v1}/freezer.state`)
    if (state.error !== undefined) unread = true
    else if (frozenV1(state.output)) return state.path
  }
  return unread ? null : undefined
}

/** The first of the paths that reads (a hierarchy is mounted at one of its usual places). */
async function firstFound(runner: Runner, paths: string[]) {
  for (const path of paths) {
    const c = await runner.readFile(path)
    if (c.error === undefined) return c
    if (c.errorCode !== 'not-found') return undefined
  }
  return undefined
}

/**
 * The ISC dhcpd processes that are stopped, and whether any dhcpd answers (one that runs and is not stopped): null when
 * one runs and the states could not be read.
 */
export function dhcpdState(p: ProcessFacts): {answers: boolean | null; stopped: StoppedProcess[]} {
  const pids = p.processes.filter((x) => DHCPD.test(x.args)).map((x) => x.pid)
  if (p.stopped === null && pids.length > 0) return {answers: null, stopped: []}
  return {answers: anyAnswers(pids, p), stopped: (p.stopped ?? []).filter((s) => pids.includes(s.pid))}
}

/**
 * Whether one of PIDS answers: one neither stopped nor frozen surely does; when those left are only ones whose cgroup
 * freezer could not be read (each may be frozen), it is not known (null); none left, none answers.
 */
export function anyAnswers(pids: number[], p: Pick<ProcessFacts, 'stopped' | 'freezeUnread'>): boolean | null {
  const running = pids.filter((pid) => !p.stopped?.some((s) => s.pid === pid))
  return running.some((pid) => !p.freezeUnread?.includes(pid)) ? true : running.length > 0 ? null : false
}

export function dnsmasqInstances(processes: Process[]): DnsmasqInstance[] {
  return processes
    .filter((p) => DNSMASQ.test(p.args))
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
  reads: [
    psArgv(PS_LISTING).join(' '),
    `${psArgv(PS_ELAPSED).join(' ')} and ${psArgv(PS_STATE).join(' ')}, or ${psArgv(PS).join(' ')} (recordings without the former)`,
    "dnsmasq's and dhcpd's /proc/PID/cgroup, their cgroup.events (v2) and freezer.state (v1)",
  ],
  async collect({runner}) {
    const {rows, stopped} = await readProcesses(runner)
    // Command lines carry credentials (mysql -p, --password=, PGPASSWORD=): facts never hold them.
    const processes = rows.map((r) => ({pid: r.pid, args: scrubText(r.args ?? '')}))
    const freezer = await frozenServers(runner, processes)
    // A frozen server is held as a stopped one: it keeps its sockets and answers nothing.
    const held = freezer && stopped ? {stopped: [...stopped.filter((p) => !freezer.frozen.some((f) => f.pid === p.pid)), ...freezer.frozen]} : stopped === undefined ? {} : {stopped}
    const facts: ProcessFacts = {
      processes,
      dnsmasq: dnsmasqInstances(processes),
      dhcpdRunning: processes.some((p) => DHCPD.test(p.args)),
      libvirtdRunning: processes.some((p) => /^(\S*\/)?(libvirtd|virtnetworkd)(\s|$)/.test(p.args)),
      ...held,
      ...(freezer?.unread.length ? {freezeUnread: freezer.unread} : {}),
    }
    return facts
  },
}
