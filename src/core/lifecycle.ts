/**
 * Cleanups that must run however kvmdoctor ends: a normal exit, an error, or
 * SIGINT/SIGTERM/SIGHUP. Each is synchronous (kill a process group, remove a
 * temporary file or directory) because an exiting process cannot await.
 */
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
