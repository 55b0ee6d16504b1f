/**
 * Runs the real CLI in this process, then reports its own peak memory:
 * `node dist-bench/bench/measure.js ARGS...` prints {"ms":..,"maxRssMb":..} on stderr.
 */
import {execute} from '@oclif/core'
import {fileURLToPath} from 'node:url'

const started = performance.now()
const bin = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
await execute({args: process.argv.slice(2), dir: bin})
const ms = performance.now() - started
process.stderr.write(`\n${JSON.stringify({ms: Math.round(ms), maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024)})}\n`)
