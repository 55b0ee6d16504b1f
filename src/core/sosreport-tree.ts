/**
 * A sosreport's files, read safely: an unpacked directory, or a .tar.xz / .tar.gz archive read
 * as a stream into memory (nothing is extracted to disk). The archive rules are the bundles'
 * (bundle.ts): no absolute path, no "..", no hard link, no device or FIFO; symbolic links are
 * normal in a sosreport (sos keeps /etc's links, relative) and are followed only inside it, never
 * out. Budgets bound every file kept, all kept files together, the number of entries and the
 * bytes decompressed (every byte, the tar padding and whatever follows the end of the archive
 * included), so a small hostile archive cannot take unbounded time or memory.
 */
import {closeSync, createReadStream, lstatSync, openSync, readSync, readdirSync, realpathSync} from 'node:fs'
import {open} from 'node:fs/promises'
import {join, posix, sep} from 'node:path'
import {Transform, type TransformCallback} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {createGunzip} from 'node:zlib'
import * as tar from 'tar'
import {ArchiveRefused, TarBoundary} from './archive.js'
import {BUDGET, formatBytes, readRegularFileSync} from './budget.js'
import {UserError} from './errors.js'

const MiB = 1024 * 1024

/** A sosreport of every plugin runs to a few hundred MiB unpacked and tens of thousands of files; kvmdoctor keeps only what it reads. */
export const SOS_BUDGET = {
  /** One file kept: a snapshot capture's limit. Logs keep their end instead. */
  fileBytes: BUDGET.captureBytes,
  /** All files kept together: a snapshot's limit. */
  keptBytes: BUDGET.snapshotBytes,
  /** Every byte the archive decompresses to, kept or not. */
  decompressedBytes: 4096 * MiB,
  entries: 500_000,
  /** Links followed to reach one file. */
  linkHops: 40,
}

export type TreeRead = {text: string; truncated: boolean} | {missing: string} | {error: string; code: 'too-large' | 'failed'}

export interface SosTree {
  /** What the user named, for messages. */
  readonly label: string
  /** A file by its path inside the sosreport ("sos_commands/networking/ip_-d_address"). */
  read(path: string, options?: {tailBytes?: number}): TreeRead
  /** The names in a directory, sorted; undefined when there is no such directory. */
  list(path: string): string[] | undefined
  exists(path: string): boolean
  /** The files read and directories listed so far (their paths inside the sosreport, links resolved): what a recording of it must keep. */
  touched(): {files: string[]; dirs: string[]}
}

/** Paths kvmdoctor reads from a sosreport: the rest of an archive is decompressed and dropped. */
export type Wanted = (path: string) => boolean

type Entry = {kind: 'file'; text: string; truncated: boolean; tooLarge?: number} | {kind: 'link'; target: string} | {kind: 'dir'}

/** The files of an archive, held in memory under their paths inside the sosreport. */
class MemoryTree implements SosTree {
  private readonly files = new Set<string>()
  private readonly dirs = new Set<string>()

  constructor(
    readonly label: string,
    private readonly entries: Map<string, Entry>,
  ) {}

  /** Where a path leads inside the tree, following links (relative to their directory); an error when it leaves the tree. */
  private resolve(path: string): {path: string; entry?: Entry} | {out: string} {
    let parts = posix.normalize(path).split('/').filter((p) => p !== '' && p !== '.')
    for (let hops = 0; hops <= SOS_BUDGET.linkHops; hops++) {
      let walked: string[] = []
      let followed = false
      for (let i = 0; i < parts.length; i++) {
        walked.push(parts[i])
        const entry = this.entries.get(walked.join('/'))
        if (entry?.kind !== 'link') continue
        const target = entry.target.startsWith('/') ? entry.target.slice(1).split('/') : [...walked.slice(0, -1), ...entry.target.split('/')]
        const normal: string[] = []
        for (const p of target) {
          if (p === '' || p === '.') continue
          if (p === '..') {
            if (normal.length === 0) return {out: `${walked.join('/')} links out of the sosreport (${entry.target})`}
            normal.pop()
          } else normal.push(p)
        }
        parts = [...normal, ...parts.slice(i + 1)]
        walked = []
        followed = true
        break
      }
      if (!followed) {
        const key = parts.join('/')
        return {path: key, entry: this.entries.get(key) ?? (this.isDirectory(key) ? {kind: 'dir'} : undefined)}
      }
    }
    return {out: `${path}: more than ${SOS_BUDGET.linkHops} links`}
  }

