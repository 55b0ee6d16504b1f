/**
 * Metrics that alert (contrib/): the systemd service and timer that write node_exporter's textfile,
 * the Prometheus alerting rules and the Grafana dashboard. Every metric and label they use is one
 * kvmdoctor's prometheus format emits (reports/prometheus.ts, rendered from recordings), the rules
 * pass promtool and fire on the series a faulty recording produces, the units pass systemd-analyze.
 */
import {execFileSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {mkdtemp, readdir, readFile, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import YAML from 'yaml'
import {beforeAll, describe, expect, it} from 'vitest'
import {renderPrometheus} from '../reports/prometheus.js'
import {runDiagnose} from '../src/core/diagnose-service.js'
import {EXIT} from '../src/core/errors.js'
import {NO_CONFIG_DIR, ROOT, fixtureDir, kvmdoctorCli} from './helpers.js'
import {RECORDINGS, findTool, missingTool, withoutCaptures} from './tools.js'

const CONTRIB = join(ROOT, 'contrib')
const RULES = join(CONTRIB, 'prometheus/kvmdoctor.rules.yml')
const DASHBOARD = join(CONTRIB, 'grafana/kvmdoctor-dashboard.json')
const SERVICE = join(CONTRIB, 'systemd/kvmdoctor-textfile.service')
const TIMER = join(CONTRIB, 'systemd/kvmdoctor-textfile.timer')
const promtool = findTool('promtool')
const systemdAnalyze = findTool('systemd-analyze')

/** A recording's textfile; a recording is named (fixtures/) or a path. */
const textfileOf = async (fixture: string) =>
  renderPrometheus(await runDiagnose({from: fixture.startsWith('/') ? fixture : fixtureDir(fixture), timeoutMs: 5000, options: {active: false, libvirtUri: 'qemu:///system'}, version: 'test'}, {now: () => new Date('2026-11-28T12:00:00Z'), configDir: NO_CONFIG_DIR}))

/** Sample lines of a textfile: metric name and labels. */
function samplesOf(text: string): {name: string; labels: Record<string, string>; value: string}[] {
  return text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(l)
      if (!m) throw new Error(`not a sample line: ${l}`)
      return {name: m[1], labels: Object.fromEntries([...(m[2] ?? '').matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]])), value: m[3]}
    })
}

/** What a PromQL expression asks of kvmdoctor's metrics: the metric names, and per metric the labels it matches or groups by. */
function usesOf(expr: string): {metrics: Set<string>; labels: Map<string, Set<string>>; values: Map<string, Set<string>>} {
  const metrics = new Set<string>()
  const labels = new Map<string, Set<string>>()
  const values = new Map<string, Set<string>>()
  for (const m of expr.matchAll(/\b(kvmdoctor_[a-z_]+)(\{[^}]*\})?/g)) {
    metrics.add(m[1])
    for (const matcher of (m[2] ?? '').matchAll(/([a-z_]+)\s*(=~|!=|!~|=)\s*"([^"]*)"/g)) {
      labels.set(m[1], (labels.get(m[1]) ?? new Set()).add(matcher[1]))
      if (matcher[2] === '=' || matcher[2] === '!=') values.set(matcher[1], (values.get(matcher[1]) ?? new Set()).add(matcher[3]))
    }
  }
  // by (...) groups the metrics of the expression: each label must be on one of them.
  for (const m of expr.matchAll(/\bby\s*\(([^)]*)\)/g)) for (const l of m[1].split(',').map((x) => x.trim())) for (const metric of metrics) labels.set(metric, (labels.get(metric) ?? new Set()).add(l))
  return {metrics, labels, values}
}

const rules = YAML.parse(readFileSync(RULES, 'utf8')) as {groups: {name: string; rules: {alert: string; expr: string; for?: string; labels: Record<string, string>; annotations: Record<string, string>}[]}[]}
const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
  title: string
  uid: string
  schemaVersion: number
  __inputs: {name: string; type: string; pluginId: string}[]
  templating: {list: {name: string; query: {query: string}}[]}
  panels: {id: number; type: string; title: string; gridPos: {x: number; y: number; w: number; h: number}; datasource: {uid: string}; targets: {expr: string; refId: string; datasource: {uid: string}}[]}[]
}
const dashboardExprs = [...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)), ...dashboard.templating.list.map((v) => v.query.query)]

