/** "Did you mean …?" for mistyped flags (the matching itself is src/lib/suggest.ts, shared with names). */
import {suggest} from '../lib/suggest.js'

export {suggest}

interface NonexistentFlags extends Error {
  flags?: string[]
  parse?: {input?: {flags?: Record<string, {char?: string}>}}
}

/** Adds "did you mean --json?" to oclif's "Nonexistent flag: --jsn"; other errors are returned as they are. */
export function withFlagSuggestion<E>(error: E): E {
  const e = error as NonexistentFlags
  if (!Array.isArray(e?.flags) || !/^Nonexistent flag/.test(e.message)) return error
  const known = Object.keys(e.parse?.input?.flags ?? {}).map((name) => `--${name}`)
  const hints = e.flags.map((f) => [f, suggest(f.split('=')[0], known)] as const).filter(([, s]) => s !== undefined)
  if (hints.length > 0) e.message += `\n${hints.map(([f, s]) => `Did you mean ${s} (not ${f})?`).join('\n')}`
  return error
}
