import {Command, Flags} from '@oclif/core'
import {EXIT} from './errors.js'
import {withFlagSuggestion} from './suggest.js'

/**
 * What every kvmdoctor command shares: -h/--help and -v/--version, "did you
 * mean --flag?" on a mistyped flag, and usage errors (unknown or conflicting
 * flags) that exit 2, as a short {error} object under --json.
 */
export abstract class KvmdoctorCommand extends Command {
  static baseFlags = {
    help: Flags.help({char: 'h', summary: 'Show this help.', helpGroup: 'GLOBAL'}),
    version: Flags.version({char: 'v', summary: 'Show the kvmdoctor version.', helpGroup: 'GLOBAL'}),
  }

  protected async catch(error: Error & {oclif?: {exit?: number}; parse?: unknown}): Promise<unknown> {
    const e = withFlagSuggestion(error)
    const usage = e.parse !== undefined && e.oclif?.exit !== undefined && e.oclif.exit !== 0
    if (usage && this.jsonEnabled()) {
      process.exitCode = EXIT.usage
      this.logJson({error: {code: EXIT.usage, message: e.message}})
      return undefined
    }
    return super.catch(e)
  }
}
