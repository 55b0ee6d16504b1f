/**
 * The base of every kvmdoctor command: -h/--help and -v/--version, "did you
 * mean --flag?" on a mistyped flag, and one way to report a failure whatever
 * raised it (flag parsing included): usage errors exit 2, kvmdoctor's own bugs
 * exit 3; with --json (or --format json) the failure is the documented
 * {"error": {"code", "message"}} on stdout, otherwise one scrubbed line on
 * stderr. Never oclif's internal error object, never a stack trace unless
 * KVMDOCTOR_DEBUG is set.
 */
import {Command, Flags, ux} from '@oclif/core'
import {reportFailure} from './failure.js'
import {withFlagSuggestion} from './suggest.js'

export abstract class KvmdoctorCommand extends Command {
  static baseFlags = {
    help: Flags.help({char: 'h', summary: 'Show this help.', helpGroup: 'GLOBAL'}),
    version: Flags.version({char: 'v', summary: 'Show the kvmdoctor version.', helpGroup: 'GLOBAL'}),
  }

  /** Prints the failure the documented way and sets the exit code. */
  protected reportFailure(error: unknown): void {
    reportFailure(error, this.argv, {stdout: (text) => ux.stdout(text), stderr: (text) => ux.stderr(text)})
  }

  /** oclif calls this for anything run() throws, parse errors included: never rethrow (oclif would print its own object). */
  async catch(error: Error & {oclif?: {exit?: number}}): Promise<void> {
    // --help and --version end the command with exit 0: that is no failure.
    if (error?.oclif?.exit === 0) return
    // Reported here: oclif must not also warn that the command never parsed its arguments.
    ;(this as unknown as {parsed: boolean}).parsed = true
    this.reportFailure(withFlagSuggestion(error))
  }
}
