/**
 * Every file kvmdoctor writes goes through here: scrubbed of credentials,
 * written to a new temporary file in the target's directory (O_EXCL,
 * O_NOFOLLOW, mode 0600), fsynced and renamed over the target. A symlink or a
 * non-regular file (FIFO, device, directory) at the target is refused with a
 * UserError; a lock file beside the target keeps two runs from racing.
 */
import {randomBytes} from 'node:crypto'
import {constants, existsSync, readFileSync, rmSync, unlinkSync} from 'node:fs'
import {type FileHandle, lstat, open, rename, stat, unlink} from 'node:fs/promises'
import {basename, dirname, join, resolve} from 'node:path'
import {UserError} from './errors.js'
import {onExit} from './lifecycle.js'
import {scrubDeep, scrubText} from '../lib/scrub.js'

const {O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_NONBLOCK} = constants

export interface WriteOptions {
  /** What is written, for messages: "the bundle", "the report". */
  what: string
  /** Permission bits of the file written (the umask applies); default 0600: what kvmdoctor writes describes the host, for its owner only. */
  mode?: number
  /** Owner to give the new file, when kvmdoctor runs as root (a file replaced keeps its owner). */
  owner?: {uid: number; gid: number}
}

const errnoText = (error: unknown) => {
  const e = error as NodeJS.ErrnoException
  return e.code ? `${e.code}: ${e.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '')}` : e.message
}

/** The resolved target, after checking that its directory exists and that it is absent or a regular file. */
export async function checkTarget(path: string, what: string): Promise<string> {
  if (path.trim() === '') throw new UserError(`cannot write ${what}: the path is empty`)
  const target = resolve(path)
  const parent = await stat(dirname(target)).catch(() => undefined)
  // Creating directories is not kvmdoctor's business (and mkdir -p under /proc spins).
  if (!parent?.isDirectory()) throw new UserError(`cannot write ${what} to ${path}: ${dirname(target)} is not a directory`)
  const existing = await lstat(target).catch(() => undefined)
  if (existing?.isSymbolicLink()) throw new UserError(`cannot write ${what} to ${path}: it is a symbolic link (kvmdoctor does not write through links)`)
  if (existing && !existing.isFile()) throw new UserError(`cannot write ${what} to ${path}: it exists and is not a regular file`)
  return target
}

function tempPathFor(target: string, tag = 'tmp'): string {
  return join(dirname(target), `.${basename(target).slice(0, 100)}.kvmdoctor-${tag}-${randomBytes(6).toString('hex')}`)
}

/** Opens a new file that must not exist (no link is followed), private to its owner unless told otherwise. */
export function createExclusive(path: string, mode = 0o600): Promise<FileHandle> {
  return open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode)
}

/** fsync of a directory, so a rename in it survives a crash; filesystems that refuse it are ignored. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, O_RDONLY).catch(() => undefined)
  if (!handle) return
  await handle.sync().catch(() => undefined)
  await handle.close()
}

/**
 * Writes data (already scrubbed by the caller, or binary) atomically at target.
 * Returns the bytes written. On any failure the temporary file is removed and
 * the target is left as it was.
 */
export async function writeFileAtomic(path: string, data: string | Buffer | AsyncIterable<Buffer | string>, options: WriteOptions): Promise<number> {
  const target = await checkTarget(path, options.what)
  const temp = tempPathFor(target)
  let handle: FileHandle | undefined
  const forget = onExit(() => rmSync(temp, {force: true}))
  try {
    handle = await createExclusive(temp, options.mode ?? 0o600)
    if (options.owner && process.getuid?.() === 0) await handle.chown(options.owner.uid, options.owner.gid)
    let bytes = 0
    if (typeof data === 'string' || Buffer.isBuffer(data)) {
      const buffer = typeof data === 'string' ? Buffer.from(data) : data
      await handle.writeFile(buffer)
      bytes = buffer.length
    } else {
      for await (const chunk of data) {
        const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
        await handle.write(buffer)
        bytes += buffer.length
      }
    }
    await handle.sync()
    await handle.close()
    handle = undefined
    // Checked again just before the rename: a link planted meanwhile is refused, never followed.
    await checkTarget(path, options.what)
    await rename(temp, target)
    await syncDir(dirname(target))
    return bytes
  } catch (error) {
    await handle?.close().catch(() => undefined)
    await unlink(temp).catch(() => undefined)
    if (error instanceof UserError) throw error
    throw new UserError(`cannot write ${options.what} to ${path}: ${errnoText(error)}`)
  } finally {
    forget()
  }
}

