import {execa} from 'execa'
import {open, readdir} from 'node:fs/promises'
import pLimit from 'p-limit'
import type {CommandCapture, DirCapture, FileCapture, ReadOptions, Runner} from './runner.js'

export interface LiveRunnerOptions {
  timeoutMs?: number
  maxOutputBytes?: number
  concurrency?: number
  /** Grace period between SIGTERM at the timeout and SIGKILL. */
  killAfterMs?: number
}

export const DEFAULT_TIMEOUT_MS = 5000
export const DEFAULT_MAX_OUTPUT_BYTES = 8 * 1024 * 1024

export class LiveRunner implements Runner {
  readonly capturedAt = new Date()
  private readonly limit
  /** File reads are cheap and never block on a child process: they get their own, wider limit. */
  private readonly fileLimit
  private readonly timeoutMs: number
  private readonly maxOutputBytes: number
  private readonly killAfterMs: number

  constructor(options: LiveRunnerOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES
    this.killAfterMs = options.killAfterMs ?? 1000
    this.limit = pLimit(options.concurrency ?? 6)
    this.fileLimit = pLimit(32)
  }

  run(argv: string[]): Promise<CommandCapture> {
    return this.limit(() => this.runNow(argv))
  }

  private async runNow(argv: string[]): Promise<CommandCapture> {
    const started = performance.now()
    const result = await execa(argv[0], argv.slice(1), {
      env: {LC_ALL: 'C', LANG: 'C'},
      stdin: 'ignore',
      reject: false,
      shell: false,
      timeout: this.timeoutMs,
      killSignal: 'SIGTERM',
      forceKillAfterDelay: this.killAfterMs,
      maxBuffer: this.maxOutputBytes,
      stripFinalNewline: false,
    })
    const durationMs = Math.round(performance.now() - started)
    const stdout = typeof result.stdout === 'string' ? result.stdout : ''
    const stderr = typeof result.stderr === 'string' ? result.stderr : ''
    const capture: CommandCapture = {
      kind: 'command',
      argv,
      output: stdout,
      stderr: stderr.slice(0, 64 * 1024),
      exitCode: result.exitCode ?? null,
      durationMs,
      timedOut: Boolean(result.timedOut),
      truncated: Boolean(result.isMaxBuffer),
    }
    const code = (result as {code?: string}).code
    if (code === 'ENOENT') {
      capture.error = `${argv[0]}: command not found`
      capture.errorCode = 'not-found'
    } else if (code === 'EACCES') {
      capture.error = `${argv[0]}: permission denied`
      capture.errorCode = 'permission-denied'
    } else if (result.timedOut) {
      capture.error = `${argv.join(' ')}: timed out after ${this.timeoutMs} ms`
      capture.errorCode = 'timeout'
    } else if (result.isMaxBuffer) {
      // Keep the partial output: probes can still use it, and the manifest says it was cut.
    } else if (result.exitCode !== 0) {
      const firstLine = stderr.trim().split('\n')[0] ?? ''
      capture.error = `${argv.join(' ')}: exit ${result.exitCode ?? result.signal}${firstLine ? `: ${firstLine}` : ''}`
      capture.errorCode = /permission denied|not permitted/i.test(stderr) ? 'permission-denied' : 'exit-status'
    }
    return capture
  }

  readFile(path: string, options: ReadOptions = {}): Promise<FileCapture> {
    return this.fileLimit(async () => {
      const started = performance.now()
      const capture: FileCapture = {kind: 'file', path, output: '', durationMs: 0, truncated: false}
      try {
        const handle = await open(path, 'r')
        try {
          const {size} = await handle.stat()
          if (options.tailBytes !== undefined && size > options.tailBytes) {
            // Only the end of a large log: start mid-file and drop the partial first line.
            const buffer = Buffer.alloc(options.tailBytes)
            const {bytesRead} = await handle.read(buffer, 0, options.tailBytes, size - options.tailBytes)
            const text = buffer.subarray(0, bytesRead).toString('utf8')
            capture.output = text.slice(text.indexOf('\n') + 1)
            capture.truncated = true
            return capture
          }
          // /proc files report size 0, so read in chunks up to the cap instead of trusting stat.
          const chunks: Buffer[] = []
          let total = 0
          const chunk = Buffer.alloc(64 * 1024)
          for (;;) {
            const {bytesRead} = await handle.read(chunk, 0, chunk.length, null)
            if (bytesRead === 0) break
            const room = this.maxOutputBytes - total
            chunks.push(Buffer.from(chunk.subarray(0, Math.min(bytesRead, room))))
            total += Math.min(bytesRead, room)
            if (bytesRead > room) {
              capture.truncated = true
              break
            }
          }
          capture.output = Buffer.concat(chunks).toString('utf8')
        } finally {
          await handle.close()
        }
      } catch (error) {
        Object.assign(capture, fsError(path, error))
      } finally {
        capture.durationMs = Math.round(performance.now() - started)
      }
      return capture
    })
  }

  listDir(path: string): Promise<DirCapture> {
    return this.fileLimit(async () => {
      const started = performance.now()
      const capture: DirCapture = {kind: 'dir', path, output: '', durationMs: 0, truncated: false}
      try {
        capture.output = (await readdir(path)).sort().join('\n')
      } catch (error) {
        Object.assign(capture, fsError(path, error))
      }
      capture.durationMs = Math.round(performance.now() - started)
      return capture
    })
  }
}

function fsError(path: string, error: unknown): {error: string; errorCode: FileCapture['errorCode']} {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return {error: `${path}: no such file or directory`, errorCode: 'not-found'}
  if (code === 'EACCES' || code === 'EPERM') return {error: `${path}: permission denied`, errorCode: 'permission-denied'}
  return {error: `${path}: ${(error as Error).message}`, errorCode: 'failed'}
}
