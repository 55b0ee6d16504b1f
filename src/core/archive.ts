/**
 * A bundle's tar stream, read within budgets before node-tar sees it: the
 * gzip layer is undone here, every decompressed byte is counted, and the tar
 * blocks are walked (header, data, header…) so that the stream ends at the
 * archive's end-of-archive marker. What follows the marker inside the gzip
 * stream is counted too: zero padding up to a record is normal (GNU tar pads
 * to 10 KiB), anything else or more is refused. node-tar never sees the
 * trailing bytes (it walks zero blocks one by one, in quadratic time: 16 MiB of
 * them took minutes).
 */
import {createReadStream} from 'node:fs'
import {Transform, type TransformCallback} from 'node:stream'
import {createGunzip} from 'node:zlib'
import {formatBytes} from './budget.js'

const BLOCK = 512

/** Why a stream was refused: over a budget, or not what a bundle holds. */
export class ArchiveRefused extends Error {}

export interface ArchiveLimits {
  /** Decompressed bytes up to the end-of-archive marker (headers, data, padding). */
  archiveBytes: number
  /** Bytes after the marker (zero padding only). */
  trailingBytes: number
}

/** An entry's size from its header: octal digits, or base-256 when the high bit of the first byte is set. */
function entrySize(header: Buffer): number {
  const field = header.subarray(124, 136)
  if (field[0] & 0x80) {
    let size = field[0] & 0x7f
    for (let i = 1; i < field.length; i++) size = size * 256 + field[i]
    return size
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim()
  return text === '' ? 0 : Number.parseInt(text, 8)
}

const isZero = (block: Buffer) => {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false
  return true
}

/** Passes a tar stream through up to its end-of-archive marker, counting and refusing as the limits say. */
export class TarBoundary extends Transform {
  private header = Buffer.alloc(0)
  /** Data bytes (rounded up to whole blocks) left in the current entry. */
  private skip = 0
  private zeroHeaders = 0
  private ended = false
  private archive = 0
  private trailing = 0

  constructor(private readonly limits: ArchiveLimits) {
    super()
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let i = 0
    while (i < chunk.length && !this.ended) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i)
        i += n
        this.skip -= n
        continue
      }
      const part = chunk.subarray(i, i + BLOCK - this.header.length)
      this.header = this.header.length === 0 ? Buffer.from(part) : Buffer.concat([this.header, part])
      i += part.length
      if (this.header.length < BLOCK) break
      const block = this.header
      this.header = Buffer.alloc(0)
      if (isZero(block)) {
        // Two zero blocks where a header would be: the end of the archive.
        if (++this.zeroHeaders === 2) this.ended = true
        continue
      }
      this.zeroHeaders = 0
      const size = entrySize(block)
      if (!Number.isSafeInteger(size) || size < 0) return done(new ArchiveRefused('a tar header with an unreadable size'))
      this.skip = Math.ceil(size / BLOCK) * BLOCK
    }
    this.archive += i
    if (this.archive > this.limits.archiveBytes) return done(new ArchiveRefused(`it decompresses to more than ${formatBytes(this.limits.archiveBytes)}`))
    const rest = chunk.subarray(i)
    if (rest.length > 0) {
      this.trailing += rest.length
      if (this.trailing > this.limits.trailingBytes) return done(new ArchiveRefused(`more than ${formatBytes(this.limits.trailingBytes)} follow the end of its archive`))
      if (!isZero(rest)) return done(new ArchiveRefused('data follows the end of its archive'))
    }
    done(null, i > 0 ? chunk.subarray(0, i) : undefined)
  }
}

/**
 * The tar bytes of a bundle file (gzip-compressed or not), up to the end-of-archive marker.
 * Errors (the file's, gzip's, a refusal) come out of the returned stream.
 */
export function tarStream(file: string, limits: ArchiveLimits): NodeJS.ReadableStream {
  const boundary = new TarBoundary(limits)
  const input = createReadStream(file)
  const fail = (error: Error) => boundary.destroy(error)
  input.on('error', fail)
  // Gzip by its magic number, so a plain .tar is read as well.
  input.once('readable', () => {
    const head = input.read(2) as Buffer | null
    if (head) input.unshift(head)
    if (head && head[0] === 0x1f && head[1] === 0x8b) {
      const gunzip = createGunzip()
      gunzip.on('error', fail)
      input.pipe(gunzip).pipe(boundary)
    } else input.pipe(boundary)
  })
  boundary.on('close', () => input.destroy())
  return boundary
}
