// Node 20 compiles the CLI's ES modules on every run (module.enableCompileCache needs Node 22.1, and writes its cache
// on the host). A classic script run through vm.Script takes V8's code cache instead: the build makes one for the
// quick diagnose (scripts/code-cache.mjs), named for the V8 that made it, as V8 takes it from no other.
import {existsSync, readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {fileURLToPath} from 'node:url'
import vm from 'node:vm'

export const QUICK_SCRIPT = new URL('../dist/cli/quick-diagnose.cjs', import.meta.url)
export const QUICK_SCRIPT_CACHE = new URL(`../dist/cli/quick-diagnose.v8-${process.versions.v8}.cache`, import.meta.url)

/** Whether this Node has a code cache for the quick diagnose. */
export const hasQuickScriptCache = () => existsSync(QUICK_SCRIPT_CACHE)

/** Runs the script at URL as CommonJS does (the build defines import.meta.url as __kvmdoctorUrl), compiled from CACHED_DATA when V8 takes it. */
export function runScript(url, cachedData) {
  const filename = fileURLToPath(url)
  const script = new vm.Script(`(function (exports, require, module, __kvmdoctorUrl) {${readFileSync(filename, 'utf8')}\n})`, {filename, cachedData})
  const module = {exports: {}}
  script.runInThisContext()(module.exports, createRequire(filename), module, url.href)
  return {script, exports: module.exports}
}

/** The quick diagnose's exports, compiled from the cache built with the package (compiled afresh if V8 refuses it: the same code). */
export const loadQuickScript = () => runScript(QUICK_SCRIPT, readFileSync(QUICK_SCRIPT_CACHE)).exports
