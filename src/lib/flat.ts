/**
 * The text as one flat string, in place. A string built by concatenation (a template literal) is a tree of
 * its parts, twenty bytes a join with every part kept; a big host keeps hundreds of thousands of them
 * (flows' descriptions, hops' details), and the collector copies every node of every tree. V8 flattens a
 * tree the first time a character of it is read, and its collector then keeps only the flat string.
 */
export function flat(text: string | undefined): void {
  if (text !== undefined) text.charCodeAt(0)
}
