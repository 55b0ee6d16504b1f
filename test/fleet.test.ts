/**
 * `kvmdoctor fleet`: the reports of many hosts (recordings of the lab replayed, each given its own
 * host name) and bundles in one view; bad inputs listed as such, never a stack trace.
 */
import {execFileSync} from 'node:child_process'
import {mkdir, mkdtemp, readFile, readdir, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import * as tar from 'tar'
import {beforeAll, describe, expect, it} from 'vitest'
import {bundleReports} from '../reports/bundle-files.js'
import {renderFleetHtml, renderFleetMarkdown, renderFleetText} from '../reports/fleet.js'
import {toJsonReport} from '../reports/json.js'
import {createBundle} from '../src/core/bundle.js'
import {diagnose} from '../src/core/diagnose.js'
import {UserError} from '../src/core/errors.js'
import {type FleetInputs, fleetExitCode, fleetView, parseReport, readFleetInputs, wellFormedReport} from '../src/core/fleet.js'
import {ReplayRunner} from '../src/core/snapshot.js'
import {fixtureDir, kvmdoctorCli, replayOptions} from './helpers.js'
import {SCENARIOS} from './scenarios.js'
import {SCHEMAS, problems} from './schemas.js'

const tmp = () => mkdtemp(join(tmpdir(), 'kd-fleet-'))
const deps = {toReport: toJsonReport, version: 'test'}
type Report = ReturnType<typeof toJsonReport>

/** A recording's JSON report, as that host's `diagnose --format json` would have written it. */
const reports = new Map<string, Report>()
async function reportOf(fixture: string): Promise<Report> {
  const known = reports.get(fixture)
  if (known) return structuredClone(known)
  const runner = await ReplayRunner.open(fixtureDir(fixture))
  const report = toJsonReport(await diagnose({runner, options: replayOptions(runner), version: 'test'}))
  reports.set(fixture, report)
  return structuredClone(report)
}

/** The fleet: one host per recording, named after it. */
const FLEET = {'hv-ok': 'healthy', 'hv-fwd': 'ip-forward-off', 'hv-nat': 'masquerade-removed', 'hv-tap': 'tap-detached', 'hv-flush': 'firewall-flushed'} as const
const rootsOf = (fixture: string) => SCENARIOS.find((s) => s.name === fixture)!.findings.filter((f) => !f.explainedBy).map((f) => f.id)

async function fleetDir(hosts: Record<string, string> = FLEET, at?: string): Promise<string> {
  const dir = await tmp()
  for (const [host, fixture] of Object.entries(hosts)) await writeFile(join(dir, `${host}.json`), JSON.stringify({...(await reportOf(fixture)), host, ...(at ? {capturedAt: at} : {})}, null, 2))
  return dir
}

describe('the fleet view', () => {
  let inputs: FleetInputs

  beforeAll(async () => {
    inputs = await readFleetInputs([await fleetDir()], deps)
  })

  it('reads every report of a directory', () => {
    expect(inputs.errors).toEqual([])
    expect(inputs.reports.map((r) => r.report.host).sort()).toEqual(Object.keys(FLEET).sort())
  })

  it('lists per finding id the hosts it is on, per host its worst severity and root causes: each host its own, nothing else', () => {
    const view = fleetView(inputs, {failOn: 'high'})
    for (const [host, fixture] of Object.entries(FLEET)) {
      const h = view.hosts.find((x) => x.host === host)!
      expect(h.rootCauses.map((r) => r.id).filter((id) => id !== 'guest-agent-missing').sort(), host).toEqual([...new Set(rootsOf(fixture))].sort())
      const report = reports.get(fixture)!
      expect(h.worst, host).toBe(['critical', 'high', 'medium', 'low', 'info'].find((s) => report.findings.some((f) => f.severity === s)) ?? null)
      expect(h.symptoms, host).toBe(report.findings.filter((f) => f.explainedBy).length)
    }
    const byId = new Map(view.findings.map((f) => [f.id, f]))
    expect(byId.get('ip-forward-disabled')!.hosts.map((h) => h.host)).toEqual(['hv-fwd'])
    expect(byId.get('nat-masquerade-missing')!.hosts).toEqual([
      {host: 'hv-flush', entities: [{kind: 'network', name: 'default'}], rootCause: false},
      {host: 'hv-nat', entities: [{kind: 'network', name: 'default'}], rootCause: true},
    ])
    // Worst first, then the most widespread.
    expect(view.findings[0].severity).toBe('critical')
    expect(view.hosts.at(-1)).toMatchObject({host: 'hv-ok', verdict: 'pass'})
    expect(view.summary).toEqual({hosts: 5, failing: 4, notChecked: 0, passing: 1, errors: 0})
    expect(fleetExitCode(view)).toBe(1)
    expect(SCHEMAS.fleet(view), problems(SCHEMAS.fleet)).toBe(true)
  })

  it('judges each host at --fail-on as diagnose would: critical fails hosts with critical findings only', () => {
    const view = fleetView(inputs, {failOn: 'critical'})
    for (const h of view.hosts) expect(h.verdict, h.host).toBe(h.worst === 'critical' ? 'fail' : 'pass')
    expect(fleetExitCode(fleetView(inputs, {failOn: 'none'}))).toBe(0)
  })

  it('a host whose rules could not be checked is not checked (4), unless --allow-unchecked', async () => {
    const blind = {...(await reportOf('healthy')), host: 'hv-blind', notChecked: [{ruleId: 'ip-forward-disabled', entity: null, reason: 'probe sysctl unavailable: permission denied'}]}
    const view = fleetView({reports: [{source: 'blind.json', report: await parseReport(JSON.stringify(blind))}], errors: []}, {failOn: 'high'})
    expect(view.hosts[0]).toMatchObject({verdict: 'not-checked', notChecked: ['ip-forward-disabled']})
    expect(fleetExitCode(view)).toBe(4)
    expect(fleetExitCode(fleetView({reports: [{source: 'blind.json', report: await parseReport(JSON.stringify(blind))}], errors: []}, {failOn: 'high', allowUnchecked: true}))).toBe(0)
  })

  it('marks what is new since the baseline and lists what was resolved', async () => {
    const yesterday = await readFleetInputs([await fleetDir({'hv-ok': 'healthy', 'hv-fwd': 'ip-forward-off', 'hv-nat': 'healthy', 'hv-tap': 'tap-detached'})], deps)
    const view = fleetView(inputs, {failOn: 'high', baseline: yesterday})
    const host = (name: string) => view.hosts.find((h) => h.host === name)!
    expect(host('hv-fwd').rootCauses.every((r) => r.new === false)).toBe(true)
    expect(host('hv-nat').rootCauses.filter((r) => r.id === 'nat-masquerade-missing')).toMatchObject([{new: true}])
    expect(host('hv-flush')).toMatchObject({new: true})
    expect(host('hv-ok')).toMatchObject({new: false})
    expect(view.findings.find((f) => f.id === 'nat-masquerade-missing')!.hosts).toEqual([
      {host: 'hv-flush', entities: [{kind: 'network', name: 'default'}], rootCause: false, new: true},
      {host: 'hv-nat', entities: [{kind: 'network', name: 'default'}], rootCause: true, new: true},
    ])
    expect(view.summary.newFindings).toBe(reports.get('masquerade-removed')!.findings.length + reports.get('firewall-flushed')!.findings.length - reports.get('healthy')!.findings.length)
    expect(view.resolved).toEqual([])
    // The other way round: what the faulty hosts had is resolved now.
    const back = fleetView(yesterday, {failOn: 'high', baseline: inputs})
    expect(back.resolved!.filter((r) => r.host === 'hv-nat').map((r) => r.id)).toContain('nat-masquerade-missing')
    expect(back.resolved!.some((r) => r.host === 'hv-flush')).toBe(false)
    expect(SCHEMAS.fleet(view), problems(SCHEMAS.fleet)).toBe(true)
  })

  it('counts the newest report of a host given twice, naming the older one', async () => {
    const older = await fleetDir({'hv-fwd': 'ip-forward-off'}, '2026-01-01T00:00:00.000Z')
    const newer = await fleetDir({'hv-fwd': 'healthy'}, '2026-01-02T00:00:00.000Z')
    const view = fleetView(await readFleetInputs([join(newer, 'hv-fwd.json'), join(older, 'hv-fwd.json')], deps), {failOn: 'high'})
    expect(view.hosts).toHaveLength(1)
    expect(view.hosts[0]).toMatchObject({verdict: 'pass', source: join(newer, 'hv-fwd.json'), superseded: [join(older, 'hv-fwd.json')]})
  })
})

describe('bad inputs are errors of the view, never a crash', () => {
  const reportText = async () => JSON.stringify({...(await reportOf('ip-forward-off')), host: 'hv-fwd'})

  it('names each bad input and why, reads the good ones', async () => {
    const dir = await tmp()
    const text = await reportText()
    await writeFile(join(dir, 'good.json'), text)
    await writeFile(join(dir, 'truncated.json'), text.slice(0, Math.floor(text.length / 2)))
    await writeFile(join(dir, 'empty.json'), '')
    await writeFile(join(dir, 'inventory.json'), JSON.stringify({host: 'x', capturedAt: 'now', rows: [], probes: []}))
    await writeFile(join(dir, 'failed.json'), JSON.stringify({error: {code: 2, message: 'cannot connect to root@hv9 over ssh: Connection refused'}}))
    await writeFile(join(dir, 'future.json'), JSON.stringify({...JSON.parse(text), reportVersion: 2}))
    await writeFile(join(dir, 'broken.json'), JSON.stringify({...JSON.parse(text), findings: [{id: 'x'}]}))
    await writeFile(join(dir, 'array.fact'), '[]')
    await writeFile(join(dir, 'notes.txt'), 'not an input: ignored')
    await writeFile(join(dir, 'b.tar.gz.redaction-map.json'), '{"not": "a report"}')
    await mkdir(join(dir, 'sub'))
    execFileSync('mkfifo', [join(dir, 'fifo.json')])
    const read = await readFleetInputs([dir, join(dir, 'missing.json')], deps)
    expect(read.reports.map((r) => r.source)).toEqual([join(dir, 'good.json')])
    const why = Object.fromEntries(read.errors.map((e) => [e.source.replace(`${dir}/`, ''), e.message]))
    expect(why).toEqual({
      'array.fact': 'not a kvmdoctor report (no reportVersion: kvmdoctor diagnose --format json writes one)',
      'broken.json': expect.stringMatching(/^not a kvmdoctor report: findings\.0\.severity: /),
      'empty.json': expect.stringMatching(/^not valid JSON, cut short: Unexpected end of JSON input/),
      'failed.json': 'kvmdoctor did not diagnose this host (exit 2): cannot connect to root@hv9 over ssh: Connection refused',
      'fifo.json': 'not a regular file (a FIFO)',
      'future.json': 'report version 2: this kvmdoctor reads version 1',
      'inventory.json': expect.stringMatching(/^not a kvmdoctor report \(no reportVersion/),
      'missing.json': 'no such file or directory',
      'truncated.json': expect.stringMatching(/^not valid JSON, cut short: /),
    })
    const view = fleetView(read, {failOn: 'high'})
    expect(view.summary.errors).toBe(9)
    expect(fleetExitCode(view)).toBe(2)
    expect(SCHEMAS.fleet(view), problems(SCHEMAS.fleet)).toBe(true)
  })

  it('reads a bundle as diagnose --from does; refuses one whose files do not match its SHA256SUMS', async () => {
    const dir = await tmp()
    const source = await ReplayRunner.open(fixtureDir('masquerade-removed'))
    const made = await createBundle({runner: source, options: replayOptions(source), version: 'test', output: join(dir, 'hv-nat.tar.gz'), redact: false, reports: bundleReports})
    const read = await readFleetInputs([made.path], deps)
    expect(read.errors).toEqual([])
    expect(read.reports[0].report.findings.map((f) => f.id)).toEqual(made.diagnosis.findings.map((f) => f.id))
    // One output changed after the bundle was made: its checksum no longer holds.
    const work = await tmp()
    await tar.x({file: made.path, cwd: work})
    const [top] = await readdir(work)
    const outputs = await readdir(join(work, top, 'outputs'))
    const save = outputs.find((f) => f.includes('iptables-save'))!
    await writeFile(join(work, top, 'outputs', save), `${await readFile(join(work, top, 'outputs', save), 'utf8')}*nat\n-A POSTROUTING -j MASQUERADE\nCOMMIT\n`)
    const tampered = join(dir, 'tampered.tar.gz')
    await tar.c({gzip: true, file: tampered, cwd: work, portable: true}, [top])
    const bad = await readFleetInputs([tampered, join(dir, 'hv-nat.tar.gz')], deps)
    expect(bad.reports).toHaveLength(1)
    expect(bad.errors).toEqual([{source: tampered, message: expect.stringMatching(/^refusing a bundle whose files do not match its SHA256SUMS: outputs\/.*iptables-save.* does not match its checksum/)}])
    // A file named like a bundle that is not one.
    await writeFile(join(dir, 'junk.tar.gz'), Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02]))
    expect((await readFleetInputs([join(dir, 'junk.tar.gz')], deps)).errors[0].message).toMatch(/^not a readable \.tar\.gz bundle/)
  })
})

