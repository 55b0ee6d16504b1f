/**
 * A plain live `kvmdoctor diagnose` reads the host from the moment node has started: bin/run.js starts the probes
 * (src/cli/early.ts) before oclif, the command and the analysis load, a few hundred milliseconds of the main thread
 * that the commands' own run time now overlaps. The command takes that run when it asks for the same reading;
 * any other run stops it.
 */
import type {ProbeOptions, ProbeResult} from '../../probes/types.js'
import type {LiveRunner} from './live-runner.js'

/** What a live run reads with when no flag says otherwise: diagnose's flag defaults. */
export const LIVE_READ_DEFAULTS = {timeoutSeconds: 5, deadlineSeconds: 120, libvirtUri: 'qemu:///system'} as const

/** What decides a live run's reading: a run asking for another reading is not this one's. */
export interface LiveReading {
  from?: string
  ssh?: unknown
  record?: string
  timeoutMs: number
  deadlineMs?: number
  options: ProbeOptions
}

interface EarlyRun {
  reading: LiveReading
  runner: LiveRunner
  results: Promise<Record<string, ProbeResult>>
}

let early: EarlyRun | undefined

/** Starts every probe on this host with the default reading. */
export async function startEarlyProbes(): Promise<void> {
  const [{LiveRunner}, {firstCommands}] = await Promise.all([import('./live-runner.js'), import('../../probes/first-reads.js')])
  const reading: LiveReading = {
    timeoutMs: LIVE_READ_DEFAULTS.timeoutSeconds * 1000,
    deadlineMs: LIVE_READ_DEFAULTS.deadlineSeconds * 1000,
    options: {active: false, libvirtUri: LIVE_READ_DEFAULTS.libvirtUri},
  }
  const runner = new LiveRunner({timeoutMs: reading.timeoutMs, deadlineMs: reading.deadlineMs})
  // The reads every probe run starts with run while the probes' code (parsers, the XML reader) loads.
  runner.prefetch(firstCommands(reading.options.libvirtUri))
  const [{runProbes}, {ALL_PROBES}] = await Promise.all([import('./probe-runner.js'), import('../../probes/index.js')])
  early = {reading, runner, results: runProbes(ALL_PROBES, runner, reading.options)}
}

/** The early run when it is the reading WANTED asks for (then it is the caller's); otherwise it is stopped. */
export function takeEarlyProbes(wanted: LiveReading): {runner: LiveRunner; results: Promise<Record<string, ProbeResult>>} | undefined {
  const run = early
  early = undefined
  if (run === undefined) return undefined
  if (sameReading(run.reading, wanted)) return run
  run.runner.stop()
  return undefined
}

/** Stops an early run nobody took (the command failed or was another): its commands are killed, none starts. */
export function stopEarlyProbes(): void {
  early?.runner.stop()
  early = undefined
}

function sameReading(a: LiveReading, b: LiveReading): boolean {
  const local = (r: LiveReading) => r.from === undefined && r.ssh === undefined && r.record === undefined
  const options = (o: ProbeOptions) => Object.entries(o).filter(([, v]) => v !== undefined)
  const [x, y] = [options(a.options), options(b.options)]
  return local(a) && local(b) && a.timeoutMs === b.timeoutMs && a.deadlineMs === b.deadlineMs && x.length === y.length && x.every(([k, v]) => b.options[k as keyof ProbeOptions] === v)
}
