/**
 * Support bundles: one .tar.gz with the snapshot (manifest + raw outputs),
 * facts.json, findings.json, report.md, report.html and SHA256SUMS (every
 * other file's checksum), analysable anywhere later with
 * `kvmdoctor diagnose --from FILE` to the same findings.
 */
import type {NfRuleset, NfValue} from '../lib/netfilter.js'
import {createHash} from 'node:crypto'
import {lstat, readFile, readdir} from 'node:fs/promises'
import {join, posix, relative, resolve, sep} from 'node:path'
import * as tar from 'tar'
import type {HostFacts} from '../../probes/host.js'
import {type LibvirtFacts, libvirtVersionProbe} from '../../probes/libvirt.js'
import type {Link} from '../../probes/links.js'
import type {LeaseFacts} from '../../probes/leases.js'
import type {Route} from '../../probes/routes.js'
import {type ProbeOptions, type ProbeResult, dataOf as probeData} from '../../probes/types.js'
import {ArchiveRefused, tarStream} from './archive.js'
import {BUDGET, formatBytes} from './budget.js'
import {type DiagnosisRun, diagnose} from './diagnose.js'
import {runProbes} from './probe-runner.js'
import {UserError} from './errors.js'
import {parseCidr} from '../lib/ipv4.js'
import {privateTempDir} from './lifecycle.js'
import {type NameKind, type RedactionMap, Redactor} from './redact.js'
import {RedactedReplay} from './redacted-replay.js'
import {type StoredMap, readRedactionMap, writeRedactionMap} from './redaction-map.js'
import type {Capture, Runner} from '../lib/runner.js'
import {checkTarget, withLock, writeFileAtomic, writeJsonSafely, writeTextSafely} from './safe-write.js'
import {scrubCapture, scrubDeep} from '../lib/scrub.js'
import {MemoryRunner, RecordingRunner, ReplayRunner, writeSnapshot} from './snapshot.js'
import {reportable} from './output.js'
import type {BundleReport, Diagnosis} from '../result/diagnosis.js'

export interface BundleInput {
  runner: Runner
  options: ProbeOptions
  version: string
  /** Default: kvmdoctor-HOST-TIME.tar.gz in the current directory. */
  output?: string
  redact: boolean
  /**
   * --redact-map: a mapping read when it exists, extended with this host's and written back, so
   * bundles of a host or a fleet share pseudonyms. Without it, a new map goes beside the bundle.
   */
  redactMap?: string
  /** Fixed redaction key, for tests; random otherwise (or the map's). */
  redactionKey?: Buffer
  /** The reports written beside the snapshot (reports/bundle-files.ts): the caller renders, the bundle stores. */
  reports: (d: DiagnosisRun, shown: (format: 'md' | 'html') => Diagnosis) => BundleReport[]
}

/** One report file inside the bundle: JSON data or rendered text. */
export type {BundleReport}

export interface BundleResult {
  path: string
  bytes: number
  diagnosis: DiagnosisRun
  /** Where the redaction mapping was written (beside the bundle or at --redact-map, never inside). */
  mapPath?: string
  /**
   * How the bundle's own analysis (a replay of what it holds, redacted or not) differs from the run that
   * made it: findings this host has that the bundle lacks and the reverse ("rule (severity, entity kind)"),
   * and probes that could read more or less (ok, degraded, unavailable, skipped) in one than in the other.
   */
  replayChanged?: ReplayChange
}

export interface ReplayChange {
  missing: string[]
  extra: string[]
  probes: {id: string; atCapture: ProbeState; inBundle: ProbeState}[]
}

/** What a probe could read, as the warning names it. */
export type ProbeState = 'ok' | 'degraded' | 'unavailable' | 'skipped'

/** The checksum file inside every bundle, in sha256sum's format. */
export const CHECKSUMS = 'SHA256SUMS'

const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')

export function defaultBundleName(host: string, capturedAt: Date): string {
  return `kvmdoctor-${host.replace(/[^A-Za-z0-9.-]/g, '_')}-${stamp(capturedAt)}.tar.gz`
}

