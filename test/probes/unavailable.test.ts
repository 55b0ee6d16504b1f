import {describe, expect, it} from 'vitest'
import {ALL_PROBES} from '../../probes/index.js'
import type {CommandCapture, Runner} from '../../src/core/runner.js'
import {runProbes} from '../../src/core/probe-runner.js'

/** A host where every command answers with `answer(argv)` and every file is missing. */
function host(answer: (argv: string[]) => Partial<CommandCapture>): Runner {
  return {
    capturedAt: new Date('2026-11-28T10:00:00Z'),
    run: async (argv) => ({kind: 'command', argv, output: '', stderr: '', exitCode: 0, durationMs: 0, timedOut: false, truncated: false, ...answer(argv)}),
    readFile: async (path) => ({kind: 'file', path, output: '', durationMs: 0, truncated: false, error: `${path}: no such file or directory`, errorCode: 'not-found'}),
    listDir: async (path) => ({kind: 'dir', path, output: '', durationMs: 0, truncated: false, error: `${path}: no such file or directory`, errorCode: 'not-found'}),
  }
}
const options = {active: false, libvirtUri: 'qemu:///system'}

describe('probes on a broken or bare host degrade, never crash', () => {
  it('libvirt not installed', async () => {
    const r = await runProbes(ALL_PROBES, host((argv) => (argv[0] === 'virsh' ? {exitCode: null, error: 'virsh: command not found', errorCode: 'not-found'} : {})), options)
    expect(r.libvirt).toMatchObject({ok: false, error: 'virsh is not installed (libvirt-clients)'})
  })

  it('libvirtd down', async () => {
    const down = {exitCode: 1, stderr: "error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory\n", error: 'virsh: exit 1', errorCode: 'exit-status' as const}
    const r = await runProbes(ALL_PROBES, host((argv) => (argv[0] === 'virsh' ? down : {})), options)
    expect(r.libvirt.ok).toBe(false)
    expect(!r.libvirt.ok && r.libvirt.error).toMatch(/libvirtd is not reachable at qemu:\/\/\/system: .*libvirt-sock/)
  })

  it('garbage output makes the probe unavailable as unparseable, naming the command', async () => {
    const r = await runProbes(ALL_PROBES, host(() => ({output: '<html>garbage</html>'})), options)
    expect(r.links).toMatchObject({ok: false, error: expect.stringMatching(/^unparseable output: ip -j -d addr show: output is not valid JSON/)})
    expect(r.iptables).toMatchObject({ok: false, error: expect.stringMatching(/^unparseable output: iptables-save line 1/)})
  })

  it('permission denied and missing files: unavailable with the reason; sysctls absent are null', async () => {
    const r = await runProbes(ALL_PROBES, host((argv) => (argv[0] === 'iptables-save' ? {exitCode: 4, error: 'iptables-save: exit 4: Permission denied (you must be root)', errorCode: 'permission-denied'} : {output: '[]'})), options)
    expect(r.iptables).toMatchObject({ok: false, error: expect.stringContaining('Permission denied')})
    expect(r.host).toMatchObject({ok: false, error: '/proc/sys/kernel/hostname: no such file or directory'})
    expect(r.sysctl.ok && (r.sysctl.data as {values: Record<string, null>}).values['net.ipv4.ip_forward']).toBeNull()
    expect(r['arp-scan']).toMatchObject({ok: false, skipped: true})
    expect(r.leases).toMatchObject({ok: true, data: {leases: [], files: []}})
  })
})

describe('a guest undefined while the probe runs', () => {
  it('is left out; the libvirt probe still succeeds', async () => {
    const gone = "error: failed to get domain 'vanished'\n"
    const r = await runProbes(ALL_PROBES, host((argv) => {
      if (argv.includes('net-list')) return {output: ' Name   State   Autostart   Persistent\n----------------------------------------\n'}
      if (argv.includes('list') && argv.includes('--name')) return {output: '\n'}
      if (argv.includes('list')) return {output: ' Id   Name       State\n---------------------------\n -    vanished   shut off\n 3    kept       running\n'}
      if (argv.includes('dumpxml') && argv.includes('vanished')) return {exitCode: 1, stderr: gone, error: 'virsh: exit 1', errorCode: 'exit-status'}
      if (argv.includes('dumpxml')) return {output: "<domain type='kvm'><name>kept</name><devices/></domain>"}
      return {output: '[]'}
    }), options)
    expect(r.libvirt.ok).toBe(true)
    expect(r.libvirt.ok && (r.libvirt.data as {domains: {name: string}[]}).domains.map((d) => d.name)).toEqual(['kept'])
  })
})
