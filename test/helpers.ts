import {execa} from 'execa'
import {readFileSync, readdirSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {ALL_PROBES} from '../probes/index.js'
import type {ProbeOptions, ProbeResult} from '../probes/types.js'
import {internetOf} from '../src/core/probe-runner.js'
import type {Rule} from '../rules/kit.js'
import {evaluate} from '../src/core/engine.js'
import {type Model, buildModel} from '../src/derive/index.js'
import {runProbes} from '../src/core/probe-runner.js'
import {ReplayRunner} from '../src/core/snapshot.js'
import type {NfRuleset} from '../src/lib/netfilter.js'
import type {NetfilterFacts} from '../probes/netfilter.js'
import {parseIptablesSaveIR} from '../probes/netfilter/iptables-save.js'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
export const fixtureDir = (name: string) => join(ROOT, 'fixtures', name)
/** Real output captured on a libvirt lab host (shared samples, copied in). */
export const sample = (file: string) => readFileSync(join(ROOT, 'test/data/samples-lab-healthy', file), 'utf8')

export interface Facts {
  results: Record<string, ProbeResult>
  capturedAt: Date
  /** The recording's options: the internet's stand-in among them decides where egress flows go. */
  options?: ProbeOptions
}

/** Probe results replayed from a recorded lab fixture. */
export async function factsOf(fixture: string): Promise<Facts> {
  return factsOfDir(fixtureDir(fixture))
}

/** Probe results replayed from a recording anywhere (a changed copy of a fixture). */
export async function factsOfDir(dir: string): Promise<Facts> {
  const runner = await ReplayRunner.open(dir)
  return {results: await runProbes(ALL_PROBES, runner, replayOptions(runner)), capturedAt: runner.capturedAt, options: replayOptions(runner)}
}

/** A deep copy of a probe's data, changed by `change`: for "same facts, one thing different" cases. */
export function alter<T>(facts: Facts, probe: string, change: (data: T) => void): Facts {
  const results = structuredClone(facts.results)
  const r = results[probe]
  if (!r?.ok) throw new Error(`probe ${probe} has no data in this fixture`)
  change(r.data as T)
  return {results, capturedAt: facts.capturedAt, options: facts.options}
}

export function unavailable(facts: Facts, probe: string, error = 'simulated: permission denied'): Facts {
  const results = structuredClone(facts.results)
  results[probe] = {id: probe, ok: false, error, durationMs: 0}
  return {results, capturedAt: facts.capturedAt, options: facts.options}
}

export function model(facts: Facts): Model {
  return buildModel(facts.results, facts.capturedAt, {internet: facts.options ? internetOf(facts.options) : undefined})
}

/** Runs one rule; returns the entity names it fired on and the full evaluation. */
export async function fire(rule: Rule, facts: Facts) {
  const evaluation = await evaluate(model(facts), [rule])
  return {names: evaluation.findings.map((f) => f.entity.name), evaluation}
}

export const replayOptions = (runner: ReplayRunner) => runner.manifest.options ?? {active: false, libvirtUri: 'qemu:///system'}

/** The apipa probe derives from links/neighbours: recompute it after altering those. */
export async function rerunApipa(facts: Facts): Promise<Facts> {
  const {apipaProbe} = await import('../probes/apipa.js')
  const results = structuredClone(facts.results)
  const data = await apipaProbe.collect({
    runner: undefined as never,
    options: {active: false, libvirtUri: 'qemu:///system'},
    get: async <T>(id: string) => results[id] as ProbeResult<T>,
  })
  results.apipa = {id: 'apipa', ok: true, data, durationMs: 0}
  return {results, capturedAt: facts.capturedAt, options: facts.options}
}

/** A configuration directory that does not exist: tests never read the user's own ignore or expectations files. */
export const NO_CONFIG_DIR = join(ROOT, 'test', 'no-such-config-dir')

/** The built CLI as users run it (npm test builds first): no stdin, no colour, exit code kept, no user configuration. */
export function kvmdoctorCli(args: string[], cwd = ROOT, env: Record<string, string> = {}) {
  return execa(process.execPath, [join(ROOT, 'bin/run.js'), ...args], {reject: false, stdin: 'ignore', cwd, env: {NO_COLOR: '1', XDG_CONFIG_HOME: NO_CONFIG_DIR, ...env}})
}

/**
 * A recording with one iptables rule added (as iptables -I/-A would): "same facts, one rule more".
 * The line is iptables-save syntax ("-A FORWARD -i virbr0 -j DROP"); `at` is the position (0 = first).
 */
export function withIptablesRule(facts: Facts, table: string, line: string, at = 0, backend: 'iptables-nft' | 'iptables-legacy' = 'iptables-nft'): Facts {
  return alter<NfRuleset>(facts, 'netfilter', (rs) => {
    const chain = /^-A\s+(\S+)/.exec(line)?.[1]
    if (!chain) throw new Error(`not an iptables-save rule line: ${line}`)
    const parsed = parseIptablesSaveIR(`*${table}\n:${chain} - [0:0]\n${line}\nCOMMIT\n`, {backend, family: 'ip'})[0].chains[chain].rules[0]
    const target = rs.tables.find((t) => t.backend === backend && t.family === 'ip' && t.name === table)?.chains[chain]
    if (!target) throw new Error(`no ${backend} ${table} ${chain} in this recording`)
    target.rules.splice(at, 0, parsed)
    target.rules.forEach((r, i) => (r.ref = {...r.ref, index: i}))
  })
}

/** A recording whose packet filter is replaced by a real listing (libvirt's nftables backend from test/data/netfilter, say). */
export function withRuleset(facts: Facts, ruleset: NfRuleset): Facts {
  return alter<NetfilterFacts>(facts, 'netfilter', (nf) => {
    nf.tables = structuredClone(ruleset.tables)
    nf.sets = structuredClone(ruleset.sets)
  })
}

/** iptables-save text (legacy or nft variant) as IR tables, for facts with one table more or different. */
export function iptablesTables(text: string, backend: 'iptables-nft' | 'iptables-legacy' = 'iptables-nft') {
  return parseIptablesSaveIR(text, {backend, family: 'ip'})
}

/** A real listing kept in test/data/netfilter (see its README). */
export const netfilterData = (file: string) => readFileSync(join(ROOT, 'test/data/netfilter', file), 'utf8')

/** Every rule at once, as diagnose runs them: general rules see what specific ones claimed. */
export async function fireAll(facts: Facts) {
  const {ALL_RULES} = await import('../rules/index.js')
  const evaluation = await evaluate(model(facts), ALL_RULES)
  return {ids: evaluation.findings.map((f) => f.id), evaluation}
}

/** A recording with one probe's data set (a probe it predates, or one fact of it changed): "same facts, one thing different". */
export function withProbeData<T>(facts: Facts, probe: string, data: T): Facts {
  const results = structuredClone(facts.results)
  results[probe] = {id: probe, ok: true, data, durationMs: 0}
  return {results, capturedAt: facts.capturedAt, options: facts.options}
}

/** A recorded output of a fixture by its capture name (`command-iptables-save--c.txt`), whatever its position in the recording. */
export function recordedOutput(fixture: string, name: string): string {
  const dir = join(fixtureDir(fixture), 'outputs')
  const file = readdirSync(dir).find((f) => f.replace(/^\d+-/, '') === name)
  if (!file) throw new Error(`${fixture} has no recorded ${name}`)
  return readFileSync(join(dir, file), 'utf8')
}