export async function createBundle(input: BundleInput): Promise<BundleResult> {
  // Explicit paths are checked (and the bundle's locked) before probing: a bad target or map costs no
  // run, and a second kvmdoctor writing the same bundle stops at once instead of racing this one.
  if (input.redactMap !== undefined) {
    if (!input.redact) throw new UserError('--redact-map needs --redact')
    await checkTarget(input.redactMap, 'the redaction map')
    if (input.output !== undefined && resolve(input.redactMap) === resolve(input.output)) throw new UserError(`--redact-map names the bundle itself (${input.output})`)
    await readRedactionMap(input.redactMap)
  }
  if (input.output !== undefined) {
    await checkTarget(input.output, 'the bundle')
    if (input.redact && input.redactMap === undefined) await checkTarget(`${input.output}.redaction-map.json`, 'the redaction map')
    return withLock(input.output, 'the bundle', () => collectAndWrite(input, input.output!))
  }
  return collectAndWrite(input, undefined)
}

async function collectAndWrite(input: BundleInput, output: string | undefined): Promise<BundleResult> {
  const recorder = new RecordingRunner(input.runner)
  // The summary's libvirt version is read beside the diagnosis (which does not read it) and recorded with it.
  const [live, read] = await Promise.all([diagnose({runner: recorder, options: input.options, version: input.version}), runProbes([libvirtVersionProbe], recorder, input.options)])
  const libvirtVersion = probeData<{library?: string}>(read[libvirtVersionProbe.id])?.library
  const scrubbed = recorder.all().map(scrubCapture)
  // The options are scrubbed and redacted like the argv they produced (a libvirt URI may hold
  // user:password@ or a host address), so replaying the bundle asks for what it holds.
  const options = scrubDeep(input.options)
  const compared = (result: BundleResult): BundleResult => {
    const changed = replayChange(live, result.diagnosis)
    return changed ? {...result, replayChanged: changed} : result
  }
  if (!input.redact) return compared(await pack(input, recorder.capturedAt, new MemoryRunner(scrubbed, recorder.capturedAt), () => scrubbed, options, libvirtVersion, output))
  const redactAndPack = async (stored?: StoredMap): Promise<BundleResult> => {
    const redactor = redactorFor(live.facts, scrubbed, {key: input.redactionKey, previous: stored?.map})
    // The internet's stand-in is an address like any other: mapped as the routes that lead to it are.
    const redacted = {...options, libvirtUri: redactUri(options.libvirtUri, redactor), ...(options.internet ? {internet: redactor.redact(options.internet)} : {})}
    // Each capture is kept under the argv or path a replay of the bundle asks for it (redacted-replay.ts): the
    // version read beside the diagnosis too.
    const replay = new RedactedReplay(scrubbed, redactor, recorder.capturedAt)
    await runProbes([libvirtVersionProbe], replay, redacted)
    return compared(await pack(input, recorder.capturedAt, replay, () => replay.held(), redacted, libvirtVersion, output, {map: redactor.map, path: input.redactMap, owner: stored?.owner}))
  }
  if (input.redactMap === undefined) return redactAndPack()
  const mapFile = input.redactMap
  // Read, extended and written back under its lock: two bundles extending one map never lose each other's entries.
  return withLock(mapFile, 'the redaction map', async () => redactAndPack(await readRedactionMap(mapFile)))
}

/**
 * Writes the bundle of the captures `source` answered the diagnosis from (`captures`, asked after it): no
 * fact or report carries a scrubbed secret or a redacted name, and `--from` the bundle gives the findings
 * returned here.
 */
