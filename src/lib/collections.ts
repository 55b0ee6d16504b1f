/** The value at key, created with make() the first time (a Map, or a WeakMap memo keyed by a facts object). */
export function getOrCreate<K, V>(map: {get(key: K): V | undefined; set(key: K, value: V): unknown}, key: K, make: () => V): V {
  let value = map.get(key)
  if (value === undefined) {
    value = make()
    map.set(key, value)
  }
  return value
}

/** Groups values by key in one pass; items whose key is undefined are left out. */
export function groupBy<T, K>(items: Iterable<T>, key: (item: T) => K | undefined): Map<K, T[]> {
  const groups = new Map<K, T[]>()
  for (const item of items) {
    const k = key(item)
    if (k !== undefined) getOrCreate(groups, k, () => []).push(item)
  }
  return groups
}

/** Repeated lines (one log line three times) read once, with their count: "line (x3)". */
export function countRepeats(lines: string[]): string[] {
  const counts = new Map<string, number>()
  for (const l of lines) counts.set(l, (counts.get(l) ?? 0) + 1)
  return [...counts].map(([l, n]) => (n > 1 ? `${l} (x${n})` : l))
}
