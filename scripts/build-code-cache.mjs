// The last build step (package.json's build): the quick paths' V8 code caches (scripts/code-cache.mjs), made once the
// scripts and oclif.manifest.json exist (the quick help refuses without a manifest). The warm runs print help pages and
// reports, so their output is discarded, and their diagnoses set exit codes (findings, an unchecked gate), so only a
// cache missing afterwards fails the build, with what the run said.
import {spawnSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import {QUICK_DIAGNOSE, QUICK_HELP, hasCodeCache} from '../bin/code-cache.js'

const cacheRun = spawnSync(process.execPath, [fileURLToPath(new URL('code-cache.mjs', import.meta.url))], {encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe']})
if (!(hasCodeCache(QUICK_HELP) && hasCodeCache(QUICK_DIAGNOSE))) {
  throw new Error(`scripts/code-cache.mjs made no code cache (exit ${cacheRun.status ?? cacheRun.signal}):\n${cacheRun.stderr}`)
}