async function pack(
  input: BundleInput,
  capturedAt: Date,
  source: Runner,
  captured: () => Capture[],
  options: ProbeOptions,
  libvirtVersion: string | undefined,
  output: string | undefined,
  redaction?: {map: RedactionMap; path?: string; owner?: StoredMap['owner']},
): Promise<BundleResult> {
  const diagnosis = await diagnose({runner: source, options, version: input.version})
  const captures = captured()
  const target = output ?? defaultBundleName(diagnosis.host, capturedAt)
  const write = async (): Promise<BundleResult> => {
    const work = await privateTempDir('kvmdoctor-bundle-')
    try {
      const top = `kvmdoctor-bundle-${stamp(capturedAt)}`
      const root = join(work.dir, top)
      await writeSnapshot(root, captures, {
        kvmdoctorVersion: input.version,
        capturedAt,
        host: diagnosis.host,
        kernel: probeData<HostFacts>(diagnosis.facts.host)?.kernel,
        libvirtVersion,
        options,
      })
      await writeJsonSafely(join(root, 'facts.json'), diagnosis.facts, {what: 'facts.json'})
      for (const report of input.reports(diagnosis, (format) => reportable(diagnosis, format))) {
        if (report.text !== undefined) await writeTextSafely(join(root, report.file), report.text, {what: report.file})
        else await writeJsonSafely(join(root, report.file), report.json, {what: report.file})
      }
      await writeChecksums(root)
      const result: BundleResult = {path: resolve(target), bytes: 0, diagnosis}
      if (redaction) {
        result.mapPath = redaction.path === undefined ? `${result.path}.redaction-map.json` : resolve(redaction.path)
        // Before the bundle, so no bundle exists without the mapping of its pseudonyms. Always 0600:
        // the new file replaces whatever was there, whatever its mode.
        await writeRedactionMap(result.mapPath, redaction.map, redaction.owner)
      }
      // Streamed into a new file beside the target and renamed: never a half-written bundle at the path.
      result.bytes = await writeFileAtomic(target, tar.c({gzip: true, cwd: work.dir, portable: true}, [top]) as unknown as AsyncIterable<Buffer>, {what: 'the bundle'})
      return result
    } finally {
      await work.remove()
    }
  }
  return output === undefined ? withLock(target, 'the bundle', write) : write()
}

const stateOf = (p: Diagnosis['probes'][number]): ProbeState => (p.ok ? (p.degraded ? 'degraded' : 'ok') : p.skipped ? 'skipped' : 'unavailable')

/**
 * Findings (rule, severity, entity kind; names differ by design) one diagnosis has and the other lacks, and
 * the probes whose state differs: a probe that read at capture and fails on the bundle's captures (or the
 * reverse) changes what was checked even when no finding moved. What a degraded probe missed names
 * entities, so only the state is compared.
 */
export function replayChange(atCapture: Diagnosis, inBundle: Diagnosis): ReplayChange | undefined {
  const key = (f: Diagnosis['findings'][number]) => `${f.id} (${f.severity}, ${f.entity.kind})`
  const remaining = inBundle.findings.map(key)
  const missing: string[] = []
  for (const k of atCapture.findings.map(key)) {
    const at = remaining.indexOf(k)
    if (at < 0) missing.push(k)
    else remaining.splice(at, 1)
  }
  const replayed = new Map(inBundle.probes.map((p) => [p.id, stateOf(p)]))
  const probes: ReplayChange['probes'] = []
  for (const p of atCapture.probes) {
    const state = replayed.get(p.id) ?? 'unavailable'
    if (state !== stateOf(p)) probes.push({id: p.id, atCapture: stateOf(p), inBundle: state})
  }
  return missing.length > 0 || remaining.length > 0 || probes.length > 0 ? {missing, extra: remaining, probes} : undefined
}

const sha256Of = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex')

/** Every regular file under root (relative, '/'-separated, sorted), SHA256SUMS aside. */
async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, {recursive: true, withFileTypes: true})
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)).split(sep).join('/'))
    .filter((f) => f !== CHECKSUMS)
    .sort()
}

