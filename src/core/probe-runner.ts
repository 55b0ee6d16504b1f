import {ParseError, type Probe, type ProbeContext, type ProbeOptions, type ProbeResult, ProbeUnavailable, absentRead, dataOf} from '../../probes/types.js'
import type {HostFacts} from '../../probes/host.js'
import {degradedOf} from '../lib/degraded.js'
import type {Capture, Runner} from '../lib/runner.js'
import {MemoryRunner} from './snapshot.js'
import {parseDestination} from '../datapath/destination.js'
import type {Destination} from '../datapath/flows.js'
import type {ProbeStatus} from '../result/diagnosis.js'
import {UserError} from './errors.js'

/**
 * Runs every probe once, letting probes await each other's results (and those of `readOnDemand`).
 * A probe that throws becomes unavailable with the reason; nothing else fails.
 * A probe's duration is measured on a live host; replayed (snapshot, bundle),
 * it is the sum of the recorded durations of what it read, so two replays of
 * one snapshot report the same durations.
 */
export async function runProbes(probes: Probe[], host: Runner, options: ProbeOptions, readOnDemand: Probe[] = []): Promise<Record<string, ProbeResult>> {
  // `readOnDemand`: probes run only when one of `probes` asks for their facts, and left out of the results.
  const byId = new Map([...readOnDemand, ...probes].map((p) => [p.id, p]))
  const replay = host instanceof MemoryRunner
  const runner = readingOnce(host)
  const running = new Map<string, Promise<ProbeResult>>()
  const start = (id: string, chain: string[]): Promise<ProbeResult> => {
    const existing = running.get(id)
    if (existing) return existing
    const probe = byId.get(id)
    const promise = probe
      ? execute(probe, replay, {
          runner,
          options,
          get: <T>(dep: string) => {
            if (chain.includes(dep)) return Promise.resolve({id: dep, ok: false, error: `dependency cycle ${[...chain, dep].join(' -> ')}`, durationMs: 0})
            return start(dep, [...chain, dep]) as Promise<ProbeResult<T>>
          },
        })
      : Promise.resolve<ProbeResult>({id, ok: false, error: `no probe named ${id}`, durationMs: 0})
    running.set(id, promise)
    return promise
  }
  for (const p of probes) if (p.early) start(p.id, [p.id])
  const results = await Promise.all(probes.map((p) => start(p.id, [p.id])))
  return Object.fromEntries(results.map((r) => [r.id, r]))
}

async function execute(probe: Probe, replay: boolean, ctx: ProbeContext): Promise<ProbeResult> {
  const started = performance.now()
  let recorded = 0
  const took = () => Math.round(replay ? recorded : performance.now() - started)
  const handed: Capture[] = []
  ctx = {
    ...ctx,
    runner: tallying(ctx.runner, (c) => {
      handed.push(c)
      if (replay) recorded += c.durationMs
    }),
  }
  try {
    const data = await probe.collect(ctx)
    const own = degradedOf(data) ?? []
    const degraded = [...own, ...unspokenFailures(probe, handed, own)]
    return {id: probe.id, ok: true, data, durationMs: took(), ...(degraded.length > 0 ? {degraded} : {})}
  } catch (error) {
    if (error instanceof ProbeUnavailable) return {id: probe.id, ok: false, error: error.message, durationMs: took(), ...(error.skipped ? {skipped: true} : {})}
    if (error instanceof ParseError) return {id: probe.id, ok: false, error: `unparseable output: ${error.message}`, durationMs: took()}
    // A bug in a probe must not take the run down: report it as this probe's failure.
    return {id: probe.id, ok: false, error: `probe failed: ${(error as Error).message ?? String(error)}`, durationMs: took()}
  }
}

/**
 * The failed reads a probe neither expects nor names in what it marked missing: data read without them is partial,
 * whatever the probe made of the gap (an unreadable sysctl is no value, a failed `nft -a` no netdev device), and a
 * partial read must not pass for a whole one. Named by the command or path, with the runner's error.
 */