/** A text file, scrubbed of credentials, written atomically. */
export function writeTextSafely(path: string, text: string, options: WriteOptions): Promise<number> {
  return writeFileAtomic(path, scrubText(text), options)
}

/** A JSON file: every string scrubbed before serialising (escaped quotes would hide values from a text scrub). */
export function writeJsonSafely(path: string, value: unknown, options: WriteOptions): Promise<number> {
  return writeFileAtomic(path, JSON.stringify(scrubDeep(value), null, 2) + '\n', options)
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** When a process started (clock ticks since boot, /proc/PID/stat field 22): with its pid, who it is, not just that some process has the number. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces and parentheses: count from the last ")".
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

/**
 * Whether the kvmdoctor that wrote a lock ("PID STARTTIME") still runs: its pid alive with the same
 * start time. A pid reused by another process, or named in a lock without a start time (pid 1 in a
 * planted lock), holds nothing, unless it is a kvmdoctor (an older one wrote the pid alone).
 */
function lockHolderAlive(content: string): boolean {
  const [pidText, started] = content.split(/\s+/)
  const pid = Number(pidText)
  if (!Number.isInteger(pid) || pid <= 0) return false
  if (!existsSync('/proc/self/stat')) return isAlive(pid)
  const now = startTimeOf(pid)
  if (now === undefined) return false
  if (started !== undefined && started !== '') return now === started
  try {
    return /kvmdoctor/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))
  } catch {
    return false
  }
}

/**
 * Holds TARGET.lock (O_EXCL, our pid and start time inside) while fn runs, so two kvmdoctor runs never
 * write one path at once. A lock whose process is gone (or is another process now) is taken over.
 */
export async function withLock<T>(path: string, what: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${resolve(path)}.lock`
  let handle: FileHandle | undefined
  for (let attempt = 0; !handle; attempt++) {
    try {
      handle = await createExclusive(lock, 0o600)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ELOOP') throw new UserError(`cannot write ${what} to ${path}: ${lock} is a symbolic link`)
      if (code !== 'EEXIST' || attempt > 0) throw new UserError(`cannot write ${what} to ${path}: cannot create ${lock} (${errnoText(error)})`)
      const content = (await readLockPid(lock)) ?? ''
      if (lockHolderAlive(content)) {
        throw new UserError(`cannot write ${what} to ${path}: another kvmdoctor (pid ${content.split(/\s+/)[0]}) is writing it; try again when it has finished`)
      }
      await unlink(lock).catch(() => undefined)
    }
  }
  await handle.writeFile(`${process.pid} ${startTimeOf(process.pid) ?? ''}\n`)
  await handle.close()
  const forget = onExit(() => unlinkSync(lock))
  try {
    return await fn()
  } finally {
    forget()
    await unlink(lock).catch(() => undefined)
  }
}

async function readLockPid(lock: string): Promise<string | undefined> {
  const handle = await open(lock, O_RDONLY | O_NOFOLLOW | O_NONBLOCK).catch(() => undefined)
  if (!handle) return undefined
  try {
    if (!(await handle.stat()).isFile()) return undefined
    return (await handle.readFile({encoding: 'utf8'})).slice(0, 32).trim()
  } finally {
    await handle.close()
  }
}
