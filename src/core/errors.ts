/** A problem with what the user gave us (flag, snapshot, config): exit 2, no stack trace. */
export class UserError extends Error {
  readonly exitCode = 2
}
