/**
 * What `kvmdoctor fix` does: find the finding on the live host, run its fix
 * steps without a shell (argv as data, pipelines joined by pipes, files
 * written directly), diagnose again, and tell whether the finding cleared
 * and nothing new at or above its severity appeared.
 */
import {spawn} from 'node:child_process'
import {appendFile, writeFile} from 'node:fs/promises'
import type {Readable} from 'node:stream'
import {type FixStep, renderStep} from '../lib/fix.js'
import {type Finding, findingKey} from '../result/findings.js'
import {severityWeight} from '../lib/severity.js'
import {UserError} from './errors.js'

/** FINDING[@ENTITY]: the entity by name or KIND:NAME. */
export function selectFinding(findings: Finding[], selector: string): Finding | undefined {
  const at = selector.indexOf('@')
  const id = at < 0 ? selector : selector.slice(0, at)
  const entity = at < 0 ? undefined : selector.slice(at + 1)
  if (id === '') throw new UserError('name a finding: kvmdoctor fix FINDING[@ENTITY] (the ids diagnose prints)')
  const matches = findings.filter(
    (f) => (f.id === id || (f.aliases ?? []).includes(id)) && (entity === undefined || f.entity.name === entity || `${f.entity.kind}:${f.entity.name}` === entity),
  )
  if (matches.length > 1) throw new UserError(`${id} is found on ${matches.length} entities: name one, e.g. ${matches.slice(0, 3).map((f) => `${id}@${f.entity.kind}:${f.entity.name}`).join(', ')}`)
  return matches[0]
}

/** Commands that open an editor or a console: they need a person at a terminal, not `--yes`. */
const INTERACTIVE = new Set(['edit', 'net-edit', 'console'])
export const interactiveStep = (step: FixStep) => 'argv' in step && step.argv[0] === 'virsh' && step.argv.some((w) => INTERACTIVE.has(w))

export interface StepOutcome {
  line: string
  ok: boolean
  detail: string
}

const STEP_TIMEOUT_MS = 120_000

/** One command without a shell: stdin closed, output collected, killed after the timeout. */
function runArgv(argv: string[], input?: Readable): {done: Promise<{code: number | null; output: string}>; stdout: Readable} {
  const child = spawn(argv[0], argv.slice(1), {stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'], timeout: STEP_TIMEOUT_MS, killSignal: 'SIGKILL'})
  if (input && child.stdin) input.pipe(child.stdin).on('error', () => {})
  let err = ''
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err = (err + c).slice(-4000)))
  const done = new Promise<{code: number | null; output: string}>((resolve) => {
    child.on('error', (e) => resolve({code: null, output: e.message}))
    child.on('close', (code) => resolve({code, output: err.trim()}))
    // A daemon it started (dnsmasq forks) may hold the pipes open long after the command exited.
    child.on('exit', (code) => setTimeout(() => resolve({code, output: err.trim()}), 1000).unref())
  })
  return {done, stdout: child.stdout!}
}

/** Runs one step; a pipeline's commands are connected stdout to stdin, the last one's output kept. */
export async function runStep(step: FixStep): Promise<StepOutcome> {
  const line = renderStep(step)
  try {
    if ('write' in step) {
      await (step.write.append ? appendFile : writeFile)(step.write.path, step.write.content, {mode: 0o644})
      return {line, ok: true, detail: ''}
    }
    const argvs = 'argv' in step ? [step.argv] : step.pipeline
    let input: Readable | undefined
    const runs = argvs.map((argv) => {
      const run = runArgv(argv, input)
      input = run.stdout
      return run
    })
    let out = ''
    runs.at(-1)!.stdout.setEncoding('utf8').on('data', (c: string) => (out = (out + c).slice(-4000)))
    const results = await Promise.all(runs.map((r) => r.done))
    const failed = results.find((r) => r.code !== 0)
    return {line, ok: failed === undefined, detail: failed ? `${failed.output || `exit ${failed.code ?? 'killed'}`}` : out.trim()}
  } catch (error) {
    return {line, ok: false, detail: (error as Error).message}
  }
}

/** Whether the fix held: the finding is gone and no finding at or above its severity is new. */
export function judgeFix(before: Finding[], after: Finding[], target: Finding): {cleared: boolean; appeared: Finding[]} {
  const key = findingKey(target)
  const known = new Set(before.map(findingKey))
  return {
    cleared: !after.some((f) => findingKey(f) === key),
    appeared: after.filter((f) => !known.has(findingKey(f)) && severityWeight(f.severity) >= severityWeight(target.severity)),
  }
}