function unspokenFailures(probe: Probe, handed: Capture[], own: string[]): string[] {
  const out: string[] = []
  for (const c of new Set(handed)) {
    if (c.error === undefined || absentRead(c) || probe.expectedFailure?.(c)) continue
    const label = c.kind === 'command' ? c.argv.join(' ') : c.path
    if (own.some((m) => m.includes(label) || (c.kind === 'command' && namesCommand(m, c.argv)))) continue
    const message = `${c.error.startsWith(label) ? c.error : `${label}: ${c.error}`} (what it holds is unknown)`
    if (!out.includes(message)) out.push(message)
  }
  return out
}

/**
 * Whether a probe's message names this command in its own words: it starts with the program and holds every word of
 * the command that is not an option or an option's value ("virsh dumpxml web01: …" for `virsh -r -c URI dumpxml
 * web01`), so a message about one read never speaks for another read of the same program.
 */
function namesCommand(message: string, argv: string[]): boolean {
  if (!message.startsWith(`${argv[0]} `) && !message.startsWith(`${argv[0]}:`)) return false
  const words = argv.slice(1).filter((w, i, all) => !w.startsWith('-') && !['-c', '--connect'].includes(all[i - 1]))
  return words.every((w) => message.includes(w))
}

/**
 * The same runner, each distinct read made once per run: a probe asking for what another already read
 * (or is reading) gets that capture, not a second process. A recording keeps one capture per read anyway.
 */
function readingOnce(runner: Runner): Runner {
  const reads = new Map<string, Promise<Capture>>()
  const once = <T extends Capture>(key: unknown[], read: () => Promise<T>): Promise<T> => {
    const k = JSON.stringify(key)
    let capture = reads.get(k)
    if (!capture) reads.set(k, (capture = read()))
    return capture as Promise<T>
  }
  return {
    get capturedAt() {
      return runner.capturedAt
    },
    get origin() {
      return runner.origin
    },
    run: (argv, options) => once(['command', argv, options], () => runner.run(argv, options)),
    readFile: (path, options) => once(['file', path, options], () => runner.readFile(path, options)),
    listDir: (path) => once(['dir', path], () => runner.listDir(path)),
  }
}

/** The same runner, telling `seen` of every capture it hands out. */
function tallying(runner: Runner, seen: (c: Capture) => void): Runner {
  const tell = <T extends Capture>(c: T): T => {
    seen(c)
    return c
  }
  return {
    get capturedAt() {
      return runner.capturedAt
    },
    get origin() {
      return runner.origin
    },
    run: async (argv, options) => tell(await runner.run(argv, options)),
    readFile: async (path, options) => tell(await runner.readFile(path, options)),
    listDir: async (path) => tell(await runner.listDir(path)),
  }
}

/** The run's stand-in for the internet, from its options (a recording keeps the one it was made with). */
export function internetOf(options: ProbeOptions): Destination | undefined {
  if (options.internet === undefined) return undefined
  const d = parseDestination(options.internet)
  if (typeof d === 'string') throw new UserError(`--internet: ${d}`)
  return d
}

/** What the reports say of each probe: ran or not, how long, why not. */
export function probeStatuses(results: Record<string, ProbeResult>): ProbeStatus[] {
  return Object.values(results).map((r) => ({
    id: r.id,
    ok: r.ok,
    durationMs: r.durationMs,
    ...(r.ok ? (r.degraded ? {degraded: r.degraded} : {}) : {error: r.error, ...(r.skipped ? {skipped: true} : {})}),
  }))
}

/** The host's own name; when it could not be read, the name it was reached by (--ssh), else localhost. */
export function hostNameOf(results: Record<string, ProbeResult>, origin?: string): string {
  return dataOf<HostFacts>(results.host)?.hostname ?? origin ?? 'localhost'
}
