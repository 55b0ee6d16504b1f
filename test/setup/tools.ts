import {execFileSync} from 'node:child_process'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

/** Vitest global setup: the validators the CI-contract tests use, installed once per run (KVMDOCTOR_TEST_NO_INSTALL=1 skips). */
export default function setup(): void {
  if (process.env.KVMDOCTOR_TEST_NO_INSTALL === '1') return
  const script = join(dirname(fileURLToPath(import.meta.url)), 'install-tools.sh')
  try {
    execFileSync('bash', [script], {stdio: ['ignore', 'inherit', 'inherit'], timeout: 600_000})
  } catch (error) {
    // Best effort: the tests that need a missing tool skip and say which.
    console.error(`install-tools.sh failed: ${(error as Error).message}`)
  }
}
