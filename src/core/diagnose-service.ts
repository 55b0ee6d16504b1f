/**
 * What `kvmdoctor diagnose` does, minus flag parsing and printing: open the
 * source, load the ignore and expectations files, diagnose, record. Its
 * dependencies (clock, working directory) come in so tests can set them.
 */
import {access} from 'node:fs/promises'
import {join} from 'node:path'
import type {HostFacts} from '../../probes/host.js'
import {type ProbeOptions, dataOf} from '../../probes/types.js'
import {type Diagnosis, diagnose} from './diagnose.js'
import {UserError} from './errors.js'
import {loadExpectations} from './expectations.js'
import {loadIgnoreFile} from './ignore.js'
import {EVERY_RULE} from './rule-docs.js'
import {withLock} from './safe-write.js'
import {checkSnapshotTarget, writeSnapshot} from './snapshot.js'
import {openSource} from './source.js'

export const DEFAULT_IGNORE_FILE = '.kvmdoctorignore.yaml'
export const DEFAULT_EXPECTATIONS_FILE = 'kvmdoctor.yaml'

export interface DiagnoseRequest {
  from?: string
  record?: string
  timeoutMs: number
  /** Whole-run budget of a live run, from its start (--deadline). */
  deadlineMs?: number
  options: ProbeOptions
  /** Explicit files must exist; without them the defaults in cwd are used when present. */
  ignoreFile?: string
  expectationsFile?: string
  version: string
}

export interface DiagnoseDeps {
  now: () => Date
  cwd: string
}

const exists = (path: string) => access(path).then(() => true, () => false)

async function configPath(explicit: string | undefined, fallback: string, cwd: string): Promise<string | undefined> {
  if (explicit !== undefined) return explicit
  const candidate = join(cwd, fallback)
  return (await exists(candidate)) ? candidate : undefined
}

export async function runDiagnose(request: DiagnoseRequest, deps: DiagnoseDeps): Promise<Diagnosis> {
  const ignorePath = await configPath(request.ignoreFile, DEFAULT_IGNORE_FILE, deps.cwd)
  const expectPath = await configPath(request.expectationsFile, DEFAULT_EXPECTATIONS_FILE, deps.cwd)
  // Config errors first: a typo in CI config must not cost a full probe run.
  const ignores = ignorePath ? await loadIgnoreFile(ignorePath, new Set(EVERY_RULE.map((r) => r.id))) : []
  const expectations = expectPath ? await loadExpectations(expectPath) : undefined
  if (request.record === undefined) return diagnoseFrom(request, deps, ignores, expectations)
  // So is a snapshot path that cannot be written; and two runs recording to one path must not race.
  await checkSnapshotTarget(request.record)
  return withLock(request.record, 'the snapshot', () => diagnoseFrom(request, deps, ignores, expectations))
}

async function diagnoseFrom(request: DiagnoseRequest, deps: DiagnoseDeps, ignores: Awaited<ReturnType<typeof loadIgnoreFile>>, expectations: Awaited<ReturnType<typeof loadExpectations>> | undefined): Promise<Diagnosis> {
  const source = await openSource({from: request.from, record: request.record, timeoutMs: request.timeoutMs, deadlineMs: request.deadlineMs})
  const options = source.recordedOptions ? {...source.recordedOptions, ...(request.options.internet ? {internet: request.options.internet} : {})} : request.options
  const diagnosis = await diagnose({runner: source.runner, options, version: request.version, expectations, ignores, now: deps.now()}).finally(() => source.close())
  if (source.describe) diagnosis.source = source.describe()
  if (source.recorder && request.record !== undefined) {
    await writeSnapshot(request.record, source.recorder.all(), {
      kvmdoctorVersion: request.version,
      capturedAt: source.runner.capturedAt,
      host: diagnosis.host,
      kernel: dataOf<HostFacts>(diagnosis.facts.host)?.kernel,
      options,
    }).catch((error: Error) => {
      throw error instanceof UserError ? error : new UserError(`cannot write the snapshot to ${request.record}: ${error.message}`)
    })
  }
  return diagnosis
}
