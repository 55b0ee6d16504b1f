/**
 * Limits for what kvmdoctor reads from files the user hands it (snapshots,
 * bundles, config files), and the one way such files are read: regular files
 * only (a FIFO or a device is refused before it can block or flood), links
 * refused where asked, size checked before and while reading.
 */
import {closeSync, constants, fstatSync, openSync, readSync, type Stats} from 'node:fs'
import {open} from 'node:fs/promises'
import {UserError} from './errors.js'

const MiB = 1024 * 1024

export interface Budget {
  captureBytes: number
  snapshotBytes: number
  manifestBytes: number
  entries: number
  configBytes: number
}

export const BUDGET: Readonly<Budget> = {
  /** One capture output: the live runner keeps at most 32 MiB of one, so twice that is generous. */
  captureBytes: 64 * MiB,
  /** All the outputs of one snapshot together (a 1000-guest host records a few tens of MiB). */
  snapshotBytes: 256 * MiB,
  manifestBytes: 32 * MiB,
  /** Entries of a snapshot manifest, or of a bundle archive. */
  entries: 50_000,
  /** Ignore and expectations files. */
  configBytes: 1 * MiB,
}

export const formatBytes = (n: number) => (n >= MiB ? `${(n / MiB).toFixed(n >= 10 * MiB ? 0 : 1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} bytes`)

export interface ReadLimits {
  maxBytes: number
  /**
   * Inside snapshots: refuse a symbolic link at the last component, and a file with other names
   * (a hard link to /etc/shadow reads as a regular file of the snapshot).
   */
  noFollow?: boolean
  /** How the file is named in messages: "snapshot /x: outputs/0001.txt". */
  label: string
}

function kindOf(s: Stats): string | undefined {
  if (s.isFile()) return undefined
  if (s.isDirectory()) return 'a directory'
  if (s.isFIFO()) return 'a FIFO'
  if (s.isCharacterDevice() || s.isBlockDevice()) return 'a device'
  if (s.isSocket()) return 'a socket'
  return 'not a regular file'
}

/** The message for a failed open/read of a file the user gave. */
export function describeReadError(label: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return `${label}: no such file`
  if (code === 'EACCES' || code === 'EPERM') return `${label}: permission denied`
  if (code === 'ELOOP') return `${label}: is a symbolic link (not followed inside a snapshot)`
  if (code === 'EISDIR') return `${label}: is a directory, not a regular file`
  return `${label}: cannot read (${code ?? (error as Error).message})`
}

const openFlags = (limits: ReadLimits) => constants.O_RDONLY | constants.O_NONBLOCK | (limits.noFollow ? constants.O_NOFOLLOW : 0)

function checkStats(s: Stats, limits: ReadLimits): void {
  const kind = kindOf(s)
  if (kind) throw new UserError(`${limits.label}: is ${kind}, not a regular file`)
  if (limits.noFollow && s.nlink > 1) throw new UserError(`${limits.label}: is a hard link (${s.nlink} names; a snapshot's files have one)`)
  if (s.size > limits.maxBytes) throw new UserError(`${limits.label}: is ${formatBytes(s.size)}, over the ${formatBytes(limits.maxBytes)} limit`)
}

/** Reads a regular file of at most maxBytes as UTF-8; every refusal is a UserError naming the file. */
export async function readRegularFile(path: string, limits: ReadLimits): Promise<string> {
  let handle
  try {
    handle = await open(path, openFlags(limits))
  } catch (error) {
    throw new UserError(describeReadError(limits.label, error))
  }
  try {
    const stats = await handle.stat()
    checkStats(stats, limits)
    // The size may grow after fstat: never read more than the limit (plus one byte to notice). The chunk
    // fits the file (a zeroed MiB for each of 500 small reports was most of a fleet view's time).
    const chunk = Buffer.allocUnsafe(Math.min(limits.maxBytes + 1, 1024 * 1024, Math.max(stats.size + 1, 64 * 1024)))
    const chunks: Buffer[] = []
    let total = 0
    for (;;) {
      const {bytesRead} = await handle.read(chunk, 0, chunk.length, null)
      if (bytesRead === 0) break
      total += bytesRead
      if (total > limits.maxBytes) throw new UserError(`${limits.label}: is over the ${formatBytes(limits.maxBytes)} limit`)
      chunks.push(Buffer.from(chunk.subarray(0, bytesRead)))
    }
    return Buffer.concat(chunks).toString('utf8')
  } catch (error) {
    if (error instanceof UserError) throw error
    throw new UserError(describeReadError(limits.label, error))
  } finally {
    await handle.close()
  }
}

