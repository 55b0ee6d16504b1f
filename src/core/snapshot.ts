/**
 * Snapshots: what a run read from the host, written so that the same probes
 * can replay it later. Format documented in docs/snapshot-format.md.
 */
import {randomBytes} from 'node:crypto'
import {realpathSync, rmSync} from 'node:fs'
import {lstat, mkdir, readdir, rename, rm, stat} from 'node:fs/promises'
import {basename, dirname, join, resolve, sep} from 'node:path'
import {BUDGET, type Budget, formatBytes, readRegularFileSync} from './budget.js'
import {UserError} from './errors.js'
import {onExit} from './lifecycle.js'
import {type Capture, type CommandCapture, type DirCapture, type FileCapture, type ReadOptions, type RunOptions, type Runner, captureKey} from '../lib/runner.js'
import {createExclusive, syncDir} from './safe-write.js'
import {scrubCapture, scrubDeep} from '../lib/scrub.js'
import type {ManifestEntry, SnapshotManifest} from './snapshot-schema.js'

import {ERROR_CODES, SNAPSHOT_FORMAT, SNAPSHOT_FORMAT_VERSION} from './snapshot-format.js'

export {ERROR_CODES, SNAPSHOT_FORMAT, SNAPSHOT_FORMAT_VERSION}

export type {ManifestEntry, SnapshotManifest}

function slug(c: Capture): string {
  const name = c.kind === 'command' ? c.argv.join(' ') : c.path
  return name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80) || 'root'
}

/** Wraps a runner and remembers every capture so it can be written as a snapshot. */
export class RecordingRunner implements Runner {
  private readonly captures = new Map<string, Capture>()

  constructor(private readonly inner: Runner) {}

  get capturedAt(): Date {
    return this.inner.capturedAt
  }

  get origin(): string | undefined {
    return this.inner.origin
  }

  async run(argv: string[], options?: RunOptions): Promise<CommandCapture> {
    return this.remember(await this.inner.run(argv, options))
  }

  async readFile(path: string, options?: ReadOptions): Promise<FileCapture> {
    return this.remember(await this.inner.readFile(path, options))
  }

  async listDir(path: string): Promise<DirCapture> {
    return this.remember(await this.inner.listDir(path))
  }

  private remember<T extends Capture>(capture: T): T {
    this.captures.set(captureKey(capture), capture)
    return capture
  }

  all(): Capture[] {
    return [...this.captures.values()]
  }
}

export interface SnapshotMeta {
  kvmdoctorVersion: string
  capturedAt: Date
  host?: string
  kernel?: string
  libvirtVersion?: string
  options?: {active: boolean; libvirtUri: string; internet?: string; listen?: number}
}

export function buildManifest(captures: Capture[], meta: SnapshotMeta): {manifest: SnapshotManifest; files: Map<string, string>} {
  const files = new Map<string, string>()
  const sorted = [...captures].sort((a, b) => captureKey(a).localeCompare(captureKey(b)))
  const entries: ManifestEntry[] = sorted.map((raw, i) => {
    // Secrets never leave the host: output, stderr, error, argv and path are scrubbed.
    const c = scrubCapture(raw)
    const file = `outputs/${String(i + 1).padStart(4, '0')}-${c.kind}-${slug(c)}.txt`
    files.set(file, c.output)
    const entry: ManifestEntry = {
      kind: c.kind,
      file,
      bytes: Buffer.byteLength(c.output),
      durationMs: c.durationMs,
      truncated: c.truncated,
    }
    if (c.startMs !== undefined) entry.startMs = c.startMs
    if (c.kind === 'command') {
      Object.assign(entry, {argv: c.argv, exitCode: c.exitCode, timedOut: c.timedOut})
      if (c.stderr) entry.stderr = c.stderr
    } else {
      entry.path = c.path
    }
    if (c.error !== undefined) Object.assign(entry, {error: c.error, errorCode: c.errorCode})
    return entry
  })
  const manifest: SnapshotManifest = {
    format: SNAPSHOT_FORMAT,
    formatVersion: SNAPSHOT_FORMAT_VERSION,
    kvmdoctorVersion: meta.kvmdoctorVersion,
    capturedAt: meta.capturedAt.toISOString(),
    captures: entries,
  }
  if (meta.host) manifest.host = meta.host
  if (meta.kernel) manifest.kernel = meta.kernel
  if (meta.libvirtVersion) manifest.libvirtVersion = meta.libvirtVersion
  if (meta.options) manifest.options = meta.options
  return {manifest, files}
}

