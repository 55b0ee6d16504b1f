import {stat} from 'node:fs/promises'
import type {ProbeOptions} from '../../probes/types.js'
import {describeReadError} from './budget.js'
import {UserError} from './errors.js'
import type {Runner} from '../lib/runner.js'
import {RecordingRunner, ReplayRunner} from './snapshot.js'

export interface SourceOptions {
  from?: string
  record?: string
  timeoutMs: number
  /** Whole-run budget of a live run (--deadline). */
  deadlineMs?: number
  /** Told what the user must know about the source, though it opened (a bundle without checksums). */
  warn?: (message: string) => void
}

export interface Source {
  runner: Runner
  recorder?: RecordingRunner
  /** A snapshot's own probe options: replaying asks for what was recorded. */
  recordedOptions?: ProbeOptions
  /** Removes whatever opening the source created (an extracted bundle). */
  close(): Promise<void>
}

const nothing = async () => {}

/** Picks the runner: a snapshot directory or bundle file, or the live host (recorded when asked). */
export async function openSource(options: SourceOptions): Promise<Source> {
  if (options.from !== undefined) {
    // An empty --from is a mistake, not a request to probe this host.
    if (options.from.trim() === '') throw new UserError('--from needs a snapshot directory or a bundle file, got an empty string')
    const info = await stat(options.from).catch((error: unknown) => {
      const code = (error as NodeJS.ErrnoException).code
      throw new UserError(code === 'ENOENT' || code === 'ENOTDIR' ? `${options.from}: no such file or directory` : describeReadError(options.from!, error))
    })
    if (info.isDirectory()) {
      const runner = await ReplayRunner.open(options.from)
      return {runner, recordedOptions: runner.manifest.options, close: nothing}
    }
    // A FIFO or a device would block or never end: only a regular file can be a bundle.
    if (!info.isFile()) throw new UserError(`${options.from}: not a snapshot directory or a bundle file (it is ${info.isFIFO() ? 'a FIFO' : info.isSocket() ? 'a socket' : 'a device'})`)
    // tar is loaded only for bundles: it is not free at start-up.
    const {openBundle} = await import('./bundle.js')
    const {runner, cleanup, unverified} = await openBundle(options.from)
    if (unverified) options.warn?.(`${options.from} has no ${unverified}: its files are unverified (a bundle written before checksums existed, or one whose checksums were removed)`)
    return {runner, recordedOptions: runner.manifest.options, close: cleanup}
  }
  // The live runner (and its process pool) loads only for a live run.
  const {LiveRunner} = await import('./live-runner.js')
  const live = new LiveRunner({timeoutMs: options.timeoutMs, deadlineMs: options.deadlineMs})
  if (!options.record) return {runner: live, close: nothing}
  const recorder = new RecordingRunner(live)
  return {runner: recorder, recorder, close: nothing}
}
