/**
 * What bin/run.js runs. Bundled (scripts/build.mjs) with oclif itself, so that start-up reads a few
 * files rather than resolving and loading a couple of hundred modules.
 */
import {flush, handle, run} from '@oclif/core'
import {EXIT} from '../core/errors.js'
import {argvWantsJson, isUsageError} from '../cli/failure.js'
import {routedArgv} from '../cli/routing.js'

/** Runs ARGV (process.argv without node and the script) as the CLI whose package holds ROOT_URL. */
export async function main(argv: string[], rootUrl: string): Promise<void> {
  const args = routedArgv(argv)
  try {
    // oclif takes the first package.json up from where it starts: bin/'s own (its module type) would be the CLI's.
    await run(args, new URL('..', rootUrl).href)
    await flush()
  } catch (error) {
    // Commands report their own failures; what reaches here failed before any command ran
    // (an unknown command): a usage error, one line, reported like the commands report theirs.
    if (isUsageError(error)) {
      const lines = String((error as Error).message).split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/^See more help with/.test(l))
      const text = lines.reduce((all, l) => (all === '' ? l : `${all}${all.endsWith(':') ? ' ' : ': '}${l}`), '').replace(/\s+/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '?')
      process.exitCode = EXIT.usage
      if (argvWantsJson(args)) console.log(JSON.stringify({error: {code: EXIT.usage, message: text}}, null, 2))
      else process.stderr.write(`kvmdoctor: ${text} (see --help)\n`)
    } else {
      await handle(error as Error)
    }
  }
}