describe('metrics that alert: the rules and the dashboard read what kvmdoctor emits', () => {
  /** Per metric kvmdoctor emits, the labels its samples carry and the values seen per label, over every recording. */
  const emitted = new Map<string, Set<string>>()
  const seenValues = new Map<string, Set<string>>()
  beforeAll(async () => {
    // Plus one recording whose sysctls could not be read: rules not checked have samples too.
    const blind = await withoutCaptures('ip-forward-off', (c) => c.path?.startsWith('/proc/sys/') === true)
    for (const name of [...RECORDINGS, blind]) {
      const text = await textfileOf(name)
      for (const m of text.matchAll(/^# TYPE ([a-z_]+) gauge$/gm)) if (!emitted.has(m[1])) emitted.set(m[1], new Set())
      for (const s of samplesOf(text)) {
        const labels = emitted.get(s.name) ?? new Set<string>()
        for (const [k, v] of Object.entries(s.labels)) {
          labels.add(k)
          seenValues.set(k, (seenValues.get(k) ?? new Set()).add(v))
        }
        emitted.set(s.name, labels)
      }
    }
  }, 300_000)

  // Prometheus adds these to every scraped series.
  const SCRAPE_LABELS = new Set(['instance', 'job'])

  for (const [what, exprs] of [
    ['alerting rules', () => rules.groups.flatMap((g) => g.rules.map((r) => r.expr))],
    ['dashboard', () => dashboardExprs],
  ] as const) {
    it(`the ${what} use only metrics, labels and label values kvmdoctor emits`, () => {
      const used = new Set<string>()
      for (const expr of exprs()) {
        const u = usesOf(expr)
        for (const metric of u.metrics) {
          used.add(metric)
          expect(emitted.has(metric), `${metric} (in ${expr}) is not a metric kvmdoctor emits: ${[...emitted.keys()].join(', ')}`).toBe(true)
          for (const label of u.labels.get(metric) ?? []) if (!SCRAPE_LABELS.has(label)) expect(emitted.get(metric)!.has(label), `${metric} has no label ${label} (in ${expr})`).toBe(true)
        }
        for (const [label, values] of u.values) for (const v of values) if (!SCRAPE_LABELS.has(label)) expect(seenValues.get(label)?.has(v), `${label}="${v}" (in ${expr}) never appears`).toBe(true)
      }
      expect(used.size).toBeGreaterThan(0)
    })
  }

  it('between them, the rules watch findings, unchecked rules, probes and staleness', () => {
    const used = new Set(rules.groups.flatMap((g) => g.rules.flatMap((r) => [...usesOf(r.expr).metrics])))
    expect([...used].sort()).toEqual(['kvmdoctor_finding', 'kvmdoctor_last_run_timestamp_seconds', 'kvmdoctor_probe_up', 'kvmdoctor_rule_not_checked'])
  })

  it.skipIf(!promtool)(promtool ? 'promtool check rules accepts the rules, and the dashboard queries as rules' : missingTool('promtool', 'prometheus'), async () => {
    expect(execFileSync(promtool!, ['check', 'rules', RULES], {encoding: 'utf8'})).toMatch(/SUCCESS: 5 rules found/)
    // Grafana's variables are not PromQL: each query with $instance as a match-all, checked as a recording rule.
    const dir = await mkdtemp(join(tmpdir(), 'kd-contrib-'))
    const asRules = {groups: [{name: 'dashboard', rules: dashboardExprs.filter((e) => !e.startsWith('label_values(')).map((expr, i) => ({record: `kvmdoctor:dashboard_${i}`, expr: expr.replaceAll('$instance', '.*')}))}]}
    await writeFile(join(dir, 'dashboard.rules.yml'), YAML.stringify(asRules))
    expect(execFileSync(promtool!, ['check', 'rules', join(dir, 'dashboard.rules.yml')], {encoding: 'utf8'})).toMatch(/SUCCESS/)
  })

  it.skipIf(!promtool)(promtool ? 'the alerts fire on the series of a faulty host and stay quiet on a healthy one (promtool test rules)' : missingTool('promtool', 'prometheus'), async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kd-contrib-'))
    const seriesOf = async (fixture: string, instance: string) =>
      samplesOf(await textfileOf(fixture))
        // The capture time stands still at 0: at 30 minutes the host is 30 minutes stale.
        .map((s) => ({series: `${s.name}{${Object.entries({...s.labels, instance}).map(([k, v]) => `${k}="${v}"`).join(',')}}`, values: s.name === 'kvmdoctor_last_run_timestamp_seconds' ? '0x40' : `${s.value}x40`}))
    const faulty = samplesOf(await textfileOf('ip-forward-off')).filter((s) => s.name === 'kvmdoctor_finding' && s.labels.severity === 'critical' && s.labels.root_cause === 'true')
    expect(faulty.length).toBeGreaterThan(0)
    const render = (template: string, labels: Record<string, string>, value: string) => template.replace(/\{\{ \$labels\.([a-z_]+) \}\}/g, (_, l: string) => labels[l] ?? '').replace(/\{\{ \$value \| humanizeDuration \}\}/g, value).replace(/\{\{ \$value \}\}/g, value)
    const rule = (name: string) => rules.groups[0].rules.find((r) => r.alert === name)!
    const critical = rule('KvmdoctorCriticalFinding')
    const stale = rule('KvmdoctorStale')
    const tests = {
      rule_files: [RULES],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [...(await seriesOf('ip-forward-off', 'hv2:9100')), ...(await seriesOf('healthy', 'hv1:9100'))],
          alert_rule_test: [
            {
              eval_time: '30m',
              alertname: 'KvmdoctorCriticalFinding',
              exp_alerts: faulty.map((s) => {
                // An empty label is no label in Prometheus.
                const labels = Object.fromEntries(Object.entries({...s.labels, instance: 'hv2:9100', severity: critical.labels.severity}).filter(([, v]) => v !== ''))
                return {exp_labels: labels, exp_annotations: Object.fromEntries(Object.entries(critical.annotations).map(([k, v]) => [k, render(v, {...s.labels, instance: 'hv2:9100'}, '1')]))}
              }),
            },
            // Both hosts' textfiles stopped moving at time 0.
            {
              eval_time: '30m',
              alertname: 'KvmdoctorStale',
              exp_alerts: ['hv1:9100', 'hv2:9100'].map((instance) => ({
                exp_labels: {instance, severity: stale.labels.severity},
                exp_annotations: Object.fromEntries(Object.entries(stale.annotations).map(([k, v]) => [k, render(v, {instance}, '30m 0s')])),
              })),
            },
            {eval_time: '30m', alertname: 'KvmdoctorProbeDown', exp_alerts: []},
          ],
        },
      ],
    }
    await writeFile(join(dir, 'kvmdoctor.test.yml'), YAML.stringify(tests))
    const out = (() => {
      try {
        return execFileSync(promtool!, ['test', 'rules', join(dir, 'kvmdoctor.test.yml')], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
      } catch (error) {
        const e = error as {stdout?: string; stderr?: string}
        return `FAILED: ${e.stdout ?? ''}${e.stderr ?? ''}`
      }
    })()
    expect(out, out).toMatch(/SUCCESS/)
  })
})

