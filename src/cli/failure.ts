/**
 * How the CLI reports a failure, whatever raised it: oclif's usage errors (its parser marks them
 * oclif.exit = 2) and kvmdoctor's UserError exit 2, an UncheckedError (the host could not be read)
 * exit 4, anything else is kvmdoctor's own bug, exit 3.
 * The only place besides the commands that knows oclif's error objects.
 */
import {EXIT, UncheckedError, UserError} from '../core/errors.js'
import {errorLine, visibleControls} from '../core/output.js'
import {scrubText} from '../lib/scrub.js'

/** The documented error object of --json mode. */
export interface ErrorJson {
  error: {code: number; message: string}
}

/** oclif's parser and its `this.error(..., {exit: 2})` mark usage errors with oclif.exit = 2. */
export function isUsageError(error: unknown): boolean {
  if (error instanceof UserError) return true
  const exit = (error as {oclif?: {exit?: unknown}} | null)?.oclif?.exit
  return exit === EXIT.usage
}

/**
 * How a command reports a failure: bad input is exit 2 with its message, a host that could not be
 * read exit 4 with its reason; anything else is
 * kvmdoctor's own bug, exit 3, without a stack trace unless KVMDOCTOR_DEBUG is set.
 */
export function describeFailure(error: unknown): {code: number; message: string; jsonMessage: string} {
  const raw = (error as Error)?.message ?? String(error)
  if (isUsageError(error)) return {code: EXIT.usage, message: raw, jsonMessage: raw}
  if (error instanceof UncheckedError) return {code: EXIT.unchecked, message: raw, jsonMessage: raw}
  // A value too large for a string (a crafted snapshot's name or output): the input is at fault.
  if (error instanceof RangeError && /Invalid string length/.test(raw)) {
    const message = 'the input holds values too large to report (a name or an output of many MiB)'
    return {code: EXIT.usage, message, jsonMessage: message}
  }
  const detail = process.env.KVMDOCTOR_DEBUG ? ((error as Error)?.stack ?? raw) : raw
  return {code: EXIT.internal, message: `internal error: ${detail} (KVMDOCTOR_DEBUG=1 shows the stack)`, jsonMessage: raw}
}

/** True when argv asks for JSON (--json, or --format json), before any `--`. */
export function argvWantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--')
  const args = end === -1 ? argv : argv.slice(0, end)
  return args.some((a, i) => a === '--json' || a === '--format=json' || a === '-fjson' || a === '-f=json' || ((a === '--format' || a === '-f') && args[i + 1] === 'json'))
}

/** oclif's usage errors (bad or missing flag, unknown flag, missing argument) as one line; undefined for anything else. */
export function usageErrorText(error: unknown): string | undefined {
  const e = error as {oclif?: {exit?: number}; message?: unknown}
  if (e?.oclif?.exit !== 2 || typeof e.message !== 'string') return undefined
  const lines = e.message.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/^See more help with/.test(l))
  return visibleControls(lines.reduce((all, l) => (all === '' ? l : `${all}${all.endsWith(':') ? ' ' : ': '}${l}`), '').replace(/\s+/g, ' '))
}


/** Prints a command's failure the documented way (ARGV: the command's, to know whether it asked for JSON) and sets the exit code. */
export function reportFailure(error: unknown, argv: readonly string[], write: {stdout(text: string): void; stderr(text: string): void}): void {
  const failure = describeFailure(error)
  process.exitCode = failure.code
  // oclif's multi-line usage messages as one line; secrets and control characters never leave.
  const usage = usageErrorText(error)
  if (argvWantsJson(argv)) {
    const body: ErrorJson = {error: {code: failure.code, message: scrubText(usage ?? failure.jsonMessage)}}
    write.stdout(JSON.stringify(body, null, 2))
  } else {
    write.stderr(errorLine(`kvmdoctor: ${usage ? `${usage} (see --help)` : failure.message}`))
  }
}
