/**
 * The built CLI as people run it (npm test builds first): one spawn per test,
 * output piped, colour and width from the environment.
 */
import {execa} from 'execa'
import {cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {stringWidth} from '../reports/layout.js'
import {ROOT, fixtureDir} from './helpers.js'

// eslint-disable-next-line no-control-regex
const ANSI = /\u001B\[[0-9;]*m/

function cli(args: string[], env: Record<string, string | undefined> = {NO_COLOR: '1'}) {
  return execa(process.execPath, [join(ROOT, 'bin/run.js'), ...args], {reject: false, stdin: 'ignore', cwd: ROOT, env: {FORCE_COLOR: undefined, NO_COLOR: undefined, COLUMNS: undefined, ...env}, extendEnv: true})
}

const from = (name: string) => ['--from', fixtureDir(name)]

describe('conflicting and mistyped input exits 2 and says what was meant', () => {
  it('--json with --format md', async () => {
    const r = await cli(['diagnose', ...from('healthy'), '--json', '--format', 'md'])
    expect(r.exitCode).toBe(2)
    expect(JSON.parse(r.stdout)).toEqual({error: {code: 2, message: expect.stringContaining('--json=true cannot also be provided when using --format')}})
  })

  it('--json with -o writes nothing', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'kvmdoctor-cli-')), 'report.md')
    const r = await cli(['diagnose', ...from('healthy'), '--json', '-o', out])
    expect(r.exitCode).toBe(2)
    expect(existsSync(out)).toBe(false)
  })

  it('a mistyped command', async () => {
    const r = await cli(['diagnos', ...from('healthy')])
    expect(r.exitCode).toBe(2)
    // oclif wraps error lines ("›" continues them).
    expect(r.stderr.replace(/\s*\n ›\s+/g, ' ')).toContain('"diagnos" is not a kvmdoctor command. Did you mean "kvmdoctor diagnose"?')
  })

  it('a mistyped flag', async () => {
    const r = await cli(['topology', ...from('healthy'), '--jsno'])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('Nonexistent flag: --jsno')
    expect(r.stderr).toContain('Did you mean --json (not --jsno)?')
  })
})

describe('help and version everywhere', () => {
  it('-v after a command', async () => {
    const r = await cli(['ip', '-v'])
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toMatch(/^kvmdoctor\/\d+\.\d+\.\d+ /)
  })

  it('kvmdoctor help COMMAND shows its flags, the global -h and -v, and the alias', async () => {
    const r = await cli(['help', 'topology'])
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toContain('--from=<value>')
    expect(r.stdout).toMatch(/-h, --help +Show this help\./)
    expect(r.stdout).toMatch(/-v, --version +Show the kvmdoctor version\./)
    expect(r.stdout).toMatch(/ALIASES\s+\$ kvmdoctor topo/)
  })
})

