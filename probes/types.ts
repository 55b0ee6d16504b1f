import type {Capture, Runner} from '../src/lib/runner.js'

export interface ProbeOptions {
  /** Probes that send packets (arp-scan) run only when this is set. */
  active: boolean
  /** Seconds to listen on each running guest's tap (--listen): the wire probe runs only when set. */
  listen?: number
  /** libvirt connection URI for virsh. */
  libvirtUri: string
  /** Not read by probes: what stands for the internet in egress flows ("ADDR[:PORT][/proto]"), kept with a recording so a replay follows the same flows. */
  internet?: string
}

export interface ProbeContext {
  runner: Runner
  options: ProbeOptions
  /** The result of another probe (each probe runs once; this awaits it). */
  get<T>(id: string): Promise<ProbeResult<T>>
}

export interface Probe<T = unknown> {
  id: string
  title: string
  /** What it reads (commands and files), for the docs and the rules' "facts it reads". */
  reads: string[]
  collect(ctx: ProbeContext): Promise<T>
  /** Its reads take longest and others await its facts: it starts before the rest (reports keep the list's order). */
  early?: boolean
  /**
   * Failed reads this probe takes as a state of the host (Open vSwitch not started, a guest without its agent) or
   * answers another way (a fallback read), not as something it could not read. Any other failed read it was handed
   * and does not name in its own `degraded` list makes its result degraded (src/core/probe-runner.ts).
   */
  expectedFailure?: (c: Capture) => boolean
}

export type ProbeResult<T = unknown> =
  /** degraded: what the probe could not read (its data is partial, e.g. a lease file cut at the cap). */
  | {id: string; ok: true; data: T; durationMs: number; degraded?: string[]}
  | {id: string; ok: false; error: string; durationMs: number; skipped?: boolean}

/** A read of something that is not there (the tool or file does not exist), or that a recording does not hold: a state, not a failure. */
export const absentRead = (c: Capture): boolean => c.errorCode === 'not-found' || c.errorCode === 'not-recorded'

/** A probe's data, or undefined when it was unavailable. */
export const dataOf = <T>(r: ProbeResult | undefined): T | undefined => (r?.ok ? (r.data as T) : undefined)

/** Thrown by a probe whose source cannot be read: the probe becomes "unavailable" with this reason. */
export class ProbeUnavailable extends Error {
  constructor(
    message: string,
    /** True when the probe did not run on purpose (opt-in probe not enabled). */
    readonly skipped = false,
  ) {
    super(message)
  }
}

/** Thrown by a parser fed something it cannot understand. */
export class ParseError extends Error {}

/**
 * A snapshot made before this probe existed holds none of its sources: the probe is unavailable
 * with that reason, and its rules are "not checked" (not silently passed, as an opt-in probe's are).
 */
export function unavailableIfNotRecorded(capture: Capture): void {
  if (capture.errorCode === 'not-recorded') throw new ProbeUnavailable(`${capture.error} (the recording predates this probe)`)
}

/** Returns the output of a capture, or makes the probe unavailable with the capture's error. */
export function outputOf(capture: Capture): string {
  if (capture.error !== undefined) throw new ProbeUnavailable(capture.error)
  return capture.output
}

export function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T
  } catch (error) {
    throw new ParseError(`${what}: output is not valid JSON (${(error as Error).message.slice(0, 120)})`)
  }
}

export function asArray(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new ParseError(`${what}: expected a JSON array`)
  return value
}

export type Obj = Record<string, unknown>
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
export const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)
