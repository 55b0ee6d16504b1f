import {XMLParser} from 'fast-xml-parser'
import {readFileSync} from 'node:fs'
import {mkdtemp, readFile, writeFile} from 'node:fs/promises'
import {createRequire} from 'node:module'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {renderJunit} from '../reports/junit.js'
import {renderPrometheus} from '../reports/prometheus.js'
import {toSarif} from '../reports/sarif.js'
import {runDiagnose} from '../src/core/diagnose-service.js'
import {UserError} from '../src/core/errors.js'
import {EVERY_RULE} from '../src/core/rule-docs.js'
import {ROOT, fixtureDir, kvmdoctorCli} from './helpers.js'

const kvmdoctor = kvmdoctorCli
const tmp = () => mkdtemp(join(tmpdir(), 'kd-gate-'))
const base = {timeoutMs: 5000, options: {active: false, libvirtUri: 'qemu:///system'}, version: 'test'}
const at = (iso: string) => ({now: () => new Date(iso), cwd: ROOT})
const diagnosisOf = (from: string, extra: Partial<Parameters<typeof runDiagnose>[0]> = {}, now = '2026-11-28T12:00:00Z') => runDiagnose({...base, from: fixtureDir(from), ...extra}, at(now))

async function yamlFile(text: string): Promise<string> {
  const file = join(await tmp(), 'config.yaml')
  await writeFile(file, text)
  return file
}

describe('exit codes', () => {
  it('0 clean, 1 findings at or above --fail-on, 2 bad input (3: see internal-error.test.ts)', async () => {
    expect((await kvmdoctor(['--from', fixtureDir('healthy')])).exitCode).toBe(0)
    expect((await kvmdoctor(['--from', fixtureDir('mtu-mismatch')])).exitCode).toBe(0)
    expect((await kvmdoctor(['--from', fixtureDir('mtu-mismatch'), '--fail-on', 'medium'])).exitCode).toBe(1)
    expect((await kvmdoctor(['--from', fixtureDir('firewall-flushed'), '--fail-on', 'critical'])).exitCode).toBe(1)
    expect((await kvmdoctor(['--from', fixtureDir('firewall-flushed'), '--fail-on', 'none'])).exitCode).toBe(0)
    expect((await kvmdoctor(['--fail-on', 'severe'])).exitCode).toBe(2)
    expect((await kvmdoctor(['--from', fixtureDir('healthy'), '--ignore', '/nonexistent.yaml'])).exitCode).toBe(2)
  })

})

describe('--output', () => {
  it('writes the report to the file and prints only the summary line', async () => {
    const file = join(await tmp(), 'report.sarif')
    const r = await kvmdoctor(['--from', fixtureDir('ip-forward-off'), '--format', 'sarif', '--output', file])
    expect(r.exitCode).toBe(1)
    expect(r.stdout.trim().split('\n')).toHaveLength(1)
    expect(r.stdout).toMatch(/^kvmdoctor vm at .*: 1 critical, 0 high/)
    expect(JSON.parse(await readFile(file, 'utf8')).version).toBe('2.1.0')
  })
})

