/**
 * Process listings in the forms a sosreport keeps (`ps auxwww`, `ps alxwww`, `ps auxwwwm`), read
 * back into what `ps -eo pid=,args=` and `ps -eo pid=,stat=` print: one "PID ARGS" or "PID STAT" line
 * per process. sos runs ps with the full command line (www), so nothing is cut.
 */
import {ParseError} from './types.js'

/** Each process's fields before the command line, and the command line; the header names the columns. */
function psListingRows(text: string, what: string): {columns: string[]; rows: {fields: string[]; command: string}[]} {
  const rows = text.split('\n').filter((l) => l.trim() !== '')
  const header = rows.shift()
  const columns = header?.trim().split(/\s+/) ?? []
  const pid = columns.indexOf('PID')
  const command = columns.findIndex((c) => c === 'COMMAND' || c === 'CMD' || c === 'ARGS')
  if (pid < 0 || command !== columns.length - 1) throw new ParseError(`${what}: no PID and COMMAND columns in its header (${JSON.stringify(header?.slice(0, 80) ?? '')})`)
  const out: {fields: string[]; command: string}[] = []
  for (const [i, row] of rows.entries()) {
    // The columns before COMMAND hold no spaces; the command line is the rest.
    const m = new RegExp(`^\\s*((?:\\S+\\s+){${command}})(.*)$`).exec(row)
    const fields = m?.[1].trim().split(/\s+/)
    // `ps m` lists each process's threads under it with "-" for the PID: not processes.
    if (fields?.[pid] === '-') continue
    if (!m || !/^\d+$/.test(fields![pid])) throw new ParseError(`${what}: line ${i + 2} has no PID: ${JSON.stringify(row.slice(0, 80))}`)
    out.push({fields: fields!, command: m[2]})
  }
  return {columns, rows: out}
}

const asListing = (lines: string[]): string => lines.join('\n') + (lines.length > 0 ? '\n' : '')

export function psListingToPidArgs(text: string, what: string): string {
  const {columns, rows} = psListingRows(text, what)
  const pid = columns.indexOf('PID')
  return asListing(rows.map((r) => `${r.fields[pid]} ${r.command.replace(/^(?:[|\s]*\\_ )/, '')}`))
}

/** Each process's state; a listing without a STAT column (`ps -ef`) has none to give. */
export function psListingToPidStat(text: string, what: string): string {
  const {columns, rows} = psListingRows(text, what)
  const pid = columns.indexOf('PID')
  const stat = columns.indexOf('STAT')
  if (stat < 0) throw new ParseError(`${what}: no STAT column in its header`)
  return asListing(rows.map((r) => `${r.fields[pid]} ${r.fields[stat]}`))
}
