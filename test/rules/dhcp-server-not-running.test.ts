import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import {ALL_PROBES} from '../../probes/index.js'
import {type ProcessFacts, frozenV1, frozenV2, parseFreezerCgroups, parseStoppedProcesses} from '../../probes/processes.js'
import {runProbes} from '../../src/core/probe-runner.js'
import {ReplayRunner} from '../../src/core/snapshot.js'
import type {Runner} from '../../src/lib/runner.js'
import type {Flow} from '../../src/datapath/flows.js'
import rule from '../../rules/dhcp-server-not-running.js'
import {type Facts, alter, factsOf, fire, fixtureDir, model, replayOptions, unavailable} from '../helpers.js'

describe('dhcp-server-not-running', () => {
  it("fires when libvirt's dnsmasq is gone (lab: killed)", async () => {
    const {names, evaluation} = await fire(rule, await factsOf('dnsmasq-killed'))
    expect(names).toEqual(['default'])
    expect(evaluation.findings[0].evidence).toContain('no process with --conf-file=/var/lib/libvirt/dnsmasq/default.conf')
  })
  it('fires for an external ISC dhcpd that is configured but not running (lab: the LAN dhcpd stopped)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('dhcpd-stopped'))
    expect(names).toEqual(['isc-dhcp-server'])
    expect(evaluation.findings[0].evidence).toContain('no dhcpd process runs, yet /etc/dhcp/dhcpd.conf declares 10.77.0.0/24')
    expect(evaluation.findings[0].blastRadius).toBe(1)
  })
  it('stays silent while that dhcpd runs (lab: bridged-healthy)', async () => {
    expect((await fire(rule, await factsOf('bridged-healthy'))).names).toEqual([])
  })
  it('stays silent on the healthy host', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it('stays silent for a network without a DHCP range (static addressing)', async () => {
    const facts = alter<LibvirtFacts>(await factsOf('dnsmasq-killed'), 'libvirt', (l) => l.networks.forEach((n) => n.ips.forEach((ip) => (ip.dhcpRanges = []))))
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('is not checked when the process list is unavailable', async () => {
    const {names, evaluation} = await fire(rule, unavailable(await factsOf('dnsmasq-killed'), 'processes'))
    expect(names).toEqual([])
    expect(evaluation.notChecked).toHaveLength(1)
  })

  // Lab dnsmasq-stopped: kill -STOP on both of the network's dnsmasq processes (15937 holds the sockets, 15938 runs the
  // lease script). The guests' DHCP and DNS failed; kvmdoctor saw the process and its sockets and passed both flows.
  describe('a stopped dnsmasq (lab: dnsmasq-stopped)', () => {
    const flows = (facts: Facts): Record<string, Flow> => {
      const m = model(facts)
      if (!m.datapath.ok) throw new Error(m.datapath.reason)
      return Object.fromEntries(m.datapath.datapath.flows.filter((f) => f.kind === 'dhcp' || f.kind === 'dns').map((f) => [f.kind, f]))
    }
    const withStopped = async (stopped: ProcessFacts['stopped']) => alter<ProcessFacts>(await factsOf('dnsmasq-stopped'), 'processes', (p) => (p.stopped = stopped))

    it('fires, resumes exactly the stopped processes, and fails the DHCP and DNS flows at their listener', async () => {
      const facts = await factsOf('dnsmasq-stopped')
      const {names, evaluation} = await fire(rule, facts)
      expect(names).toEqual(['default'])
      const f = evaluation.findings[0]
      expect(f.title).toBe('The DHCP server of default is stopped')
      expect(f.fix).toEqual(['kill -CONT 15937 15938'])
      const {dhcp, dns} = flows(facts)
      for (const flow of [dhcp, dns]) {
        expect(flow.verdict).toBe('fail')
        expect(flow.decidedBy?.element).toMatchObject({kind: 'listener', network: 'default', stoppedPid: 15937, traced: false})
      }
    })
    it('gives no SIGCONT for a process its tracer stopped (a debugger): SIGCONT does not resume it', async () => {
      const {evaluation} = await fire(rule, await withStopped([{pid: 15937, traced: true}, {pid: 15938, traced: true}]))
      expect(evaluation.findings[0].fix).toEqual([])
      expect((evaluation.findings[0].note ?? []).join(' ')).toContain('stopped by a tracer')
    })
    it('stays silent when only the lease-script process is stopped: the one holding the sockets answers', async () => {
      const facts = await withStopped([{pid: 15938, traced: false}])
      expect((await fire(rule, facts)).names).toEqual([])
      expect(Object.values(flows(facts)).map((f) => f.verdict)).toEqual(['pass', 'pass'])
    })
    it('leaves the flows undecided, not passed, when the process states could not be read', async () => {
      const facts = await withStopped(null)
      expect((await fire(rule, facts)).names).toEqual([])
      expect(Object.values(flows(facts)).map((f) => f.verdict)).toEqual(['indeterminate', 'indeterminate'])
    })
    it("fires for the LAN's dhcpd stopped the same way, and fails the bridged guest's DHCP at it (lab: dhcpd-sigstopped)", async () => {
      const facts = await factsOf('dhcpd-sigstopped')
      const {names, evaluation} = await fire(rule, facts)
      expect(names).toEqual(['isc-dhcp-server'])
      expect(evaluation.findings[0].fix).toEqual(['kill -CONT 14702'])
      const lan = model(facts).datapath
      if (!lan.ok) throw new Error(lan.reason)
      const dhcp = lan.datapath.flows.find((f) => f.guest === 'kdlab-lan02' && f.kind === 'dhcp')!
      expect(dhcp.verdict).toBe('fail')
      expect(dhcp.decidedBy?.element).toMatchObject({server: 'isc-dhcp-server', stoppedPid: 14702})
    })
    it("with the LAN's dhcpd running but its state unread, the bridged guest's DHCP is undecided and says which read is missing", async () => {
      const facts = alter<ProcessFacts>(await factsOf('dhcpd-sigstopped'), 'processes', (p) => (p.stopped = null))
      const lan = model(facts).datapath
      if (!lan.ok) throw new Error(lan.reason)
      const dhcp = lan.datapath.flows.find((f) => f.guest === 'kdlab-lan02' && f.kind === 'dhcp')!
      expect([dhcp.verdict, dhcp.decidedBy?.detail]).toEqual(['indeterminate', 'dhcpd runs, but whether it is stopped could not be read (ps -eo pid=,stat=)'])
    })
    it('reads T and t from ps STAT, nothing else', () => {
      expect(parseStoppedProcesses('    1 Ss\n  812 T\n  813 tN\n  900 S<l\n  901 D\n')).toEqual([{pid: 812, traced: false}, {pid: 813, traced: true}])
      expect(() => parseStoppedProcesses('')).toThrow(/empty/)
    })
  })

  // Lab dnsmasq-frozen(-v1): both of the network's dnsmasq processes moved into a cgroup of the lab's and frozen there
  // (cgroup v2's cgroup.freeze 1; v1's freezer.state FROZEN), as `systemctl freeze` of the daemon that started them
  // does. ps showed them asleep (S; D under v1), not stopped; the guests' DHCP and DNS failed, ping and TCP passed.
  // kvmdoctor passed both flows and printed OK: it read no cgroup's freezer.
  describe('a dnsmasq frozen by its cgroup (lab: dnsmasq-frozen, dnsmasq-frozen-v1)', () => {
    const flows = (facts: Facts): Flow[] => {
      const m = model(facts)
      if (!m.datapath.ok) throw new Error(m.datapath.reason)
      return m.datapath.datapath.flows.filter((f) => f.kind === 'dhcp' || f.kind === 'dns')
    }
    /** The recording replayed with some of its file reads answered otherwise (a thawed cgroup, an unreadable one). */
    const replayedWith = async (fixture: string, files: Record<string, {output: string} | {error: string; errorCode: 'permission-denied'}>): Promise<Facts> => {
      const replay = await ReplayRunner.open(fixtureDir(fixture))
      const runner: Runner = {
        capturedAt: replay.capturedAt,
        run: (argv, o) => replay.run(argv, o),
        listDir: (path) => replay.listDir(path),
        readFile: async (path, o) => {
          const read = await replay.readFile(path, o)
          const other = files[path]
          return other ? {...read, output: 'output' in other ? other.output : '', ...('error' in other ? other : {error: undefined, errorCode: undefined})} : read
        },
      }
      return {results: await runProbes(ALL_PROBES, runner, replayOptions(replay)), capturedAt: replay.capturedAt, options: replayOptions(replay)}
    }
    const EVENTS = '/sys/fs/cgroup/unified/kdlab-frozen/cgroup.events'

    for (const [fixture, freezer] of [
      ['dnsmasq-frozen', '/sys/fs/cgroup/unified/kdlab-frozen/cgroup.freeze'],
      ['dnsmasq-frozen-v1', '/sys/fs/cgroup/freezer/kdlab-frozen/freezer.state'],
    ] as const) {
      it(`${fixture}: fires, gives no SIGCONT (it does not thaw), names the freezer, and fails DHCP and DNS at the listener`, async () => {
        const facts = await factsOf(fixture)
        const {names, evaluation} = await fire(rule, facts)
        expect(names).toEqual(['default'])
        const f = evaluation.findings[0]
        expect(f.title).toBe('The DHCP server of default is frozen')
        expect(f.evidence).toContain(`its dnsmasq (pid 18781, 18782) is frozen by its cgroup (${freezer}): it holds its DHCP and DNS sockets and answers nothing`)
        expect(f.fix).toEqual([])
        expect((f.note ?? []).join(' ')).toContain(freezer)
        const dhcpDns = flows(facts)
        expect(dhcpDns.map((flow) => [flow.kind, flow.verdict])).toEqual([['dhcp', 'fail'], ['dns', 'fail']])
        for (const flow of dhcpDns) expect(flow.decidedBy?.element).toMatchObject({kind: 'listener', network: 'default', stoppedPid: 18781, frozen: freezer})
      })
    }
    it('stays silent, and passes both flows, when the same cgroup is thawed (frozen 0)', async () => {
      const facts = await replayedWith('dnsmasq-frozen', {[EVENTS]: {output: 'populated 1\nfrozen 0\n'}})
      expect((await fire(rule, facts)).names).toEqual([])
      expect(flows(facts).map((f) => f.verdict)).toEqual(['pass', 'pass'])
    })
    it('leaves the flows undecided, not passed, and does not fire, when the freezer could not be read', async () => {
      const facts = await replayedWith('dnsmasq-frozen', {[EVENTS]: {error: `${EVENTS}: permission denied`, errorCode: 'permission-denied'}})
      expect((await fire(rule, facts)).names).toEqual([])
      const undecided = flows(facts)
      expect(undecided.map((f) => f.verdict)).toEqual(['indeterminate', 'indeterminate'])
      expect(undecided[0].decidedBy?.detail).toContain('whether its cgroup is frozen could not be read')
    })
    it("reads the freezer's cgroups of /proc/PID/cgroup (v2's 0::, v1's freezer controller; never the root) and their states", () => {
      expect(parseFreezerCgroups('9:name=systemd:/\n6:freezer:/kdlab-frozen\n4:memory:/a\n0::/system.slice/libvirtd.service\n')).toEqual({v1: '/kdlab-frozen', v2: '/system.slice/libvirtd.service'})
      expect(parseFreezerCgroups('6:cpu,freezer:/x\n0::/\n')).toEqual({v1: '/x'})
      expect(parseFreezerCgroups('6:freezer:/\n0::/\n')).toEqual({})
      expect([frozenV2('populated 1\nfrozen 1\n'), frozenV2('populated 1\nfrozen 0\n')]).toEqual([true, false])
      expect([frozenV1('FROZEN\n'), frozenV1('FREEZING\n'), frozenV1('THAWED\n')]).toEqual([true, true, false])
    })
  })
})
