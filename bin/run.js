#!/usr/bin/env node
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

const argv = process.argv.slice(2)

/** Whether ARGV names diagnose, as src/cli/routing.ts routes it: the command by name, or nothing but flags (no help or version flag first). */
const namesDiagnose = (args) => args[0] === 'diagnose' || args[0] === undefined || (args[0].startsWith('-') && !['--help', '-h', '--version', '-v'].includes(args[0]))

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
} else if (!(mayAskForHelp(argv) && (await printedQuickHelp()))) {
  // Anything but a help page oclif's help classes print alone (src/cli/quick-help.ts): the full CLI, or a plain
  // diagnose from the script this Node has a code cache for (bin/code-cache.js), which runs it whole or not at all.
  await runCachedOrFull()
}

/** Prints ARGV's help page when oclif's help classes print it alone (src/cli/quick-help.ts); false when they cannot. */
async function printedQuickHelp() {
  const {QUICK_HELP, loadScript} = await import('./code-cache.js')
  return loadScript(QUICK_HELP).quickHelp(argv, fileURLToPath(new URL('..', import.meta.url)))
}

async function runCachedOrFull() {
  if (namesDiagnose(argv)) {
    const {QUICK_DIAGNOSE, hasCodeCache, loadScript} = await import('./code-cache.js')
    // Without a cache, the ES modules: less to compile than the script, which holds what they load lazily.
    if (hasCodeCache(QUICK_DIAGNOSE) && (await loadScript(QUICK_DIAGNOSE).runAlone(argv, import.meta.url))) return
  }
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
