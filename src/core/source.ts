import {stat} from 'node:fs/promises'
import type {ProbeOptions} from '../../probes/types.js'
import {UserError} from './errors.js'
import {LiveRunner} from './live-runner.js'
import type {Runner} from './runner.js'
import {RecordingRunner, ReplayRunner} from './snapshot.js'

export interface SourceOptions {
  from?: string
  record?: string
  timeoutMs: number
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
  if (options.from) {
    const info = await stat(options.from).catch(() => undefined)
    if (!info) throw new UserError(`${options.from}: no such file or directory`)
    if (info.isDirectory()) {
      const runner = await ReplayRunner.open(options.from)
      return {runner, recordedOptions: runner.manifest.options, close: nothing}
    }
    // tar is loaded only for bundles: it is not free at start-up.
    const {openBundle} = await import('./bundle.js')
    const {runner, cleanup} = await openBundle(options.from)
    return {runner, recordedOptions: runner.manifest.options, close: cleanup}
  }
  const live = new LiveRunner({timeoutMs: options.timeoutMs})
  if (!options.record) return {runner: live, close: nothing}
  const recorder = new RecordingRunner(live)
  return {runner: recorder, recorder, close: nothing}
}
