/**
 * A vitest reporter (beside the default one) that ends the run with the suites it skipped, each with
 * why and the command that installs what it needs: a green run without Chromium, tmux, xmllint or
 * promtool says so in its last lines. Under KD_REQUIRE_ALL_SUITES=1 (.ci/run) a skip fails the run.
 */
import {relative} from 'node:path'
import type {Reporter, TestCase, TestModule, TestSuite} from 'vitest/node'

/** Where a skipped test belongs: its top-level describe, or the test itself when it has none. */
function suiteOf(test: TestCase): string {
  let node: TestCase | TestSuite = test
  while (node.parent.type === 'suite') node = node.parent
  return node.name
}

export default class SkippedSuites implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const skipped = new Map<string, {suite: string; tests: number}>()
    const installs = new Set<string>()
    for (const module of modules) {
      for (const test of module.children.allTests()) {
        if (test.result().state !== 'skipped') continue
        const suite = `${relative(process.cwd(), module.moduleId)} > ${suiteOf(test)}`
        const entry = skipped.get(suite) ?? {suite, tests: 0}
        entry.tests++
        for (const m of test.fullName.matchAll(/`([^`]+)` installs it/g)) installs.add(m[1])
        skipped.set(suite, entry)
      }
    }
    if (skipped.size === 0) return
    const lines = [...skipped.values()].map((s) => `  ${s.suite} (${s.tests} test${s.tests === 1 ? '' : 's'})`)
    console.log(
      [
        '',
        `Skipped suites: ${skipped.size}`,
        ...lines,
        installs.size > 0 ? `Install what they need (as root): ${[...installs].join(' && ')}` : 'None of them names a tool to install.',
        '',
      ].join('\n'),
    )
    if (process.env.KD_REQUIRE_ALL_SUITES === '1') {
      console.error('KD_REQUIRE_ALL_SUITES=1: no suite may be skipped')
      process.exitCode = 1
    }
  }
}
