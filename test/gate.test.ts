import {watch} from 'node:fs'
import {mkdir, mkdtemp, readFile, readdir, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {writeFileAtomic} from '../src/core/atomic-write.js'
import type {DiagnosisRun as Diagnosis} from '../src/core/diagnose.js'
import {runDiagnose} from '../src/core/diagnose-service.js'
import {EXIT, UserError} from '../src/core/errors.js'
import {exitCodeFor, gateDecision, worstSeverityOf} from '../src/core/gate.js'
import {NO_CONFIG_DIR, ROOT, fixtureDir, kvmdoctorCli} from './helpers.js'
import {withoutCaptures} from './tools.js'
import {alteredFixture} from './hostile/helpers.js'

const kvmdoctor = kvmdoctorCli
const tmp = () => mkdtemp(join(tmpdir(), 'kd-gate-'))
const base = {timeoutMs: 5000, options: {active: false, libvirtUri: 'qemu:///system'}, version: 'test'}
const at = (iso: string) => ({now: () => new Date(iso), configDir: NO_CONFIG_DIR})
/** As if every rule had been checked: the recordings predate some probes (ip-rules). */
const everythingChecked = (d: Diagnosis): Diagnosis => ({...d, notChecked: []})
const diagnosisOf = (from: string, extra: Partial<Parameters<typeof runDiagnose>[0]> = {}, now = '2026-11-28T12:00:00Z') => runDiagnose({...base, from: fixtureDir(from), ...extra}, at(now))

async function yamlFile(text: string): Promise<string> {
  const file = join(await tmp(), 'config.yaml')
  await writeFile(file, text)
  return file
}

describe('exit codes', () => {
  // In process: the gate's decision on real recordings, one fact changed at a time.
  const unavailable = (d: Diagnosis, ruleId: string, severityOf = 'probe x unavailable: test'): Diagnosis => ({...d, notChecked: [...d.notChecked, {ruleId, entity: null, reason: severityOf}]})

  it('0 clean, 1 findings at or above --fail-on, suppressed never count', async () => {
    const healthy = everythingChecked(await diagnosisOf('healthy'))
    expect(exitCodeFor(healthy, 'high')).toBe(EXIT.clean)
    expect(exitCodeFor(healthy, 'info')).toBe(EXIT.findings) // guest-agent-missing is info
    const mtu = everythingChecked(await diagnosisOf('mtu-mismatch'))
    expect(exitCodeFor(mtu, 'high')).toBe(EXIT.clean)
    expect(exitCodeFor(mtu, 'medium')).toBe(EXIT.findings)
    const flushed = everythingChecked(await diagnosisOf('firewall-flushed'))
    expect(exitCodeFor(flushed, 'critical')).toBe(EXIT.findings)
    expect(exitCodeFor(flushed, 'none')).toBe(EXIT.clean)
  })

  it('4 when a rule at or above --fail-on was not checked and nothing failed; --allow-unchecked passes; below the threshold it does not matter', async () => {
    const healthy = everythingChecked(await diagnosisOf('healthy'))
    const blind = unavailable(healthy, 'iptables-forward-drop') // critical
    expect(gateDecision(blind, 'high')).toMatchObject({verdict: 'not-checked', exitCode: EXIT.unchecked, unchecked: [{ruleId: 'iptables-forward-drop'}]})
    expect(exitCodeFor(blind, 'critical')).toBe(EXIT.unchecked)
    expect(exitCodeFor(blind, 'high', true)).toBe(EXIT.clean)
    expect(exitCodeFor(blind, 'none')).toBe(EXIT.clean)
    // mtu-mismatch is medium: not checking it cannot hide a high finding
    const mtuBlind = unavailable(healthy, 'mtu-mismatch')
    expect(exitCodeFor(mtuBlind, 'high')).toBe(EXIT.clean)
    expect(exitCodeFor(mtuBlind, 'medium')).toBe(EXIT.unchecked)
    // bridge-netfilter-enabled is medium, high when it drops: it counts at its worst
    expect(worstSeverityOf('bridge-netfilter-enabled')).toBe('high')
    expect(exitCodeFor(unavailable(healthy, 'bridge-netfilter-enabled'), 'high')).toBe(EXIT.unchecked)
    // a finding that fails the gate is the stronger answer
    const flushed = unavailable(everythingChecked(await diagnosisOf('firewall-flushed')), 'iptables-forward-drop')
    expect(exitCodeFor(flushed, 'high')).toBe(EXIT.findings)
  })

  it('a run without privileges (libvirt unreadable) does not pass: exit 4 from the CLI, with the reason on stderr', async () => {
    const dir = await withoutCaptures('healthy', (c) => c.argv?.[0] === 'virsh' || (c.path ?? '').startsWith('/etc/libvirt') || (c.path ?? '').startsWith('/run/libvirt'))
    const r = await kvmdoctor(['--from', dir, '--fail-on', 'high'])
    expect(r.exitCode).toBe(EXIT.unchecked)
    expect(r.stderr).toMatch(/^kvmdoctor: not checked: \d+ rules? at or above --fail-on high could not be checked \(.*\): .*libvirt.*exit 4; --allow-unchecked passes it anyway\.$/m)
  })

  it('--allow-unchecked turns that 4 into 0 (CLI)', async () => {
    const dir = await withoutCaptures('healthy', (c) => c.argv?.[0] === 'virsh' || (c.path ?? '').startsWith('/etc/libvirt') || (c.path ?? '').startsWith('/run/libvirt'))
    expect((await kvmdoctor(['--from', dir, '--allow-unchecked'])).exitCode).toBe(EXIT.clean)
  })

  it('--json carries the decision (gate) and the same exit code', async () => {
    const dir = await withoutCaptures('healthy', (c) => c.argv?.[0] === 'virsh')
    const r = await kvmdoctor(['--from', dir, '--json'])
    expect(r.exitCode).toBe(EXIT.unchecked)
    const gate = JSON.parse(r.stdout).gate
    expect(gate).toMatchObject({failOn: 'high', allowUnchecked: false, verdict: 'not-checked', exitCode: 4, blocking: 0})
    expect(gate.unchecked.map((n: {ruleId: string}) => n.ruleId)).toContain('libvirt-network-inactive')
  })

  it('1 from the CLI for a finding at or above --fail-on', async () => {
    expect((await kvmdoctor(['--from', fixtureDir('firewall-flushed'), '--fail-on', 'critical'])).exitCode).toBe(EXIT.findings)
  })

  it('2 for a bad flag value (every command and format: test/gate-usage.test.ts)', async () => {
    expect((await kvmdoctor(['--fail-on', 'severe'])).exitCode).toBe(EXIT.usage)
  })

  it('2 for an ignore file that does not exist', async () => {
    expect((await kvmdoctor(['--from', fixtureDir('healthy'), '--ignore', '/nonexistent.yaml'])).exitCode).toBe(EXIT.usage)
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

  it('replaces the file by rename: a reader never sees half a report, and no temporary file stays behind', async () => {
    const dir = await tmp()
    const file = join(dir, 'kvmdoctor.prom')
    await writeFile(file, 'old\n')
    const r = await kvmdoctor(['--from', fixtureDir('dnsmasq-killed'), '--format', 'prometheus', '--fail-on', 'none', '--output', file])
    expect(r.exitCode).toBe(0)
    expect(await readFile(file, 'utf8')).toMatch(/^# HELP kvmdoctor_finding /)
    expect(await readdir(dir)).toEqual(['kvmdoctor.prom'])
  })

  it('an unwritable target is exit 2 and leaves nothing behind', async () => {
    const dir = await tmp()
    const r = await kvmdoctor(['--from', fixtureDir('healthy'), '--format', 'prometheus', '--output', join(dir, 'missing-dir', 'x.prom')])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/^kvmdoctor: cannot write the report to .*x\.prom: .*missing-dir is not a directory$/m)
    expect(await readdir(dir)).toEqual([])
  })
})

describe('writeFileAtomic', () => {
  it('writes through a temporary file in the same directory, renamed over the target', async () => {
    const dir = await tmp()
    const target = join(dir, 'a.prom')
    await writeFile(target, 'before\n')
    const seen: string[] = []
    const watcher = watch(dir, (_event, name) => name && seen.push(String(name)))
    await writeFileAtomic(target, 'after\n')
    await new Promise((resolve) => setTimeout(resolve, 50))
    watcher.close()
    expect(await readFile(target, 'utf8')).toBe('after\n')
    expect(seen.some((n) => /^\.a\.prom\.\d+\.[0-9a-f]{8}\.tmp$/.test(n))).toBe(true)
    expect(await readdir(dir)).toEqual(['a.prom'])
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
    const r = await kvmdoctor(['--from', fixtureDir('dnsmasq-killed'), '--ignore', file, '--fail-on', 'critical', '--show-suppressed', '--allow-unchecked'])
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

  it('an entry naming the id a rule was known by still suppresses it (forward-policy-drop, now iptables-forward-drop)', async () => {
    const file = await yamlFile('ignore:\n  - rule: forward-policy-drop\n    reason: accepted until the firewall change\n    expires: 2099-01-01\n')
    const d = await diagnosisOf('docker-user-drop', {ignoreFile: file})
    expect(d.suppressed.map((s) => s.finding.id)).toEqual(['iptables-forward-drop'])
    expect(d.findings.map((f) => f.id)).not.toContain('iptables-forward-drop')
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

  it('ignore.yaml in $XDG_CONFIG_HOME/kvmdoctor is picked up by default', async () => {
    const config = await tmp()
    await mkdir(join(config, 'kvmdoctor'))
    await writeFile(join(config, 'kvmdoctor', 'ignore.yaml'), entry('2099-01-01'))
    const r = await kvmdoctor(['--from', fixtureDir('dnsmasq-killed'), '--format', 'json'], ROOT, {XDG_CONFIG_HOME: config})
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

  it('forwarding: a host that enables it per device meets it when its routed bridges forward; when one does not, the fix sets that bridge\'s own key, never ip_forward (which turns on every device, the uplink included)', async () => {
    const file = await yamlFile('forwarding: true\n')
    // Lab: ip-forward-per-device (ip_forward 0, virbr0 and the uplink set back to 1): the guests measured all ok.
    const met = await diagnosisOf('ip-forward-per-device', {expectationsFile: file})
    expect(met.findings.filter((f) => f.id === 'expect-forwarding')).toEqual([])
    expect(met.checked.map((c) => c.ruleId)).toContain('expect-forwarding')
    // The same host with virbr0's own key put back to 0.
    const {diagnose} = await import('../src/core/diagnose.js')
    const {loadExpectations} = await import('../src/core/expectations.js')
    const {runner, options} = await alteredFixture('ip-forward-per-device', {readFile: (c) => (c.path === '/proc/sys/net/ipv4/conf/virbr0/forwarding' ? {...c, output: '0\n'} : c)})
    const unmet = await diagnose({runner, options, version: 'test', expectations: await loadExpectations(file)})
    const finding = unmet.findings.find((f) => f.id === 'expect-forwarding')!
    expect(finding.fix).toEqual(['sysctl -w net.ipv4.conf.virbr0.forwarding=1', expect.stringContaining('net.ipv4.conf.virbr0.forwarding = 1')])
    expect(finding.fix.join('\n')).not.toMatch(/ip_forward/)
    // Without the expectation, the one finding is the datapath's, naming that key; none turns ip_forward on.
    expect(unmet.findings.flatMap((f) => f.fix).filter((l) => /ip_forward/.test(l))).toEqual([])
    expect(unmet.findings.filter((f) => f.id !== 'expect-forwarding').flatMap((f) => f.fix)).toContain('sysctl -w net.ipv4.conf.virbr0.forwarding=1')
    // A host that does not forward per device still gets ip_forward.
    const off = await diagnosisOf('ip-forward-off', {expectationsFile: file})
    expect(off.findings.find((f) => f.id === 'expect-forwarding')!.fix[0]).toBe('sysctl -w net.ipv4.ip_forward=1')
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
