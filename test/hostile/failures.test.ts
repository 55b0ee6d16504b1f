/**
 * Item 3: no failure reads as a fact or as health. A command that hangs, fails, floods past
 * the cap or prints garbage yields a capture with `error`, so its probe is unavailable; a lease
 * file cut at the cap makes the leases probe degraded and says so; a run that could check
 * nothing decisive exits 4.
 */
import {cp, readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {diagnose} from '../../src/core/diagnose.js'
import {LiveRunner} from '../../src/core/live-runner.js'
import {fixtureDir} from '../helpers.js'
import {alteredFixture, cli, fakeBin, scratch} from './helpers.js'

const script = async (body: string) => join(await fakeBin({probe: body}), 'probe')

/** Running, as opposed to gone or a zombie (this container's init may not reap orphans). */
const alive = async (pid: number) => {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
  return stat !== '' && !/^\d+ \(.*\) Z/.test(stat)
}

describe('the live runner: every failure sets error', () => {
  const runner = new LiveRunner({timeoutMs: 1500, killAfterMs: 300, maxOutputBytes: 64 * 1024})

  it('a command that hangs and ignores SIGTERM: killed, timeout', async () => {
    const started = performance.now()
    const c = await runner.run([await script("trap '' TERM; /bin/sleep 30")])
    expect(c).toMatchObject({timedOut: true, errorCode: 'timeout'})
    expect(c.error).toMatch(/timed out after 1500 ms/)
    expect(performance.now() - started).toBeLessThan(10_000)
  })

  it('a command that exits non-zero after more output than the cap: an error, not a truncated success', async () => {
    const c = await runner.run([await script('/usr/bin/yes libvirt-rule | /usr/bin/head -c 200000; exit 3')])
    expect(c.truncated).toBe(true)
    expect(c.error).toBeDefined()
    expect(c.output.length).toBeLessThanOrEqual(64 * 1024)
  })

  it('a command that floods without end: stopped at the cap, too-large', async () => {
    const started = performance.now()
    const c = await runner.run([await script('/usr/bin/yes flood')])
    expect(c).toMatchObject({truncated: true, errorCode: 'too-large', timedOut: false})
    expect(c.error).toMatch(/output over the 64\.0 KiB cap, stopped/)
    expect(performance.now() - started).toBeLessThan(10_000)
  })

  it('exit 0 with more output than the cap is not a success either: a prefix is not the data', async () => {
    const c = await runner.run([await script('/usr/bin/yes x | /usr/bin/head -c 100000; exit 0')])
    expect(c).toMatchObject({truncated: true, errorCode: 'too-large'})
  })

  it('a descendant holding the pipe does not keep the run waiting, and is stopped', async () => {
    const dir = await scratch()
    const started = performance.now()
    const c = await runner.run([await script(`/bin/sleep 60 & echo $! > ${dir}/pid; echo done`)])
    expect(performance.now() - started).toBeLessThan(1400)
    expect(c).toMatchObject({exitCode: 0, output: 'done\n', timedOut: false})
    expect(c.error).toBeUndefined()
    const pid = Number(await readFile(join(dir, 'pid'), 'utf8'))
    await new Promise((r) => setTimeout(r, 200))
    expect(await alive(pid)).toBe(false)
  })

  it('a file that is a FIFO or a device is not read', async () => {
    expect(await runner.readFile('/dev/zero')).toMatchObject({errorCode: 'failed', error: '/dev/zero: not a regular file'})
  })
})

describe('diagnose on failed data', () => {
  const iptablesHangs = () =>
    alteredFixture('healthy', {
      run: (c) => (c.argv[0] === 'iptables-save' ? {...c, output: '', exitCode: null, timedOut: true, error: 'iptables-save: timed out after 5000 ms', errorCode: 'timeout' as const} : c),
    })

  it('an iptables-save that hangs: the netfilter probe is unavailable, with the reason', async () => {
    const {runner, options} = await iptablesHangs()
    const d = await diagnose({runner, options, version: 'test'})
    expect(d.probes.find((p) => p.id === 'netfilter')).toMatchObject({ok: false, error: 'iptables-save: timed out after 5000 ms'})
    expect(d.notChecked.map((n) => n.ruleId)).toEqual(expect.arrayContaining(['iptables-forward-drop', 'firewall-backend-mismatch', 'dhcp-checksum-rule-missing']))
  })

  // libvirt's rules are judged only from the one packet filter probe: a failed iptables-save leaves them not checked.
  it('an iptables-save that hangs gives no CRITICAL libvirt-firewall-rules-missing: the rule is not checked', async () => {
    const {runner, options} = await iptablesHangs()
    const d = await diagnose({runner, options, version: 'test'})
    expect(d.findings.map((f) => f.id)).not.toContain('libvirt-firewall-rules-missing')
    expect(d.notChecked.map((n) => n.ruleId)).toContain('libvirt-firewall-rules-missing')
  })

  it('garbage from a command makes its probe unavailable, not empty', async () => {
    const {runner, options} = await alteredFixture('healthy', {run: (c) => (c.argv[0] === 'iptables-save' ? {...c, output: '\u0000\u0001garbage\u00ff\n*filter\n-Z bogus\n'} : c)})
    const d = await diagnose({runner, options, version: 'test'})
    expect(d.probes.find((p) => p.id === 'netfilter')).toMatchObject({ok: false, error: expect.stringMatching(/unparseable output/)})
  })

  it('a lease status file cut at the cap: leases is degraded, naming the file and what was read', async () => {
    // Cut inside the second lease (its order changes from one recording to the next).
    const cut = (text: string) => text.slice(0, text.indexOf('"ip-address"', text.indexOf('"ip-address"') + 1))
    const {runner, options} = await alteredFixture('dhcp-range-exhausted', {
      readFile: (c) => (c.path.endsWith('kdlab-tiny.status') ? {...c, output: cut(c.output), truncated: true, error: `${c.path}: larger than the 32 MiB cap (only its start was read)`, errorCode: 'too-large' as const} : c),
    })
    const d = await diagnose({runner, options, version: 'test'})
    expect(d.probes.find((p) => p.id === 'leases')).toMatchObject({ok: true, degraded: ['/var/lib/libvirt/dnsmasq/kdlab-tiny.status: cut at the size cap, only the first 1 leases were read']})
  })

  // Needs the engine: rules reading a degraded probe should be "not checked" (today they pass on the part read).
  it('a lease status file cut at the cap: the range rules on that network are not checked, not passed', async () => {
    // Cut inside the second lease (its order changes from one recording to the next).
    const cut = (text: string) => text.slice(0, text.indexOf('"ip-address"', text.indexOf('"ip-address"') + 1))
    const {runner, options} = await alteredFixture('dhcp-range-exhausted', {
      readFile: (c) => (c.path.endsWith('kdlab-tiny.status') ? {...c, output: cut(c.output), truncated: true, error: 'cut', errorCode: 'too-large' as const} : c),
    })
    const d = await diagnose({runner, options, version: 'test'})
    expect(d.notChecked.map((n) => n.ruleId)).toContain('dhcp-range-exhausted')
  })
})

describe('the CLI on failed data', () => {
  it('a cut lease file is reported on stderr and in the JSON probe list', async () => {
    const dir = join(await scratch(), 'snap')
    await cp(fixtureDir('dhcp-range-exhausted'), dir, {recursive: true})
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'))
    const entry = manifest.captures.find((c: {path?: string}) => c.path === '/var/lib/libvirt/dnsmasq/kdlab-tiny.status')
    Object.assign(entry, {truncated: true, error: `${entry.path}: larger than the 32 MiB cap (only its start was read)`, errorCode: 'too-large'})
    const text = await readFile(join(dir, entry.file), 'utf8')
    await writeFile(join(dir, entry.file), text.slice(0, text.indexOf('"ip-address"', text.indexOf('"ip-address"') + 1)))
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest))
    const r = await cli(['diagnose', '--from', dir, '--json'])
    expect(r.stderr).toContain('kvmdoctor: warning: probe leases ran on partial data: /var/lib/libvirt/dnsmasq/kdlab-tiny.status: cut at the size cap, only the first 1 leases were read')
    expect(JSON.parse(r.stdout).probes.find((p: {id: string}) => p.id === 'leases').degraded).toHaveLength(1)
  })

  it('virsh exiting non-zero after more than 32 MiB: libvirt unavailable, nothing passes, exit 4', async () => {
    // ps shows a dhcpd: this host's own /etc/dhcp/dhcpd.conf must not decide the exit code.
    const bin = await fakeBin({virsh: '/usr/bin/yes "default active yes yes" | /usr/bin/head -c 34603008; exit 1', ps: "echo '  1 /usr/sbin/dhcpd -4 -q'"})
    const r = await cli(['diagnose', '--json', '--timeout', '20'], {bin})
    expect(r.exitCode).toBe(4)
    const report = JSON.parse(r.stdout)
    expect(report.probes.find((p: {id: string}) => p.id === 'libvirt')).toMatchObject({ok: false, error: expect.stringMatching(/virsh .*(output over the 32 MiB cap|exit 1)/)})
    expect(report.notChecked.map((n: {ruleId: string}) => n.ruleId)).toEqual(expect.arrayContaining(['libvirt-network-inactive', 'tap-not-attached', 'ip-forward-disabled']))
    expect(r.stderr).toMatch(/kvmdoctor: not checked: .*probe libvirt unavailable/)
  })

  it('every command timing out: exit 4, not 0', async () => {
    const bin = await fakeBin({}, '/bin/sleep 30')
    const r = await cli(['diagnose', '--timeout', '1'], {bin})
    expect(r.exitCode).toBe(4)
    expect(r.stdout).toMatch(/\d+ probes? unavailable: .*libvirt/)
    expect(r.stdout).toMatch(/timed out after 1000 ms/)
    expect(r.stderr).toMatch(/not checked: .*exit 4/)
  })
})
