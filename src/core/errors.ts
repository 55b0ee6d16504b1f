/** A problem with what the user gave us (flag, snapshot, config): exit 2, no stack trace. */
export class UserError extends Error {
  readonly exitCode = 2
}

export const EXIT = {clean: 0, findings: 1, usage: 2, internal: 3, unchecked: 4} as const

/**
 * How a command reports a failure: bad input is exit 2 with its message; anything else is
 * kvmdoctor's own bug, exit 3, without a stack trace unless KVMDOCTOR_DEBUG is set.
 */
export function describeFailure(error: unknown): {code: number; message: string; jsonMessage: string} {
  const raw = (error as Error)?.message ?? String(error)
  if (error instanceof UserError) return {code: EXIT.usage, message: raw, jsonMessage: raw}
  // A value too large for a string (a crafted snapshot's name or output): the input is at fault.
  if (error instanceof RangeError && /Invalid string length/.test(raw)) {
    const message = 'the input holds values too large to report (a name or an output of many MiB)'
    return {code: EXIT.usage, message, jsonMessage: message}
  }
  const detail = process.env.KVMDOCTOR_DEBUG ? ((error as Error)?.stack ?? raw) : raw
  return {code: EXIT.internal, message: `internal error: ${detail} (KVMDOCTOR_DEBUG=1 shows the stack)`, jsonMessage: raw}
}