  private isDirectory(path: string): boolean {
    const prefix = path === '' ? '' : `${path}/`
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) return true
    return false
  }

  read(path: string, options?: {tailBytes?: number}): TreeRead {
    const r = this.resolve(path)
    if ('out' in r) return {error: r.out, code: 'failed'}
    if (!r.entry) return {missing: `${path}: not in the sosreport`}
    if (r.entry.kind !== 'file') return {error: `${path}: is a directory in the sosreport`, code: 'failed'}
    if (r.entry.tooLarge !== undefined && !(options?.tailBytes !== undefined && r.entry.truncated)) {
      return {error: `${path}: ${formatBytes(r.entry.tooLarge)} in the sosreport, over the ${formatBytes(SOS_BUDGET.fileBytes)} limit for one file`, code: 'too-large'}
    }
    this.files.add(r.path)
    if (options?.tailBytes !== undefined && Buffer.byteLength(r.entry.text) > options.tailBytes) {
      const buffer = Buffer.from(r.entry.text)
      return {text: buffer.subarray(buffer.length - options.tailBytes).toString('utf8'), truncated: true}
    }
    return {text: r.entry.text, truncated: r.entry.truncated}
  }

  list(path: string): string[] | undefined {
    const r = this.resolve(path)
    if ('out' in r || !r.entry || r.entry.kind !== 'dir') return undefined
    this.dirs.add(r.path)
    const prefix = r.path === '' ? '' : `${r.path}/`
    const names = new Set<string>()
    for (const key of this.entries.keys()) if (key.startsWith(prefix) && key.length > prefix.length) names.add(key.slice(prefix.length).split('/')[0])
    return [...names].sort()
  }

  exists(path: string): boolean {
    const r = this.resolve(path)
    return !('out' in r) && r.entry !== undefined
  }

  touched(): {files: string[]; dirs: string[]} {
    return {files: [...this.files].sort(), dirs: [...this.dirs].sort()}
  }
}

/** An unpacked sosreport: read lazily, each file checked to stay inside the directory. */
class DirectoryTree implements SosTree {
  private kept = 0
  private readonly files = new Set<string>()
  private readonly dirs = new Set<string>()

  constructor(
    readonly label: string,
    private readonly root: string,
  ) {}

  private inside(path: string): string | {missing: string} | {error: string; code: 'failed'} {
    let real: string
    try {
      real = realpathSync(join(this.root, path))
    } catch {
      return {missing: `${path}: not in the sosreport`}
    }
    if (real !== this.root && !real.startsWith(this.root + sep)) return {error: `${path} leads out of the sosreport through a symbolic link`, code: 'failed'}
    return real
  }

  read(path: string, options?: {tailBytes?: number}): TreeRead {
    const real = this.inside(path)
    if (typeof real !== 'string') return real
    let info
    try {
      info = lstatSync(real)
    } catch {
      return {missing: `${path}: not in the sosreport`}
    }
    // A hard link may name any file of the filesystem it was made on: never read through one.
    if (info.isFile() && info.nlink > 1) return {error: `${path}: a hard link (${info.nlink} names), not read`, code: 'failed'}
    if (info.isFile()) this.files.add(real.slice(this.root.length + 1))
    if (info.isFile() && options?.tailBytes !== undefined && info.size > options.tailBytes) return this.tail(real, info.size, options.tailBytes)
    try {
      const text = readRegularFileSync(real, {maxBytes: SOS_BUDGET.fileBytes, noFollow: true, label: `${this.label}: ${path}`})
      this.kept += Buffer.byteLength(text)
      if (this.kept > SOS_BUDGET.keptBytes) throw new UserError(`${this.label}: the files kvmdoctor reads exceed ${formatBytes(SOS_BUDGET.keptBytes)} in total`)
      return {text, truncated: false}
    } catch (error) {
      if (error instanceof UserError && / over the .* limit$/.test(error.message)) return {error: error.message, code: 'too-large'}
      if (error instanceof UserError && /total$/.test(error.message)) throw error
      return {error: (error as Error).message, code: 'failed'}
    }
  }

