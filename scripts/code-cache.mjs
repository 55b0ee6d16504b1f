// The V8 code caches of the quick paths' classic scripts (bin/code-cache.js), made at build time, never on a host:
// each script compiled, run on a few argv (a diagnose of recordings, help pages) so that the functions a run calls are
// compiled too (V8 compiles a function when first called, and caches what is compiled), then cached.
// scripts/build-code-cache.mjs runs this with its output discarded, after the build wrote the scripts and oclif's manifest.
import {writeFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {QUICK_DIAGNOSE, QUICK_HELP, runScript} from '../bin/code-cache.js'

const root = new URL('..', import.meta.url)
const fixture = (name) => fileURLToPath(new URL(`fixtures/${name}`, root))

/** Runs SCRIPT's RUN on each argv of ARGVS (each must be one it takes), then writes its cache. */
async function warmAndCache(script, argvs, run) {
  const compiled = runScript(script.script, undefined)
  for (const argv of argvs) {
    if (!(await run(compiled.exports, argv))) throw new Error(`${fileURLToPath(script.script)} refused ${argv.join(' ')}`)
  }
  writeFileSync(script.cache, compiled.script.createCachedData())
}

await warmAndCache(QUICK_HELP, [['--help'], ['diagnose', '--help'], ['rules', 'show', '--help']], (exports, argv) => exports.quickHelp(argv, fileURLToPath(root)))
await warmAndCache(
  QUICK_DIAGNOSE,
  [
    ['diagnose', '--from', fixture('healthy'), '--format', 'json'],
    ['diagnose', '--from', fixture('ip-forward-off')],
    ['--from', fixture('firewall-flushed'), '--checks'],
  ],
  (exports, argv) => exports.runAlone(argv, new URL('bin/run.js', root).href),
)
