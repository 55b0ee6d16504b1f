#!/usr/bin/env node
// CommonJS (bin/package.json): an ES module as the entry costs Node 20 its ES module loader, some 20 ms of CPU before
// this file's first line, which the quick paths never use; the full CLI's import() loads it when it is needed.
'use strict'
require('./v8-flags.js')
const {readFileSync} = require('node:fs')
const {join} = require('node:path')
const {pathToFileURL} = require('node:url')

const argv = process.argv.slice(2)
/** This file's URL: the CLI's modules find the package by it (src/bin/main.ts). */
const RUN_URL = pathToFileURL(__filename).href

/** Whether ARGV names diagnose, as src/cli/routing.ts routes it: the command by name, or nothing but flags (no help or version flag first). */
const namesDiagnose = (args) => args[0] === 'diagnose' || args[0] === undefined || (args[0].startsWith('-') && !['--help', '-h', '--version', '-v'].includes(args[0]))

/** Whether ARGV may ask for a help page: a help flag before `--`, or the `help` command. */
function mayAskForHelp(args) {
  const end = args.indexOf('--')
  const flags = end === -1 ? args : args.slice(0, end)
  return flags.includes('--help') || flags.includes('-h') || args[0] === 'help'
}

/** What ARGV asks for. */
async function run() {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    // oclif's version line, without loading oclif (the CLI's largest chunk) for one line.
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8'))
    process.stdout.write(`${pkg.oclif?.bin ?? pkg.name}/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`)
  } else if (!(mayAskForHelp(argv) && (await printedQuickHelp()))) {
    // Anything but a help page oclif's help classes print alone (src/cli/quick-help.ts): the full CLI, or a plain
    // diagnose from the script this Node has a code cache for (bin/code-cache.js), which runs it whole or not at all.
    await runCachedOrFull()
  }
}
// A failure nothing reported is an unhandled rejection: printed, exit 1, as the ES module entry's top-level await did.
void run()

/** Prints ARGV's help page when oclif's help classes print it alone (src/cli/quick-help.ts); false when they cannot. */
async function printedQuickHelp() {
  const {QUICK_HELP, loadScript} = require('./code-cache.js')
  return loadScript(QUICK_HELP).quickHelp(argv, join(__dirname, '..'))
}

async function runCachedOrFull() {
  if (namesDiagnose(argv)) {
    const {QUICK_DIAGNOSE, hasCodeCache, loadScript} = require('./code-cache.js')
    // Without a cache, the ES modules: less to compile than the script, which holds what they load lazily.
    if (hasCodeCache(QUICK_DIAGNOSE) && (await loadScript(QUICK_DIAGNOSE).runAlone(argv, RUN_URL))) return
  }
  // A live diagnose with the default reading starts its probes now, while the CLI loads (src/cli/early.ts).
  const {startEarly, stopEarly, runQuickly} = await import('../dist/cli/early.js')
  await startEarly(argv)
  try {
    // That diagnose runs without oclif (src/cli/quick-diagnose.ts) when oclif would read its argv no other way.
    if (!(await runQuickly(argv, RUN_URL))) {
      const {main} = await import('../dist/bin/main.js')
      await main(argv, RUN_URL)
    }
  } finally {
    stopEarly()
  }
}
