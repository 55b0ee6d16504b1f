/**
 * The live lab suite (root, real libvirt, real guests): each scenario is
 * injected for real, diagnosed live, recorded into fixtures/<scenario> together with what
 * the guests themselves measured (oracle.json), reset, and the reset checked to be exact.
 * The host's firewall and sysctls are saved first and restored at the end, and nothing the
 * lab sends may leave by the uplink.
 */
import {execa} from 'execa'
import {writeFileSync} from 'node:fs'
import {rm} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {groundTruth} from '../ground-truth.js'
import {measuredPackets} from '../oracles.js'
import {GUEST_LINE_TAGS, type GuestLines, type OracleRecord, REACH_OK, SCENARIOS, type Scenario, checkGuestTruth, checkIp, checkOracle, checkScenario, labScenarios} from '../scenarios.js'
import {type HostState, type LabBaseline, captureHostState, diffHostState, putHostBack, restoreHostState, startLabHost} from './host-state.js'
import {traceNft} from './kernel-trace.js'
import {CACHE, INET, ROOT, WEB01, cleanLab, guestAddresses, guestIpv6Addresses, guestLine, kvmdoctor, sh, startInternet, startLeasedGuest} from './lab.js'
import {forgetGuestConnections, measureOracle, reachMarks, reachSeq, runningLabGuests, traceGuests, traceTargets, waitReachOk, writeOracle} from './oracle.js'
import {LIVE, measureInbound} from './scenarios-live.js'
import {checkInboundOracle, inboundDisagreements} from '../inbound-oracle.js'
import {ReplayRunner} from '../../src/core/snapshot.js'
import {diagnose} from '../../src/core/diagnose.js'
import {replayOptions} from '../helpers.js'
import {type UplinkWatch, startUplinkWatch} from './uplink-watch.js'

const HOST_STATE = join(CACHE, 'kdlab-host-state.json')

/** `kvmdoctor ip` live: the verdicts expected, and for every lab guest the addresses its own console prints. */
async function checkIpAgainstConsoles(scenario: Scenario, args: string[]): Promise<void> {
  // --active and --listen SECONDS are ip's flags too: the same sources as the diagnosis.
  const listen = args.indexOf('--listen')
  const ipArgs = [...args.filter((a) => a === '--active'), ...(listen >= 0 ? args.slice(listen, listen + 2) : [])]
  const r = await execa(process.execPath, [join(ROOT, 'bin/run.js'), 'ip', '--json', ...ipArgs], {reject: false, stdin: 'ignore'})
  const inventory = JSON.parse(String(r.stdout)) as {rows: {domain: string; state: string; verdict: string; ipv4: {ip: string; sources: string[]}[]; ipv6: {ip: string; sources: string[]}[]}[]}
  checkIp(scenario, inventory.rows)
  for (const row of inventory.rows.filter((x) => x.domain.startsWith('kdlab-') && x.state === 'running')) {
    const console = (guestAddresses(row.domain) ?? []).map((a) => a.split('/')[0]).sort()
    expect(row.ipv4.map((a) => a.ip).sort(), `addresses of ${row.domain} (console says ${console.join(' ')})`).toEqual(console)
    // A guest that prints its IPv6 addresses: the link-local one it talks from is the one the wire heard.
    const linkLocal = (guestIpv6Addresses(row.domain) ?? []).map((a) => a.split('/')[0]).filter((a) => a.startsWith('fe80:'))
    if (listen >= 0 && linkLocal.length > 0) expect(row.ipv6.filter((a) => a.sources.includes('wire')).map((a) => a.ip).sort(), `IPv6 link-local of ${row.domain}`).toEqual(linkLocal.sort())
  }
}

/** Every running lab guest's last console line of each tag, written to fixtures/<name>/guests.json. */
async function recordGuestLines(fixture: string): Promise<GuestLines> {
  const lines: GuestLines = {}
  for (const guest of (await runningLabGuests()).sort()) {
    lines[guest] = Object.fromEntries(GUEST_LINE_TAGS.map((tag) => [tag, guestLine(guest, tag)]).filter((e): e is [string, string] => e[1] !== undefined))
  }
  writeFileSync(join(fixture, 'guests.json'), `${JSON.stringify(lines, null, 2)}\n`)
  return lines
}

/** What the lab run saved, restored and saw on the uplink: checked by the last suite. */
const run: {baseline?: LabBaseline; saved?: HostState; restoreActions?: string[]; restoreError?: unknown; uplink?: {leaks: string[]; captured: number; devices: string[]}} = {}
let watch: UplinkWatch | undefined

