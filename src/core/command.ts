/**
 * The base of every kvmdoctor command: one way to report a failure, whatever
 * raised it (flag parsing included). Usage errors are exit 2, kvmdoctor's own
 * bugs exit 3; with --json (or --format json) the failure is the documented
 * {"error": {"code", "message"}} on stdout, otherwise one line on stderr.
 * Never oclif's internal error object, never a stack trace unless KVMDOCTOR_DEBUG is set.
 */
import {Command, ux} from '@oclif/core'
import {type ErrorJson, argvWantsJson, describeFailure} from './errors.js'
import {errorLine, usageErrorText} from './output.js'
import {scrubText} from './scrub.js'

export abstract class KvmdoctorCommand extends Command {
  /** Prints the failure the documented way and sets the exit code. */
  protected reportFailure(error: unknown): void {
    const failure = describeFailure(error)
    process.exitCode = failure.code
    // oclif's multi-line usage messages as one line; secrets and control characters never leave.
    const usage = usageErrorText(error)
    if (argvWantsJson(this.argv)) {
      const body: ErrorJson = {error: {code: failure.code, message: scrubText(usage ?? failure.jsonMessage)}}
      ux.stdout(JSON.stringify(body, null, 2))
    } else {
      ux.stderr(errorLine(`kvmdoctor: ${usage ? `${usage} (see --help)` : failure.message}`))
    }
  }

  /** oclif calls this for anything run() throws, parse errors included: never rethrow (oclif would print its own object). */
  async catch(error: Error & {exitCode?: number}): Promise<void> {
    this.reportFailure(error)
  }
}
