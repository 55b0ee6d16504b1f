#!/usr/bin/env node
import {readFileSync} from 'node:fs'
import module from 'node:module'

const argv = process.argv.slice(2)
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  // oclif's version line, without loading oclif (the CLI's largest chunk) for one line.
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  process.stdout.write(`${pkg.oclif?.bin ?? pkg.name}/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`)
} else {
  // Node >= 22.1 keeps the compiled code of dist/ between runs; Node 20 has no such cache and compiles it every run.
  module.enableCompileCache?.()
  const {main} = await import('../dist/bin/main.js')
  await main(argv, import.meta.url)
}
