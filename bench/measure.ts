/**
 * Runs the CLI in this process as a user runs it (bin/run.js: its quick paths and code caches, else oclif), then
 * reports its own cost: `node dist-bench/bench/measure.js ARGS...` prints {"ms":..,"cpuMs":..,"maxRssMb":..} on
 * stderr as the process exits. CPU time is what a shared machine's load does not inflate; wall time is what a user waits.
 */
import {createRequire} from 'node:module'
import {fileURLToPath} from 'node:url'

const started = performance.now()
const bin = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
process.on('exit', () => {
  const ms = performance.now() - started
  const usage = process.resourceUsage()
  process.stderr.write(`\n${JSON.stringify({ms: Math.round(ms), cpuMs: Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000), maxRssMb: Math.round(usage.maxRSS / 1024)})}\n`)
})
// bin/run.js reads its argv from process.argv, as when node runs it.
process.argv = [process.argv[0], bin, ...process.argv.slice(2)]
createRequire(import.meta.url)(bin)
