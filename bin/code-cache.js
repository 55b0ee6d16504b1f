// Node 20 compiles the CLI's ES modules on every run (module.enableCompileCache needs Node 22.1, and writes its cache
// on the host). A classic script run through vm.Script takes V8's code cache instead: the build emits the quick paths
// as such scripts, each with a cache (scripts/code-cache.mjs) named for the V8 that made it, as V8 takes it from no other.
// CommonJS, as bin/run.js is (bin/package.json).
'use strict'
// The flags the caches are made and taken under (scripts/code-cache.mjs loads this file too).
require('./v8-flags.js')
const {isAscii} = require('node:buffer')
const {existsSync, readFileSync} = require('node:fs')
const {createRequire} = require('node:module')
const {join} = require('node:path')
const {fileURLToPath, pathToFileURL} = require('node:url')
const vm = require('node:vm')

/** The classic script dist/cli/NAME.cjs and where its code cache for this V8 is. */
const cachedScript = (name) => ({
  script: pathToFileURL(join(__dirname, '..', 'dist', 'cli', `${name}.cjs`)),
  cache: pathToFileURL(join(__dirname, '..', 'dist', 'cli', `${name}.v8-${process.versions.v8}.cache`)),
})
exports.QUICK_DIAGNOSE = cachedScript('quick-diagnose')
exports.QUICK_HELP = cachedScript('quick-help')

/** Whether this Node has a code cache for SCRIPT. */
const hasCodeCache = (script) => existsSync(script.cache)
exports.hasCodeCache = hasCodeCache

/** Runs the script at URL as CommonJS does (the build defines import.meta.url as __kvmdoctorUrl), compiled from CACHED_DATA when V8 takes it. */
function runScript(url, cachedData) {
  const filename = fileURLToPath(url)
  const bytes = readFileSync(filename)
  // The build makes the scripts ASCII (scripts/build.mjs), which Latin-1 copies: UTF-8 decoding took 10 to 20 ms.
  const source = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8')
  const script = new vm.Script(`(function (exports, require, module, __kvmdoctorUrl) {${source}\n})`, {filename, cachedData})
  const module = {exports: {}}
  script.runInThisContext()(module.exports, createRequire(filename), module, url.href)
  return {script, exports: module.exports}
}
exports.runScript = runScript

/** SCRIPT's exports, compiled from its code cache when this Node has one and V8 takes it, else afresh: the same code. */
exports.loadScript = (script) => runScript(script.script, hasCodeCache(script) ? readFileSync(script.cache) : undefined).exports