/** Where a snapshot may go: a new path, an empty directory or an earlier snapshot; never through a link. */
export async function checkSnapshotTarget(dir: string): Promise<{target: string; existing: boolean; replaces: boolean}> {
  if (dir.trim() === '') throw new UserError('cannot write the snapshot: the path is empty')
  const target = resolve(dir)
  const fail = (why: string) => new UserError(`cannot write the snapshot to ${dir}: ${why}`)
  const parent = await stat(dirname(target)).catch(() => undefined)
  // Not mkdir -p: the parent must exist (and recursive mkdir under /proc never returns).
  if (!parent?.isDirectory()) throw fail(`${dirname(target)} is not a directory`)
  const existing = await lstat(target).catch(() => undefined)
  if (existing?.isSymbolicLink()) throw fail('it is a symbolic link (kvmdoctor does not write through links)')
  if (existing && !existing.isDirectory()) throw fail('it exists and is not a directory')
  if (existing) {
    const stray = await notOfSnapshot(target)
    if (stray !== undefined) throw fail(`it exists and is not a kvmdoctor snapshot (${stray}): refusing to replace it`)
  }
  // replaces: an earlier snapshot is there (not an empty directory), which the caller says it replaced.
  return {target, existing: existing !== undefined, replaces: existing !== undefined && (await readdir(target)).length > 0}
}

/**
 * Why a directory is not one kvmdoctor may replace, or undefined when it may: empty, or a snapshot
 * kvmdoctor wrote (a manifest.json whose format field says so, and an outputs/ holding only the files
 * it lists). Replacing removes the old directory, so anything else in it (some other project's
 * manifest.json, a note the user added) makes it the user's, never removed.
 */
async function notOfSnapshot(dir: string): Promise<string | undefined> {
  const names = await readdir(dir)
  if (names.length === 0) return undefined
  if (!names.includes('manifest.json')) return 'no manifest.json'
  let format: unknown
  const listed = new Set<string>()
  try {
    const raw = JSON.parse(readRegularFileSync(join(dir, 'manifest.json'), {maxBytes: BUDGET.manifestBytes, noFollow: true, label: 'manifest.json'})) as unknown
    format = (raw as {format?: unknown})?.format
    const captures = (raw as {captures?: unknown})?.captures
    if (Array.isArray(captures)) for (const c of captures) if (typeof c?.file === 'string') listed.add(c.file)
  } catch (error) {
    return error instanceof UserError ? error.message : 'its manifest.json is not JSON'
  }
  if (format !== SNAPSHOT_FORMAT) return `its manifest.json has no format "${SNAPSHOT_FORMAT}"`
  for (const name of names) {
    if (name === 'manifest.json') continue
    if (name !== 'outputs') return `it holds ${name}, which is no part of a snapshot`
    const outputs = await lstat(join(dir, name))
    if (!outputs.isDirectory()) return 'its outputs is not a directory'
    for (const entry of await readdir(join(dir, name), {withFileTypes: true})) {
      if (!entry.isFile() || !listed.has(`outputs/${entry.name}`)) return `it holds outputs/${entry.name}, which its manifest does not list`
    }
  }
  return undefined
}

/**
 * Writes a snapshot directory. It is built in a new directory beside DIR and renamed into
 * place, so nothing is ever written through a link planted in DIR (manifest.json or outputs/
 * as symlinks), and a failed or interrupted write leaves DIR as it was. An existing DIR is
 * replaced only when it is empty or a kvmdoctor snapshot.
 */
