/**
 * Runs the real CLI in this process, then reports its own peak memory:
 * `node dist-bench/bench/measure.js ARGS...` prints {"ms":..,"maxRssMb":..} on stderr.
 */
const started = performance.now()
const bin = new URL('../../bin/run.js', import.meta.url)
// The built CLI's own entry (oclif bundled in it), exactly what bin/run.js runs.
const {main} = (await import(new URL('../../dist/bin/main.js', import.meta.url).href)) as {main: (argv: string[], rootUrl: string) => Promise<void>}
await main(process.argv.slice(2), bin.href)
const ms = performance.now() - started
process.stderr.write(`\n${JSON.stringify({ms: Math.round(ms), maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024)})}\n`)
