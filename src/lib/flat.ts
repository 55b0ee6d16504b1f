/**
 * The text as one flat string, in place. A string built by concatenation (a template literal) is a tree of
 * its parts, twenty bytes a join with every part kept; a big host keeps hundreds of thousands of them
 * (flows' descriptions, hops' details), and the collector copies every node of every tree. V8 flattens a
 * tree the first time a character of it is read, and its collector then keeps only the flat string.
 */
export function flat(text: string | undefined): void {
  if (text !== undefined) text.charCodeAt(0)
}

/**
 * TEXT as a string of its own. In V8 a substring of 13 characters or more is a view of the string it was cut from,
 * and keeps all of it alive: a MAC address read from a domain's status XML kept the whole document (10,000 guests,
 * 10,000 documents). Joined from two parts and flattened (flat), it is copied; a shorter substring is a copy already.
 */
export function detached(text: string): string
export function detached(text: string | undefined): string | undefined
export function detached(text: string | undefined): string | undefined {
  if (text === undefined || text.length < 13) return text
  const copy = text.slice(0, 1) + text.slice(1)
  flat(copy)
  return copy
}
