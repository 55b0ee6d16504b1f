import {type CommandCapture, type Runner, lines} from '../src/lib/runner.js'
import {FIREWALLD} from './firewalld.js'
import {PS_ELAPSED, PS_LISTING, type PsColumn, parsePsRows, psArgv} from './processes.js'
import {type Probe, ProbeUnavailable, unavailableIfNotRecorded} from './types.js'

/** When a firewall or libvirt service last (re)applied its rules: the order decides whose rules survive. */
export interface ServiceEvent {
  /** firewalld, ufw, netfilter-persistent, iptables, nftables; libvirtd, virtnetworkd. */
  service: string
  role: 'firewall' | 'libvirt'
  what: 'started' | 'reloaded'
  /** Epoch milliseconds. */
  at: number
  /** Where it was read: "systemd ActiveEnterTimestamp", "ps etimes (pid 812)". */
  source: string
}

export interface ServiceFacts {
  events: ServiceEvent[]
  /** systemd answered (unit timestamps are known); false on hosts without it. */
  systemd: boolean
}

export const FIREWALL_UNITS = ['firewalld', 'ufw', 'netfilter-persistent', 'iptables', 'ip6tables', 'nftables']
export const LIBVIRT_UNITS = ['libvirtd', 'virtnetworkd']
const roleOf = (service: string): ServiceEvent['role'] => (LIBVIRT_UNITS.includes(service) ? 'libvirt' : 'firewall')

const SYSTEMCTL = ['systemctl', 'show', '--timestamp=unix', '-p', 'Id,ActiveState,ActiveEnterTimestamp,ExecMainStartTimestamp,ExecReload', ...[...FIREWALL_UNITS, ...LIBVIRT_UNITS].map((u) => `${u}.service`)]
/**
 * systemd's own test of whether it is the init (sd_booted()). Without it systemctl does not try the bus: it fails
 * ("System has not been booted with systemd as init system") and is not spawned.
 */
export const SYSTEMD_BOOTED = '/run/systemd/system'
const NOT_BOOTED = /not been booted with systemd/

/**
 * Whether systemd is known not to be the init. The directory is read, not listed: a missing path is 'not-found' on
 * every runner (a directory is 'not a regular file'), and over SSH reads share one session where a listing takes one.
 * A recording without the read is not known to lack systemd.
 */
export async function notBootedWithSystemd(runner: Runner): Promise<boolean> {
  return (await runner.readFile(SYSTEMD_BOOTED)).errorCode === 'not-found'
}

/** systemctl's answer; undefined where it is known to fail (not booted with systemd). */
async function systemctlShow(runner: Runner): Promise<CommandCapture | undefined> {
  return (await notBootedWithSystemd(runner)) ? undefined : runner.run(SYSTEMCTL)
}

/** Long-running daemons by their command line: only these have a process whose age tells when they started. */
const DAEMONS: {service: string; pattern: RegExp}[] = [
  {service: 'firewalld', pattern: FIREWALLD},
  {service: 'libvirtd', pattern: /^(\S*\/)?libvirtd(\s|$)/},
  {service: 'virtnetworkd', pattern: /^(\S*\/)?virtnetworkd(\s|$)/},
]

/** A ps listing with ages (`ps -eo pid=,etimes=,args=` unless COLUMNS says otherwise): each daemon's start, as the capture time minus its elapsed seconds. */
export function parsePsStarts(text: string, capturedAt: Date, columns: readonly PsColumn[] = PS_ELAPSED): ServiceEvent[] {
  const events: ServiceEvent[] = []
  for (const {pid, etimes, args} of parsePsRows(text, columns)) {
    const daemon = DAEMONS.find((d) => d.pattern.test(args ?? ''))
    if (daemon) events.push({service: daemon.service, role: roleOf(daemon.service), what: 'started', at: capturedAt.getTime() - (etimes ?? 0) * 1000, source: `ps etimes (pid ${pid})`})
  }
  return events
}

