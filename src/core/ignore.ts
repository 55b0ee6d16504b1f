/**
 * The ignore file (--ignore, or ignore.yaml in the configuration directory): findings a team has accepted, each
 * with a reason and an expiry. Expired entries stop suppressing and say so;
 * suppressed findings never change the exit code.
 */
import type {z as Z} from 'zod'
import {loadYamlFile} from './config-file.js'
import type {Finding} from '../result/findings.js'
import type {IgnoreEntry, Suppressed} from '../result/diagnosis.js'
import {UserError} from './errors.js'

export type {IgnoreEntry, Suppressed} from '../result/diagnosis.js'

/** A real calendar day: 2026-99-99 or 2027-02-30 is a typo, not a date far in the future. */
const isCalendarDate = (s: string) => {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s)
  if (!m) return false
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]))
  return d.getUTCFullYear() === +m[1] && d.getUTCMonth() === +m[2] - 1 && d.getUTCDate() === +m[3]
}
/** The file's schema, built when there is a file to read: zod loads only then. */
function ignoreFileSchema(z: typeof Z) {
  const isoDate = z.union([z.string().refine(isCalendarDate, 'expires must be a date like 2027-01-31'), z.date()])
  return z.strictObject({
    ignore: z.array(
      z.strictObject({
        rule: z.string().min(1),
        entity: z.string().min(1).optional(),
        reason: z.string().min(3, 'reason is required: say why this is accepted'),
        expires: isoDate,
      }),
    ),
  })
}

export interface IgnoreOutcome {
  findings: Finding[]
  suppressed: Suppressed[]
  expired: IgnoreEntry[]
}

export async function loadIgnoreFile(path: string, knownRules: Set<string>): Promise<IgnoreEntry[]> {
  const parsed = await loadYamlFile(path, ignoreFileSchema((await import('zod')).z), 'ignore file')
  return parsed.ignore.map((e, i) => {
    const expires = e.expires instanceof Date ? e.expires.toISOString().slice(0, 10) : e.expires
    if (!knownRules.has(e.rule)) throw new UserError(`ignore file ${path}: entry ${i + 1} names unknown rule "${e.rule}" (kvmdoctor rules lists them)`)
    return {rule: e.rule, ...(e.entity ? {entity: e.entity} : {}), reason: e.reason, expires}
  })
}


/** A rule matches by its id or one it was known by; an entity by name, or as kind:name. */
const matches = (entry: IgnoreEntry, f: Finding) =>
  (entry.rule === f.id || f.aliases?.includes(entry.rule) === true) && (entry.entity === undefined || entry.entity === f.entity.name || entry.entity === `${f.entity.kind}:${f.entity.name}`)

export function applyIgnores(findings: Finding[], entries: IgnoreEntry[], now: Date): IgnoreOutcome {
  const today = now.toISOString().slice(0, 10)
  const active = entries.filter((e) => e.expires >= today)
  const expired = entries.filter((e) => e.expires < today)
  const kept: Finding[] = []
  const suppressed: Suppressed[] = []
  for (const f of findings) {
    const entry = active.find((e) => matches(e, f))
    if (entry) suppressed.push({finding: f, entry})
    else kept.push(f)
  }
  return {findings: kept, suppressed, expired}
}

