/**
 * `kvmdoctor trace`: one guest's flows through the host, hop by hop, from the
 * same probes and derivations diagnose uses (live, snapshot or bundle).
 */
import {ALL_PROBES} from '../../probes/index.js'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import {type ProbeOptions, dataOf} from '../../probes/types.js'
import type {Destination} from '../datapath/flows.js'
import type {PublishRequest} from '../datapath/published.js'
import {ALL_RULES} from '../../rules/index.js'
import type {TraceResult} from '../result/trace.js'
import {undoRefusalOn, withUndo} from './analysis.js'
import {fixHostOf} from './fix-safety.js'
import {hostNameOf, internetOf, probeStatuses} from './probe-runner.js'

export type {TraceResult} from '../result/trace.js'
import {UserError} from './errors.js'
import {knownNames} from './names.js'
import {unknownNameMessage} from '../lib/suggest.js'
import {buildModel} from '../derive/index.js'
import {runProbes} from './probe-runner.js'
import {openSource} from './source.js'
import type {SshTarget} from './ssh-runner.js'

export interface TraceRequest {
  from?: string
  /** Probe another host over SSH. */
  ssh?: SshTarget
  timeoutMs: number
  /** The whole live run's budget. */
  deadlineMs?: number
  options: ProbeOptions
  guest: string
  /** The guest interface: its tap name or MAC. */
  iface?: string
  to?: Destination
  /** Follow connections from outside to this published port (no guest named: wherever it leads). */
  inbound?: {port: number; proto: 'tcp' | 'udp'; hostAddress?: string}
  /** An outside client: the guest's (or --inbound's) published ports followed from this address. */
  client?: string
  /** Services the user expects guests to offer from outside (--publish). */
  publish?: PublishRequest[]
  /** Told what the user must know about the source (a bundle without checksums). */
  warn?: (message: string) => void
}

const destinationText = (to: Destination) => `${to.addr.includes(':') ? `[${to.addr}]` : to.addr}${to.port !== undefined ? `:${to.port}` : ''}/${to.proto}`

export async function runTrace(request: TraceRequest): Promise<TraceResult> {
  const source = await openSource({from: request.from, ssh: request.ssh, timeoutMs: request.timeoutMs, deadlineMs: request.deadlineMs, warn: request.warn})
  try {
    const options = source.recordedOptions ? {...source.recordedOptions, ...(request.options.internet ? {internet: request.options.internet} : {})} : request.options
    const results = await runProbes(ALL_PROBES, source.runner, options)
    const model = buildModel(results, source.runner.capturedAt, {internet: internetOf(options), publish: request.publish ?? []})
    const undoRefusal = undoRefusalOn(fixHostOf(results))
    const domains = dataOf<LibvirtFacts>(results.libvirt)?.domains
    for (const p of request.publish ?? []) {
      if (domains && !domains.some((d) => d.name === p.guest)) throw new UserError(`--publish: ${unknownNameMessage(p.guest, 'guest', knownNames(dataOf<LibvirtFacts>(results.libvirt)!))}`)
    }
    if (request.inbound) {
      const {port, proto, hostAddress} = request.inbound
      const label = `--inbound ${hostAddress ? `${hostAddress}:` : ''}${port}/${proto}`
      const asked = `connections from ${request.client ?? 'outside'} to ${hostAddress ?? 'the host'}:${port}/${proto}`
      const base = {host: hostNameOf(results, source.runner.origin), capturedAt: source.runner.capturedAt.toISOString(), guest: label, state: 'n/a', inbound: asked, probes: probeStatuses(results), ...(source.describe ? {source: source.describe()} : {})}
      if (!model.datapath.ok) return {...base, flows: [], unavailable: model.datapath.reason}
      return {...base, flows: withUndo(model.datapath.datapath.inbound({port, proto, ...(hostAddress ? {hostAddress} : {}), ...(request.client ? {client: request.client} : {})}), ALL_RULES, undoRefusal, model.entities.host[0])}
    }
    const libvirt = dataOf<LibvirtFacts>(results.libvirt)
    const domain = domains?.find((d) => d.name === request.guest)
    if (libvirt && !domain) throw new UserError(unknownNameMessage(request.guest, 'guest', knownNames(libvirt)))
    if (domain && request.iface && !domain.interfaces.some((i) => i.target === request.iface || i.mac === request.iface)) {
      const ifaces = domain.interfaces.flatMap((i) => [i.target, i.mac]).filter((n): n is string => n !== undefined)
      throw new UserError(unknownNameMessage(request.iface, 'interface', ifaces.map((name) => ({kind: 'interface', name})), ` of ${request.guest}`))
    }
    const base = {host: hostNameOf(results, source.runner.origin), capturedAt: source.runner.capturedAt.toISOString(), guest: request.guest, state: domain?.state ?? 'unknown', ...(request.to ? {to: destinationText(request.to)} : {}), probes: probeStatuses(results), ...(source.describe ? {source: source.describe()} : {})}
    if (!model.datapath.ok) return {...base, flows: [], unavailable: model.datapath.reason}
    // From an outside client: the connections to the guest's published ports (its own flows are the guest's to start).
    if (request.client) return {...base, inbound: `connections from ${request.client} to the published ports of ${request.guest}`, flows: withUndo(model.datapath.datapath.inbound({guest: request.guest, client: request.client}), ALL_RULES, undoRefusal, model.entities.host[0])}
    return {...base, flows: withUndo(model.datapath.datapath.trace(request.guest, {iface: request.iface, to: request.to}), ALL_RULES, undoRefusal, model.entities.host[0])}
  } finally {
    await source.close()
  }
}