export async function writeSnapshot(dir: string, captures: Capture[], meta: SnapshotMeta): Promise<SnapshotManifest> {
  const {target, existing} = await checkSnapshotTarget(dir)
  const fail = (why: string) => new UserError(`cannot write the snapshot to ${dir}: ${why}`)
  const {manifest, files} = buildManifest(captures, meta)
  const temp = join(dirname(target), `.${basename(target).slice(0, 100)}.kvmdoctor-new-${randomBytes(6).toString('hex')}`)
  const forget = onExit(() => rmSync(temp, {recursive: true, force: true}))
  try {
    // What the host showed, for its owner only (files 0600 through createExclusive).
    await mkdir(temp, {mode: 0o700})
    await mkdir(join(temp, 'outputs'), {mode: 0o700})
    // A fresh directory: O_EXCL creates every file, so nothing in it was there before.
    const write = async (file: string, text: string) => {
      const handle = await createExclusive(join(temp, file))
      try {
        await handle.writeFile(text)
        await handle.sync()
      } finally {
        await handle.close()
      }
    }
    const queue = [...files]
    await Promise.all(Array.from({length: 16}, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) await write(next[0], next[1])
    }))
    await write('manifest.json', JSON.stringify(scrubDeep(manifest), null, 2) + '\n')
    await syncDir(join(temp, 'outputs'))
    await syncDir(temp)
    if (existing) {
      const old = join(dirname(target), `.${basename(target).slice(0, 100)}.kvmdoctor-old-${randomBytes(6).toString('hex')}`)
      await rename(target, old)
      // Put the old snapshot back if the new one cannot take its place.
      await rename(temp, target).catch(async (error: unknown) => {
        await rename(old, target).catch(() => undefined)
        throw error
      })
      await rm(old, {recursive: true, force: true})
    } else {
      await rename(temp, target)
    }
    await syncDir(dirname(target))
    return manifest
  } catch (error) {
    await rm(temp, {recursive: true, force: true}).catch(() => undefined)
    if (error instanceof UserError) throw error
    const e = error as NodeJS.ErrnoException
    throw fail(e.code ? `${e.code} (${e.message.replace(/^[A-Z]+: /, '')})` : e.message)
  } finally {
    forget()
  }
}

/** Parses and validates a manifest; every problem becomes a UserError naming the field. */
export async function parseManifest(text: string, where: string): Promise<SnapshotManifest> {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (error) {
    throw new UserError(`${where}: manifest.json is not valid JSON (${(error as Error).message})`)
  }
  let manifest = wellFormedManifest(raw)
  if (manifest === undefined) {
    // Not as kvmdoctor writes manifests: the schema judges it, and words what is wrong.
    const {manifestSchema} = await import('./snapshot-schema.js')
    const parsed = manifestSchema.safeParse(raw)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      throw new UserError(`${where}: manifest.json is malformed at ${issue.path.join('.') || '(root)'}: ${issue.message}`)
    }
    manifest = parsed.data
  }
  for (const entry of manifest.captures) {
    if (entry.kind === 'command' ? !entry.argv : !entry.path) {
      throw new UserError(`${where}: manifest.json entry ${entry.file} has no ${entry.kind === 'command' ? 'argv' : 'path'}`)
    }
  }
  return manifest
}

type Json = Record<string, unknown>
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)
const KINDS = new Set(['command', 'file', 'dir'])
const CODES = new Set<unknown>(ERROR_CODES)
const string = (v: unknown) => typeof v === 'string'
const optional = (test: (v: unknown) => boolean) => (v: unknown) => v === undefined || test(v)
const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0
/** capturedAt as Date#toISOString writes it (a four-digit year): always a datetime the schema accepts. */
const isoTimestamp = (v: unknown) => typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(v) && !Number.isNaN(Date.parse(v)) && new Date(v).toISOString() === v

type Tests = Record<string, (value: unknown) => boolean>
const testLists = new WeakMap<Tests, [string, (value: unknown) => boolean][]>()

/** Every field of an object (no other), tested; the object rebuilt in the fields' order, as the schema returns it. */
function fields(v: unknown, tests: Tests): Json | undefined {
  if (!isRecord(v)) return undefined
  for (const key in v) if (!Object.hasOwn(tests, key)) return undefined
  let list = testLists.get(tests)
  if (!list) testLists.set(tests, (list = Object.entries(tests)))
  const out: Json = {}
  for (let i = 0; i < list.length; i++) {
    const key = list[i][0]
    const test = list[i][1]
    if (!test(v[key])) return undefined
    if (Object.hasOwn(v, key)) out[key] = v[key]
  }
  return out
}