describe('topology', () => {
  it('topo --from draws the tree, failing elements marked', async () => {
    const r = await cli(['topo', ...from('dnsmasq-killed')])
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toMatch(/^└─ ✗ network default {2}nat {2}192\.168\.122\.0\/24 {2}DHCP 192\.168\.122\.2-192\.168\.122\.254 {2}no dnsmasq .*1\.\u00a0dhcp-server-not-running$/m)
    expect(r.stdout).toMatch(/^ {6}└─ ✗ tap vnet\d+ → kdlab-apipa01 {2}running {2}52:54:00:6b:64:02 {2}169\.254\.\d+\.\d+ {2}APIPA {2}2\.\u00a0apipa-address, 3\.\u00a0dhcp-no-offer$/m)
  })

  it('a picture without libvirt is partial: it says so and exits 4 (not checked) in every mode, 0 with --allow-unchecked', async () => {
    // The healthy host as read while libvirtd was down: every virsh call fails to connect.
    const dir = mkdtempSync(join(tmpdir(), 'kvmdoctor-cli-'))
    cpSync(fixtureDir('healthy'), dir, {recursive: true})
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))
    for (const c of manifest.captures.filter((x: {argv?: string[]}) => x.argv?.[0] === 'virsh')) {
      Object.assign(c, {exitCode: 1, error: 'virsh exited with status 1', errorCode: 'exit-status', stderr: 'error: failed to connect to the hypervisor\n', bytes: 0})
      writeFileSync(join(dir, c.file), '')
    }
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest))
    const text = await cli(['topology', '--from', dir])
    expect(text.exitCode).toBe(4)
    expect(text.stdout).toMatch(/^│ {2}partial: libvirt's networks and guests not read \(libvirt: /m)
    expect(text.stderr).toMatch(/^kvmdoctor: the topology is partial: libvirt's networks and guests not read .*Exit 4; --allow-unchecked exits 0$/m)
    const json = await cli(['topology', '--from', dir, '--json'])
    expect(json.exitCode).toBe(4)
    expect(JSON.parse(json.stdout).partial).toEqual([expect.stringMatching(/^libvirt's networks and guests not read/), expect.stringMatching(/^guest flows not followed/)])
    expect((await cli(['topology', '--from', dir, '--allow-unchecked'])).exitCode).toBe(0)
    // The whole recording draws a whole picture.
    const whole = await cli(['topology', ...from('healthy'), '--json'])
    expect(whole.exitCode).toBe(0)
    expect(JSON.parse(whole.stdout).partial).toBeUndefined()
  })

  it('--json gives the typed topology', async () => {
    const r = await cli(['topology', ...from('tap-detached'), '--json'])
    expect(r.exitCode).toBe(0)
    const t = JSON.parse(r.stdout)
    expect(t).toMatchObject({topologyVersion: 1, host: {name: 'vm'}, networks: [{name: 'default'}]})
    expect(t.bridges[0].taps[0]).toMatchObject({guest: 'kdlab-web01', master: null, health: 'fail', findings: [{id: 'tap-not-attached', rank: 1}]})
  })
})

describe('reports', () => {
  it('--format html -o writes one self-contained page', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'kvmdoctor-cli-')), 'report.html')
    const r = await cli(['diagnose', ...from('flushed-and-forward-off'), '--format', 'html', '-o', out])
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(/^kvmdoctor vm at .*: 3 critical/)
    const page = readFileSync(out, 'utf8')
    expect(page).toMatch(/^<!doctype html>/)
    expect(page).toContain('<svg xmlns="http://www.w3.org/2000/svg" class="topology"')
  })

  it('--checks --json adds the checklist to the JSON report', async () => {
    // The healthy recording predates the libvirt-hooks probe: one rule is not checked, which the gate lets pass only when told.
    const r = await cli(['diagnose', ...from('healthy'), '--checks', '--json', '--allow-unchecked'])
    expect(r.exitCode).toBe(0)
    const report = JSON.parse(r.stdout)
    expect(report.checks).toContainEqual({ruleId: 'ip-forward-disabled', status: 'PASS', detail: 'host vm', items: [{entity: 'host vm', status: 'PASS'}]})
  })

  it('FORCE_COLOR colours piped output', async () => {
    const forced = await cli(['diagnose', ...from('ip-forward-off')], {FORCE_COLOR: '1'})
    expect(forced.stdout).toMatch(ANSI)
  })
  it('--no-color wins over FORCE_COLOR', async () => {
    const off = await cli(['diagnose', ...from('ip-forward-off'), '--no-color'], {FORCE_COLOR: '1'})
    expect(off.stdout).not.toMatch(ANSI)
    expect(off.stdout.split('\n')[0]).toBe('✗ CRITICAL  vm: 1 root cause (1 critical, 1 info); libvirt-hooks could not be read; 1 rule not checked')
  })
})

describe('tables fit the width', () => {
  it('ip at COLUMNS=80 drops and folds columns, and says so', async () => {
    const r = await cli(['ip', ...from('static-ip-collision')], {NO_COLOR: '1', COLUMNS: '80'})
    // Two guests in conflict: not ok.
    expect(r.exitCode).toBe(1)
    for (const line of r.stdout.split('\n')) expect(stringWidth(line), line).toBeLessThanOrEqual(80)
    expect(r.stdout.split('\n')[0]).toMatch(/^DOMAIN +MAC +IPV4 +VERDICT$/)
    expect(r.stdout.replace(/\n {6}/g, ' ')).toMatch(/^note: STATE, IFACE, NETWORK, IPV6, LEASE ENDS left out to fit 80 columns; --wide shows every column$/m)
  })

  it('ip --wide shows every column', async () => {
    const r = await cli(['ip', ...from('static-ip-collision'), '--wide'], {NO_COLOR: '1', COLUMNS: '80'})
    expect(r.stdout.split('\n')[0]).toMatch(/^DOMAIN +STATE +IFACE +MAC +NETWORK +IPV4 +IPV6 +LEASE ENDS +VERDICT$/)
  })

  it('rules at COLUMNS=80', async () => {
    const r = await cli(['rules'], {NO_COLOR: '1', COLUMNS: '80'})
    expect(r.exitCode).toBe(0)
    for (const line of r.stdout.split('\n')) expect(stringWidth(line), line).toBeLessThanOrEqual(80)
    expect(r.stdout).toMatch(/^ip-forward-disabled +critical +The kernel does not route IPv4$/m)
  })
})
