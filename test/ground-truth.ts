/**
 * A recording held against its ground truth: the flows kvmdoctor follows in it, against what its
 * guests measured (oracle.json) and, where the lab traced them, what the kernel did with the same
 * packets (kernel-trace.txt). The replay suite runs it on every fixture; the lab on each new one.
 */
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {diagnose} from '../src/core/diagnose.js'
import {ReplayRunner} from '../src/core/snapshot.js'
import {parseTrace} from './lab/kernel-trace.js'
import {KERNEL_PACKET, type Disagreement, decisionText, disagreements, flowDecisions, kernelDecisions, natChainsOf, withoutNat} from './oracles.js'
import type {NetfilterFacts} from '../probes/netfilter.js'
import {dataOf} from '../probes/types.js'
import type {OracleRecord, Scenario} from './scenarios.js'

export interface GroundTruth {
  /** Flows whose verdict is not what the guest measured. */
  disagreements: Disagreement[]
  /** Traced packets: kvmdoctor's decisions and the kernel's, chain by chain. */
  kernel: {kind: string; kvmdoctor: string[]; kernel: string[]}[]
}

export async function groundTruth(fixture: string, scenario: Pick<Scenario, 'beyondHost'>): Promise<GroundTruth> {
  const runner = await ReplayRunner.open(fixture)
  const d = await diagnose({runner, options: runner.manifest.options ?? {active: false, libvirtUri: 'qemu:///system'}, version: 'test'})
  const oracle = JSON.parse(readFileSync(join(fixture, 'oracle.json'), 'utf8')) as OracleRecord
  // Measures whose outcome the host's own state cannot show (the scenario says why) are left out.
  const beyond = new Set<string>(scenario.beyondHost?.measures ?? [])
  const guests = Object.fromEntries(Object.entries(oracle.guests).map(([g, r]) => [g, Object.fromEntries(Object.entries(r).map(([m, v]) => [m, beyond.has(m) ? 'skip' : v]))])) as OracleRecord['guests']
  const kernel: GroundTruth['kernel'] = []
  const traceFile = join(fixture, 'kernel-trace.txt')
  if (existsSync(traceFile)) {
    const traces = parseTrace(readFileSync(traceFile, 'utf8'))
    const nat = natChainsOf(dataOf<NetfilterFacts>(d.facts.netfilter) ?? {tables: []})
    for (const [kind, matches] of Object.entries(KERNEL_PACKET)) {
      const flow = d.flows.find((f) => f.guest === 'kdlab-web01' && f.kind === kind)
      const decided = kernelDecisions(traces, matches!)
      if (flow && decided) kernel.push({kind, kvmdoctor: withoutNat(flowDecisions(flow), nat).map(decisionText), kernel: withoutNat(decided, nat).map(decisionText)})
    }
  }
  return {disagreements: disagreements(d.flows, guests), kernel}
}