// sha256sum marks a line whose name holds a backslash or a newline with a leading backslash and escapes them.
const escapeName = (name: string) => (/[\\\n]/.test(name) ? {mark: '\\', name: name.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')} : {mark: '', name})
const unescapeName = (name: string) => name.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'))

/** SHA256SUMS as sha256sum writes it ("HASH  NAME"), for every file of the bundle but itself: `sha256sum -c` checks it. */
async function writeChecksums(root: string): Promise<void> {
  const lines: string[] = []
  for (const file of await filesUnder(root)) {
    const {mark, name} = escapeName(file)
    lines.push(`${mark}${await sha256Of(join(root, file))}  ${name}\n`)
  }
  await writeFileAtomic(join(root, CHECKSUMS), lines.join(''), {what: CHECKSUMS})
}

/**
 * Checks an extracted bundle against its SHA256SUMS, when it has one (bundles written before it
 * existed have none): every file listed, present and matching, and no file that is not listed.
 * Returns whether it had one: without, the bundle opens, but the caller must say it is unverified.
 */
async function verifyChecksums(root: string, bundle: string): Promise<boolean> {
  const sums = join(root, CHECKSUMS)
  const info = await lstat(sums).catch(() => undefined)
  if (!info) return false
  const refuse = (why: string) => new UserError(`${bundle}: refusing a bundle whose files do not match its ${CHECKSUMS}: ${why}`)
  if (!info.isFile()) throw refuse(`${CHECKSUMS} is not a regular file`)
  const listed = new Map<string, string>()
  const lines = (await readFile(sums, 'utf8')).split('\n')
  if (lines.at(-1) === '') lines.pop()
  for (const [i, line] of lines.entries()) {
    const m = /^(\\?)([0-9A-Fa-f]{64}) [ *](.+)$/.exec(line)
    const name = m && (m[1] ? unescapeName(m[3]) : m[3])
    if (!m || !name || name.startsWith('/') || posix.normalize(name) !== name || name.split('/').includes('..')) throw refuse(`line ${i + 1} of ${CHECKSUMS} is malformed`)
    if (listed.has(name)) throw refuse(`${name} is listed twice`)
    listed.set(name, m[2].toLowerCase())
  }
  const present = await filesUnder(root)
  const problems: string[] = []
  for (const file of present) {
    const expected = listed.get(file)
    if (expected === undefined) problems.push(`${file} is not listed`)
    else if ((await sha256Of(join(root, file))) !== expected) problems.push(`${file} does not match its checksum`)
  }
  const have = new Set(present)
  for (const file of listed.keys()) if (!have.has(file)) problems.push(`${file} is listed but missing`)
  if (problems.length > 0) throw refuse(`${problems.slice(0, 3).join('; ')}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''}`)
  return true
}

/** What the redactor must know: the subnets whose structure to keep, the names and domains to replace. */
function redactorFor(facts: Record<string, ProbeResult>, captures: Capture[], from: {key?: Buffer; previous?: RedactionMap}): Redactor {
  const subnets: {network: number; prefix: number}[] = []
  const add = (cidr: string) => {
    const c = parseCidr(cidr)
    if (c) subnets.push(c)
  }
  for (const l of probeData<Link[]>(facts.links) ?? []) for (const a of l.addresses) if (a.family === 'inet') add(`${a.address}/${a.prefix}`)
  for (const r of probeData<Route[]>(facts.routes) ?? []) if (r.family === 'inet' && r.dst.includes('/')) add(r.dst)
  const libvirt = probeData<LibvirtFacts>(facts.libvirt)
  for (const n of libvirt?.networks ?? []) for (const ip of n.ips) if (ip.family === 'ipv4') add(`${ip.address}/${ip.prefix}`)
  // Prefixes the packet filter matches on are subnets too: an address inside one must stay inside its pseudonym.
  const visit = (v: NfValue): void => {
    if (v.t === 'prefix' && v.v.includes('.') && v.v.includes('/')) add(v.v)
    else if (v.t === 'set') v.elems.forEach(visit)
    else if (v.t === 'concat') v.parts.forEach(visit)
  }
  const netfilter = probeData<NfRuleset>(facts.netfilter)
  for (const t of netfilter?.tables ?? []) for (const c of Object.values(t.chains)) for (const r of c.rules) for (const e of r.exprs) if (e.kind === 'cmp') visit(e.value)
  for (const set of Object.values(netfilter?.sets ?? {})) set.elems.forEach(visit)
  const names: {name: string; kind: NameKind}[] = []
  const domains: string[] = []
  // A fully qualified name is also a domain: web01.corp.example.com brings corp.example.com.
  const addFqdn = (name: string) => {
    const dot = name.indexOf('.')
    if (dot > 0 && DOMAIN.test(name.slice(dot + 1)) && name.slice(dot + 1).includes('.')) domains.push(name.slice(dot + 1))
  }
  const hostname = probeData<HostFacts>(facts.host)?.hostname
  if (hostname) {
    names.push({name: hostname, kind: 'host'})
    names.push({name: hostname.split('.')[0], kind: 'host'})
    addFqdn(hostname)
  }
  for (const d of libvirt?.domains ?? []) names.push({name: d.name, kind: 'guest'})
  for (const n of libvirt?.networks ?? []) names.push({name: n.name, kind: 'network'})
  for (const l of probeData<LeaseFacts>(facts.leases)?.leases ?? []) {
    if (!l.hostname) continue
    names.push({name: l.hostname, kind: 'client'})
    addFqdn(l.hostname)
  }
  // Names and domains only the raw text holds: static DHCP hosts, DNS domains of networks and dhcpd.conf.
  for (const c of captures) {
    for (const m of c.output.matchAll(/<host\b[^>]*?\bname=(['"])([^'"]{2,253})\1/g)) names.push({name: m[2], kind: 'client'})
    // libvirt's own DNS: <dns><host ip=…><hostname>NAME</hostname>, <srv … target='NAME'>, <txt name='NAME'>.
    for (const m of c.output.matchAll(/<hostname>\s*([^<\s]{2,253})\s*<\/hostname>/g)) {
      names.push({name: m[1], kind: 'client'})
      addFqdn(m[1])
    }
    for (const m of c.output.matchAll(/<(?:srv\b[^>]*?\btarget|txt\b[^>]*?\bname)=(['"])([^'"]{2,253})\1/g)) names.push({name: m[2].replace(/\.$/, ''), kind: 'client'})
    for (const m of c.output.matchAll(/^\s*host\s+([A-Za-z0-9][A-Za-z0-9_.-]{1,252})\s*\{/gm)) names.push({name: m[1], kind: 'client'})
    for (const m of c.output.matchAll(/<domain\s+name=(['"])([^'"]{1,253})\1/g)) if (DOMAIN.test(m[2])) domains.push(m[2])
    for (const m of c.output.matchAll(/\b(?:domain-name|domain-search|ddns-domainname)\s+((?:"[^"\n]{1,253}"\s*,?\s*){1,16});/g)) {
      for (const q of m[1].matchAll(/"([^"]+)"/g)) if (DOMAIN.test(q[1])) domains.push(q[1])
    }
    for (const m of c.output.matchAll(/--domain=([A-Za-z0-9.-]{1,253})/g)) if (DOMAIN.test(m[1])) domains.push(m[1])
    // What guests said on the wire (--listen): DHCP hostnames, FQDNs and text client ids are names; offered domains are domains.
    for (const m of c.output.matchAll(/(?:Hostname \(12\)|Client-ID \(61\)|Client-FQDN \(81\)), length \d+: [^"\n]*"([^"\n]{2,253})"/g)) {
      names.push({name: m[1], kind: 'client'})
      addFqdn(m[1])
    }
    for (const m of c.output.matchAll(/Domain-Name \(15\), length \d+: "([^"\n]{1,253})"/g)) if (DOMAIN.test(m[1])) domains.push(m[1])
  }
  return new Redactor({subnets, names, domains, ...from})
}

/** A libvirt URI without parameters: scheme (driver+transport), then user, host and port, then the path. */
const URI = /^([A-Za-z][A-Za-z0-9+.-]*:)(\/\/[^/?#]*)(\/[^/?#]*)?$/

/**
 * A libvirt URI redacted where it can identify the host (user, host, port, parameters, a file's path). Its
 * scheme and an instance name for a path (/system, /session) are libvirt's own words, kept when a guest or
 * network is named so: a replay then still reads qemu:///system as the system instance, from its files.
 */
function redactUri(uri: string, r: Redactor): string {
  const whole = r.redact(uri)
  const [original, redacted] = [URI.exec(uri), URI.exec(whole)]
  if (!original || !redacted) return whole
  const path = /^\/[A-Za-z]*$/.test(original[3] ?? '') ? (original[3] ?? '') : (redacted[3] ?? '')
  return `${original[1]}${redacted[2]}${path}`
}

/** A DNS domain: dot-separated labels, not a dotted address. */
const DOMAIN = /^(?=.*[A-Za-z])[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.?$/

/**
 * What a bundle may decompress to: the snapshot budget, a header or two per entry, and at most a
 * few records of zero padding after the end-of-archive marker.
 */
const ARCHIVE_LIMITS = {archiveBytes: BUDGET.snapshotBytes + BUDGET.entries * 3 * 512, trailingBytes: 1024 * 1024}

/**
 * Opens a bundle for replay: checks every entry before extracting anything (no absolute
 * paths, no "..", no links or devices, each output and the whole within the snapshot
 * budgets, stopping at the first entry over them), then extracts into a private
 * temporary directory, removed by cleanup() or however kvmdoctor ends, and
 * checks the files against the bundle's SHA256SUMS when it has one; `unverified` names the
 * checksum file when there is none, for the caller to warn.
 */
export async function openBundle(file: string): Promise<{runner: ReplayRunner; cleanup: () => Promise<void>; unverified?: string}> {
  const problems: string[] = []
  const tops = new Set<string>()
  let entries = 0
  let bytes = 0
  let overBudget: string | undefined
  try {
    await new Promise<void>((resolveList, reject) => {
      const parser = new tar.Parser({
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
          if ((entry.size ?? 0) > BUDGET.captureBytes) overBudget = `entry ${path} is ${formatBytes(entry.size)}, over the ${formatBytes(BUDGET.captureBytes)} limit for one output`
          else if (bytes > BUDGET.snapshotBytes) overBudget = `its entries exceed ${formatBytes(BUDGET.snapshotBytes)} in total`
          else if (entries > BUDGET.entries) overBudget = `it has more than ${BUDGET.entries} entries`
          // Stop decompressing at once: a bomb is refused after its first oversized header, not after inflating it.
          if (overBudget) parser.abort(new Error(overBudget))
          entry.resume()
        },
      })
      parser.on('error', reject)
      parser.on('end', resolveList)
      const input = tarStream(file, ARCHIVE_LIMITS)
      input.on('error', reject)
      input.pipe(parser)
    })
  } catch (error) {
    if (overBudget) throw new UserError(`${file}: too large to be a kvmdoctor bundle: ${overBudget}`)
    if (error instanceof ArchiveRefused) throw new UserError(`${file}: refusing the bundle: ${error.message}`)
    throw new UserError(`${file}: not a readable .tar.gz bundle (${(error as Error).message.split('\n')[0]})`)
  }
  if (problems.length > 0) throw new UserError(`${file}: refusing a bundle with unsafe entries: ${problems.slice(0, 3).join('; ')}`)
  if (entries === 0) throw new UserError(`${file}: the archive is empty`)
  if (tops.size !== 1) throw new UserError(`${file}: expected one top-level directory, found ${tops.size}`)
  const work = await privateTempDir('kvmdoctor-open-')
  try {
    // The same bounded stream: the archive was listed whole above, and nothing after its end is read again.
    await new Promise<void>((resolveExtract, reject) => {
      const unpack = tar.x({cwd: work.dir, strict: true, preservePaths: false, filter: (_path, entry) => 'type' in entry && (entry.type === 'File' || entry.type === 'Directory')})
      unpack.on('error', reject)
      unpack.on('close', resolveExtract)
      const input = tarStream(file, ARCHIVE_LIMITS)
      input.on('error', reject)
      input.pipe(unpack)
    })
    const verified = await verifyChecksums(join(work.dir, [...tops][0]), file)
    return {runner: await ReplayRunner.open(join(work.dir, [...tops][0])), cleanup: work.remove, ...(verified ? {} : {unverified: CHECKSUMS})}
  } catch (error) {
    await work.remove()
    if (error instanceof UserError) throw new UserError(error.message.replaceAll(join(work.dir, [...tops][0]), file))
    throw new UserError(`${file}: cannot extract the bundle (${(error as Error).message.split('\n')[0]})`)
  }
}
