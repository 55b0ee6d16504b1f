#!/usr/bin/env node
import {execute} from '@oclif/core'

// A bare `kvmdoctor` (or one with only flags) runs `diagnose`: that is what on-call reaches for.
const args = process.argv.slice(2)
const first = args[0]
if (first === undefined || (first.startsWith('-') && !['--help', '-h', '--version', '-v'].includes(first))) args.unshift('diagnose')

await execute({args, dir: import.meta.url})