/** The processes probe's listing (one ps serves both), or the ages a recording made before it holds. */
async function psWithAges(runner: Runner): Promise<{ps: CommandCapture; columns: readonly PsColumn[]}> {
  const ps = await runner.run(psArgv(PS_LISTING))
  return ps.errorCode === 'not-recorded' ? {ps: await runner.run(psArgv(PS_ELAPSED)), columns: PS_ELAPSED} : {ps, columns: PS_LISTING}
}

/** "@1732816491" (--timestamp=unix) or "Sat 2026-11-28 17:54:51 UTC"; other time zones are not guessed. */
function parseTimestamp(text: string): number | undefined {
  const t = text.trim()
  const unix = /^@(\d+(?:\.\d+)?)$/.exec(t)
  if (unix) return Math.round(Number(unix[1]) * 1000)
  const utc = /^(?:\w{3} )?(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) UTC$/.exec(t)
  if (utc) return Date.parse(`${utc[1]}T${utc[2]}Z`)
  return undefined
}

/** `systemctl show` of several units: blocks separated by blank lines, Key=Value. */
export function parseSystemctlShow(text: string): ServiceEvent[] {
  const events: ServiceEvent[] = []
  for (const block of text.split(/\n\s*\n/)) {
    const props = new Map<string, string>()
    for (const line of lines(block)) {
      const at = line.indexOf('=')
      if (at > 0) props.set(line.slice(0, at), line.slice(at + 1))
    }
    const service = props.get('Id')?.replace(/\.service$/, '')
    if (!service || props.get('ActiveState') !== 'active') continue
    // Oneshot units (netfilter-persistent, iptables) have no main process: their activation is when they ran.
    const started = parseTimestamp(props.get('ExecMainStartTimestamp') ?? '') ?? parseTimestamp(props.get('ActiveEnterTimestamp') ?? '')
    if (started !== undefined) events.push({service, role: roleOf(service), what: 'started', at: started, source: 'systemd'})
    const reload = /start_time=\[([^\]]*)\]/.exec(props.get('ExecReload') ?? '')
    const reloaded = reload ? parseTimestamp(reload[1]) : undefined
    if (reloaded !== undefined) events.push({service, role: roleOf(service), what: 'reloaded', at: reloaded, source: 'systemd ExecReload'})
  }
  return events
}

export const servicesProbe: Probe<ServiceFacts> = {
  // /run/systemd/system is a directory (read only to learn whether it exists); systemctl fails where systemd is not the init.
  expectedFailure: (c) => (c.kind === 'file' && c.path === SYSTEMD_BOOTED) || (c.kind === 'command' && c.argv[0] === 'systemctl' && NOT_BOOTED.test(c.stderr + c.output)),
  id: 'services',
  title: 'Firewall and libvirt service start and reload times',
  reads: [psArgv(PS_LISTING).join(' '), `${psArgv(PS_ELAPSED).join(' ')} (recordings without the former)`, `${SYSTEMCTL.join(' ')} (when ${SYSTEMD_BOOTED} exists)`],
  async collect({runner}) {
    const [{ps, columns}, systemctl] = await Promise.all([psWithAges(runner), systemctlShow(runner)])
    unavailableIfNotRecorded(ps)
    if (ps.error !== undefined) throw new ProbeUnavailable(ps.error)
    const events = parsePsStarts(ps.output, runner.capturedAt, columns)
    // No systemd (containers, other inits): the process ages are all there is.
    const systemd = systemctl !== undefined && systemctl.error === undefined
    if (systemd) {
      const units = parseSystemctlShow(systemctl.output)
      // systemd's timestamps are exact; a daemon's process age only stands in where systemd says nothing of it.
      const known = new Set(units.filter((e) => e.what === 'started').map((e) => e.service))
      return {systemd, events: [...units, ...events.filter((e) => !known.has(e.service))]}
    }
    return {systemd, events}
  },
}
