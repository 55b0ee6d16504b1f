/**
 * A probe that ran but could not read everything (a lease file cut at the cap,
 * one unreadable file among several) returns its data marked degraded with
 * what is missing; the probe runner moves that into the result's `degraded`.
 */
const DEGRADED = Symbol('kvmdoctor.degraded')

/** Marks data as partial; nothing is marked when `missing` is empty. Returns the same object. */
export function markDegraded<T extends object>(data: T, missing: string[]): T {
  if (missing.length > 0) Object.defineProperty(data, DEGRADED, {value: [...missing], enumerable: false, configurable: true})
  return data
}

/** What a probe's data says is missing, if anything. */
export function degradedOf(data: unknown): string[] | undefined {
  return typeof data === 'object' && data !== null ? ((data as Record<symbol, string[] | undefined>)[DEGRADED] ?? undefined) : undefined
}
