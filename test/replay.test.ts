import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {diagnose} from '../src/core/diagnose.js'
import {ipInventory} from '../src/core/ip-service.js'
import {ReplayRunner} from '../src/core/snapshot.js'
import {ALL_RULES} from '../rules/index.js'
import type {ProbeStatus} from '../src/result/diagnosis.js'
import {fixtureDir, replayOptions} from './helpers.js'
import {groundTruth} from './ground-truth.js'
import {checkInboundOracle, inboundDisagreements, readInbound} from './inbound-oracle.js'
import {type GuestLines, NAMESPACE_HOST, type OracleRecord, type Scenario, SCENARIOS, checkGuestTruth, checkIp, checkOracle, checkScenario} from './scenarios.js'

/** kvmdoctor ran in a namespace host (the lab traces no kernel there: none of the guests' packets cross it). */
const namespaceHost = (s: Scenario) => JSON.stringify(s.beyondHost) === JSON.stringify(NAMESPACE_HOST)

/**
 * Probes newer than most recordings: a recording made before one replays it "not recorded", and the rules that
 * need it are not checked there (never a pass, never a finding), so the recording stays valid without a new one.
 */
const NEWER_PROBES = ['libvirt-hooks']
const predates = (p: ProbeStatus) => !p.ok && NEWER_PROBES.includes(p.id) && /the recording predates this probe/.test(p.error ?? '')

// The lab suite records these snapshots from real faults; here they replay through the same probes.
describe('lab scenarios replayed from their recordings', () => {
  for (const scenario of SCENARIOS) {
    it(`${scenario.name}: ${scenario.description}`, async () => {
      expect(existsSync(fixtureDir(scenario.name)), `fixtures/${scenario.name} missing: run npm run test:lab as root`).toBe(true)
      const runner = await ReplayRunner.open(fixtureDir(scenario.name))
      const d = await diagnose({runner, options: replayOptions(runner), version: 'test'})
      expect(d.probes.filter((p) => !p.ok && !p.skipped && !predates(p))).toEqual([])
      for (const probe of d.probes.filter(predates)) {
        const needing = ALL_RULES.filter((r) => r.needs.includes(probe.id)).map((r) => r.id)
        expect(needing.length, `rules that need ${probe.id}`).toBeGreaterThan(0)
        for (const id of needing) {
          expect(d.notChecked.filter((n) => n.ruleId === id).map((n) => n.reason), `${id} without ${probe.id}`).toEqual([`probe ${probe.id} unavailable: ${probe.error}`])
          expect([...d.findings, ...d.checked.map((c) => ({id: c.ruleId}))].filter((f) => f.id === id), `${id} never passes or fires without ${probe.id}`).toEqual([])
        }
      }
      // What the guests themselves measured when this was recorded.
      const oracleFile = join(fixtureDir(scenario.name), 'oracle.json')
      expect(existsSync(oracleFile), `fixtures/${scenario.name}/oracle.json missing: run npm run test:lab as root`).toBe(true)
      const oracle = JSON.parse(readFileSync(oracleFile, 'utf8')) as OracleRecord
      checkOracle(scenario, oracle)
      // The datapath's verdicts are what the guests saw, and its walk through the chains what the kernel traced.
      const truth = await groundTruth(fixtureDir(scenario.name), scenario)
      expect(truth.disagreements, 'flows against what the guests measured').toEqual([])
      // Every recording whose guests kvmdoctor follows has the kernel's trace of their packets.
      if (d.flows.length > 0 && !namespaceHost(scenario)) expect(truth.kernel, `fixtures/${scenario.name}/kernel-trace.txt missing: run npm run test:lab as root`).toBeDefined()
      expect(truth.kernel?.filter((k) => !k.agrees) ?? [], "kvmdoctor's walks against the kernel's trace").toEqual([])
      checkScenario(scenario, d)
      if (scenario.inbound) {
        // What real connections through the forward got when this was recorded, and kvmdoctor's inbound flows against them.
        const inbound = readInbound(fixtureDir(scenario.name))
        expect(inbound, `fixtures/${scenario.name}/inbound.json missing: run npm run test:lab as root`).toBeDefined()
        checkInboundOracle(scenario.name, scenario.inbound, inbound!)
        expect(inboundDisagreements(d.flows, inbound!), 'inbound flows against real connections').toEqual([])
      }
      if (scenario.guestTruth) {
        // What the guests themselves said on their consoles when this was recorded.
        const guestsFile = join(fixtureDir(scenario.name), 'guests.json')
        expect(existsSync(guestsFile), `fixtures/${scenario.name}/guests.json missing: run npm run test:lab as root`).toBe(true)
        checkGuestTruth(scenario, JSON.parse(readFileSync(guestsFile, 'utf8')) as GuestLines, d.findings)
      }
      if (scenario.ip) {
        const inventory = await ipInventory(await ReplayRunner.open(fixtureDir(scenario.name)), replayOptions(runner))
        checkIp(scenario, inventory.rows)
      }
    })
  }
})