describe('the Grafana dashboard', () => {
  it('is a dashboard Grafana imports: inputs, a host variable, panels with unique ids that tile a 24-column grid', () => {
    expect(dashboard).toMatchObject({title: expect.any(String), uid: expect.stringMatching(/^[A-Za-z0-9_-]{1,40}$/), schemaVersion: expect.any(Number)})
    expect(dashboard.__inputs).toEqual([expect.objectContaining({name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus'})])
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['instance'])
    const ids = dashboard.panels.map((p) => p.id)
    expect(new Set(ids).size).toBe(ids.length)
    const cells = new Set<string>()
    for (const p of dashboard.panels) {
      expect(['stat', 'table', 'timeseries'], p.title).toContain(p.type)
      expect(p.title.length).toBeGreaterThan(0)
      const {x, y, w, h} = p.gridPos
      expect(x >= 0 && w > 0 && h > 0 && x + w <= 24, `${p.title} fits the grid`).toBe(true)
      // No two panels on one cell.
      for (let i = x; i < x + w; i++) for (let j = y; j < y + h; j++) {
        expect(cells.has(`${i},${j}`), `${p.title} overlaps another panel at ${i},${j}`).toBe(false)
        cells.add(`${i},${j}`)
      }
      expect(p.datasource.uid).toBe('${DS_PROMETHEUS}')
      expect(p.targets.length).toBeGreaterThan(0)
      for (const t of p.targets) {
        expect(t.datasource.uid).toBe('${DS_PROMETHEUS}')
        // Every query follows the host picker.
        expect(t.expr, p.title).toContain('instance=~"$instance"')
      }
    }
  })
})

describe('the systemd service and timer', () => {
  const unit = readFileSync(SERVICE, 'utf8')
  const setting = (text: string, key: string) => [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1])

  it('the service writes the textfile with --output (a temporary file renamed in the same directory); findings and unchecked rules are no failed run', async () => {
    const [execStart] = setting(unit, 'ExecStart')
    const [environment] = setting(unit, 'Environment')
    expect(execStart).toMatch(/^\/usr\/local\/bin\/kvmdoctor diagnose --format prometheus --output \$\{KVMDOCTOR_TEXTFILE\}( |$)/)
    expect(environment).toBe('KVMDOCTOR_TEXTFILE=/var/lib/prometheus/node-exporter/kvmdoctor.prom')
    expect(setting(unit, 'SuccessExitStatus')).toEqual([`${EXIT.findings} ${EXIT.unchecked}`])
    // The command as systemd runs it (the variable expanded), on a recording instead of this host.
    const dir = await mkdtemp(join(tmpdir(), 'kd-textfile-'))
    const args = execStart.split(' ').slice(1).map((a) => a.replace('${KVMDOCTOR_TEXTFILE}', join(dir, 'kvmdoctor.prom')))
    const r = await kvmdoctorCli([...args, '--from', fixtureDir('ip-forward-off')])
    expect(r.exitCode).toBe(EXIT.findings)
    // Only the textfile is left: the temporary file and the lock are gone.
    expect((await readdir(dir)).filter((f) => !f.endsWith('.lock'))).toEqual(['kvmdoctor.prom'])
    const text = await readFile(join(dir, 'kvmdoctor.prom'), 'utf8')
    expect(text).toMatch(/^kvmdoctor_finding\{rule="ip-forward-disabled",severity="critical"/m)
    if (promtool) expect(execFileSync(promtool, ['check', 'metrics'], {input: text, encoding: 'utf8'})).toBe('')
  })

  it('the timer runs it every 5 minutes, within the rules\' staleness limit', () => {
    const timer = readFileSync(TIMER, 'utf8')
    expect(setting(timer, 'OnUnitActiveSec')).toEqual(['5min'])
    const staleAfter = Number(/> (\d+)/.exec(rules.groups[0].rules.find((r) => r.alert === 'KvmdoctorStale')!.expr)![1])
    expect(staleAfter).toBeGreaterThanOrEqual(3 * 5 * 60)
  })

  it.skipIf(!systemdAnalyze)(systemdAnalyze ? 'systemd-analyze verify accepts both units' : missingTool('systemd-analyze', 'systemd'), async () => {
    // As installed: kvmdoctor where ExecStart names it (here, this checkout's CLI).
    const dir = await mkdtemp(join(tmpdir(), 'kd-units-'))
    await writeFile(join(dir, 'kvmdoctor-textfile.service'), unit.replace('/usr/local/bin/kvmdoctor', join(ROOT, 'bin/run.js')))
    await writeFile(join(dir, 'kvmdoctor-textfile.timer'), readFileSync(TIMER, 'utf8'))
    const out = execFileSync(systemdAnalyze!, ['verify', '--man=no', join(dir, 'kvmdoctor-textfile.service'), join(dir, 'kvmdoctor-textfile.timer')], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
    expect(out).toBe('')
  })
})
