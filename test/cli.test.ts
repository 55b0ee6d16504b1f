import {mkdtemp, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {fixtureDir, kvmdoctorCli} from './helpers.js'

// The built CLI, as users run it (npm test builds first).
const kvmdoctor = (...args: string[]) => kvmdoctorCli(args)

describe('kvmdoctor diagnose (CLI)', () => {
  it('a healthy snapshot: summary line, no findings, exit 0', async () => {
    // --allow-unchecked: a recording that lacks a probe is exit 4 otherwise (test/gate.test.ts)
    const r = await kvmdoctor('diagnose', '--from', fixtureDir('healthy'), '--allow-unchecked')
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toMatch(/^kvmdoctor \S+ at 2026-.*: 0 critical, 0 high, 0 medium, 0 low, \d+ info; all probes ran$/m)
    expect(r.stdout).toContain('[INFO] guest-agent-missing')
  })

  it('a bare `kvmdoctor` with flags runs diagnose', async () => {
    const r = await kvmdoctor('--from', fixtureDir('ip-forward-off'))
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toContain('1. [CRITICAL] ip-forward-disabled')
  })

  it('exit code follows --fail-on', async () => {
    // --allow-unchecked: rules a recording could not check are exit 4 otherwise (test/gate.test.ts)
    expect((await kvmdoctor('--from', fixtureDir('bridge-down'))).exitCode).toBe(1)
    expect((await kvmdoctor('--from', fixtureDir('bridge-down'), '--fail-on', 'critical', '--allow-unchecked')).exitCode).toBe(0)
    expect((await kvmdoctor('--from', fixtureDir('ip-forward-off'), '--fail-on', 'none')).exitCode).toBe(0)
    expect((await kvmdoctor('--from', fixtureDir('healthy'), '--fail-on', 'low', '--allow-unchecked')).exitCode).toBe(0)
    expect((await kvmdoctor('--from', fixtureDir('healthy'), '--fail-on', 'info')).exitCode).toBe(1)
  })

  it('--format json and --json give the documented shape', async () => {
    for (const flag of [['--format', 'json'], ['--json']]) {
      const r = await kvmdoctor('diagnose', '--from', fixtureDir('network-inactive'), ...flag)
      expect(r.exitCode).toBe(1)
      const report = JSON.parse(r.stdout)
      expect(report).toMatchObject({version: expect.any(String), host: expect.any(String), capturedAt: expect.any(String), notChecked: expect.any(Array)})
      expect(report.findings[0]).toMatchObject({id: 'libvirt-network-inactive', severity: 'critical', rank: 1, entity: {kind: 'network', name: 'default'}, evidence: expect.any(Array), fix: ['virsh net-start default', 'ip link set vnet0 master virbr0 up']})
      expect(report.findings[0].explains[0]).toMatch(/^tap-not-attached@interface:kdlab-web01\//)
      expect(report.findings[1].explainedBy).toBe('libvirt-network-inactive@network:default')
      expect(report.probes.map((p: {id: string}) => p.id)).toContain('libvirt')
    }
  })

  it('--format md renders Markdown with the fix in a code block', async () => {
    const r = await kvmdoctor('diagnose', '--from', fixtureDir('ip-forward-off'), '--format', 'md')
    expect(r.stdout).toContain('## 1. [CRITICAL] IPv4 forwarding is off')
    expect(r.stdout).toContain('```sh\nsysctl -w net.ipv4.ip_forward=1')
  })

  it('bad flags and bad snapshots exit 2 with a clear message and no stack trace', async () => {
    const badFlag = await kvmdoctor('diagnose', '--format', 'yaml')
    expect(badFlag.exitCode).toBe(2)
    expect(badFlag.stderr).toMatch(/Expected --format=yaml to be one of/)
    const missing = await kvmdoctor('diagnose', '--from', '/nonexistent/snap')
    expect(missing.exitCode).toBe(2)
    expect(missing.stderr).toBe('kvmdoctor: /nonexistent/snap: no such file or directory')
    const dir = await mkdtemp(join(tmpdir(), 'kd-bad-'))
    await writeFile(join(dir, 'manifest.json'), '{"format": "kvmdoctor-snapshot"')
    const broken = await kvmdoctor('diagnose', '--from', dir)
    expect(broken.exitCode).toBe(2)
    expect(broken.stderr).toMatch(/manifest.json is not valid JSON/)
    expect(broken.stderr).not.toMatch(/\n\s+at /)
    const json = await kvmdoctor('diagnose', '--from', dir, '--json')
    expect(json.exitCode).toBe(2)
    expect(JSON.parse(json.stdout).error.code).toBe(2)
  })

  it('a live run recorded with --record replays to the same report', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'kd-rec-')), 'snap')
    const live = await kvmdoctor('diagnose', '--record', dir, '--format', 'json', '--timeout', '10')
    // 4: this machine may not let every probe run (no libvirt, no root)
    expect([0, 1, 4]).toContain(live.exitCode)
    const replay = await kvmdoctor('diagnose', '--from', dir, '--format', 'json')
    expect(replay.exitCode).toBe(live.exitCode)
    const strip = (text: string) => {
      const r = JSON.parse(text)
      return {...r, probes: r.probes.map((p: {durationMs: number}) => ({...p, durationMs: 0}))}
    }
    expect(strip(replay.stdout)).toEqual(strip(live.stdout))
  }, 60_000)

  it('kvmdoctor bundle writes a .tar.gz, says where and how big, and diagnose --from reads it back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kd-cli-bundle-'))
    const file = join(dir, 'ticket.tar.gz')
    const made = await kvmdoctor('bundle', '-o', file, '--timeout', '10')
    expect(made.exitCode).toBe(0)
    expect(made.stdout).toMatch(new RegExp(`^bundle written to ${file.replace(/[.]/g, '\\.')} \\(\\d+\\.\\d KiB\\)$`, 'm'))
    const back = await kvmdoctor('diagnose', '--from', file, '--format', 'json')
    expect([0, 1, 4]).toContain(back.exitCode)
    expect(JSON.parse(back.stdout).probes.length).toBeGreaterThan(5)
    const bad = await kvmdoctor('bundle', '-o', '/proc/kd/x.tar.gz')
    expect(bad.exitCode).toBe(2)
    expect(bad.stderr).toMatch(/^kvmdoctor: cannot write the bundle/)
  }, 60_000)
})
