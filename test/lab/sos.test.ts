/**
 * Sosreports of lab scenarios: each scenario is injected for real, diagnosed live, and a real
 * sosreport taken by Debian's sosreport (only the plugins kvmdoctor reads, so it stays fast);
 * `kvmdoctor diagnose --from` the sosreport must find what the live run found for every rule whose
 * inputs sos collected, and say "not checked" for the others. The sosreport, cut to the files
 * kvmdoctor read, is recorded as fixtures/sos-<scenario>/ for the replay suite (test/sos/replay.test.ts).
 */
import {execa} from 'execa'
import {mkdirSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ALL_PROBES} from '../../probes/index.js'
import {diagnose} from '../../src/core/diagnose.js'
import {openSosreport} from '../../src/core/sosreport.js'
import {SCENARIOS} from '../scenarios.js'
import {type ComparableReport, sosComparison} from '../sos/compare.js'
import {writeSosRecording} from '../sos/record.js'
import {type LabBaseline, captureHostState, diffHostState, putHostBack, restoreHostState, startLabHost} from './host-state.js'
import {CACHE, INET, ROOT, WEB01, kvmdoctor, startInternet, startLeasedGuest} from './lab.js'
import {LIVE} from './scenarios-live.js'

/**
 * Scenarios whose faults sos sees from the host's root namespace, one per kind of input: the nat table
 * (masquerade-removed), libvirt's files for an inactive network (network-inactive), processes and the
 * neighbour table (dnsmasq-killed, with an APIPA guest), a filter rule named as iptables-save names it
 * (forward-reject-subnet), and two faults at once (flushed-and-forward-off: flushed chains, ip_forward off).
 */
export const SOS_SCENARIOS = ['masquerade-removed', 'network-inactive', 'dnsmasq-killed', 'forward-reject-subnet', 'flushed-and-forward-off']
/** What kvmdoctor reads: interfaces, routes and the firewall (networking), sysctls and modules (kernel), processes, libvirt's files and virsh, the time. */
export const SOS_PLUGINS = ['networking', 'kernel', 'process', 'libvirt', 'virsh', 'date', 'host']
const STATE = join(CACHE, 'kdlab-sos-host-state.json')
const INTERNET = `${INET.server}:${INET.port}/tcp`

/** `sos report`, batch, the plugins above; --allow-system-changes because sos reads nft and iptables only with their modules listed in /proc/modules (absent on some kernels). */
async function sosReport(name: string): Promise<{archive: string; seconds: number}> {
  const dir = join(CACHE, `sos-${name}`)
  rmSync(dir, {recursive: true, force: true})
  mkdirSync(dir, {recursive: true})
  const started = Date.now()
  // No namespace pattern matches (the lab internet's namespace is not the host), no lsof: the same inputs, a minute less.
  await execa('sos', ['report', '--batch', '--quiet', '--tmp-dir', dir, '--label', name.replace(/[^a-z0-9]/g, ''), '-o', SOS_PLUGINS.join(','), '--allow-system-changes', '--plugin-timeout', '300', '-k', 'networking.namespace_pattern=kdlab-no-such-namespace', '-k', 'process.lsof=off'], {timeout: 420_000, stdin: 'ignore'})
  const archive = readdirSync(dir).find((f) => /^sosreport-.*\.tar\.xz$/.test(f))
  if (!archive) throw new Error(`sos report left no archive in ${dir}: ${readdirSync(dir).join(', ')}`)
  return {archive: join(dir, archive), seconds: (Date.now() - started) / 1000}
}

describe('sosreports of lab scenarios', () => {
  let baseline: LabBaseline | undefined
  beforeAll(async () => {
    baseline = await startLabHost(STATE)
    await startInternet()
    await startLeasedGuest(WEB01)
  }, 600_000)

  afterAll(async () => {
    if (baseline) await putHostBack(baseline, STATE)
  }, 180_000)

  for (const name of SOS_SCENARIOS) {
    it(`${name}: the sosreport's findings are the live ones for every rule sos gave the inputs of`, async () => {
      const scenario = SCENARIOS.find((s) => s.name === name)!
      const live = LIVE[name]
      expect(scenario && live, name).toBeTruthy()
      const before = await captureHostState()
      let liveRun: Awaited<ReturnType<typeof kvmdoctor>>
      let sos: {archive: string; seconds: number}
      try {
        await live.inject()
        const first = await kvmdoctor(scenario.args ?? [])
        sos = await sosReport(name)
        // Compared with the host as sos left it: a daemon restarting during sos's minutes must not count against either.
        liveRun = await kvmdoctor(scenario.args ?? [])
        const drift = sosComparison(first.report as unknown as ComparableReport, liveRun.report as unknown as ComparableReport)
        if (JSON.stringify(drift.liveAll) !== JSON.stringify(drift.sos)) console.warn(`${name}: the live findings changed while sos ran: ${drift.liveAll.join('; ')} -> ${drift.sos.join('; ')}`)
      } finally {
        await live.reset()
        // sos itself changes the host: listing an iptables-nft table creates its missing built-in chains
        // (why sos lists firewalls only with --allow-system-changes where their modules are not listed).
        const residue = diffHostState(before, await captureHostState())
        if (residue.length > 0) {
          console.warn(`${name}: after the reset, what sos changed: ${residue.join('; ')}`)
          await restoreHostState(before)
        }
        expect(diffHostState(before, await captureHostState()), `${name}: the host restored after the scenario and sos`).toEqual([])
      }
      // Kept beside the archive: the comparison can be rerun without the lab (see test/sos/README.md).
      writeFileSync(join(CACHE, `sos-${name}`, 'live.json'), JSON.stringify(liveRun.report, null, 2) + '\n')
      // The recording: the files read, then replayed to the same findings.
      const runner = await openSosreport(sos.archive, {directory: false})
      await diagnose({runner, options: {active: false, libvirtUri: 'qemu:///system', internet: INTERNET}, version: 'lab', probes: ALL_PROBES})
      const fixture = join(ROOT, 'fixtures', `sos-${name}`)
      rmSync(fixture, {recursive: true, force: true})
      writeSosRecording(runner, fixture)
      const fromSos = (await kvmdoctor(['--from', sos.archive])).report as unknown as ComparableReport
      const comparison = sosComparison(liveRun.report as unknown as ComparableReport, fromSos)
      writeFileSync(join(fixture, 'expected.json'), JSON.stringify({scenario: name, sosSeconds: Math.round(sos.seconds), live: comparison.liveAll, notCheckedRules: comparison.notCheckedRules, optInRules: comparison.optInRules, findings: comparison.sos}, null, 2) + '\n')
      console.info(`${name}: sos report took ${sos.seconds.toFixed(1)} s; ${comparison.compared} live finding(s) compared, ${comparison.notCheckedRules.length} rule(s) not checked from the sosreport (${comparison.notCheckedRules.join(', ')}), opt-in rules of the live run left out: ${comparison.optInRules.join(', ') || 'none'}`)
      expect(comparison.sos, `${name}: findings from the sosreport against the live ones (rules sos gave the inputs of)`).toEqual(comparison.live)
      for (const n of fromSos.notChecked) expect(n.reason, `${n.ruleId}: why not checked`).toMatch(/not collected by this sosreport|unavailable|unknown/)
      const replay = (await kvmdoctor(['--from', fixture])).report as unknown as ComparableReport
      expect(sosComparison(liveRun.report as unknown as ComparableReport, replay).sos, `${name}: the recording replays to the same findings`).toEqual(comparison.sos)
    }, 900_000)
  }
})
