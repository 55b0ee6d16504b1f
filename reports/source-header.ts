/**
 * The header of a report read from a sosreport: which sosreport (sos version, host, when), and
 * what it did not collect that kvmdoctor reads, each with the `sos report` options that would.
 */
import type {SosSourceDescription} from '../src/result/diagnosis.js'

export function sourceHeaderLines(source: SosSourceDescription | undefined): string[] {
  if (!source) return []
  const lines = [`source: sosreport${source.sosVersion ? ` (sos ${source.sosVersion})` : ''} of ${source.host ?? 'an unknown host'}, taken ${source.capturedAt} (from ${source.capturedAtFrom}): ${source.path}`]
  if (source.notCollected.length === 0) return lines
  lines.push('not collected by this sosreport (what reads it is not checked):')
  for (const n of source.notCollected) lines.push(`  ${n.input}: ${n.reason}${n.collect ? `; collect it with: ${n.collect}` : ''}`)
  const options = collectCommand(source)
  if (options) lines.push(`  all of it: ${options}`)
  return lines
}

/** One `sos report` command collecting every missing input sos can collect. */
export function collectCommand(source: SosSourceDescription): string | undefined {
  const plugins = new Set<string>()
  let changes = false
  for (const n of source.notCollected) {
    const m = /^sos report -o (\S+)( --allow-system-changes)?$/.exec(n.collect ?? '')
    if (!m) continue
    for (const p of m[1].split(',')) plugins.add(p)
    if (m[2]) changes = true
  }
  if (plugins.size === 0) return undefined
  return `sos report -o ${[...plugins].sort().join(',')}${changes ? ' --allow-system-changes' : ''}`
}