  private tail(real: string, size: number, bytes: number): TreeRead {
    // Synchronous reads elsewhere; a log's end is one positioned read.
    const fd = openSync(real, 'r')
    try {
      const buffer = Buffer.alloc(bytes)
      const n = readSync(fd, buffer, 0, bytes, size - bytes)
      return {text: buffer.subarray(0, n).toString('utf8'), truncated: true}
    } finally {
      closeSync(fd)
    }
  }

  list(path: string): string[] | undefined {
    const real = this.inside(path)
    if (typeof real !== 'string') return undefined
    try {
      const names = readdirSync(real).sort()
      this.dirs.add(real.slice(this.root.length + 1))
      return names
    } catch {
      return undefined
    }
  }

  exists(path: string): boolean {
    return typeof this.inside(path) === 'string'
  }

  touched(): {files: string[]; dirs: string[]} {
    return {files: [...this.files].sort(), dirs: [...this.dirs].sort()}
  }
}

export function openSosDirectory(dir: string, label = dir): SosTree {
  return new DirectoryTree(label, realpathSync(dir))
}

/** Counts (and bounds) every byte coming out of the decompressor. */
class Meter extends Transform {
  bytes = 0
  constructor(private readonly limit: number) {
    super()
  }
  _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length
    if (this.bytes > this.limit) done(new OverBudget(`it decompresses to more than ${formatBytes(this.limit)}`))
    else done(null, chunk)
  }
}

class OverBudget extends Error {}

/** What may follow a tar's end-of-archive marker: a few records of zero padding (Python's tarfile and GNU tar pad to 10 KiB). */
const ARCHIVE_END = {archiveBytes: Number.POSITIVE_INFINITY, trailingBytes: MiB}

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b])

