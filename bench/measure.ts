/**
 * Runs the real CLI in this process, then reports its own cost:
 * `node dist-bench/bench/measure.js ARGS...` prints {"ms":..,"cpuMs":..,"maxRssMb":..} on stderr.
 * CPU time is what a shared machine's load does not inflate; wall time is what a user waits.
 */
const started = performance.now()
const bin = new URL('../../bin/run.js', import.meta.url)
// The built CLI's own entry (oclif bundled in it), exactly what bin/run.js runs.
const {main} = (await import(new URL('../../dist/bin/main.js', import.meta.url).href)) as {main: (argv: string[], rootUrl: string) => Promise<void>}
await main(process.argv.slice(2), bin.href)
const ms = performance.now() - started
const usage = process.resourceUsage()
process.stderr.write(`\n${JSON.stringify({ms: Math.round(ms), cpuMs: Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000), maxRssMb: Math.round(usage.maxRSS / 1024)})}\n`)
