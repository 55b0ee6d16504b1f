#!/usr/bin/env node
import {flush, handle, run} from '@oclif/core'
import {EXIT, argvWantsJson, isUsageError} from '../dist/src/core/errors.js'

// A bare `kvmdoctor` (or one with only flags) runs `diagnose`: that is what on-call reaches for.
const args = process.argv.slice(2)
const first = args[0]
if (first === undefined || (first.startsWith('-') && !['--help', '-h', '--version', '-v'].includes(first))) args.unshift('diagnose')

try {
  await run(args, import.meta.url)
  await flush()
} catch (error) {
  // Commands report their own failures; what reaches here failed before any command ran
  // (an unknown command): a usage error, reported like the commands report theirs.
  if (isUsageError(error)) {
    process.exitCode = EXIT.usage
    if (argvWantsJson(args)) console.log(JSON.stringify({error: {code: EXIT.usage, message: error.message}}, null, 2))
    else console.error(`kvmdoctor: ${error.message}`)
  } else {
    await handle(error)
  }
}
