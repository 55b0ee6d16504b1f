/**
 * Where the quick help page (src/cli/quick-help.ts) collects oclif's ux.stdout lines: its bundle maps
 * oclif's ux module here, so the page is printed only once it is whole, or not at all.
 */
import {format} from 'node:util'

export const helpOutput = {lines: [] as string[]}

/** oclif's ux.stdout (lib/ux/write.js), into helpOutput. */
export function stdout(str: string | string[] | undefined, ...args: string[]): void {
  const text = !str ? format(...args) : typeof str === 'string' ? format(str, ...args) : format(...str, ...args)
  helpOutput.lines.push(`${text}\n`)
}
