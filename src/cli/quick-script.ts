/**
 * The quick diagnose (src/cli/quick-diagnose.ts) with its early start, built as one classic script
 * (dist/cli/quick-diagnose.cjs, scripts/build.mjs) that bin/run.js runs with the V8 code cache built with the
 * package (bin/code-cache.js): Node 20 compiles ES modules afresh on every run, and its vm.Script alone takes a
 * cache. The script holds its own copy of every module it uses, so it runs an argv from start to end or not at all.
 */
import {runQuickly, startEarly, stopEarly} from './early.js'
import {quickFlags} from './quick-diagnose.js'

/** Runs ARGV, live or --from, when quick-diagnose takes it; false, having started nothing, when the full CLI must. */
export async function runAlone(argv: string[], rootUrl: string): Promise<boolean> {
  if (quickFlags(argv) === undefined) return false
  await startEarly(argv)
  try {
    return await runQuickly(argv, rootUrl)
  } finally {
    stopEarly()
  }
}
