import {lstat, stat} from 'node:fs/promises'
import {join} from 'node:path'
import type {ProbeOptions} from '../../probes/types.js'
import {describeReadError} from './budget.js'
import {UserError} from './errors.js'
import type {Runner} from '../lib/runner.js'
import {RecordingRunner, ReplayRunner} from './snapshot.js'
import type {SosSourceDescription} from './sosreport.js'
import type {SshTarget} from './ssh-runner.js'

export interface SourceOptions {
  from?: string
  /** Probe this host over SSH (--ssh, --ssh-option) instead of the local one. */
  ssh?: SshTarget
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
  /** Lets go of what was read into memory (a replay's outputs), once nothing will read the runner again. */
  release?: () => void
  /** A sosreport: what it is and (after the probes ran) what it did not collect, for the report header. */
  describe?: () => SosSourceDescription
}

const nothing = async () => {}
const isFile = (path: string) => lstat(path).then((s) => s.isFile(), () => false)
const isDirectory = (path: string) => lstat(path).then((s) => s.isDirectory(), () => false)

async function openSos(path: string, directory: boolean): Promise<Source> {
  const {describeSos, openSosreport} = await import('./sosreport.js')
  const runner = await openSosreport(path, {directory})
  // sos reads the host as it is: nothing active, nothing listened to, the system instance of libvirt.
  return {runner, recordedOptions: {active: false, libvirtUri: 'qemu:///system'}, close: nothing, describe: () => describeSos(path, runner)}
}

/** Picks the runner: a snapshot directory or bundle file, or the live host (recorded when asked). */
export async function openSource(options: SourceOptions): Promise<Source> {
  if (options.from !== undefined) {
    if (options.ssh !== undefined) throw new UserError('--ssh and --from exclude each other: probe a host over ssh, or analyse a recording')
    // An empty --from is a mistake, not a request to probe this host.
    if (options.from.trim() === '') throw new UserError('--from needs a snapshot directory or a bundle file, got an empty string')
    const info = await stat(options.from).catch((error: unknown) => {
      const code = (error as NodeJS.ErrnoException).code
      throw new UserError(code === 'ENOENT' || code === 'ENOTDIR' ? `${options.from}: no such file or directory` : describeReadError(options.from!, error))
    })
    if (info.isDirectory() && !(await isFile(join(options.from, 'manifest.json'))) && (await isDirectory(join(options.from, 'sos_commands')) || (await isFile(join(options.from, 'sos_reports', 'manifest.json'))))) {
      return openSos(options.from, true)
    }
    if (info.isDirectory()) {
      const runner = await ReplayRunner.open(options.from)
      return {runner, recordedOptions: runner.manifest.options, close: nothing, release: () => runner.forget()}
    }
    // A FIFO or a device would block or never end: only a regular file can be a bundle.
    if (!info.isFile()) throw new UserError(`${options.from}: not a snapshot directory or a bundle file (it is ${info.isFIFO() ? 'a FIFO' : info.isSocket() ? 'a socket' : 'a device'})`)
    // A sosreport (.tar.xz, or a .tar.gz holding sos_commands/): read by its own runner.
    const {archiveHoldsSosreport} = await import('./sosreport-tree.js')
    if (await archiveHoldsSosreport(options.from)) return openSos(options.from, false)
    // tar is loaded only for bundles: it is not free at start-up.
    const {openBundle} = await import('./bundle.js')
    const {runner, cleanup, unverified} = await openBundle(options.from)
    if (unverified) options.warn?.(`${options.from} has no ${unverified}: its files are unverified (a bundle written before checksums existed, or one whose checksums were removed)`)
    return {runner, recordedOptions: runner.manifest.options, close: cleanup, release: () => runner.forget()}
  }
  const live = await openLiveRunner(options)
  if (!options.record) return live
  const recorder = new RecordingRunner(live.runner)
  return {runner: recorder, recorder, close: live.close}
}

/** A runner on the live host: this one, or the one --ssh names (connected here: an unreachable host is a UserError). */
export async function openLiveRunner(options: Pick<SourceOptions, 'ssh' | 'timeoutMs' | 'deadlineMs'>): Promise<{runner: Runner; close: () => Promise<void>}> {
  if (options.ssh !== undefined) {
    if (options.ssh.destination.trim() === '') throw new UserError('--ssh needs [USER@]HOST, got an empty string')
    const {SshRunner} = await import('./ssh-runner.js')
    const runner = await SshRunner.open({...options.ssh, timeoutMs: options.timeoutMs, deadlineMs: options.deadlineMs})
    return {runner, close: () => runner.close()}
  }
  // The live runner (and its process pool) loads only for a live run.
  const {LiveRunner} = await import('./live-runner.js')
  return {runner: new LiveRunner({timeoutMs: options.timeoutMs, deadlineMs: options.deadlineMs}), close: nothing}
}
