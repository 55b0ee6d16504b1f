/** "Did you mean …?" for mistyped commands, flags and the names of guests, networks and bridges. */
import {closest, distance} from 'fastest-levenshtein'

/** The closest candidate, when it is close enough to be what was meant (a third of its length, at least 2 edits). */
export function suggest(word: string, candidates: string[]): string | undefined {
  if (candidates.length === 0) return undefined
  const best = closest(word, candidates)
  return distance(word, best) <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined
}

export type NameKind = 'guest' | 'network' | 'bridge' | 'interface'

/** A name the input holds: a guest, a libvirt network or bridge (with its guests), a guest's interface. */
export interface KnownName {
  kind: NameKind
  name: string
  /** Networks and bridges: the guests on them. */
  guests?: string[]
}

const PLURAL: Record<NameKind, string> = {guest: 'guests', network: 'networks', bridge: 'bridges', interface: 'interfaces'}
/** Names listed in a message before "and N more": a big host has thousands. */
const LISTED = 12

function listOf(names: string[]): string {
  if (names.length === 0) return 'none'
  const shown = names.slice(0, LISTED).join(', ')
  return names.length > LISTED ? `${shown} and ${names.length - LISTED} more` : shown
}

/**
 * Why TYPED names no WANTED thing: a network or bridge given where a guest was asked for says what it
 * is and which guests are on it; a near miss gets "did you mean"; the names there are close the message.
 */
export function unknownNameMessage(typed: string, wanted: NameKind, known: KnownName[], where = ''): string {
  const candidates = [...new Set(known.filter((k) => k.kind === wanted).map((k) => k.name))]
  const other = known.find((k) => k.kind !== wanted && k.name === typed)
  const list = `(${PLURAL[wanted]}${where}: ${listOf(candidates)})`
  if (other) {
    const on = other.guests && other.guests.length > 0 ? ` (its ${PLURAL.guest}: ${listOf(other.guests)})` : ` ${list}`
    return `"${typed}" is a ${other.kind}, not a ${wanted}${on}`
  }
  const best = suggest(typed, candidates)
  return `no ${wanted} named "${typed}"${best ? `. Did you mean "${best}"?` : ''} ${list}`
}
