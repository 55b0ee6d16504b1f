/** "Did you mean …?" for mistyped commands and flags. */
import {closest, distance} from 'fastest-levenshtein'

/** The closest candidate, when it is close enough to be what was meant (a third of its length, at least 2 edits). */
export function suggest(word: string, candidates: string[]): string | undefined {
  if (candidates.length === 0) return undefined
  const best = closest(word, candidates)
  return distance(word, best) <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined
}

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