describe('SARIF', () => {
  // The official schema is draft-04: ajv-draft-04, with ajv-formats for uri and date-time.
  const require = createRequire(import.meta.url)
  const Ajv = require('ajv-draft-04')
  const addFormats = require('ajv-formats')
  const ajv = new Ajv({strict: false, allErrors: true})
  addFormats(ajv)
  const validate = ajv.compile(JSON.parse(readFileSync(join(ROOT, 'test/data/sarif-schema-2.1.0.json'), 'utf8')))

  it('validates against the official SARIF 2.1.0 schema, for faulty and healthy hosts', async () => {
    for (const name of ['flushed-and-forward-off', 'bridged-forward-drop', 'healthy']) {
      const sarif = toSarif(await diagnosisOf(name))
      expect(validate(sarif), JSON.stringify(validate.errors?.slice(0, 3))).toBe(true)
    }
  })

  it('lists every rule in tool.driver, maps severity to level and security-severity, points at the file to change', async () => {
    const sarif = toSarif(await diagnosisOf('flushed-and-forward-off'))
    const driver = sarif.runs[0].tool.driver
    expect(driver.rules.map((r) => r.id)).toEqual(EVERY_RULE.map((r) => r.id))
    expect(driver.rules[0]).toMatchObject({id: 'ip-forward-disabled', helpUri: expect.stringMatching(/^file:\/\/.*\/rules\/ip-forward-disabled\.md$/), help: {markdown: expect.stringContaining('**Fix.**')}})
    const results = sarif.runs[0].results
    const fwd = results.find((r) => r.ruleId === 'ip-forward-disabled')!
    expect(fwd).toMatchObject({level: 'error', properties: {'security-severity': '9.5'}})
    expect(fwd.message.text).toContain('Fix: sysctl -w net.ipv4.ip_forward=1')
    expect(fwd.locations[0].physicalLocation?.artifactLocation.uri).toBe('file:///etc/sysctl.d/90-kvmdoctor.conf')
    const net = results.find((r) => r.ruleId === 'libvirt-firewall-rules-missing')!
    expect(net.locations[0].physicalLocation?.artifactLocation.uri).toBe('file:///etc/libvirt/qemu/networks/default.xml')
    expect(results.find((r) => r.ruleId === 'dhcp-checksum-rule-missing')?.level).toBe('note')
    expect(results.find((r) => r.ruleId === 'guest-agent-missing')?.level).toBe('note')
    expect(driver.rules[ (results.find((r) => r.ruleId === 'nat-masquerade-missing')!.ruleIndex as number)].id).toBe('nat-masquerade-missing')
  })

  it('fingerprints are stable across runs and across a replay of the recording', async () => {
    const first = toSarif(await diagnosisOf('tap-detached')).runs[0].results.map((r) => r.partialFingerprints)
    const second = toSarif(await diagnosisOf('tap-detached', {}, '2027-03-01T00:00:00Z')).runs[0].results.map((r) => r.partialFingerprints)
    expect(second).toEqual(first)
    expect(new Set(first.map((f) => f['kvmdoctorFinding/v1'])).size).toBe(first.length)
  })
})

describe('JUnit', () => {
  it('one testcase per rule and entity checked: failures, skipped for not checked and suppressed, passes otherwise', async () => {
    const ignore = await yamlFile('ignore:\n  - rule: guest-agent-missing\n    reason: lab guests have no agent\n    expires: 2099-01-01\n')
    const d = await diagnosisOf('dnsmasq-killed', {ignoreFile: ignore})
    d.notChecked.push({ruleId: 'firewalld-zone-wrong', entity: null, reason: 'probe firewalld unavailable: test'})
    const xml = renderJunit(d)
    const doc = new XMLParser({ignoreAttributes: false, isArray: (name) => name === 'testcase'}).parse(xml)
    const suite = doc.testsuites.testsuite
    const cases = suite.testcase as Record<string, unknown>[]
    expect(cases).toHaveLength(d.checked.length + d.notChecked.length)
    expect(Number(suite['@_tests'])).toBe(cases.length)
    const failures = cases.filter((c) => c.failure)
    expect(failures).toHaveLength(d.findings.length)
    expect(Number(suite['@_failures'])).toBe(d.findings.length)
    const dhcp = cases.find((c) => c['@_classname'] === 'kvmdoctor.dhcp-server-not-running' && c['@_name'] === 'network default')!
    expect((dhcp.failure as Record<string, string>)['@_type']).toBe('critical')
    expect((dhcp.failure as Record<string, string>)['#text']).toContain('fix: virsh net-destroy default && virsh net-start default')
    const skippedMessages = cases.filter((c) => c.skipped).map((c) => (c.skipped as Record<string, string>)['@_message'])
    expect(skippedMessages).toContain('not checked: probe firewalld unavailable: test')
    expect(skippedMessages.some((m) => m.startsWith('suppressed until 2099-01-01: lab guests have no agent'))).toBe(true)
    const passed = cases.filter((c) => !c.failure && !c.skipped)
    expect(passed.some((c) => c['@_classname'] === 'kvmdoctor.ip-forward-disabled')).toBe(true)
  })
})