const ENTRY = {
  kind: (v: unknown) => KINDS.has(v as string),
  argv: optional((v) => Array.isArray(v) && v.length >= 1 && v.every(string)),
  path: optional(string),
  file: (v: unknown) => typeof v === 'string' && v.length >= 1,
  bytes: count,
  durationMs: (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0,
  startMs: optional((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0),
  truncated: (v: unknown) => typeof v === 'boolean',
  exitCode: optional((v) => v === null || Number.isSafeInteger(v)),
  timedOut: optional((v) => typeof v === 'boolean'),
  stderr: optional(string),
  error: optional(string),
  errorCode: optional((v) => CODES.has(v as string)),
}
const OPTIONS = {active: (v: unknown) => typeof v === 'boolean', libvirtUri: string, internet: optional(string)}

/**
 * A manifest exactly as kvmdoctor writes them, checked with plain tests that accept nothing the
 * schema (snapshot-schema.ts) would refuse, and returned as the schema returns it; undefined for
 * anything else, which the schema then judges. Replaying a snapshot so skips loading zod.
 */
export function wellFormedManifest(raw: unknown): SnapshotManifest | undefined {
  const captures: Json[] = []
  const top = fields(raw, {
    format: (v) => v === SNAPSHOT_FORMAT,
    formatVersion: (v) => v === SNAPSHOT_FORMAT_VERSION,
    kvmdoctorVersion: string,
    capturedAt: isoTimestamp,
    host: optional(string),
    kernel: optional(string),
    libvirtVersion: optional(string),
    options: optional((v) => fields(v, OPTIONS) !== undefined),
    captures: (v) => Array.isArray(v) && v.every((entry) => {
      const e = fields(entry, ENTRY)
      if (e) captures.push(e)
      return e !== undefined
    }),
  })
  if (!top) return undefined
  top.captures = captures
  if (top.options !== undefined) top.options = fields(top.options, OPTIONS)
  return top as unknown as SnapshotManifest
}

/** Answers from captures in memory: a capture it does not hold is reported as not recorded. */
export class MemoryRunner implements Runner {
  private readonly captures: Map<string, Capture>

  constructor(
    captures: Capture[],
    readonly capturedAt: Date,
  ) {
    this.captures = new Map(captures.map((c) => [captureKey(c), c]))
  }

  /** Lets go of every capture (what a replay read from disk): once the probes have read theirs, a big host's outputs need not stay in memory. */
  forget(): void {
    this.captures.clear()
  }

  async run(argv: string[], options?: RunOptions): Promise<CommandCapture> {
    const c = this.captures.get(captureKey({kind: 'command', argv})) as CommandCapture | undefined
    if (!c) {
      return {
        kind: 'command', argv, output: '', stderr: '', exitCode: null, durationMs: 0, timedOut: false, truncated: false,
        error: `${argv.join(' ')}: not recorded in this snapshot`, errorCode: 'not-recorded',
      }
    }
    return options?.listenMs === undefined ? whole(c, argv.join(' ')) : c
  }

  async readFile(path: string, options?: ReadOptions): Promise<FileCapture> {
    const c = this.captures.get(captureKey({kind: 'file', path})) as FileCapture | undefined
    if (!c) return missing('file', path)
    return options?.tailBytes === undefined ? whole(c, path) : c
  }

  async listDir(path: string): Promise<DirCapture> {
    const c = this.captures.get(captureKey({kind: 'dir', path})) as DirCapture | undefined
    return c ? whole(c, path) : missing('dir', path)
  }
}

/**
 * A capture recorded cut short, as the live runner reports one: its start is not the data, so it is an error (too-large,
 * the prefix kept for the probes that use one). Only a log's tail and a listen may be cut and still whole; a recording
 * that says otherwise (edited by hand, or by another tool) would have its prefix read as the host.
 */
function whole<C extends Capture>(c: C, what: string): C {
  if (!c.truncated || c.error !== undefined) return c
  return {...c, error: `${what}: recorded cut short (only the start of its output is in the snapshot)`, errorCode: 'too-large'}
}

/** Replays a snapshot directory through the same probes. */
export class ReplayRunner extends MemoryRunner {
  private constructor(
    private opened: SnapshotManifest,
    captures: Capture[],
  ) {
    super(captures, new Date(opened.capturedAt))
  }

  /** The snapshot's manifest; once the captures are let go (forget), without its list of them. */
  get manifest(): SnapshotManifest {
    return this.opened
  }

  /** A big host's tens of thousands of manifest entries go with the captures: nothing reads them after opening. */
  override forget(): void {
    super.forget()
    this.opened = {...this.opened, captures: []}
  }

  /**
   * Opens a snapshot directory within the budgets: manifest and outputs must be regular files
   * inside it (no link out of it, no FIFO, no device), each output is read once whatever the
   * number of entries naming it, and sizes are bounded per output and in total.
   */
  static async open(dir: string, limits: Partial<Budget> = {}): Promise<ReplayRunner> {
    const budget = {...BUDGET, ...limits}
    let root: string
    try {
      root = realpathSync(resolve(dir))
    } catch {
      throw new UserError(`${dir}: no such file or directory`)
    }
    let text: string
    try {
      text = readRegularFileSync(join(root, 'manifest.json'), {maxBytes: budget.manifestBytes, noFollow: true, label: `${dir}: manifest.json`})
    } catch (error) {
      if ((error as Error).message === `${dir}: manifest.json: no such file`) throw new UserError(`${dir}: not a kvmdoctor snapshot (no manifest.json)`)
      throw error
    }
    const manifest = await parseManifest(text, dir)
    if (manifest.captures.length > budget.entries) throw new UserError(`${dir}: manifest.json lists ${manifest.captures.length} captures, over the limit of ${budget.entries}`)
    const outputs = new Map<string, string>()
    // Where each directory really leads, judged once per directory (thousands of outputs share one).
    const realDirs = new Map<string, string>()
    let total = 0
    const captures = manifest.captures.map((entry) => {
      const file = root !== sep && PLAIN_RELATIVE.test(entry.file) ? root + sep + entry.file : resolve(root, entry.file)
      if (!file.startsWith(root + sep)) throw new UserError(`${dir}: manifest entry ${entry.file} points outside the snapshot`)
      let output = outputs.get(file)
      if (output === undefined) {
        // A directory on the way may be a link out of the snapshot: judge where it really leads.
        const parent = dirname(file)
        let realParent = realDirs.get(parent)
        if (realParent === undefined) {
          try {
            realParent = realpathSync(parent)
          } catch {
            throw new UserError(`${dir}: manifest lists ${entry.file}, which is missing`)
          }
          realDirs.set(parent, realParent)
        }
        if (realParent !== root && !realParent.startsWith(root + sep)) throw new UserError(`${dir}: manifest entry ${entry.file} leads outside the snapshot through a symbolic link`)
        try {
          output = readRegularFileSync(file, {maxBytes: budget.captureBytes, noFollow: true, label: `${dir}: ${entry.file}`})
        } catch (error) {
          if ((error as Error).message === `${dir}: ${entry.file}: no such file`) throw new UserError(`${dir}: manifest lists ${entry.file}, which is missing`)
          throw error
        }
        total += Buffer.byteLength(output)
        if (total > budget.snapshotBytes) throw new UserError(`${dir}: its outputs exceed ${formatBytes(budget.snapshotBytes)} in total, over the limit for a snapshot`)
        outputs.set(file, output)
      }
      return toCapture(entry, output)
    })
    return new ReplayRunner(manifest, captures)
  }
}

/**
 * A relative path whose segments are all names (none empty, "." or ".."), as a manifest lists its outputs: resolved
 * against a directory, it is the directory, a slash and itself. resolve() walks each of tens of thousands character
 * by character.
 */
const PLAIN_RELATIVE = /^(?!\.\.?(?:\/|$))[^/]+(?:\/(?!\.\.?(?:\/|$))[^/]+)*$/

function missing<K extends 'file' | 'dir'>(kind: K, path: string) {
  return {kind, path, output: '', durationMs: 0, truncated: false, error: `${path}: not recorded in this snapshot`, errorCode: 'not-recorded' as const}
}

function toCapture(entry: ManifestEntry, output: string): Capture {
  const {durationMs, truncated, error, errorCode} = entry
  if (entry.kind === 'command') {
    return {output, durationMs, truncated, error, errorCode, kind: 'command', argv: entry.argv!, exitCode: entry.exitCode ?? null, timedOut: entry.timedOut ?? false, stderr: entry.stderr ?? ''}
  }
  return {output, durationMs, truncated, error, errorCode, kind: entry.kind, path: entry.path!}
}
