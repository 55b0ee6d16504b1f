#!/usr/bin/env node
import {flush, handle, run} from '@oclif/core'

// A bare `kvmdoctor` (or one with only flags) runs `diagnose`: that is what on-call reaches for.
const args = process.argv.slice(2)
const first = args[0]
if (first === undefined || (first.startsWith('-') && !['--help', '-h', '--version', '-v'].includes(first))) args.unshift('diagnose')

try {
  await run(args, import.meta.url)
  await flush()
} catch (error) {
  // A usage error (bad, missing or unknown flag or argument) is one line on stderr and exit 2.
  if (error?.oclif?.exit === 2 && typeof error.message === 'string') {
    const lines = error.message.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/^See more help with/.test(l))
    const text = lines.reduce((all, l) => (all === '' ? l : `${all}${all.endsWith(':') ? ' ' : ': '}${l}`), '').replace(/\s+/g, ' ')
    process.stderr.write(`kvmdoctor: ${text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?')} (see --help)\n`)
    process.exitCode = 2
  } else {
    await handle(error)
  }
}
