// Node 20 compiles the CLI's ES modules on every run (module.enableCompileCache needs Node 22.1, and writes its cache
// on the host). A classic script run through vm.Script takes V8's code cache instead: the build emits the quick paths
// as such scripts, each with a cache (scripts/code-cache.mjs) named for the V8 that made it, as V8 takes it from no other.
import {existsSync, readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {fileURLToPath} from 'node:url'
import vm from 'node:vm'

/** The classic script dist/cli/NAME.cjs and where its code cache for this V8 is. */
const cachedScript = (name) => ({
  script: new URL(`../dist/cli/${name}.cjs`, import.meta.url),
  cache: new URL(`../dist/cli/${name}.v8-${process.versions.v8}.cache`, import.meta.url),
})
export const QUICK_DIAGNOSE = cachedScript('quick-diagnose')
export const QUICK_HELP = cachedScript('quick-help')

/** Whether this Node has a code cache for SCRIPT. */
export const hasCodeCache = (script) => existsSync(script.cache)

/** Runs the script at URL as CommonJS does (the build defines import.meta.url as __kvmdoctorUrl), compiled from CACHED_DATA when V8 takes it. */
export function runScript(url, cachedData) {
  const filename = fileURLToPath(url)
  const script = new vm.Script(`(function (exports, require, module, __kvmdoctorUrl) {${readFileSync(filename, 'utf8')}\n})`, {filename, cachedData})
  const module = {exports: {}}
  script.runInThisContext()(module.exports, createRequire(filename), module, url.href)
  return {script, exports: module.exports}
}

/** SCRIPT's exports, compiled from its code cache when this Node has one and V8 takes it, else afresh: the same code. */
export const loadScript = (script) => runScript(script.script, hasCodeCache(script) ? readFileSync(script.cache) : undefined).exports
