/**
 * `kvmdoctor trace`: one guest's flows through the host, hop by hop, from the
 * same probes and derivations diagnose uses (live, snapshot or bundle).
 */
import {ALL_PROBES} from '../../probes/index.js'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import {type ProbeOptions, dataOf} from '../../probes/types.js'
import type {Destination} from '../datapath/flows.js'
import {ALL_RULES} from '../../rules/index.js'
import type {TraceResult} from '../result/trace.js'
import {withUndo} from './diagnose.js'
import {hostNameOf, internetOf, probeStatuses} from './probe-runner.js'

export type {TraceResult} from '../result/trace.js'
import {UserError} from './errors.js'
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
  /** Told what the user must know about the source (a bundle without checksums). */
  warn?: (message: string) => void
}

export async function runTrace(request: TraceRequest): Promise<TraceResult> {
  const source = await openSource({from: request.from, ssh: request.ssh, timeoutMs: request.timeoutMs, deadlineMs: request.deadlineMs, warn: request.warn})
  try {
    const options = source.recordedOptions ? {...source.recordedOptions, ...(request.options.internet ? {internet: request.options.internet} : {})} : request.options
    const results = await runProbes(ALL_PROBES, source.runner, options)
    const model = buildModel(results, source.runner.capturedAt, {internet: internetOf(options)})
    const domains = dataOf<LibvirtFacts>(results.libvirt)?.domains
    const domain = domains?.find((d) => d.name === request.guest)
    if (domains && !domain) throw new UserError(`no guest named "${request.guest}" (defined: ${domains.map((d) => d.name).join(', ') || 'none'})`)
    if (domain && request.iface && !domain.interfaces.some((i) => i.target === request.iface || i.mac === request.iface)) {
      throw new UserError(`${request.guest} has no interface "${request.iface}" (its interfaces: ${domain.interfaces.map((i) => i.target ?? i.mac).join(', ')})`)
    }
    const base = {host: hostNameOf(results, source.runner.origin), capturedAt: source.runner.capturedAt.toISOString(), guest: request.guest, state: domain?.state ?? 'unknown', probes: probeStatuses(results), ...(source.describe ? {source: source.describe()} : {})}
    if (!model.datapath.ok) return {...base, flows: [], unavailable: model.datapath.reason}
    return {...base, flows: withUndo(model.datapath.datapath.trace(request.guest, {iface: request.iface, to: request.to}), ALL_RULES)}
  } finally {
    await source.close()
  }
}