describe('lab host', () => {
  beforeAll(async () => {
    // The baseline: the host as it is before the lab starts anything (libvirtd, the default network) or changes it.
    const baseline = await startLabHost(HOST_STATE)
    if (baseline.recovered.length > 0) console.warn(`restored what an interrupted lab run left:\n  ${baseline.recovered.join('\n  ')}`)
    run.baseline = baseline
    run.saved = baseline.state
    watch = await startUplinkWatch(CACHE)
    await startInternet()
    const addrs = await startLeasedGuest(WEB01)
    expect(addrs.some((a) => a.startsWith('192.168.122.'))).toBe(true)
  }, 600_000)

  afterAll(async () => {
    try {
      await cleanLab()
    } finally {
      if (watch) {
        const {leaks, captured} = await watch.stop()
        run.uplink = {leaks, captured, devices: watch.devices}
      }
      try {
        if (run.baseline) run.restoreActions = await putHostBack(run.baseline, HOST_STATE)
      } catch (e) {
        run.restoreError = e
      }
    }
  }, 180_000)

  for (const scenario of labScenarios()) {
    it(`${scenario.name}: ${scenario.description}`, async () => {
      const live = LIVE[scenario.name]
      expect(live, `no live recipe for ${scenario.name}`).toBeDefined()
      const fixture = join(ROOT, 'fixtures', scenario.name)
      await rm(fixture, {recursive: true, force: true})
      const before = await captureHostState()
      // Where the scenario's time goes (the lab's CI time is watched).
      const laps: string[] = []
      let last = performance.now()
      const lap = (what: string) => {
        laps.push(`${what} ${((performance.now() - last) / 1000).toFixed(1)} s`)
        last = performance.now()
      }
      let residue: string[] = []
      let resetError: unknown
      try {
        await live.inject()
        lap('inject')
        const result = await kvmdoctor(['--record', fixture, ...(scenario.args ?? [])], live.netns)
        await live.afterDiagnose?.()
        lap('diagnose')
        // Then the guests measure (wholly after the fault: see guestReach), each connection a fresh one, while the
        // kernel traces every packet they send and are sent (after the diagnosis: its trace tables must not be in
        // the recording). A namespace host's kvmdoctor sees none of the guests' links: nothing of theirs to trace.
        const measure = async () => measureOracle(await reachMarks())
        let oracle: OracleRecord
        if (live.netns) oracle = await measure()
        else {
          const guests = await traceGuests()
          const targets = traceTargets(guests)
          const traced = await traceNft(targets, measure, {before: () => forgetGuestConnections(targets.addresses)})
          oracle = traced.result
          writeFileSync(join(fixture, 'kernel-trace.txt'), traced.raw)
          writeFileSync(join(fixture, 'kernel-trace.ruleset.json'), traced.ruleset)
          // The fault's own check, on the measures' packets (not the last packets of connections the deletion cut).
          live.trace?.check(measuredPackets(traced.packets, guests, {addr: INET.server, port: INET.port}).measured.map((m) => m.packet))
        }
        lap(live.netns ? 'measure' : 'measure+trace')
        writeOracle(fixture, oracle)
        // The guests' own account of what they asked for and who answered (printed every round, the measured one included).
        const lines = scenario.guestTruth ? await recordGuestLines(fixture) : undefined
        checkOracle(scenario, oracle)
        if (scenario.inbound) {
          // Real connections through the forward (after the guests measured), and kvmdoctor's inbound flows against them.
          const inbound = await measureInbound()
          writeFileSync(join(fixture, 'inbound.json'), `${JSON.stringify(inbound, null, 2)}\n`)
          checkInboundOracle(scenario.name, scenario.inbound, inbound)
          const replayed = await ReplayRunner.open(fixture)
          const d = await diagnose({runner: replayed, options: replayOptions(replayed), version: 'test'})
          expect(inboundDisagreements(d.flows, inbound), `${scenario.name}: inbound flows against real connections`).toEqual([])
          lap('inbound')
        }
        checkScenario(scenario, result.report)
        if (lines) checkGuestTruth(scenario, lines, result.report.findings)
        if (scenario.ip) await checkIpAgainstConsoles(scenario, scenario.args ?? [])
        // The default --fail-on is high.
        expect(result.exitCode).toBe(result.report.findings.some((f) => f.severity === 'critical' || f.severity === 'high') ? 1 : 0)
        // Ground truth: every guest's every measure against kvmdoctor's verdict, every traced packet against its walk.
        const truth = await groundTruth(fixture, scenario)
        lap('checks')
        const compared = truth.kernel ?? []
        console.info(`${scenario.name}: ${truth.judgements.length} measures judged (${truth.judgements.filter((j) => j.declared).length} declared beyond the host); ${compared.length} traced packets compared, ${compared.filter((k) => k.undecidedAt).length} up to an undecided hop; not compared: ${JSON.stringify(truth.uncompared ?? {})}`)
        expect(truth.disagreements, `${scenario.name}: flows against what the guests measured`).toEqual([])
        // A namespace host is not traced (its packets never reach the host's nft trace): nothing to compare, and it must say so.
        if (live.netns) expect(truth.kernel, `${scenario.name}: a namespace host has no kernel trace`).toBeUndefined()
        else expect(truth.kernel?.filter((k) => !k.agrees), `${scenario.name}: kvmdoctor's walks against the kernel's trace`).toEqual([])
      } finally {
        // Also after a failed injection (a reset may then fail on what was never done: the state check below still holds).
        await live.reset().catch((e: unknown) => {
          resetError = e
        })
        // The reset must undo exactly: the same firewall, sysctls, routes, rules and networks as before.
        residue = diffHostState(before, await captureHostState())
        if (residue.length > 0) await restoreHostState(before)
        lap('reset')
        console.info(`${scenario.name}: ${laps.join(', ')}`)
      }
      expect(residue, `${scenario.name}: its reset left the host changed`).toEqual([])
      if (resetError) throw resetError
      // ... and the datapath with it: web01 reaches everything again (within a minute: caches settle).
      if ((await runningLabGuests()).includes(WEB01.name)) {
        const after = await waitReachOk(WEB01.name, {after: reachSeq(WEB01.name)})
        expect({dhcp: after.dhcp, dns: after.dns, ping: after.ping, tcp: after.tcp}, `${scenario.name}: web01 after the reset`).toEqual(REACH_OK)
      }
    }, 300_000)
  }

  it('the guest still reports the address the host leased to it', async () => {
    const result = await kvmdoctor([])
    checkScenario(SCENARIOS[0], result.report)
    expect(guestAddresses(WEB01.name)?.some((a) => a.startsWith('192.168.122.'))).toBe(true)
  }, 120_000)

  it('host state restore works on a host that is not pristine (Docker chains, its own nftables tables)', async () => {
    // The host's "own" rules, as another firewall manager would have them ...
    const own = join(CACHE, 'kdlab-own.rules')
    writeFileSync(own, '*filter\n:DOCKER-USER - [0:0]\n:DOCKER - [0:0]\n-I FORWARD 1 -j DOCKER-USER\n-A DOCKER-USER -j RETURN\nCOMMIT\n*nat\n:DOCKER - [0:0]\n-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\nCOMMIT\n')
    const ownNft = join(CACHE, 'kdlab-own.nft')
    writeFileSync(ownNft, 'table inet kdlab_own {\n  set trusted { type ipv4_addr; flags interval; elements = { 10.1.0.0/16 } }\n  chain input { type filter hook input priority 0; policy accept; ip saddr @trusted counter accept; }\n}\n')
    const pristine = await captureHostState()
    try {
      await sh(['iptables-restore', '--noflush', own])
      await sh(['nft', '-f', ownNft])
      const saved = await captureHostState()
      // ... changed the way the lab changes things: rules in their chains, elements, sysctls, a new table.
      await sh(['iptables', '-D', 'DOCKER-USER', '-j', 'RETURN'])
      await sh(['iptables', '-A', 'DOCKER-USER', '-i', 'virbr0', '-j', 'DROP'])
      await sh(['nft', 'add', 'element', 'inet', 'kdlab_own', 'trusted', '{ 10.9.0.0/16 }'])
      await sh(['nft', 'add', 'table', 'inet', 'kdlab_new'])
      await sh(['sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=2'])
      expect(diffHostState(saved, await captureHostState()).length).toBeGreaterThan(0)
      await restoreHostState(saved)
      expect(diffHostState(saved, await captureHostState())).toEqual([])
    } finally {
      await restoreHostState(pristine)
    }
    expect(diffHostState(pristine, await captureHostState())).toEqual([])
  }, 120_000)
})

