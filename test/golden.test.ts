/**
 * Every recording's findings, flows and rendered outputs, compared with the committed copy in
 * test/data/golden/: a refactor of rules, views, engine or reports that changes one byte of what a
 * user reads fails here. A deliberate change is regenerated (UPDATE_GOLDEN=1 npx vitest run
 * test/golden.test.ts) and justified in its commit.
 */
import {existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {type Format, render} from '../reports/index.js'
import {reportableJsonText} from '../reports/json.js'
import {renderIpTable} from '../reports/ip-table.js'
import {renderTree} from '../reports/layout.js'
import {PLAIN} from '../reports/style.js'
import {verdictOf} from '../reports/summary.js'
import {topologyTree} from '../reports/topology-text.js'
import {renderTrace} from '../reports/trace.js'
import {type DiagnosisRun as Diagnosis, diagnose} from '../src/core/diagnose.js'
import type {Expectations} from '../src/core/expectations.js'
import {gateDecision} from '../src/core/gate.js'
import type {IgnoreEntry} from '../src/core/ignore.js'
import {ipInventory} from '../src/core/ip-service.js'
import {reportable, visibleControlsDeep} from '../src/core/output.js'
import {ReplayRunner} from '../src/core/snapshot.js'
import {deriveTopology, topologyJson} from '../src/core/topology.js'
import {runTrace} from '../src/core/trace-service.js'
import {scrubDeep} from '../src/lib/scrub.js'
import {ROOT, fixtureDir, replayOptions} from './helpers.js'

// GOLDEN_OUT=DIR writes the outputs there instead of comparing (to diff a change with `diff -r`).
const GOLDEN = process.env.GOLDEN_OUT ?? join(ROOT, 'test/data/golden')
const UPDATE = process.env.UPDATE_GOLDEN === '1' || process.env.GOLDEN_OUT !== undefined
const FIXTURES = readdirSync(join(ROOT, 'fixtures')).filter((f) => existsSync(join(fixtureDir(f), 'manifest.json'))).sort()
const NOW = new Date('2026-01-15T00:00:00Z')
/** The SARIF rule catalogue of every run (one value expected). */
const sarifRules = new Set<string>()

/** Runs that exercise what plain recordings do not: the expectations file's rules, an ignore entry. */
const VARIANTS: Record<string, {fixture: string; expectations?: Expectations; ignores?: IgnoreEntry[]}> = {
  'expectations-network-inactive': {
    fixture: 'network-inactive',
    expectations: {
      networks: [
        {name: 'default', active: true, autostart: true, minFreeLeases: 200},
        {name: 'absent-net', active: true},
      ],
      guests: [
        {name: 'kd-lab-guest', subnet: '192.168.122.0/24'},
        {name: 'absent-guest', subnet: '10.0.0.0/8'},
      ],
      forwarding: true,
    },
  },
  'expectations-ip-forward-off': {
    fixture: 'ip-forward-off',
    expectations: {networks: [{name: 'default', active: true, autostart: true, minFreeLeases: 250}], guests: [], forwarding: true},
  },
  'ignores-firewall-flushed': {
    fixture: 'firewall-flushed',
    ignores: [
      {rule: 'nat-masquerade-missing', reason: 'known, ticket 12', expires: '2027-01-01'},
      {rule: 'forward-policy-drop', reason: 'expired entry', expires: '2025-01-01'},
    ],
  },
}

/** The diagnosis as data: findings, what was and was not checked, and the flows hop by hop (without the chain walk, which the trace prints). */
function diagnosisData(d: Diagnosis) {
  // New internal fields of a finding (its stable identity, aliases, what it found) are checked through the outputs that use them.
  const finding = ({stable: _s, aliases: _a, found: _f, ...f}: Diagnosis['findings'][number]) => f
  return {
    findings: d.findings.map(finding),
    notChecked: d.notChecked,
    checked: d.checked.map((c) => `${c.ruleId}@${c.entity.kind}:${c.entity.name}`),
    applicable: d.applicable.map((c) => `${c.ruleId}@${c.entity.kind}:${c.entity.name}`),
    suppressed: d.suppressed.map((x) => ({...x, finding: finding(x.finding)})),
    expiredIgnores: d.expiredIgnores,
    counts: d.counts,
    flows: d.flows.map((f) => ({...f, hops: f.hops.map(({steps: _steps, ...hop}) => hop), decidedBy: f.decidedBy?.name})),
    datapathUnavailable: d.datapathUnavailable,
  }
}

async function diagnosisOf(fixture: string, variant?: (typeof VARIANTS)[string]): Promise<Diagnosis> {
  const runner = await ReplayRunner.open(fixtureDir(fixture))
  return diagnose({runner, options: replayOptions(runner), version: 'golden', expectations: variant?.expectations, ignores: variant?.ignores, now: NOW})
}

/** The diagnose outputs as the CLI prints them (the same projections and escaping). */
async function diagnoseOutputs(d: Diagnosis): Promise<Record<string, string>> {
  const gate = gateDecision(d, 'high', false)
  const out: Record<string, string> = {'diagnosis.json': JSON.stringify(diagnosisData(d), null, 1) + '\n', 'report.json': reportableJsonText(d, gate)}
  const formats: [string, Format, {checks?: boolean}][] = [
    ['report.txt', 'text', {}],
    ['checks.txt', 'text', {checks: true}],
    ['report.md', 'md', {}],
    ['report.html', 'html', {}],
    ['report.sarif', 'sarif', {}],
    ['report.junit.xml', 'junit', {}],
    ['report.prom', 'prometheus', {}],
  ]
  for (const [file, format, extra] of formats) out[file] = await render(reportable(d, format), format, {color: 0, showSuppressed: true, gate, ...extra})
  // The rule catalogue SARIF carries is the same for every run: kept once (sarif-rules.json), not 67 times.
  const sarif = JSON.parse(out['report.sarif']) as {runs: {tool: {driver: {rules: unknown}}}[]}
  out['report.sarif'] = JSON.stringify({...sarif, runs: sarif.runs.map((r) => ({...r, tool: {driver: {...r.tool.driver, rules: 'sarif-rules.json'}}}))}, null, 1) + '\n'
  sarifRules.add(JSON.stringify(sarif.runs[0].tool.driver.rules, null, 1) + '\n')
  const topology = deriveTopology(d)
  const verdict = verdictOf(d)
  out['topology.txt'] = [verdict.text, '', ...renderTree(topologyTree(topology, {style: PLAIN}), Number.POSITIVE_INFINITY, PLAIN)].join('\n') + '\n'
  out['topology.json'] = JSON.stringify(topologyJson(topology), null, 1) + '\n'
  return out
}

async function otherCommands(fixture: string, d: Diagnosis): Promise<Record<string, string>> {
  const runner = await ReplayRunner.open(fixtureDir(fixture))
  const out: Record<string, string> = {}
  try {
    const inventory = scrubDeep(await ipInventory(runner, replayOptions(runner)))
    out['ip.txt'] = renderIpTable(visibleControlsDeep(inventory), {width: Number.POSITIVE_INFINITY}) + '\n'
    out['ip.json'] = JSON.stringify(inventory, null, 1) + '\n'
  } catch (error) {
    out['ip.txt'] = `error: ${(error as Error).message}\n`
  }
  const guests = [...new Set(d.flows.map((f) => f.guest))].sort()
  const traces: string[] = []
  for (const guest of guests) {
    const result = scrubDeep(await runTrace({from: fixtureDir(fixture), timeoutMs: 5000, options: {active: false, libvirtUri: 'qemu:///system'}, guest}))
    traces.push(renderTrace(visibleControlsDeep(result)))
  }
  out['trace.txt'] = traces.join('\n')
  return out
}

function compare(name: string, outputs: Record<string, string>): void {
  const dir = join(GOLDEN, name)
  if (UPDATE) {
    mkdirSync(dir, {recursive: true})
    for (const [file, text] of Object.entries(outputs)) writeFileSync(join(dir, file), text)
    return
  }
  expect(existsSync(dir), `${dir} missing: UPDATE_GOLDEN=1 npx vitest run test/golden.test.ts`).toBe(true)
  expect(Object.keys(outputs).sort()).toEqual(readdirSync(dir).sort())
  for (const [file, text] of Object.entries(outputs)) {
    // One assertion per file, so a failure names it; the text diff shows where.
    expect(text, `${name}/${file}`).toBe(readFileSync(join(dir, file), 'utf8'))
  }
}

describe('golden: every recording reads the same after a refactor', () => {
  for (const fixture of FIXTURES) {
    it(fixture, async () => {
      const d = await diagnosisOf(fixture)
      compare(fixture, {...(await diagnoseOutputs(d)), ...(await otherCommands(fixture, d))})
    })
  }
  for (const [name, variant] of Object.entries(VARIANTS)) {
    it(name, async () => {
      const d = await diagnosisOf(variant.fixture, variant)
      compare(name, await diagnoseOutputs(d))
    })
  }
  it('the SARIF rule catalogue (the same in every run)', () => {
    expect(sarifRules.size).toBe(1)
    const [rules] = sarifRules
    const file = join(GOLDEN, 'sarif-rules.json')
    if (UPDATE) writeFileSync(file, rules)
    else expect(rules).toBe(readFileSync(file, 'utf8'))
  })
})
