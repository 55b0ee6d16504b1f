import {type ChildProcess, spawn} from 'node:child_process'
import {closeSync, constants, fstatSync, openSync, readSync, readdirSync} from 'node:fs'
import pLimit from 'p-limit'
import {formatBytes} from './budget.js'
import {onExit} from './lifecycle.js'
import {type CommandCapture, type DirCapture, type FileCapture, type ReadOptions, type RunOptions, type Runner, captureKey} from '../lib/runner.js'

export interface LiveRunnerOptions {
  timeoutMs?: number
  maxOutputBytes?: number
  concurrency?: number
  /** Grace period between SIGTERM at the timeout and SIGKILL. */
  killAfterMs?: number
  /** Whole-run budget from now (--deadline): nothing starts after it, and running commands are stopped at it. */
  deadlineMs?: number
  /**
   * How long a command's pipes may stay open after it exited before its group is killed and what came
   * is kept. An ssh session's client exits when it has the exit status; the connection's master, which
   * writes the session's output into the same pipes, may still be writing then.
   */
  pipeGraceMs?: number
}

export const DEFAULT_TIMEOUT_MS = 5000
// An iptables-save of 200,000 rules (a 10,000-guest host) is some 21 MiB: the cap leaves it room.
export const DEFAULT_MAX_OUTPUT_BYTES = 32 * 1024 * 1024
const STDERR_BYTES = 64 * 1024
/** How long a command's pipes may stay open after it exited (a descendant holding them) before its group is killed. */
const PIPE_GRACE_MS = 250
/** After that kill, how long the pipes may take to deliver what they hold and close. */
const CLOSE_WAIT_MS = 1000

/**
 * Runs commands as the host's read-only sources. Each child gets its own process group,
 * so a timeout, the size cap, the deadline or a SIGINT/SIGTERM to kvmdoctor stops the
 * command and everything it started, and a descendant holding the pipes cannot keep
 * the run waiting.
 */
export class LiveRunner implements Runner {
  readonly capturedAt = new Date()
  private readonly limit
  private readonly timeoutMs: number
  private readonly maxOutputBytes: number
  private readonly killAfterMs: number
  private readonly pipeGraceMs: number
  private deadline: number
  /** What each capture's startMs counts from. */
  private readonly runStart = performance.now()
  /** Process groups of commands still running, killed if kvmdoctor is interrupted. */
  private readonly groups = new Set<number>()
  private forgetGroups?: () => void
  /** Commands started by prefetch that nobody has asked for yet. */
  private readonly prefetched = new Map<string, Promise<CommandCapture>>()
  /** The commands' environment, built once: copying process.env (each variable a lookup in the C++ environment) for each of a run's twenty-odd commands was milliseconds of the thread that spawns them all. */
  private readonly env = {...process.env, LC_ALL: 'C', LANG: 'C'}

  constructor(options: LiveRunnerOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES
    this.killAfterMs = options.killAfterMs ?? 1000
    this.pipeGraceMs = options.pipeGraceMs ?? PIPE_GRACE_MS
    this.deadline = options.deadlineMs === undefined ? Infinity : Date.now() + options.deadlineMs
    this.limit = pLimit(options.concurrency ?? 6)
  }

  private since(moment: number): number {
    return Math.round(moment - this.runStart)
  }

  /**
   * Starts commands now, before the code that will ask for them has loaded (a live diagnose's first reads): the
   * first run() of each argv, without options, takes that run instead of starting another.
   */
  prefetch(argvs: string[][]): void {
    for (const argv of argvs) this.prefetched.set(captureKey({kind: 'command', argv}), this.run(argv))
  }

  run(argv: string[], options: RunOptions = {}): Promise<CommandCapture> {
    const key = captureKey({kind: 'command', argv})
    const started = this.prefetched.get(key)
    if (started !== undefined && Object.keys(options).length === 0) {
      this.prefetched.delete(key)
      return started
    }
    // A listen mostly waits: all of them run at once, beside the other commands.
    if (options.listenMs !== undefined) return this.runNow(argv, options)
    return this.limit(() => this.runNow(argv, options))
  }

  /** Ends the run: what is running is killed with its group, and nothing starts after (a run nobody will read). */
  stop(): void {
    this.deadline = -Infinity
    for (const group of this.groups) killGroup(group, 'SIGKILL')
  }

  private track(pid: number): void {
    this.groups.add(pid)
    this.forgetGroups ??= onExit(() => {
      for (const group of this.groups) killGroup(group, 'SIGKILL')
    })
  }

  private untrack(pid: number): void {
    this.groups.delete(pid)
    if (this.groups.size === 0) {
      this.forgetGroups?.()
      this.forgetGroups = undefined
    }
  }

