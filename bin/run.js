#!/usr/bin/env node
import {readFileSync} from 'node:fs'
import module from 'node:module'
import {fileURLToPath} from 'node:url'

const argv = process.argv.slice(2)

/** Whether ARGV may ask for a help page: a help flag before `--`, or the `help` command. */
function mayAskForHelp(args) {
  const end = args.indexOf('--')
  const flags = end === -1 ? args : args.slice(0, end)
  return flags.includes('--help') || flags.includes('-h') || args[0] === 'help'
}

if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  // oclif's version line, without loading oclif (the CLI's largest chunk) for one line.
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  process.stdout.write(`${pkg.oclif?.bin ?? pkg.name}/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`)
} else if (!(mayAskForHelp(argv) && (await (await import('../dist/cli/quick-help.js')).quickHelp(argv, fileURLToPath(new URL('..', import.meta.url)))))) {
  // Anything but a help page oclif's help classes print alone (src/cli/quick-help.ts): the full CLI.
  // Node >= 22.1 keeps the compiled code of dist/ between runs; Node 20 has no such cache and compiles it every run.
  module.enableCompileCache?.()
  // A live diagnose with the default reading starts its probes now, while the CLI loads (src/cli/early.ts).
  const {startEarly, stopEarly, runQuickly} = await import('../dist/cli/early.js')
  await startEarly(argv)
  try {
    // That diagnose runs without oclif (src/cli/quick-diagnose.ts) when oclif would read its argv no other way.
    if (!(await runQuickly(argv, import.meta.url))) {
      const {main} = await import('../dist/bin/main.js')
      await main(argv, import.meta.url)
    }
  } finally {
    stopEarly()
  }
}
