import {stat} from 'node:fs/promises'
import {UserError} from './errors.js'
import {LiveRunner} from './live-runner.js'
import type {Runner} from './runner.js'
import {RecordingRunner, ReplayRunner} from './snapshot.js'

export interface SourceOptions {
  from?: string
  record?: string
  timeoutMs: number
}

/** Picks the runner: a replay of a snapshot, or the live host (recorded when asked). */
export async function openSource(options: SourceOptions): Promise<{runner: Runner; recorder?: RecordingRunner}> {
  if (options.from) {
    const info = await stat(options.from).catch(() => undefined)
    if (!info) throw new UserError(`${options.from}: no such file or directory`)
    if (!info.isDirectory()) throw new UserError(`${options.from}: expected a snapshot directory`)
    return {runner: await ReplayRunner.open(options.from)}
  }
  const live = new LiveRunner({timeoutMs: options.timeoutMs})
  if (!options.record) return {runner: live}
  const recorder = new RecordingRunner(live)
  return {runner: recorder, recorder}
}