describe('the lab leaves the host as it found it', () => {
  it('host state restore puts the iptables alternatives back as they were (auto stays auto), and what was written through them', async () => {
    const before = await captureHostState()
    expect(before.alternatives?.iptables, 'update-alternatives --query iptables').toMatch(/^(auto|manual) \//)
    try {
      await sh(['update-alternatives', '--quiet', '--set', 'iptables', '/usr/sbin/iptables-legacy'])
      await sh(['update-alternatives', '--quiet', '--set', 'ip6tables', '/usr/sbin/ip6tables-legacy'])
      // Written through the switched `iptables`: lands in the legacy tables.
      await sh(['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-s', '10.250.1.0/24', '-j', 'MASQUERADE'])
      const diff = diffHostState(before, await captureHostState())
      expect(diff.filter((d) => d.startsWith('alternative iptables:'))).toHaveLength(1)
      expect(diff.some((d) => d.startsWith('iptables-legacy-save nat'))).toBe(true)
    } finally {
      await restoreHostState(before)
    }
    expect(diffHostState(before, await captureHostState())).toEqual([])
  }, 120_000)

  it('firewall (iptables, nft, legacy), ipsets, net.* sysctls, ip rules, routes and libvirt networks are restored exactly', async () => {
    expect(run.saved, 'the lab saved no host state (it did not start)').toBeDefined()
    if (run.restoreError) throw run.restoreError
    const now = await captureHostState()
    expect(diffHostState(run.saved!, now), `after restoring (${(run.restoreActions ?? []).join('; ') || 'nothing to restore'})`).toEqual([])
  }, 60_000)

  it('no lab packet left by the uplink', () => {
    expect(run.uplink, 'the uplink was not watched').toBeDefined()
    console.info(`uplink ${run.uplink!.devices.join(', ')}: ${run.uplink!.captured} packets captured (DNS of the host's other programs), ${run.uplink!.leaks.length} of the lab`)
    expect(run.uplink!.leaks, `lab packets on ${run.uplink!.devices.join(', ')}`).toEqual([])
  })
})
