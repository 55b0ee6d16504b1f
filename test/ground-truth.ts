/**
 * A recording held against its ground truth: every guest's every measure (oracle.json) against
 * kvmdoctor's verdict on the flows that carry it, and every packet the kernel traced
 * (kernel-trace.txt) against kvmdoctor's walk of the same kind of packet. The replay suite runs it
 * on every fixture; the lab on each new one.
 */
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {diagnose, internetOf} from '../src/core/diagnose.js'
import {ReplayRunner} from '../src/core/snapshot.js'
import {buildModel} from '../src/derive/index.js'
import type {Flow, FlowKind} from '../src/datapath/flows.js'
import type {LibvirtFacts} from '../probes/libvirt.js'
import type {Link} from '../probes/links.js'
import type {NfRuleset} from '../src/lib/netfilter.js'
import {dataOf} from '../probes/types.js'
import {tracePackets} from './lab/kernel-trace.js'
import {type Disagreement, type Judgement, type KernelComparison, type PacketKind, type TraceGuest, compareKernel, declarationsOf, judge, natChainsOf} from './oracles.js'
import type {OracleRecord, ReachCheck, Scenario} from './scenarios.js'

export interface GroundTruth {
  /** Every measure every guest took, with kvmdoctor's verdict on it. */
  judgements: Judgement[]
  /** Measures where the two disagree, or a declaration is not one the rule allows. */
  disagreements: Disagreement[]
  /** Every traced packet kvmdoctor walks, compared decision by decision (absent: the recording has no kernel trace). */
  kernel?: KernelComparison[]
  /** Traced packets not compared, counted by why. */
  uncompared?: Record<string, number>
}

/** The flow kinds that carry each measure's request and reply (ping: the ICMP flows `trace` follows). */
const MEASURE_FLOWS: Record<Exclude<ReachCheck, 'ping'>, FlowKind[]> = {dhcp: ['dhcp', 'dhcp-reply'], dns: ['dns', 'dns-reply'], tcp: ['egress', 'egress-reply']}

export async function groundTruth(fixture: string, scenario: Pick<Scenario, 'name' | 'beyondHost'>): Promise<GroundTruth> {
  const runner = await ReplayRunner.open(fixture)
  const options = runner.manifest.options ?? {active: false, libvirtUri: 'qemu:///system'}
  const d = await diagnose({runner, options, version: 'test'})
  const oracle = JSON.parse(readFileSync(join(fixture, 'oracle.json'), 'utf8')) as OracleRecord
  const internet = internetOf(options)
  if (!internet || internet.addr !== oracle.internet || internet.port !== oracle.port) {
    throw new Error(`${scenario.name}: recorded with --internet ${options.internet ?? '(none)'}, the guests measured ${oracle.internet}:${oracle.port}: their TCP measure and the egress flows are not about the same path`)
  }
  // The ICMP flows: the datapath's trace of each guest to the lab internet (never added to every diagnosis).
  const model = buildModel(d.facts, runner.capturedAt, {internet})
  const ping = new Map<string, Flow[]>()
  const pingFlows = (guest: string) => {
    if (!ping.has(guest)) ping.set(guest, model.datapath.ok ? model.datapath.datapath.trace(guest, {to: {addr: oracle.internet, proto: 'icmp'}}) : [])
    return ping.get(guest)!
  }
  const flowsFor = (guest: string, measure: ReachCheck) => (measure === 'ping' ? pingFlows(guest) : d.flows.filter((f) => f.guest === guest && MEASURE_FLOWS[measure].includes(f.kind)))
  const {judgements, disagreements} = judge(flowsFor, oracle.guests, declarationsOf(scenario))

  const traceFile = join(fixture, 'kernel-trace.txt')
  if (!existsSync(traceFile)) return {judgements, disagreements}
  const links = dataOf<Link[]>(d.facts.links) ?? []
  const masterOf = (dev: string) => links.find((l) => l.name === dev)?.master
  const packets = tracePackets(readFileSync(traceFile, 'utf8'), readFileSync(join(fixture, 'kernel-trace.ruleset.json'), 'utf8'), masterOf)
  // A guest bridged to a LAN (no libvirt network routes its IPv4, as the datapath tells them): its DHCP server and
  // its way out are the LAN's, its DHCP exchange is walked across the bridge, not into the host.
  const libvirt = dataOf<LibvirtFacts>(d.facts.libvirt)
  const onLan = (guest: string) => {
    const i = libvirt?.domains.find((x) => x.name === guest)?.interfaces[0]
    if (!i) return false
    const net = i.type === 'network' ? libvirt!.networks.find((n) => n.name === i.source) : libvirt!.networks.find((n) => n.bridge !== undefined && n.bridge === (i.bridge ?? i.source))
    return !(net && net.forwardMode !== 'bridge' && net.ips.some((ip) => ip.family === 'ipv4'))
  }
  const guests: TraceGuest[] = Object.keys(oracle.guests).map((name) => {
    const own = d.flows.find((f) => f.guest === name)
    return {name, mac: own?.mac, bridge: own?.bridge, addresses: oracle.addresses?.[name] ?? (own?.guestAddress ? [own.guestAddress] : []), ...(onLan(name) ? {lan: true} : {})}
  })
  const walkOf = (guest: string, kind: PacketKind): Flow | undefined => {
    const mine = d.flows.filter((f) => f.guest === guest)
    const lan = onLan(guest)
    switch (kind) {
      case 'dhcp':
      case 'dhcp-reply':
        return lan ? undefined : mine.find((f) => f.kind === kind)
      case 'dhcp-lan':
        return lan ? mine.find((f) => f.kind === 'dhcp') : undefined
      case 'dhcp-reply-lan':
        return lan ? mine.find((f) => f.kind === 'dhcp-reply') : undefined
      case 'dns':
        return mine.find((f) => f.kind === kind)
      case 'dns-reply':
        return mine.find((f) => f.kind === 'dns-reply')
      case 'tcp':
        return mine.find((f) => f.kind === 'egress')
      case 'tcp-reply':
        return mine.find((f) => f.kind === 'egress-reply')
      case 'ping':
        return pingFlows(guest).find((f) => !f.replyTo)
      case 'ping-reply':
        return pingFlows(guest).find((f) => f.replyTo)
    }
  }
  const {compared, uncompared} = compareKernel(packets, guests, {addr: oracle.internet, port: oracle.port}, walkOf, natChainsOf(dataOf<NfRuleset>(d.facts.netfilter) ?? {tables: []}), masterOf)
  return {judgements, disagreements, kernel: compared, uncompared}
}
