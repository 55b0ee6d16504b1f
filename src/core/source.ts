import {stat} from 'node:fs/promises'
import {UserError} from './errors.js'
import {LiveRunner} from './live-runner.js'
import type {ProbeOptions} from '../../probes/types.js'
import type {Runner} from './runner.js'
import {RecordingRunner, ReplayRunner} from './snapshot.js'

export interface SourceOptions {
  from?: string
  record?: string
  timeoutMs: number
}

/** Picks the runner: a replay of a snapshot, or the live host (recorded when asked). */
export interface Source {
  runner: Runner
  recorder?: RecordingRunner
  /** A snapshot's own probe options: replaying asks for what was recorded. */
  recordedOptions?: ProbeOptions
}

export async function openSource(options: SourceOptions): Promise<Source> {
  if (options.from) {
    const info = await stat(options.from).catch(() => undefined)
    if (!info) throw new UserError(`${options.from}: no such file or directory`)
    if (!info.isDirectory()) throw new UserError(`${options.from}: expected a snapshot directory`)
    const runner = await ReplayRunner.open(options.from)
    return {runner, recordedOptions: runner.manifest.options}
  }
  const live = new LiveRunner({timeoutMs: options.timeoutMs})
  if (!options.record) return {runner: live}
  const recorder = new RecordingRunner(live)
  return {runner: recorder, recorder}
}
