/**
 * What `kvmdoctor diagnose` does, minus flag parsing and printing: open the
 * source, load the ignore and expectations files, diagnose, record. Its
 * dependencies (clock, configuration directory) come in so tests can set them.
 */
import type {HostFacts} from '../../probes/host.js'
import {type ProbeOptions, dataOf} from '../../probes/types.js'
import {type DiagnosisRun, diagnose} from './diagnose.js'
import {UserError} from './errors.js'
import {loadExpectations} from './expectations.js'
import {loadIgnoreFile} from './ignore.js'
import {CONFIG_FILES, defaultConfigFile} from './config-file.js'
import {takeEarlyProbes} from './early-probes.js'
import {withLock} from './safe-write.js'
import {checkSnapshotTarget, writeSnapshot} from './snapshot.js'
import {type Source, openSource} from './source.js'
import type {SshTarget} from './ssh-runner.js'
import type {PublishRequest} from '../datapath/published.js'


export interface DiagnoseRequest {
  from?: string
  /** Probe another host over SSH. */
  ssh?: SshTarget
  record?: string
  timeoutMs: number
  /** Whole-run budget of a live run, from its start (--deadline). */
  deadlineMs?: number
  options: ProbeOptions
  /** Services the user expects guests to offer from outside (--publish GUEST:PORT/PROTO): an analysis option, never recorded. */
  publish?: PublishRequest[]
  /** Explicit files must exist; without them the defaults in the configuration directory are used when present. */
  ignoreFile?: string
  expectationsFile?: string
  version: string
  /** Told what the user must know about the source (a bundle without checksums). */
  warn?: (message: string) => void
}

export interface DiagnoseDeps {
  now: () => Date
  /** Where the default ignore and expectations files live (userConfigDir()); never the working directory or a snapshot. */
  configDir: string
}

export async function runDiagnose(request: DiagnoseRequest, deps: DiagnoseDeps): Promise<DiagnosisRun> {
  const ignorePath = request.ignoreFile ?? (await defaultConfigFile(deps.configDir, CONFIG_FILES.ignore))
  const expectPath = request.expectationsFile ?? (await defaultConfigFile(deps.configDir, CONFIG_FILES.expectations))
  // Config errors first: a typo in CI config must not cost a full probe run.
  // The rule catalogue (every rule's module) loads only to check an ignore file's rule names.
  const ignores = ignorePath ? await loadIgnoreFile(ignorePath, new Set((await import('./rule-docs.js')).EVERY_RULE.flatMap((r) => [r.id, ...r.aliases]))) : []
  const expectations = expectPath ? await loadExpectations(expectPath) : undefined
  if (request.record === undefined) return diagnoseFrom(request, deps, ignores, expectations)
  // So is a snapshot path that cannot be written; and two runs recording to one path must not race.
  const {replaces} = await checkSnapshotTarget(request.record)
  return withLock(request.record, 'the snapshot', () => diagnoseFrom(request, deps, ignores, expectations, replaces))
}

async function diagnoseFrom(request: DiagnoseRequest, deps: DiagnoseDeps, ignores: Awaited<ReturnType<typeof loadIgnoreFile>>, expectations: Awaited<ReturnType<typeof loadExpectations>> | undefined, replaces = false): Promise<DiagnosisRun> {
  // The probes bin/run.js started before the command loaded, when they read what this run asks for.
  const early = takeEarlyProbes(request)
  const source: Source = early ? {runner: early.runner, close: async () => {}} : await openSource({from: request.from, ssh: request.ssh, record: request.record, timeoutMs: request.timeoutMs, deadlineMs: request.deadlineMs, warn: request.warn})
  const options = source.recordedOptions ? {...source.recordedOptions, ...(request.options.internet ? {internet: request.options.internet} : {})} : request.options
  // A replay's outputs are parsed into facts once the probes ran: a big host's need not stay in memory for the analysis.
  const diagnosis = await diagnose({runner: source.runner, results: early?.results, options, publish: request.publish, version: request.version, expectations, ignores, now: deps.now(), probed: source.release}).finally(() => source.close())
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
    // Never silently: the snapshot kvmdoctor wrote there before is gone.
    if (replaces) request.warn?.(`--record ${request.record}: replaced the snapshot that was there`)
  }
  return diagnosis
}
