/**
 * What bin/run.js runs before it loads the CLI: a live `diagnose` whose flags shape only the analysis and the report
 * reads the host with the defaults, so its probes start now (src/core/early-probes.ts). Any other argv starts
 * nothing; the command decides as before, and takes the early run only when it asks for the same reading.
 */
import {startEarlyProbes} from '../core/early-probes.js'
import {routedArgv} from './routing.js'

/** diagnose's flags that change nothing that is read, by name and char; any other flag (and --help) starts nothing early. */
export const ANALYSIS_FLAGS = {
  valued: new Set(['format', 'f', 'output', 'o', 'fail-on', 'ignore', 'expect', 'publish']),
  boolean: new Set(['allow-unchecked', 'show-suppressed', 'checks', 'color', 'no-color', 'json']),
}

/** Whether ARGV is a live diagnose that reads with the defaults: the command, guest names, analysis flags. */
export function readsWithDefaults(argv: string[]): boolean {
  const [command, ...rest] = routedArgv(argv)
  if (command !== 'diagnose') return false
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]
    if (word === '--') return true
    if (!word.startsWith('-') || word === '-') continue
    const long = word.startsWith('--')
    const name = long ? word.slice(2).split('=')[0] : word.slice(1, 2)
    const inline = long ? word.includes('=') : word.length > 2
    if (ANALYSIS_FLAGS.valued.has(name)) {
      if (!inline) i++
    } else if (!(ANALYSIS_FLAGS.boolean.has(name) && !inline)) {
      return false
    }
  }
  return true
}

/** Starts the probes when ARGV reads with the defaults. */
export async function startEarly(argv: string[]): Promise<void> {
  if (readsWithDefaults(argv)) await startEarlyProbes()
}

/** Runs ARGV without oclif when it is a plain diagnose, live or --from (src/cli/quick-diagnose.ts); false when it is the full CLI's. */
export async function runQuickly(argv: string[], rootUrl: string): Promise<boolean> {
  return (readsWithDefaults(argv) || readsSnapshot(argv) || readsOverSsh(argv)) && (await import('./quick-diagnose.js')).quickDiagnose(argv, rootUrl)
}

/** Whether ARGV may be a diagnose of a snapshot or bundle: quick-diagnose reads it, or leaves it to oclif. */
const readsSnapshot = (argv: string[]) => routedArgv(argv)[0] === 'diagnose' && argv.some((word) => word === '--from' || word.startsWith('--from='))
/** Whether ARGV may be a diagnose over SSH: quick-diagnose reads it, or leaves it to oclif. */
const readsOverSsh = (argv: string[]) => routedArgv(argv)[0] === 'diagnose' && argv.some((word) => word === '--ssh' || word.startsWith('--ssh='))

export {stopEarlyProbes as stopEarly} from '../core/early-probes.js'
