// The V8 code cache of the quick diagnose (bin/code-cache.js), made at build time, never on a host: the script
// compiled, run on a few recordings so that the functions a diagnose calls are compiled too (V8 compiles a function
// when first called, and caches what is compiled), then cached. scripts/build.mjs runs this with its output discarded.
import {writeFileSync} from 'node:fs'
import {QUICK_SCRIPT, QUICK_SCRIPT_CACHE, runScript} from '../bin/code-cache.js'

const root = new URL('../bin/run.js', import.meta.url).href
const fixture = (name) => new URL(`../fixtures/${name}`, import.meta.url).pathname
const {script, exports} = runScript(QUICK_SCRIPT, undefined)
for (const argv of [
  ['diagnose', '--from', fixture('healthy'), '--format', 'json'],
  ['diagnose', '--from', fixture('ip-forward-off')],
  ['--from', fixture('firewall-flushed'), '--checks'],
]) {
  if (!(await exports.runAlone(argv, root))) throw new Error(`quick diagnose refused ${argv.join(' ')}`)
}
writeFileSync(QUICK_SCRIPT_CACHE, script.createCachedData())