describe('kvmdoctor fleet (the CLI)', () => {
  it('--json: the view, valid against docs/schemas/fleet.schema.json; exit 1 for failing hosts', async () => {
    const dir = await fleetDir()
    const r = await kvmdoctorCli(['fleet', dir, '--json'])
    expect(r.exitCode).toBe(1)
    const view = JSON.parse(r.stdout)
    expect(SCHEMAS.fleet(view), problems(SCHEMAS.fleet)).toBe(true)
    expect(view.hosts.map((h: {host: string}) => h.host).sort()).toEqual(Object.keys(FLEET).sort())
  })

  it('text, Markdown and HTML name every host and every finding; input errors make the exit code 2', async () => {
    const dir = await fleetDir()
    await writeFile(join(dir, 'cut.json'), '{"reportVersion": 1, "host": "hv-cut"')
    const text = await kvmdoctorCli(['fleet', dir])
    expect(text.exitCode).toBe(2)
    expect(text.stderr).toBe('')
    expect(text.stdout).toMatch(/^kvmdoctor fleet: 5 hosts, 4 failing at --fail-on high, 1 ok, 1 input error\n/)
    expect(text.stdout).toContain(`${join(dir, 'cut.json')}: not valid JSON, cut short`)
    const md = await kvmdoctorCli(['fleet', dir, '--format', 'md'])
    expect(md.stderr).toMatch(/^kvmdoctor: fleet: cannot read .*cut\.json: not valid JSON/)
    const html = await kvmdoctorCli(['fleet', dir, '--format', 'html'])
    for (const out of [text.stdout, md.stdout, html.stdout]) {
      for (const host of Object.keys(FLEET)) expect(out).toContain(host)
      for (const id of ['ip-forward-disabled', 'nat-masquerade-missing', 'tap-not-attached', 'libvirt-firewall-rules-missing']) expect(out).toContain(id)
    }
    expect(html.stdout).toMatch(/^<!doctype html>/)
  })

  it('--baseline marks new findings; -o writes the view and prints its headline', async () => {
    const before = await fleetDir({'hv-ok': 'healthy', 'hv-fwd': 'healthy'})
    const now = await fleetDir({'hv-ok': 'healthy', 'hv-fwd': 'ip-forward-off'})
    const out = join(await tmp(), 'fleet.md')
    const r = await kvmdoctorCli(['fleet', now, '--baseline', before, '--format', 'md', '-o', out])
    expect(r.exitCode).toBe(1)
    expect(r.stdout.trim()).toMatch(/^kvmdoctor fleet: 2 hosts, 1 failing at --fail-on high, 1 ok; since the baseline: \d+ new findings?, 0 resolved$/)
    // The recording's host entity keeps its own name (vm); the report's host is hv-fwd.
    expect(await readFile(out, 'utf8')).toMatch(/\| FAIL \| hv-fwd \| CRITICAL \| critical ip-forward-disabled \(host vm\) \(new\)/)
  })

  it('no input at all, or only a missing one: a usage error or an input error, never a stack trace', async () => {
    const none = await kvmdoctorCli(['fleet'])
    expect(none.exitCode).toBe(2)
    expect(none.stderr).toMatch(/^kvmdoctor: .*Missing 1 required arg/)
    const missing = await kvmdoctorCli(['fleet', '/nonexistent/reports', '--json'])
    expect(missing.exitCode).toBe(2)
    expect(JSON.parse(missing.stdout)).toMatchObject({summary: {hosts: 0, errors: 1}, errors: [{source: '/nonexistent/reports', message: 'no such file or directory'}]})
    expect(missing.stderr).not.toMatch(/\n\s+at /)
  })

  it('a hostile host name is data: controls made visible in text, escaped in HTML', async () => {
    const dir = await tmp()
    await writeFile(join(dir, 'evil.json'), JSON.stringify({...(await reportOf('ip-forward-off')), host: 'evil\u001b[2J<script>alert(1)</script>'}))
    const text = await kvmdoctorCli(['fleet', dir])
    expect(text.stdout).not.toContain('\u001b')
    expect(text.stdout).toContain('evil\\x1b[2J')
    const html = await kvmdoctorCli(['fleet', dir, '--format', 'html'])
    expect(html.stdout).not.toContain('<script>alert')
    expect(html.stdout).toContain('&lt;script&gt;')
  })
})