describe('Prometheus textfile', () => {
  it('exposes findings, counts, probes and the run time in the exposition format', async () => {
    const text = renderPrometheus(await diagnosisOf('dnsmasq-killed'))
    expect(text).toMatch(/^# TYPE kvmdoctor_finding gauge$/m)
    expect(text).toMatch(/^kvmdoctor_finding\{rule="dhcp-server-not-running",severity="critical",entity_kind="network",entity="default",root_cause="true"\} 1$/m)
    expect(text).toMatch(/^kvmdoctor_finding\{rule="apipa-address",.*root_cause="false"\} 1$/m)
    expect(text).toMatch(/^kvmdoctor_findings\{severity="critical"\} 1$/m)
    expect(text).toMatch(/^kvmdoctor_probe_up\{probe="libvirt"\} 1$/m)
    expect(text).toMatch(/^kvmdoctor_last_run_timestamp_seconds \d{10}$/m)
    // every sample line is NAME{labels} VALUE or NAME VALUE
    for (const line of text.trim().split('\n').filter((l) => !l.startsWith('#'))) expect(line).toMatch(/^[a-z_]+(\{([a-z_]+="(?:[^"\\]|\\.)*",?)*\})? -?[\d.e+-]+$/)
  })
})

describe('ignore file', () => {
  const entry = (expires: string, entity = '') => `ignore:\n  - rule: dhcp-server-not-running\n${entity ? `    entity: ${entity}\n` : ''}    reason: planned maintenance of dnsmasq\n    expires: ${expires}\n`

  it('suppresses until its expiry, lists suppressed findings apart and never counts them for the exit code', async () => {
    const file = await yamlFile(entry('2026-12-31', 'default'))
    const d = await diagnosisOf('dnsmasq-killed', {ignoreFile: file}, '2026-12-31T23:00:00Z')
    expect(d.findings.map((f) => f.id)).not.toContain('dhcp-server-not-running')
    expect(d.suppressed.map((s) => s.finding.id)).toEqual(['dhcp-server-not-running'])
    expect(d.findings.map((f) => f.rank)).toEqual(d.findings.map((_, i) => i + 1))
    const r = await kvmdoctor(['--from', fixtureDir('dnsmasq-killed'), '--ignore', file, '--fail-on', 'critical', '--show-suppressed'])
    // the expiry is judged today: this entry is still valid until 2026-12-31
    expect(r.stdout).toContain('Suppressed by the ignore file:')
    expect(r.stdout).toContain('dhcp-server-not-running (network default) [critical]: planned maintenance of dnsmasq — until 2026-12-31')
    expect(r.exitCode).toBe(0)
  })

  it('expired entries stop suppressing and say so', async () => {
    const file = await yamlFile(entry('2026-11-01'))
    const d = await diagnosisOf('dnsmasq-killed', {ignoreFile: file}, '2026-11-28T12:00:00Z')
    expect(d.findings[0].id).toBe('dhcp-server-not-running')
    expect(d.suppressed).toEqual([])
    expect(d.expiredIgnores).toMatchObject([{rule: 'dhcp-server-not-running', expires: '2026-11-01'}])
    const r = await kvmdoctor(['--from', fixtureDir('dnsmasq-killed'), '--ignore', file])
    expect(r.stderr).toContain('ignore entry for dhcp-server-not-running expired on 2026-11-01: it no longer suppresses anything')
    expect(r.exitCode).toBe(1)
  })

  it('an entity-scoped entry leaves other entities alone', async () => {
    const file = await yamlFile(entry('2099-01-01', 'other-network'))
    expect((await diagnosisOf('dnsmasq-killed', {ignoreFile: file})).suppressed).toEqual([])
  })

  it('malformed files are a clear error naming the line', async () => {
    const cases: [string, RegExp][] = [
      ['ignore:\n  - rule: dhcp-server-not-running\n    expires: 2027-01-01\n', /line 2 \(ignore\.0\.reason\)/],
      ['ignore:\n  - rule: no-such-rule\n    reason: because\n    expires: 2027-01-01\n', /unknown rule "no-such-rule"/],
      ['ignore:\n  - rule: link-down\n    reason: because\n    expires: next week\n', /line 4 \(ignore\.0\.expires\): expires must be a date/],
      ['ignore:\n  - rule: [unclosed\n', /line \d+: /],
      ['ignores: []\n', /line 1 \(ignore\): Invalid input: expected array/],
    ]
    for (const [text, message] of cases) {
      const error = await diagnosisOf('healthy', {ignoreFile: await yamlFile(text)}).then(() => undefined, (e: unknown) => e)
      expect(error, text).toBeInstanceOf(UserError)
      expect((error as Error).message, text).toMatch(message)
    }
    const r = await kvmdoctor(['--from', fixtureDir('healthy'), '--ignore', await yamlFile(cases[0][0])])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/^kvmdoctor: ignore file .*config\.yaml, line 2 \(ignore\.0\.reason\)/)
  })

  it('.kvmdoctorignore.yaml in the working directory is picked up by default', async () => {
    const dir = await tmp()
    await writeFile(join(dir, '.kvmdoctorignore.yaml'), entry('2099-01-01'))
    const r = await kvmdoctor(['--from', fixtureDir('dnsmasq-killed'), '--format', 'json'], dir)
    expect(JSON.parse(r.stdout).suppressed.map((s: {id: string}) => s.id)).toEqual(['dhcp-server-not-running'])
  })
})

describe('expectations (kvmdoctor.yaml)', () => {
  const spec = 'networks:\n  - name: default\n    autostart: true\n    minFreeLeases: 253\nguests:\n  - name: kdlab-web01\n    subnet: 192.168.122.0/24\nforwarding: true\n'

  it('passes when the host meets them', async () => {
    const file = await yamlFile('networks:\n  - name: default\n    minFreeLeases: 100\nguests:\n  - name: kdlab-web01\n    subnet: 192.168.122.0/24\nforwarding: true\n')
    const d = await diagnosisOf('healthy', {expectationsFile: file})
    expect(d.findings.filter((f) => f.id.startsWith('expect-'))).toEqual([])
    expect(d.checked.filter((c) => c.ruleId.startsWith('expect-')).map((c) => c.ruleId).sort()).toEqual(['expect-dhcp-free-leases', 'expect-forwarding', 'expect-guest-address', 'expect-network-active'])
  })

  it('each violation is a finding of its own rule, with the fix', async () => {
    const d = await diagnosisOf('ip-forward-off', {expectationsFile: await yamlFile(spec)})
    const ids = d.findings.filter((f) => f.id.startsWith('expect-')).map((f) => f.id).sort()
    expect(ids).toEqual(['expect-dhcp-free-leases', 'expect-forwarding', 'expect-network-autostart'])
    // 253 addresses in the range, web01 holds one lease
    expect(d.findings.find((f) => f.id === 'expect-dhcp-free-leases')!.title).toBe('Network default has 252 free DHCP addresses, 253 expected')
    expect(d.findings.find((f) => f.id === 'expect-network-autostart')!.fix).toEqual(['virsh net-autostart default'])
  })

  it('a guest without an address, an inactive and a missing network', async () => {
    const file = await yamlFile('networks:\n  - name: default\n  - name: storage\nguests:\n  - name: kdlab-web01\n    subnet: 10.0.0.0/8\n')
    const d = await diagnosisOf('network-inactive', {expectationsFile: file})
    const byEntity = d.findings.filter((f) => f.id.startsWith('expect-')).map((f) => `${f.id}:${f.entity.name}`).sort()
    expect(byEntity).toEqual(['expect-guest-address:kdlab-web01', 'expect-network-active:default', 'expect-network-active:storage'])
    expect(d.findings.find((f) => f.entity.name === 'storage')!.title).toBe('Expected network storage is not defined')
  })

  it('malformed files are a clear error naming the line', async () => {
    const cases: [string, RegExp][] = [
      ['networks:\n  - name: default\n    minFreeLeases: many\n', /line 3 \(networks\.0\.minFreeLeases\)/],
      ['guests:\n  - name: web\n    subnet: 192.168.1.0\n', /line 3 \(guests\.0\.subnet\): subnet must be an IPv4 prefix/],
      ['forwarding: yes please\n', /line 1 \(forwarding\)/],
      ['networks: [\n', /line \d+: /],
    ]
    for (const [text, message] of cases) {
      const error = await diagnosisOf('healthy', {expectationsFile: await yamlFile(text)}).then(() => undefined, (e: unknown) => e)
      expect(error, text).toBeInstanceOf(UserError)
      expect((error as Error).message, text).toMatch(message)
    }
    const r = await kvmdoctor(['--from', fixtureDir('healthy'), '--expect', await yamlFile(cases[1][0])])
    expect(r.exitCode).toBe(2)
  })
})