  private runNow(argv: string[], options: RunOptions): Promise<CommandCapture> {
    const started = performance.now()
    const command = argv.join(' ')
    const capture: CommandCapture = {kind: 'command', argv, output: '', stderr: '', exitCode: null, durationMs: 0, startMs: this.since(started), timedOut: false, truncated: false}
    const remaining = this.deadline - Date.now()
    if (remaining <= 0) {
      return Promise.resolve({...capture, timedOut: true, error: `${command}: not run, the run's deadline had passed`, errorCode: 'timeout' as const})
    }
    const listening = options.listenMs !== undefined
    const wanted = listening ? options.listenMs! : Math.min(options.timeoutMs ?? this.timeoutMs, this.timeoutMs)
    const timeoutMs = Math.max(1, Math.min(wanted, remaining))
    const stoppedByDeadline = remaining < wanted
    const maxOutputBytes = Math.min(options.maxOutputBytes ?? this.maxOutputBytes, this.maxOutputBytes)

    return new Promise((resolve) => {
      let child: ChildProcess
      try {
        child = spawn(argv[0], argv.slice(1), {env: this.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true, shell: false})
      } catch (error) {
        // Invalid argv (a NUL byte): nothing was started.
        resolve({...capture, error: `${argv[0]}: cannot run (${(error as Error).message})`, errorCode: 'failed'})
        return
      }
      const pid = child.pid
      if (pid !== undefined) this.track(pid)
      const out: Buffer[] = []
      let kept = 0
      const err: Buffer[] = []
      let errKept = 0
      let spawnError: NodeJS.ErrnoException | undefined
      let exit: {code: number | null; signal: NodeJS.Signals | null} | undefined
      let killedForSize = false
      let done = false
      const timers: NodeJS.Timeout[] = []
      const kill = (signal: NodeJS.Signals) => pid !== undefined && killGroup(pid, signal)

      child.stdout!.on('data', (chunk: Buffer) => {
        const room = maxOutputBytes - kept
        if (room > 0) {
          out.push(chunk.subarray(0, room))
          kept += Math.min(room, chunk.length)
        }
        if (chunk.length > room && !killedForSize) {
          // Over the cap: what follows cannot be kept, so the command is stopped, not drained.
          capture.truncated = true
          killedForSize = true
          kill('SIGKILL')
        }
      })
      child.stderr!.on('data', (chunk: Buffer) => {
        if (errKept < STDERR_BYTES) {
          err.push(chunk.subarray(0, STDERR_BYTES - errKept))
          errKept += Math.min(chunk.length, STDERR_BYTES - errKept)
        }
      })
      // Stream errors (EPIPE, a destroyed pipe) end the stream; the exit decides the result.
      child.stdout!.on('error', () => undefined)
      child.stderr!.on('error', () => undefined)

      const finish = () => {
        if (done) return
        done = true
        for (const t of timers) clearTimeout(t)
        if (pid !== undefined) this.untrack(pid)
        child.stdout!.destroy()
        child.stderr!.destroy()
        capture.durationMs = Math.round(performance.now() - started)
        capture.output = Buffer.concat(out).toString('utf8')
        const stderr = Buffer.concat(err).toString('utf8')
        capture.stderr = stderr
        capture.exitCode = exit?.code ?? null
        Object.assign(capture, classify())
        resolve(capture)
      }

      const classify = (): Pick<CommandCapture, 'error' | 'errorCode'> => {
        if (spawnError) {
          if (spawnError.code === 'ENOENT') return {error: `${argv[0]}: command not found`, errorCode: 'not-found'}
          if (spawnError.code === 'EACCES') return {error: `${argv[0]}: permission denied`, errorCode: 'permission-denied'}
          return {error: `${argv[0]}: cannot run (${spawnError.code ?? spawnError.message})`, errorCode: 'failed'}
        }
        if (capture.timedOut && listening) {
          // The end of the listening time is how a listen ends: what it printed is whole, unless the deadline cut it short.
          capture.timedOut = false
          if (stoppedByDeadline) capture.truncated = true
          return {}
        }
        if (capture.timedOut) {
          return {error: stoppedByDeadline ? `${command}: stopped at the run's deadline after ${timeoutMs} ms` : `${command}: timed out after ${timeoutMs} ms`, errorCode: 'timeout'}
        }
        if (killedForSize) return {error: `${command}: output over the ${formatBytes(maxOutputBytes)} cap, stopped (only its start was kept)`, errorCode: 'too-large'}
        if (exit && (exit.code !== 0 || exit.signal)) {
          const stderr = capture.stderr
          const firstLine = stderr.trim().split('\n')[0]?.slice(0, 500) ?? ''
          return {
            error: `${command}: exit ${exit.code ?? exit.signal}${firstLine ? `: ${firstLine}` : ''}`,
            errorCode: /permission denied|not permitted/i.test(stderr) ? 'permission-denied' : 'exit-status',
          }
        }
        return {}
      }

      child.on('error', (error: NodeJS.ErrnoException) => {
        spawnError ??= error
        finish()
      })
      child.on('exit', (code, signal) => {
        exit = {code, signal}
        // The pipes normally close with the exit; a descendant may hold them open for its lifetime. The grace
        // is counted in event-loop turns too: a timer can fire before the poll phase reads what the command
        // wrote just before it exited (a loop busy parsing other output), so the pipes are read to their
        // end first, and only pipes still open after that are taken as held by a descendant: it is killed,
        // and what the pipes hold is still read until they close (CLOSE_WAIT_MS at most, should something
        // outside the group hold them).
        timers.push(
          setTimeout(() => {
            setImmediate(() => {
              if (done) return
              const drained = () => child.stdout!.readableEnded && child.stderr!.readableEnded
              if (drained()) return finish()
              kill('SIGKILL')
              timers.push(setTimeout(finish, CLOSE_WAIT_MS))
            })
          }, this.pipeGraceMs),
        )
      })
      child.on('close', finish)
      timers.push(
        setTimeout(() => {
          capture.timedOut = true
          kill('SIGTERM')
          timers.push(setTimeout(() => kill('SIGKILL'), this.killAfterMs))
        }, timeoutMs),
      )
    })
  }

