/**
 * Cleanups that must run however kvmdoctor ends: a normal exit, an error, or
 * SIGINT/SIGTERM/SIGHUP. Each is synchronous (kill a process group, remove a
 * temporary file or directory) because an exiting process cannot await.
 */
import {rmSync} from 'node:fs'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

const cleanups = new Set<() => void>()
let installed = false

const SIGNALS: [NodeJS.Signals, number][] = [
  ['SIGINT', 130],
  ['SIGTERM', 143],
  ['SIGHUP', 129],
]

/** Registers a cleanup; the returned function unregisters it (call it once the resource is gone). */
export function onExit(cleanup: () => void): () => void {
  install()
  cleanups.add(cleanup)
  return () => {
    cleanups.delete(cleanup)
  }
}

/** Runs every registered cleanup now, newest first; each runs once. */
export function runCleanups(): void {
  const pending = [...cleanups].reverse()
  cleanups.clear()
  for (const cleanup of pending) {
    try {
      cleanup()
    } catch {
      // A cleanup that fails (already gone, no permission) must not stop the others.
    }
  }
}

function install(): void {
  if (installed) return
  installed = true
  process.on('exit', runCleanups)
  for (const [signal, code] of SIGNALS) {
    process.on(signal, () => {
      const interrupted = cleanups.size > 0
      runCleanups()
      if (interrupted) process.stderr.write(`kvmdoctor: interrupted by ${signal}; child processes stopped, temporary files removed\n`)
      process.exit(code)
    })
  }
}

/** A private temporary directory (mkdtemp: mode 0700), removed however kvmdoctor ends. */
export async function privateTempDir(prefix: string): Promise<{dir: string; remove: () => Promise<void>}> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  const forget = onExit(() => rmSync(dir, {recursive: true, force: true}))
  return {
    dir,
    remove: async () => {
      await rm(dir, {recursive: true, force: true})
      forget()
    },
  }
}
