import {chmodSync, mkdtempSync, rmSync} from 'node:fs'
import {join} from 'node:path'

/**
 * Vitest global setup: one scratch directory per run, made the TMPDIR of every worker and of what they spawn,
 * and removed when the run ends, so the suites' copies of recordings, bundles and sosreports do not pile up in /tmp.
 */
export default function setup(): (() => void) | undefined {
  // Each project that extends the root config runs its global setups again: the first one made the directory.
  if (process.env.KD_TEST_SCRATCH) return undefined
  // Short, under /tmp itself: Chromium's singleton socket lives in TMPDIR, and a Unix socket path holds 107 bytes.
  const dir = mkdtempSync(join('/tmp', 'kd-test-'))
  // Sticky and world-writable like /tmp: the hostile suite reads copies as nobody.
  chmodSync(dir, 0o1777)
  process.env.KD_TEST_SCRATCH = dir
  process.env.TMPDIR = dir
  return () => rmSync(dir, {recursive: true, force: true})
}
