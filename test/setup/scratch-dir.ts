import {chmodSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

/**
 * Vitest global setup: one scratch directory per run, made the TMPDIR of every worker and of what they spawn,
 * and removed when the run ends, so the suites' copies of recordings, bundles and sosreports do not pile up in /tmp.
 */
export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'kvmdoctor-test-'))
  // Sticky and world-writable like /tmp: the hostile suite reads copies as nobody.
  chmodSync(dir, 0o1777)
  process.env.TMPDIR = dir
  return () => rmSync(dir, {recursive: true, force: true})
}
