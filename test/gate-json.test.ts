/**
 * The published JSON Schemas (docs/schemas/) hold for the --json output of
 * diagnose, ip, trace and rules on every recording, and a replay says the
 * same thing byte for byte every time.
 */
import {Config} from '@oclif/core'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, beforeAll, describe, expect, it, vi} from 'vitest'
import type {LibvirtFacts} from '../probes/libvirt.js'
import {dataOf} from '../probes/types.js'
import {renderJson, toJsonReport} from '../reports/json.js'
import Rules from '../src/commands/rules/index.js'
import type {DiagnosisRun as Diagnosis} from '../src/core/diagnose.js'
import {runDiagnose} from '../src/core/diagnose-service.js'
import {gateDecision} from '../src/core/gate.js'
import {ipInventory} from '../src/core/ip-service.js'
import {ReplayRunner} from '../src/core/snapshot.js'
import {runTrace} from '../src/core/trace-service.js'
import {NO_CONFIG_DIR, ROOT, fixtureDir, kvmdoctorCli} from './helpers.js'
import {SCHEMAS, problems} from './schemas.js'
import {RECORDINGS, withPolicyRules} from './tools.js'

const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string
const base = {timeoutMs: 5000, options: {active: false, libvirtUri: 'qemu:///system'}}
const diagnosisOf = (from: string, now = '2026-11-28T12:00:00Z') => runDiagnose({...base, from, version: VERSION}, {now: () => new Date(now), configDir: NO_CONFIG_DIR})

describe('JSON Schemas on every recording', () => {
  const sources = new Map<string, string>()
  const diagnoses = new Map<string, Diagnosis>()
  beforeAll(async () => {
    for (const name of RECORDINGS) {
      sources.set(name, fixtureDir(name))
      sources.set(`${name}+ip-rules`, await withPolicyRules(name))
    }
    for (const [name, dir] of sources) diagnoses.set(name, await diagnosisOf(dir))
  })

  it('diagnose --json (with the gate) and the report in bundles (without) match report.schema.json', () => {
    for (const [name, d] of diagnoses) {
      for (const report of [toJsonReport(d, gateDecision(d, 'high')), toJsonReport(d)]) {
        // through JSON, as a consumer reads it (undefined fields vanish)
        expect(SCHEMAS.report(JSON.parse(JSON.stringify(report))), `${name}: ${problems(SCHEMAS.report)}`).toBe(true)
      }
    }
  })

  it('ip --json matches ip.schema.json', async () => {
    for (const [name, dir] of sources) {
      const runner = await ReplayRunner.open(dir)
      const inventory = JSON.parse(JSON.stringify(await ipInventory(runner, runner.manifest.options ?? base.options)))
      expect(inventory.rows.length, name).toBeGreaterThan(0)
      expect(SCHEMAS.ip(inventory), `${name}: ${problems(SCHEMAS.ip)}`).toBe(true)
    }
  })

  it('trace --json matches trace.schema.json for every guest, followed or not', async () => {
    let hops = 0
    for (const [name, dir] of sources) {
      for (const domain of dataOf<LibvirtFacts>(diagnoses.get(name)!.facts.libvirt)?.domains ?? []) {
        const result = JSON.parse(JSON.stringify(await runTrace({...base, from: dir, guest: domain.name})))
        hops += result.flows.reduce((n: number, f: {hops: unknown[]}) => n + f.hops.length, 0)
        expect(SCHEMAS.trace(result), `${name} ${domain.name}: ${problems(SCHEMAS.trace)}`).toBe(true)
      }
    }
    expect(hops).toBeGreaterThan(100)
  })

  it('the schemas are not vacuous: a missing field, a wrong enum or an extra field fails', () => {
    const report = JSON.parse(renderJson(diagnoses.get('dnsmasq-killed')!))
    expect(SCHEMAS.report(report)).toBe(true)
    expect(SCHEMAS.report({...report, findings: [{...report.findings[0], severity: 'severe'}]})).toBe(false)
    expect(SCHEMAS.report({...report, findings: [{...report.findings[0], rank: undefined}].map((f) => JSON.parse(JSON.stringify(f)))})).toBe(false)
    expect(SCHEMAS.report({...report, surprise: true})).toBe(false)
    expect(SCHEMAS.error({error: {code: 1, message: 'findings are not errors'}})).toBe(false)
    expect(SCHEMAS.error({error: {code: 2, message: 'Nonexistent flag: --bogus'}})).toBe(true)
  })
})

describe('rules --json', () => {
  afterEach(() => vi.restoreAllMocks())

  it('matches rules.schema.json and lists every rule', async () => {
    const out: string[] = []
    vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void out.push(args.join(' ')))
    await Rules.run(['--json'], await Config.load(ROOT))
    vi.restoreAllMocks()
    const rows = JSON.parse(out.join('\n'))
    expect(SCHEMAS.rules(rows), problems(SCHEMAS.rules)).toBe(true)
    expect(rows.map((r: {id: string}) => r.id)).toContain('iptables-forward-drop')
  })
})

describe('replays are byte-identical', () => {
  it('two replays of each recording give the same JSON, whatever the time of the replay', async () => {
    for (const name of RECORDINGS) {
      const [a, b] = [await diagnosisOf(fixtureDir(name), '2026-11-28T12:00:00Z'), await diagnosisOf(fixtureDir(name), '2026-11-28T12:00:07Z')]
      expect(renderJson(b, gateDecision(b, 'high')), name).toBe(renderJson(a, gateDecision(a, 'high')))
    }
  })

  it('probe durations are the recorded ones: a probe reports the recorded durations of what it read', async () => {
    const manifest = JSON.parse(readFileSync(join(fixtureDir('healthy'), 'manifest.json'), 'utf8')) as {captures: {argv?: string[]; durationMs: number}[]}
    const recorded = (argv: string) => manifest.captures.find((c) => c.argv?.join(' ') === argv)!.durationMs
    const probes = (await diagnosisOf(fixtureDir('healthy'))).probes
    expect(probes.find((p) => p.id === 'links')!.durationMs).toBe(recorded('ip -j -d addr show'))
    expect(probes.find((p) => p.id === 'routes')!.durationMs).toBe(recorded('ip -j route show table all'))
  })

  it('the CLI replays to the same bytes as the in-process replay (--format json)', async () => {
    const d = await diagnosisOf(fixtureDir('dnsmasq-killed'))
    const r = await kvmdoctorCli(['diagnose', '--from', fixtureDir('dnsmasq-killed'), '--format', 'json', '--fail-on', 'high'])
    expect(r.stdout + '\n').toBe(renderJson(d, gateDecision(d, 'high')))
  })
})
