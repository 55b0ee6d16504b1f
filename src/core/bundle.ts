/**
 * Support bundles: one .tar.gz with the snapshot (manifest + raw outputs),
 * facts.json, findings.json and report.md, analysable anywhere later with
 * `kvmdoctor diagnose --from FILE` to the same findings.
 */
import {mkdtemp, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {dirname, join, posix, resolve} from 'node:path'
import * as tar from 'tar'
import type {HostFacts} from '../../probes/host.js'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import type {Link} from '../../probes/links.js'
import type {LeaseFacts} from '../../probes/leases.js'
import type {Route} from '../../probes/routes.js'
import {type ProbeOptions, type ProbeResult, dataOf as probeData} from '../../probes/types.js'
import {toJsonReport} from '../../reports/json.js'
import {renderMarkdown} from '../../reports/markdown.js'
import {type Diagnosis, diagnose} from './diagnose.js'
import {UserError} from './errors.js'
import {parseCidr} from './ipv4.js'
import {type RedactionMap, Redactor} from './redact.js'
import type {Capture, Runner} from './runner.js'
import {scrubSecrets} from './secrets.js'
import {MemoryRunner, RecordingRunner, ReplayRunner, writeSnapshot} from './snapshot.js'

export interface BundleInput {
  runner: Runner
  options: ProbeOptions
  version: string
  /** Default: kvmdoctor-HOST-TIME.tar.gz in the current directory. */
  output?: string
  redact: boolean
  /** Fixed redaction key, for tests; random otherwise. */
  redactionKey?: Buffer
}

export interface BundleResult {
  path: string
  bytes: number
  diagnosis: Diagnosis
  /** Where the redaction mapping was written (beside the bundle, never inside). */
  mapPath?: string
}

const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')

export function defaultBundleName(host: string, capturedAt: Date): string {
  return `kvmdoctor-${host.replace(/[^A-Za-z0-9.-]/g, '_')}-${stamp(capturedAt)}.tar.gz`
}

export async function createBundle(input: BundleInput): Promise<BundleResult> {
  const recorder = new RecordingRunner(input.runner)
  const live = await diagnose({runner: recorder, options: input.options, version: input.version})
  let captures = recorder.all().map(scrubCapture)
  let map: RedactionMap | undefined
  if (input.redact) {
    const redactor = redactorFor(live.facts, input.redactionKey)
    captures = captures.map((c) => redactCapture(c, redactor))
    map = redactor.map
  }
  // Everything in the bundle derives from exactly the captures it holds: no fact or report
  // carries a scrubbed secret or a redacted name, and `--from` the bundle gives these findings.
  const diagnosis = await diagnose({runner: new MemoryRunner(captures, recorder.capturedAt), options: input.options, version: input.version})
  const work = await mkdtemp(join(tmpdir(), 'kvmdoctor-bundle-'))
  try {
    const top = `kvmdoctor-bundle-${stamp(recorder.capturedAt)}`
    const root = join(work, top)
    await writeSnapshot(root, captures, {
      kvmdoctorVersion: input.version,
      capturedAt: recorder.capturedAt,
      host: diagnosis.host,
      kernel: probeData<HostFacts>(diagnosis.facts.host)?.kernel,
      libvirtVersion: probeData<LibvirtFacts>(diagnosis.facts.libvirt)?.version,
      options: input.options,
    })
    await writeFile(join(root, 'facts.json'), JSON.stringify(diagnosis.facts, null, 2) + '\n')
    await writeFile(join(root, 'findings.json'), JSON.stringify(toJsonReport(diagnosis), null, 2) + '\n')
    await writeFile(join(root, 'report.md'), renderMarkdown(diagnosis))
    const output = resolve(input.output ?? defaultBundleName(diagnosis.host, recorder.capturedAt))
    // The directory must exist: creating paths is not this command's business (and mkdir -p under /proc spins).
    const parent = await stat(dirname(output)).catch(() => undefined)
    if (!parent?.isDirectory()) throw new UserError(`cannot write the bundle: ${dirname(output)} is not a directory`)
    await tar.c({gzip: true, file: output, cwd: work, portable: true}, [top])
    const result: BundleResult = {path: output, bytes: (await stat(output)).size, diagnosis}
    if (map) {
      result.mapPath = `${output}.redaction-map.json`
      await writeFile(result.mapPath, JSON.stringify(map, null, 2) + '\n', {mode: 0o600})
    }
    return result
  } finally {
    await rm(work, {recursive: true, force: true})
  }
}

/** What the redactor must know: the subnets whose structure to keep and the names to replace. */
function redactorFor(facts: Record<string, ProbeResult>, key?: Buffer): Redactor {
  const subnets: {network: number; prefix: number}[] = []
  const add = (cidr: string) => {
    const c = parseCidr(cidr)
    if (c) subnets.push(c)
  }
  for (const l of probeData<Link[]>(facts.links) ?? []) for (const a of l.addresses) if (a.family === 'inet') add(`${a.address}/${a.prefix}`)
  for (const r of probeData<Route[]>(facts.routes) ?? []) if (r.family === 'inet' && r.dst.includes('/')) add(r.dst)
  const libvirt = probeData<LibvirtFacts>(facts.libvirt)
  for (const n of libvirt?.networks ?? []) for (const ip of n.ips) if (ip.family === 'ipv4') add(`${ip.address}/${ip.prefix}`)
  const names: {name: string; kind: 'host' | 'guest' | 'client'}[] = []
  const hostname = probeData<HostFacts>(facts.host)?.hostname
  if (hostname) names.push({name: hostname, kind: 'host'})
  for (const d of libvirt?.domains ?? []) names.push({name: d.name, kind: 'guest'})
  for (const l of probeData<LeaseFacts>(facts.leases)?.leases ?? []) if (l.hostname) names.push({name: l.hostname, kind: 'client'})
  return new Redactor({subnets, names, key})
}

function scrubCapture(c: Capture): Capture {
  const output = scrubSecrets(c.output)
  if (c.kind === 'command') return {...c, argv: c.argv.map(scrubSecrets), output, stderr: scrubSecrets(c.stderr)}
  return {...c, output}
}

function redactCapture(c: Capture, r: Redactor): Capture {
  const output = r.redact(c.output)
  if (c.kind === 'command') return {...c, argv: c.argv.map((a) => r.redact(a)), output, stderr: r.redact(c.stderr), ...(c.error ? {error: r.redact(c.error)} : {})}
  return {...c, path: r.redact(c.path), output, ...(c.error ? {error: r.redact(c.error)} : {})}
}

/** Limits for untrusted archives: a bundle is small; anything far larger is not one. */
const MAX_ENTRIES = 20_000
const MAX_BYTES = 512 * 1024 * 1024

/**
 * Opens a bundle for replay: checks every entry before extracting (no absolute
 * paths, no "..", no links or devices, bounded size), then extracts into a
 * private temporary directory. The caller removes it with cleanup().
 */
export async function openBundle(file: string): Promise<{runner: ReplayRunner; cleanup: () => Promise<void>}> {
  const problems: string[] = []
  const tops = new Set<string>()
  let entries = 0
  let bytes = 0
  try {
    await tar.t({
      file,
      strict: true,
      onReadEntry: (entry) => {
        entries++
        bytes += entry.size ?? 0
        const path = entry.path
        const normal = posix.normalize(path)
        if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) problems.push(`absolute path ${path}`)
        else if (normal.split('/').includes('..') || path.split('/').includes('..')) problems.push(`path escapes the bundle: ${path}`)
        else if (entry.type !== 'File' && entry.type !== 'Directory') problems.push(`${entry.type} entry ${path} (links and devices are not allowed)`)
        else tops.add(normal.split('/')[0])
        entry.resume()
      },
    })
  } catch (error) {
    throw new UserError(`${file}: not a readable .tar.gz bundle (${(error as Error).message.split('\n')[0]})`)
  }
  if (problems.length > 0) throw new UserError(`${file}: refusing a bundle with unsafe entries: ${problems.slice(0, 3).join('; ')}`)
  if (entries === 0) throw new UserError(`${file}: the archive is empty`)
  if (entries > MAX_ENTRIES || bytes > MAX_BYTES) throw new UserError(`${file}: too large to be a kvmdoctor bundle (${entries} entries, ${bytes} bytes)`)
  if (tops.size !== 1) throw new UserError(`${file}: expected one top-level directory, found ${tops.size}`)
  const dir = await mkdtemp(join(tmpdir(), 'kvmdoctor-open-'))
  const cleanup = () => rm(dir, {recursive: true, force: true})
  try {
    await tar.x({file, cwd: dir, strict: true, preservePaths: false, filter: (_path, entry) => 'type' in entry && (entry.type === 'File' || entry.type === 'Directory')})
    return {runner: await ReplayRunner.open(join(dir, [...tops][0])), cleanup}
  } catch (error) {
    await cleanup()
    if (error instanceof UserError) throw new UserError(error.message.replace(dir, file))
    throw new UserError(`${file}: cannot extract the bundle (${(error as Error).message.split('\n')[0]})`)
  }
}