/** Files larger than this are read a piece at a time (readInPiecesSync). */
const PIECE_BYTES = MiB

/**
 * The buffer every synchronous read reads into, grown as needed (to PIECE_BYTES and a byte): a replay reads tens of
 * thousands of small outputs, and a buffer each (slices of Node's 8 KiB pools) was malloc'd memory for the GC to
 * account and free, and for glibc to keep. Reads are synchronous and each output is decoded (copied) before the next.
 */
let scratch = Buffer.allocUnsafe(64 * 1024)

/** The first SIZE bytes of the scratch buffer. */
function scratchOf(size: number): Buffer {
  if (scratch.length < size) {
    let length = scratch.length * 2
    while (length < size) length *= 2
    scratch = Buffer.allocUnsafe(Math.min(length, PIECE_BYTES + 1))
  }
  return scratch.subarray(0, size)
}

/**
 * The file open at FD (SIZE bytes by fstat) as readRegularFileSync reads it, through one buffer of PIECE_BYTES: a
 * buffer the size of a big capture (a 200,000-rule iptables-save is 21 MiB), once freed, stays with glibc, which
 * raises its mmap threshold to that size and serves later allocations from an arena it rarely returns (some 15 MiB
 * of a 10,000-guest replay's peak). Each piece is decoded up to its last ASCII byte, which no UTF-8 sequence (nor
 * a broken one) spans: the pieces decode as the whole file would.
 */
function readInPiecesSync(fd: number, size: number, limits: ReadLimits): string {
  let buffer = scratchOf(Math.min(limits.maxBytes + 1, PIECE_BYTES))
  let text = ''
  let total = 0
  // Bytes at the buffer's start read but not decoded yet (after the last ASCII byte of the read before).
  let held = 0
  for (;;) {
    if (held === buffer.length) {
      // A piece without an ASCII byte: keep it whole, and read on.
      const bigger = Buffer.allocUnsafe(buffer.length * 2)
      buffer.copy(bigger, 0, 0, held)
      buffer = bigger
    }
    const n = readSync(fd, buffer, held, buffer.length - held, null)
    if (n === 0) break
    total += n
    if (total > limits.maxBytes) throw new UserError(`${limits.label}: is over the ${formatBytes(limits.maxBytes)} limit`)
    const end = held + n
    let cut = end
    while (cut > 0 && buffer[cut - 1] >= 0x80) cut--
    if (cut > 0) {
      text += buffer.toString('utf8', 0, cut)
      buffer.copyWithin(0, cut, end)
    }
    held = end - cut
    // All fstat promised: the end (as readRegularFileSync stops).
    if (total === size) break
  }
  return held === 0 ? text : text + buffer.toString('utf8', 0, held)
}

/** The same, synchronous: replaying thousands of small outputs costs far less without a promise each. */
export function readRegularFileSync(path: string, limits: ReadLimits): string {
  let fd: number
  try {
    fd = openSync(path, openFlags(limits))
  } catch (error) {
    throw new UserError(describeReadError(limits.label, error))
  }
  try {
    const s = fstatSync(fd)
    checkStats(s, limits)
    if (s.size > PIECE_BYTES) return readInPiecesSync(fd, s.size, limits)
    // Not zero-filled: only the bytes read are ever decoded.
    let buffer = scratchOf(Math.min(limits.maxBytes + 1, s.size + 1))
    let total = 0
    for (;;) {
      if (total === buffer.length) {
        // Grew since fstat: keep reading, but never past the limit.
        if (buffer.length > limits.maxBytes) throw new UserError(`${limits.label}: is over the ${formatBytes(limits.maxBytes)} limit`)
        const bigger = Buffer.allocUnsafe(Math.min(limits.maxBytes + 1, buffer.length * 2 + 1))
        buffer.copy(bigger, 0, 0, total)
        buffer = bigger
      }
      const n = readSync(fd, buffer, total, buffer.length - total, null)
      if (n === 0) break
      total += n
      // All fstat promised and no byte more, though there was room for one: the end. A replay opens thousands of
      // outputs, and a read per file only to be told so was a tenth of opening them. (A /proc file says size 0.)
      if (total === s.size && total < buffer.length) break
    }
    if (total > limits.maxBytes) throw new UserError(`${limits.label}: is over the ${formatBytes(limits.maxBytes)} limit`)
    return buffer.toString('utf8', 0, total)
  } catch (error) {
    if (error instanceof UserError) throw error
    throw new UserError(describeReadError(limits.label, error))
  } finally {
    closeSync(fd)
  }
}
