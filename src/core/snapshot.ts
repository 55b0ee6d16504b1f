/**
 * Snapshots: what a run read from the host, written so that the same probes
 * can replay it later. Format documented in docs/snapshot-format.md.
 */
import {readFileSync} from 'node:fs'
import {mkdir, readFile, writeFile} from 'node:fs/promises'
import {join, resolve, sep} from 'node:path'
import {z} from 'zod'
import {type Capture, type CommandCapture, type DirCapture, type FileCapture, type ReadOptions, type Runner, captureKey} from './runner.js'
import {UserError} from './errors.js'
import {scrubSecrets} from './secrets.js'

export const SNAPSHOT_FORMAT = 'kvmdoctor-snapshot'
export const SNAPSHOT_FORMAT_VERSION = 1

const captureEntry = z.object({
  kind: z.enum(['command', 'file', 'dir']),
  argv: z.array(z.string()).min(1).optional(),
  path: z.string().optional(),
  file: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  durationMs: z.number().nonnegative(),
  truncated: z.boolean(),
  exitCode: z.number().int().nullable().optional(),
  timedOut: z.boolean().optional(),
  stderr: z.string().optional(),
  error: z.string().optional(),
  errorCode: z.enum(['not-found', 'permission-denied', 'timeout', 'exit-status', 'not-recorded', 'failed']).optional(),
})

const manifestSchema = z.object({
  format: z.literal(SNAPSHOT_FORMAT),
  formatVersion: z.literal(SNAPSHOT_FORMAT_VERSION),
  kvmdoctorVersion: z.string(),
  capturedAt: z.iso.datetime(),
  host: z.string().optional(),
  kernel: z.string().optional(),
  libvirtVersion: z.string().optional(),
  /** Probe options of the recording run, so a replay asks for exactly what was recorded. */
  options: z.object({active: z.boolean(), libvirtUri: z.string()}).optional(),
  captures: z.array(captureEntry),
})

export type SnapshotManifest = z.infer<typeof manifestSchema>
export type ManifestEntry = z.infer<typeof captureEntry>

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

  async run(argv: string[]): Promise<CommandCapture> {
    return this.remember(await this.inner.run(argv))
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
  options?: {active: boolean; libvirtUri: string}
}

export function buildManifest(captures: Capture[], meta: SnapshotMeta): {manifest: SnapshotManifest; files: Map<string, string>} {
  const files = new Map<string, string>()
  const sorted = [...captures].sort((a, b) => captureKey(a).localeCompare(captureKey(b)))
  const entries: ManifestEntry[] = sorted.map((raw, i) => {
    // Secrets never leave the host: scrubbed from everything a snapshot or bundle holds.
    const c = {...raw, output: scrubSecrets(raw.output), ...(raw.kind === 'command' ? {stderr: scrubSecrets(raw.stderr)} : {})} as Capture
    const file = `outputs/${String(i + 1).padStart(4, '0')}-${c.kind}-${slug(c)}.txt`
    files.set(file, c.output)
    const entry: ManifestEntry = {
      kind: c.kind,
      file,
      bytes: Buffer.byteLength(c.output),
      durationMs: c.durationMs,
      truncated: c.truncated,
    }
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

export async function writeSnapshot(dir: string, captures: Capture[], meta: SnapshotMeta): Promise<SnapshotManifest> {
  const {manifest, files} = buildManifest(captures, meta)
  // Not mkdir -p: the parent must exist (and recursive mkdir under /proc never returns).
  for (const d of [dir, join(dir, 'outputs')]) {
    await mkdir(d).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error
    })
  }
  await Promise.all([...files].map(([file, text]) => writeFile(join(dir, file), text)))
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n')
  return manifest
}

/** Parses and validates a manifest; every problem becomes a UserError naming the field. */
export function parseManifest(text: string, where: string): SnapshotManifest {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (error) {
    throw new UserError(`${where}: manifest.json is not valid JSON (${(error as Error).message})`)
  }
  const parsed = manifestSchema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new UserError(`${where}: manifest.json is malformed at ${issue.path.join('.') || '(root)'}: ${issue.message}`)
  }
  for (const entry of parsed.data.captures) {
    if (entry.kind === 'command' ? !entry.argv : !entry.path) {
      throw new UserError(`${where}: manifest.json entry ${entry.file} has no ${entry.kind === 'command' ? 'argv' : 'path'}`)
    }
  }
  return parsed.data
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

  async run(argv: string[]): Promise<CommandCapture> {
    const c = this.captures.get(captureKey({kind: 'command', argv}))
    return (c as CommandCapture) ?? {
      kind: 'command', argv, output: '', stderr: '', exitCode: null, durationMs: 0, timedOut: false, truncated: false,
      error: `${argv.join(' ')}: not recorded in this snapshot`, errorCode: 'not-recorded',
    }
  }

  async readFile(path: string): Promise<FileCapture> {
    return (this.captures.get(captureKey({kind: 'file', path})) as FileCapture) ?? missing('file', path)
  }

  async listDir(path: string): Promise<DirCapture> {
    return (this.captures.get(captureKey({kind: 'dir', path})) as DirCapture) ?? missing('dir', path)
  }
}

/** Replays a snapshot directory through the same probes. */
export class ReplayRunner extends MemoryRunner {
  private constructor(
    readonly manifest: SnapshotManifest,
    captures: Capture[],
  ) {
    super(captures, new Date(manifest.capturedAt))
  }

  static async open(dir: string): Promise<ReplayRunner> {
    const root = resolve(dir)
    let text: string
    try {
      text = await readFile(join(root, 'manifest.json'), 'utf8')
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      throw new UserError(
        code === 'ENOENT' ? `${dir}: not a kvmdoctor snapshot (no manifest.json)` : `${dir}: cannot read manifest.json (${code ?? (error as Error).message})`,
      )
    }
    const manifest = parseManifest(text, dir)
    // Thousands of small files on big hosts: synchronous reads cost a fraction of promise-per-file I/O.
    const captures = manifest.captures.map((entry) => {
      const file = resolve(root, entry.file)
      if (!file.startsWith(root + sep)) throw new UserError(`${dir}: manifest entry ${entry.file} points outside the snapshot`)
      let output: string
      try {
        output = readFileSync(file, 'utf8')
      } catch {
        throw new UserError(`${dir}: manifest lists ${entry.file}, which is missing`)
      }
      return toCapture(entry, output)
    })
    return new ReplayRunner(manifest, captures)
  }
}

function missing<K extends 'file' | 'dir'>(kind: K, path: string) {
  return {kind, path, output: '', durationMs: 0, truncated: false, error: `${path}: not recorded in this snapshot`, errorCode: 'not-recorded' as const}
}

function toCapture(entry: ManifestEntry, output: string): Capture {
  const base = {output, durationMs: entry.durationMs, truncated: entry.truncated, error: entry.error, errorCode: entry.errorCode}
  if (entry.kind === 'command') {
    return {...base, kind: 'command', argv: entry.argv!, exitCode: entry.exitCode ?? null, timedOut: entry.timedOut ?? false, stderr: entry.stderr ?? ''}
  }
  return {...base, kind: entry.kind, path: entry.path!}
}
