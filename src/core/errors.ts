/** A problem with what the user gave us (flag, snapshot, config): exit 2, no stack trace. */
export class UserError extends Error {
  readonly exitCode = 2
}

/**
 * What a command needs could not be read on the host (libvirtd down, no root): exit 4, "not checked",
 * never bad input.
 */
export class UncheckedError extends Error {
  readonly exitCode = 4
}

/**
 * Exit codes, documented in README.md and docs/ci.md:
 * 0 nothing at or above --fail-on, 1 findings at or above it, 2 usage error or bad input,
 * 3 kvmdoctor itself failed, 4 not checked (what the decision needs could not be read).
 */
export const EXIT = {clean: 0, findings: 1, usage: 2, internal: 3, unchecked: 4} as const
