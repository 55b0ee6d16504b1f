/**
 * --redact-map FILE: one pseudonym mapping kept across the bundles of a host or
 * a fleet. An existing FILE is read only when it is a regular file (lstat, then
 * opened O_NOFOLLOW) of mode 0600; a link, a non-regular file or another mode
 * is refused, never repaired: a map others could read may already have leaked,
 * and a read-only one was made so on purpose. It is written back atomically
 * (temporary file, rename), 0600, keeping its owner when run as root (sudo with
 * a map in the user's home).
 */
import {constants} from 'node:fs'
import {lstat, open} from 'node:fs/promises'
import {BUDGET, describeReadError, formatBytes} from './budget.js'
import {UserError} from './errors.js'
import {type RedactionMap, parseRedactionMap} from './redact.js'
import {writeJsonSafely} from './safe-write.js'

export interface StoredMap {
  map: RedactionMap
  owner: {uid: number; gid: number}
}

const refuse = (path: string, why: string) => new UserError(`cannot use the redaction map ${path}: ${why}`)

/** The map at path, or undefined when there is none yet. */
export async function readRedactionMap(path: string): Promise<StoredMap | undefined> {
  const info = await lstat(path).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new UserError(describeReadError(`the redaction map ${path}`, error))
  })
  if (!info) return undefined
  if (info.isSymbolicLink()) throw refuse(path, 'it is a symbolic link (kvmdoctor does not read or write through links)')
  if (!info.isFile()) throw refuse(path, 'it is not a regular file')
  let handle
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (error) {
    throw new UserError(describeReadError(`the redaction map ${path}`, error))
  }
  try {
    // Judged again on what was opened: a file swapped in after the lstat is refused too.
    const s = await handle.stat()
    if (!s.isFile()) throw refuse(path, 'it is not a regular file')
    const mode = s.mode & 0o7777
    if (mode !== 0o600) {
      const octal = mode.toString(8).padStart(4, '0')
      throw refuse(path, mode & 0o077
        ? `its mode is ${octal}: others can read or change it, so the mapping may have leaked; check it, then chmod 600 ${path}`
        : `its mode is ${octal}, not 0600 (kvmdoctor rewrites the map it extends); chmod 600 ${path} to let it`)
    }
    if (s.size > BUDGET.manifestBytes) throw refuse(path, `it is ${formatBytes(s.size)}, over the ${formatBytes(BUDGET.manifestBytes)} limit`)
    return {map: parseRedactionMap(await handle.readFile('utf8'), path), owner: {uid: s.uid, gid: s.gid}}
  } finally {
    await handle.close()
  }
}

/** Writes the map atomically, 0600, to its owner of before when there was one. */
export function writeRedactionMap(path: string, map: RedactionMap, owner?: StoredMap['owner']): Promise<number> {
  return writeJsonSafely(path, map, {what: 'the redaction map', mode: 0o600, owner})
}