/** The compression of a file, by its first bytes: xz, gzip, or a plain tar (ustar at offset 257). */
export async function archiveKind(file: string): Promise<'xz' | 'gzip' | 'tar' | undefined> {
  const handle = await open(file, 'r')
  try {
    const head = Buffer.alloc(262)
    const {bytesRead} = await handle.read(head, 0, head.length, 0)
    if (bytesRead >= 6 && head.subarray(0, 6).equals(XZ_MAGIC)) return 'xz'
    if (bytesRead >= 2 && head.subarray(0, 2).equals(GZIP_MAGIC)) return 'gzip'
    if (bytesRead >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar'
    return undefined
  } finally {
    await handle.close()
  }
}

/**
 * Reads an archive into a tree of the wanted files, with one top directory (sosreport-HOST-DATE/)
 * removed. Refuses the whole archive on the first unsafe entry, as a bundle is refused.
 */
export async function openSosArchive(file: string, wanted: Wanted, budget: Partial<typeof SOS_BUDGET> = {}): Promise<SosTree> {
  const limits = {...SOS_BUDGET, ...budget}
  const kind = await archiveKind(file)
  if (kind === undefined) throw new UserError(`${file}: not a .tar.xz, .tar.gz or .tar archive`)
  const raw = new Map<string, Entry>()
  let entries = 0
  let kept = 0
  let refused: string | undefined
  const meter = new Meter(limits.decompressedBytes)
  const parser = new tar.Parser({
    strict: true,
    onReadEntry: (entry) => {
      entries++
      const path = entry.path.replace(/\/+$/, '')
      const normal = posix.normalize(path)
      const problem =
        path.startsWith('/') || /^[A-Za-z]:/.test(path)
          ? `absolute path ${path}`
          : normal.split('/').includes('..') || path.split('/').includes('..')
            ? `path escapes the sosreport: ${path}`
            : entry.type === 'Link'
              ? `hard link ${path}`
              : entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'Directory' && entry.type !== 'SymbolicLink'
                ? `${entry.type} entry ${path} (devices and FIFOs are not allowed)`
                : entries > limits.entries
                  ? `more than ${limits.entries} entries`
                  : undefined
      if (problem) {
        refused = problem
        parser.abort(new OverBudget(problem))
        entry.resume()
        return
      }
      if (entry.type === 'Directory') {
        raw.set(normal, {kind: 'dir'})
        entry.resume()
        return
      }
      if (entry.type === 'SymbolicLink') {
        raw.set(normal, {kind: 'link', target: entry.linkpath ?? ''})
        entry.resume()
        return
      }
      const inner = normal.split('/').slice(1).join('/')
      if (!wanted(inner) && !wanted(normal)) {
        entry.resume()
        return
      }
      const size = entry.size ?? 0
      const isLog = /(^|\/)var\/log\//.test(normal)
      if (size > limits.fileBytes && !isLog) {
        raw.set(normal, {kind: 'file', text: '', truncated: false, tooLarge: size})
        entry.resume()
        return
      }
      // A log too large keeps its end: the probes read only the recent part of logs.
      const chunks: Buffer[] = []
      let held = 0
      entry.on('data', (chunk: Buffer) => {
        chunks.push(chunk)
        held += chunk.length
        while (held > limits.fileBytes && chunks.length > 1) held -= chunks.shift()!.length
      })
      entry.on('end', () => {
        let buffer = Buffer.concat(chunks)
        const truncated = buffer.length > limits.fileBytes || held < size
        if (buffer.length > limits.fileBytes) buffer = buffer.subarray(buffer.length - limits.fileBytes)
        kept += buffer.length
        if (kept > limits.keptBytes) {
          refused = `the files kvmdoctor reads exceed ${formatBytes(limits.keptBytes)} in total`
          parser.abort(new OverBudget(refused))
          return
        }
        raw.set(normal, {kind: 'file', text: buffer.toString('utf8'), truncated, ...(truncated ? {tooLarge: size} : {})})
      })
    },
  })
  try {
    const stages: NodeJS.ReadWriteStream[] = []
    if (kind === 'gzip') stages.push(createGunzip())
    if (kind === 'xz') {
      // liblzma through a native binding: loaded only for .tar.xz.
      const lzma = (await import('lzma-native')).default
      stages.push(lzma.createDecompressor({memlimit: 256 * MiB}) as unknown as NodeJS.ReadWriteStream)
    }
    // node-tar sees the archive up to its end-of-archive marker only (it walks trailing zero blocks in quadratic time).
    await pipeline([createReadStream(file), ...stages, meter, new TarBoundary(ARCHIVE_END), parser as unknown as NodeJS.WritableStream])
  } catch (error) {
    if (refused) throw new UserError(`${file}: refusing a sosreport with unsafe entries: ${refused}`)
    if (error instanceof ArchiveRefused) throw new UserError(`${file}: refusing the sosreport: ${error.message}`)
    if (error instanceof OverBudget) throw new UserError(`${file}: too large to read: ${error.message}`)
    throw new UserError(`${file}: not a readable ${kind === 'xz' ? '.tar.xz' : kind === 'gzip' ? '.tar.gz' : '.tar'} archive (${(error as Error).message.split('\n')[0]})`)
  }
  if (refused) throw new UserError(`${file}: refusing a sosreport with unsafe entries: ${refused}`)
  if (entries === 0) throw new UserError(`${file}: the archive is empty`)
  const tops = new Set([...raw.keys()].map((k) => k.split('/')[0]))
  if (tops.size !== 1) throw new UserError(`${file}: expected one top-level directory (sosreport-HOST-DATE), found ${tops.size}`)
  const top = [...tops][0]
  const tree = new Map<string, Entry>()
  for (const [key, entry] of raw) if (key !== top) tree.set(key.slice(top.length + 1), entry)
  return new MemoryTree(file, tree)
}

/** Whether a .tar.gz or .tar holds a sosreport (sos_commands/ or sos_reports/ under its top directory), judged from its first entries. */
export async function archiveHoldsSosreport(file: string): Promise<boolean> {
  const kind = await archiveKind(file)
  if (kind === 'xz') return true
  if (kind === undefined) return false
  let verdict: boolean | undefined
  let entries = 0
  const parser = new tar.Parser({
    onReadEntry: (entry) => {
      const parts = entry.path.split('/').filter((p) => p !== '')
      if (parts[1] === 'sos_commands' || parts[1] === 'sos_reports') verdict = true
      else if (parts.length === 2 && (parts[1] === 'manifest.json' || parts[1] === 'SHA256SUMS')) verdict = false
      if (verdict !== undefined || ++entries > 5000) parser.abort(new OverBudget('decided'))
      entry.resume()
    },
  })
  await pipeline([createReadStream(file), ...(kind === 'gzip' ? [createGunzip()] : []), new Meter(256 * MiB), new TarBoundary(ARCHIVE_END), parser as unknown as NodeJS.WritableStream]).catch(() => undefined)
  return verdict === true
}
