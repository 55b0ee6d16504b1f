/**
 * Process listings in the forms a sosreport keeps (`ps auxwww`, `ps alxwww`, `ps auxwwwm`), read
 * back into what `ps -eo pid=,args=` prints: one "PID ARGS" line per process. sos runs ps with
 * the full command line (www), so nothing is cut.
 */
import {ParseError} from './types.js'

/** The listing's header names its columns; the command line is the last one, PID is where the header says. */
export function psListingToPidArgs(text: string, what: string): string {
  const rows = text.split('\n').filter((l) => l.trim() !== '')
  const header = rows.shift()
  const columns = header?.trim().split(/\s+/) ?? []
  const pid = columns.indexOf('PID')
  const command = columns.findIndex((c) => c === 'COMMAND' || c === 'CMD' || c === 'ARGS')
  if (pid < 0 || command !== columns.length - 1) throw new ParseError(`${what}: no PID and COMMAND columns in its header (${JSON.stringify(header?.slice(0, 80) ?? '')})`)
  const out: string[] = []
  for (const [i, row] of rows.entries()) {
    // The columns before COMMAND hold no spaces; the command line is the rest.
    const m = new RegExp(`^\\s*((?:\\S+\\s+){${command}})(.*)$`).exec(row)
    const fields = m?.[1].trim().split(/\s+/)
    // `ps m` lists each process's threads under it with "-" for the PID: not processes.
    if (fields?.[pid] === '-') continue
    if (!m || !/^\d+$/.test(fields![pid])) throw new ParseError(`${what}: line ${i + 2} has no PID: ${JSON.stringify(row.slice(0, 80))}`)
    out.push(`${fields![pid]} ${m[2].replace(/^(?:[|\s]*\\_ )/, '')}`)
  }
  return out.join('\n') + (out.length > 0 ? '\n' : '')
}