  /**
   * Files are read synchronously, whole, in one go: a read of a small local file never waits on anything but the
   * kernel, while through the thread pool its open, stat, reads and close each waited for the main thread, which
   * spawns every command and blocks in each spawn; a status file libvirt's listing led to took 20 to 80 ms so.
   */
  readFile(path: string, options: ReadOptions = {}): Promise<FileCapture> {
    const started = performance.now()
    const capture: FileCapture = {kind: 'file', path, output: '', durationMs: 0, startMs: this.since(started), truncated: false}
    if (Date.now() >= this.deadline) return Promise.resolve({...capture, error: `${path}: not read, the run's deadline had passed`, errorCode: 'timeout' as const})
    try {
      // O_NONBLOCK: opening a FIFO must not wait for a writer.
      const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
      try {
        Object.assign(capture, this.readOpened(fd, path, options))
      } finally {
        closeSync(fd)
      }
    } catch (error) {
      Object.assign(capture, fsError(path, error))
    }
    capture.durationMs = Math.round(performance.now() - started)
    return Promise.resolve(capture)
  }

  private readOpened(fd: number, path: string, options: ReadOptions): Partial<FileCapture> {
    const stats = fstatSync(fd)
    if (!stats.isFile()) return {error: `${path}: not a regular file`, errorCode: 'failed'}
    const {size} = stats
    if (options.tailBytes !== undefined && size > options.tailBytes) {
      // Only the end of a large log: start mid-file and drop the partial first line.
      const buffer = Buffer.alloc(options.tailBytes)
      const bytesRead = readSync(fd, buffer, 0, options.tailBytes, size - options.tailBytes)
      const text = buffer.subarray(0, bytesRead).toString('utf8')
      return {output: text.slice(text.indexOf('\n') + 1), truncated: true}
    }
    // /proc files report size 0, so read in chunks up to the cap instead of trusting stat.
    const chunks: Buffer[] = []
    let total = 0
    // Only the bytes each read fills are kept: no need to zero it.
    const chunk = Buffer.allocUnsafe(64 * 1024)
    for (;;) {
      const bytesRead = readSync(fd, chunk, 0, chunk.length, null)
      if (bytesRead === 0) break
      const room = this.maxOutputBytes - total
      chunks.push(Buffer.from(chunk.subarray(0, Math.min(bytesRead, room))))
      total += Math.min(bytesRead, room)
      if (bytesRead > room) {
        // A prefix is not the file: probes that can use one (lease files) still find it in output.
        return {output: Buffer.concat(chunks).toString('utf8'), truncated: true, error: `${path}: larger than the ${formatBytes(this.maxOutputBytes)} cap (only its start was read)`, errorCode: 'too-large'}
      }
    }
    return {output: Buffer.concat(chunks).toString('utf8')}
  }

  /** Listed synchronously, like a file is read (see readFile). */
  listDir(path: string): Promise<DirCapture> {
    const started = performance.now()
    const capture: DirCapture = {kind: 'dir', path, output: '', durationMs: 0, startMs: this.since(started), truncated: false}
    if (Date.now() >= this.deadline) return Promise.resolve({...capture, error: `${path}: not listed, the run's deadline had passed`, errorCode: 'timeout' as const})
    try {
      capture.output = readdirSync(path).sort().join('\n')
    } catch (error) {
      Object.assign(capture, fsError(path, error))
    }
    capture.durationMs = Math.round(performance.now() - started)
    return Promise.resolve(capture)
  }
}

/** Signals a process group (a child spawned detached, and what it started). */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {
    // Already gone.
  }
}

function fsError(path: string, error: unknown): {error: string; errorCode: FileCapture['errorCode']} {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return {error: `${path}: no such file or directory`, errorCode: 'not-found'}
  if (code === 'EACCES' || code === 'EPERM') return {error: `${path}: permission denied`, errorCode: 'permission-denied'}
  return {error: `${path}: ${(error as Error).message}`, errorCode: 'failed'}
}
