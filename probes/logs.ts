import {type CommandCapture, type Runner, lines} from '../src/lib/runner.js'
import {notBootedWithSystemd} from './services.js'
import {type Probe} from './types.js'

/** Log lines that point at a known failure, by the pattern they prove. */
export const NOTABLE_LOG_LINES: {id: string; pattern: RegExp}[] = [
  {id: 'dhcp-no-address-available', pattern: /no address available/i},
  {id: 'conntrack-full', pattern: /nf_conntrack: table full, dropping packet/},
  {id: 'address-in-use', pattern: /failed to create listening socket.*Address already in use|Address already in use/i},
  {id: 'nft-incompatible', pattern: /table .* is incompatible, use 'nft' tool/},
  {id: 'network-in-use', pattern: /Network is already in use by interface/},
  {id: 'netfilter-extension-missing', pattern: /Extension \S+ revision \d+ not supported, missing kernel module\?|Couldn't load (?:match|target) `[^']+'/},
]

export interface LogSource {
  source: string
  lines: number
  truncated: boolean
  error?: string
}

export interface LogFacts {
  sources: LogSource[]
  notable: {id: string; source: string; line: string}[]
}

export const LOG_TAIL_BYTES = 256 * 1024
const LIBVIRTD_LOG = '/var/log/libvirt/libvirtd.log'
const JOURNAL = ['journalctl', '-u', 'libvirtd', '-u', 'virtnetworkd', '-u', 'isc-dhcp-server', '-k', '--since', '-1h', '--no-pager', '-q', '-n', '2000', '-o', 'short-iso']

/**
 * Where journalctl (no -D, --file or --machine) finds journal files: the volatile and the persistent journal. With
 * neither holding anything it prints nothing (and exits 0), so it is not spawned. A recording without them runs it.
 */
export const JOURNAL_DIRS = ['/run/log/journal', '/var/log/journal']

async function readJournal(runner: Runner): Promise<CommandCapture | undefined> {
  // A systemd host keeps a journal: journalctl is run without listing them first (over SSH a listing takes a session).
  if (!(await notBootedWithSystemd(runner))) return runner.run(JOURNAL)
  const dirs = await Promise.all(JOURNAL_DIRS.map((d) => runner.listDir(d)))
  const empty = dirs.every((d) => d.errorCode === 'not-found' || (d.error === undefined && d.output === ''))
  return empty ? undefined : runner.run(JOURNAL)
}

export function notableLines(text: string, source: string): LogFacts['notable'] {
  const found: LogFacts['notable'] = []
  for (const line of lines(text)) {
    const hit = NOTABLE_LOG_LINES.find((p) => p.pattern.test(line))
    if (hit) found.push({id: hit.id, source, line: line.trim().slice(0, 500)})
  }
  // The most recent few per kind are enough as evidence.
  return found.slice(-50)
}

/** The recent end of libvirt's and the kernel's logs: evidence for findings and context for bundles. */
export const logsProbe: Probe<LogFacts> = {
  // Each source's failure is one of its facts (sources[].error): a host without that log is normal. /run/systemd/system
  // is only asked whether it exists.
  expectedFailure: () => true,
  id: 'logs',
  title: 'Recent libvirt and kernel log lines',
  reads: [LIBVIRTD_LOG, `${JOURNAL.join(' ')} (when ${JOURNAL_DIRS.join(' or ')} holds a journal)`],
  async collect({runner}) {
    const [file, journal] = await Promise.all([runner.readFile(LIBVIRTD_LOG, {tailBytes: LOG_TAIL_BYTES}), readJournal(runner)])
    const facts: LogFacts = {sources: [], notable: []}
    // No journal: what journalctl would have printed, nothing.
    const nothing = {output: '', truncated: false, error: undefined}
    for (const [source, capture] of [[LIBVIRTD_LOG, file], ['journalctl', journal ?? nothing]] as const) {
      // A host without that log (no systemd, default log outputs) is normal: list it, do not fail.
      if (capture.error !== undefined) {
        facts.sources.push({source, lines: 0, truncated: false, error: capture.error})
        continue
      }
      facts.sources.push({source, lines: lines(capture.output).length, truncated: capture.truncated})
      facts.notable.push(...notableLines(capture.output, source))
    }
    return facts
  },
}
