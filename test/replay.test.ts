import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {diagnose} from '../src/core/diagnose.js'
import {ipInventory} from '../src/core/ip-service.js'
import {ReplayRunner} from '../src/core/snapshot.js'
import {fixtureDir, replayOptions} from './helpers.js'
import {parseTrace} from './lab/kernel-trace.js'
import {KERNEL_PACKET, decisionText, disagreements, flowDecisions, kernelDecisions} from './oracles.js'
import {type OracleRecord, SCENARIOS, checkOracle, checkScenario} from './scenarios.js'

// The lab suite records these snapshots from real faults; here they replay through the same probes.
describe('lab scenarios replayed from their recordings', () => {
  for (const scenario of SCENARIOS) {
    it(`${scenario.name}${scenario.pending ? ' (pending: recorded, findings not checked)' : ''}: ${scenario.description}`, async () => {
      expect(existsSync(fixtureDir(scenario.name)), `fixtures/${scenario.name} missing: run npm run test:lab as root`).toBe(true)
      const runner = await ReplayRunner.open(fixtureDir(scenario.name))
      const d = await diagnose({runner, options: replayOptions(runner), version: 'test'})
      expect(d.probes.filter((p) => !p.ok && !p.skipped)).toEqual([])
      // What the guests themselves measured when this was recorded.
      const oracleFile = join(fixtureDir(scenario.name), 'oracle.json')
      expect(existsSync(oracleFile), `fixtures/${scenario.name}/oracle.json missing: run npm run test:lab as root`).toBe(true)
      const oracle = JSON.parse(readFileSync(oracleFile, 'utf8')) as OracleRecord
      checkOracle(scenario, oracle)
      // The datapath's verdicts are what the guests saw ...
      expect(disagreements(d.flows, oracle.guests), 'flows against what the guests measured').toEqual([])
      // ... and its walk through the chains is what the kernel traced, rule by rule.
      const traceFile = join(fixtureDir(scenario.name), 'kernel-trace.txt')
      if (existsSync(traceFile)) {
        const traces = parseTrace(readFileSync(traceFile, 'utf8'))
        let compared = 0
        for (const [kind, matches] of Object.entries(KERNEL_PACKET)) {
          const flow = d.flows.find((f) => f.guest === 'kdlab-web01' && f.kind === kind)
          const kernel = kernelDecisions(traces, matches!)
          if (!flow || !kernel) continue
          compared++
          expect(flowDecisions(flow).map(decisionText), `${kind}: kvmdoctor's walk against the kernel's trace`).toEqual(kernel.map(decisionText))
        }
        expect(compared, 'traced packets compared').toBeGreaterThan(0)
      }
      if (scenario.pending) return
      checkScenario(scenario, d)
      if (scenario.ip) {
        const inventory = await ipInventory(await ReplayRunner.open(fixtureDir(scenario.name)), replayOptions(runner))
        for (const want of scenario.ip) expect(inventory.rows.find((r) => r.domain === want.domain)?.verdict, `ip verdict of ${want.domain}`).toBe(want.verdict)
      }
    })
  }
})