describe('renderers', () => {
  it('say there is nothing when there is nothing', () => {
    const empty = fleetView({reports: [], errors: []}, {failOn: 'high'})
    expect(renderFleetText(empty)).toContain('By finding:\n  none')
    expect(renderFleetMarkdown(empty)).toContain('No findings on any host.')
    expect(renderFleetHtml(empty)).toContain('No findings on any host.')
  })

  it('parseReport refuses what is not a report by name (a UserError, exit 2 material)', async () => {
    await expect(parseReport('{')).rejects.toThrow(UserError)
    await expect(parseReport('null')).rejects.toThrow(/not a kvmdoctor report/)
  })

  it('the plain report check never accepts what the schema refuses (on every recording, and on mutations of one)', async () => {
    const {reportSchema} = await import('../src/core/fleet-schema.js')
    const agree = (value: unknown, what: string) => {
      if (wellFormedReport(value)) expect(reportSchema.safeParse(value).success, what).toBe(true)
    }
    const base = await reportOf('firewall-flushed')
    for (const fixture of ['healthy', 'ip-forward-off', 'tap-detached']) {
      const r = await reportOf(fixture)
      expect(wellFormedReport(r), fixture).toBeDefined()
      expect(reportSchema.safeParse(r).success, fixture).toBe(true)
    }
    const blind = {...base, notChecked: [{ruleId: 'ip-forward-disabled', entity: {kind: 'host', name: 'vm'}, reason: 'x'}]}
    const paths: (string | number)[][] = [
      ...Object.keys(blind).map((k) => [k]),
      ...Object.keys(blind.counts).map((k) => ['counts', k]),
      ...Object.keys(blind.findings[0]).map((k) => ['findings', 0, k]),
      ['findings', 0, 'entity', 'kind'], ['findings', 0, 'context', 'network'],
      ...Object.keys(blind.notChecked[0]).map((k) => ['notChecked', 0, k]),
      ...Object.keys(blind.probes[0]).map((k) => ['probes', 0, k]),
    ]
    let refused = 0
    for (const path of paths) {
      for (const value of [undefined, null, 1, -1, 1.5, 'x', true, [], {}, ['x']]) {
        const m = structuredClone(blind) as Record<string | number, unknown>
        let at = m
        for (const p of path.slice(0, -1)) at = at[p] as Record<string | number, unknown>
        if (value === undefined) delete at[path.at(-1)!]
        else at[path.at(-1)!] = value
        agree(m, `${path.join('.')} = ${JSON.stringify(value)}`)
        if (!wellFormedReport(m)) refused++
      }
    }
    // Not vacuous: most mutations of a field the view reads are refused.
    expect(refused).toBeGreaterThan(paths.length * 3)
  })
})
