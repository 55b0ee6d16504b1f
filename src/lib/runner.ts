/**
 * The runner is the only way probes touch the host. Commands, file reads and
 * directory listings all go through it, so a live run, a recording and a
 * replay from a snapshot exercise the very same probe code.
 */

export type Capture = CommandCapture | FileCapture | DirCapture

interface CaptureBase {
  /** Output text (stdout for commands, content for files, newline-separated names for dirs). */
  output: string
  durationMs: number
  /** When it started, in ms from the live runner's start (the run's), so a recording shows what ran at once and what waited. */
  startMs?: number
  /** True when the output was cut at the size cap (or, for a tail read, by design). */
  truncated: boolean
  /** Why the capture failed (binary missing, permission denied, timeout, not recorded ...). */
  error?: string
  /** Machine-readable failure class, so probes can tell "absent" from "broken". */
  errorCode?: CaptureErrorCode
}

export type CaptureErrorCode =
  | 'not-found'
  | 'permission-denied'
  | 'timeout'
  | 'exit-status'
  /** Cut at the size cap: the output kept is a prefix, not the whole. */
  | 'too-large'
  | 'not-recorded'
  | 'failed'

export interface CommandCapture extends CaptureBase {
  kind: 'command'
  argv: string[]
  exitCode: number | null
  timedOut: boolean
  stderr: string
}

export interface FileCapture extends CaptureBase {
  kind: 'file'
  path: string
}

export interface DirCapture extends CaptureBase {
  kind: 'dir'
  path: string
}

export interface ReadOptions {
  tailBytes?: number
}

export interface RunOptions {
  /** A shorter timeout for this command (guest agents answer at once or not at all). */
  timeoutMs?: number
  /**
   * A bounded listen (tcpdump on a tap): the command runs for this long and is then stopped,
   * which is its normal end, not a timeout. It takes no slot among other commands (every
   * listen of a run starts at once) and may outlast the per-command timeout, never the deadline.
   */
  listenMs?: number
  /** A smaller output cap for this command (a listen keeps at most this much text). */
  maxOutputBytes?: number
}

export interface Runner {
  /**
   * Runs argv without a shell. A non-zero exit, a timeout or output cut at the size cap
   * sets `error` in the capture; nothing is thrown.
   */
  run(argv: string[], options?: RunOptions): Promise<CommandCapture>
  /** Reads a file; with tailBytes only its end (logs), marked truncated when cut. A full read cut at the cap sets `error`. */
  readFile(path: string, options?: ReadOptions): Promise<FileCapture>
  /** Lists the names in a directory, sorted. */
  listDir(path: string): Promise<DirCapture>
  /** The moment the data describes: now for a live run, the capture time for a replay. */
  readonly capturedAt: Date
  /** The host read, when it is another one (--ssh): its name as it was reached. */
  readonly origin?: string
}

/** Stable key of a capture inside a snapshot. */
export function captureKey(c: Pick<Capture, 'kind'> & {argv?: string[]; path?: string}): string {
  return c.kind === 'command' ? `command:${(c.argv ?? []).join('\u0000')}` : `${c.kind}:${c.path}`
}

export function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '')
}
