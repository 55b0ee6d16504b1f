/**
 * A plain `kvmdoctor diagnose`, live, of a snapshot or bundle (--from) or over SSH, without oclif (issue 31): loading oclif, its
 * configuration and the command class is some 80 ms of the main thread, which a live run's probes wait on and a
 * replay adds to its analysis. bin/run.js runs it here when every word of ARGV is one this parser reads exactly as
 * oclif would (src/cli/early.ts's analysis flags and --from, valid values, each once, guest names); anything else
 * (--json, a bad value, a repeated flag, `--`, help) goes to the full CLI, which parses and reports it as ever. The
 * command's body is one (src/cli/diagnose-run.ts).
 */
import {readFileSync} from 'node:fs'
import {FORMATS} from '../../reports/index.js'
import {LIVE_READ_DEFAULTS} from '../core/early-probes.js'
import {SEVERITIES} from '../lib/severity.js'
import {type DiagnoseFlags, runDiagnoseCommand} from './diagnose-run.js'
import {reportFailure} from './failure.js'
import {routedArgv} from './routing.js'
import {sshTargetOf} from './ssh-target.js'

// --from excludes only flags this parser leaves to oclif (--record, --active, --listen), and --ssh, refused with it below.
const VALUED: Record<string, readonly string[] | undefined> = {format: FORMATS, 'fail-on': [...SEVERITIES, 'none'], output: undefined, ignore: undefined, expect: undefined, publish: undefined, from: undefined, ssh: undefined, 'ssh-option': undefined}
/** The repeatable flags: oclif takes every word after one as its values until another valued flag comes. */
const REPEATABLE = new Set(['publish', 'ssh-option'])
const BOOLEAN = new Set(['allow-unchecked', 'show-suppressed', 'checks', 'color', 'no-color'])
const CHARS: Record<string, string> = {'-f': 'format', '-o': 'output'}

/** diagnose's flags (oclif's defaults filled in) and guest names from ARGV, or undefined when oclif must read it. */
export function quickFlags(argv: string[]): {flags: DiagnoseFlags; guests: string[]; commandArgv: string[]} | undefined {
  const [command, ...rest] = routedArgv(argv)
  // oclif's own switches for JSON and debugging are its to honour.
  if (command !== 'diagnose' || process.env.KVMDOCTOR_CONTENT_TYPE !== undefined || process.env.DEBUG !== undefined) return undefined
  const flags: DiagnoseFlags = {
    format: 'text',
    'fail-on': 'high',
    'allow-unchecked': false,
    'show-suppressed': false,
    timeout: LIVE_READ_DEFAULTS.timeoutSeconds,
    deadline: LIVE_READ_DEFAULTS.deadlineSeconds,
    active: false,
    connect: LIVE_READ_DEFAULTS.libvirtUri,
    checks: false,
  }
  const given = new Set<string>()
  const guests: string[] = []
  let lastValued: string | undefined
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]
    if (!word.startsWith('-')) {
      // After a repeatable flag, oclif reads the word as one more of its values.
      if (lastValued !== undefined && REPEATABLE.has(lastValued)) return undefined
      guests.push(word)
      continue
    }
    const eq = word.indexOf('=')
    const name = CHARS[word] ?? (word.startsWith('--') ? word.slice(2, eq === -1 ? undefined : eq) : undefined)
    if (name === undefined || given.has(name === 'no-color' ? 'color' : name)) return undefined
    given.add(name === 'no-color' ? 'color' : name)
    if (BOOLEAN.has(name)) {
      if (eq !== -1) return undefined
      if (name === 'no-color') flags.color = false
      else (flags as Record<string, unknown>)[name] = true
      continue
    }
    if (!(name in VALUED)) return undefined
    const value = eq !== -1 && word.startsWith('--') ? word.slice(eq + 1) : rest[++i]
    const options = VALUED[name]
    if (value === undefined || value === '' || value.startsWith('-') || (options !== undefined && !options.includes(value))) return undefined
    lastValued = name
    if (REPEATABLE.has(name)) {
      given.delete(name)
      const repeated = name as 'publish' | 'ssh-option'
      flags[repeated] = [...(flags[repeated] ?? []), value]
    } else (flags as Record<string, unknown>)[name] = value
  }
  // oclif refuses --ssh with --from, and --ssh-option without --ssh: its words, not these.
  if ((flags.ssh !== undefined && flags.from !== undefined) || (flags['ssh-option'] !== undefined && flags.ssh === undefined)) return undefined
  return {flags, guests, commandArgv: rest}
}

/** Runs ARGV when it is a plain diagnose (see quickFlags); false when it is the full CLI's. ROOT_URL: bin/run.js's. */
export async function quickDiagnose(argv: string[], rootUrl: string): Promise<boolean> {
  const parsed = quickFlags(argv)
  if (parsed === undefined) return false
  // As oclif's Command does: a reader that went away (`| head`) is no failure.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error
  })
  const {version} = JSON.parse(readFileSync(new URL('../package.json', rootUrl), 'utf8')) as {version: string}
  // What oclif's ux.stdout and ux.stderr write: the text and a newline.
  const stdout = (text: string) => console.log(text)
  const stderr = (text: string) => console.error(text)
  const failed = (error: unknown) => reportFailure(error, parsed.commandArgv, {stdout, stderr})
  // What the command's body does not catch itself (its spinner failing to load) is reported like the rest, as oclif would.
  await runDiagnoseCommand(parsed.flags, sshTargetOf(parsed.flags), parsed.guests, {json: false, version, log: stdout, logToStderr: stderr, stderr, reportFailure: failed}).catch(failed)
  return true
}
