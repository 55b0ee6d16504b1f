/**
 * `kvmdoctor ip`: every guest interface with its addresses from every source
 * the host has (leases, neighbour table, guest agent, arp-scan), reconciled
 * into one verdict. Reads files and one-shot commands; one virsh call per
 * guest only where a guest agent must be asked.
 */
import type {ArpScanFacts} from '../../probes/arpscan.js'
import {arpScanProbe} from '../../probes/arpscan.js'
import type {GuestAgentFacts} from '../../probes/guest-agent.js'
import {guestAgentProbe} from '../../probes/guest-agent.js'
import {hostProbe} from '../../probes/host.js'
import {type LeaseFacts, leasesProbe} from '../../probes/leases.js'
import {type LibvirtFacts, libvirtProbe} from '../../probes/libvirt.js'
import {linksProbe} from '../../probes/links.js'
import {type Neighbour, neighboursProbe} from '../../probes/neighbours.js'
import {type ProbeOptions, type ProbeResult, dataOf as data} from '../../probes/types.js'
import {type ProbeStatus, hostNameOf, probeStatuses} from './diagnose.js'
import {UserError} from './errors.js'
import {isApipa} from '../lib/ipv4.js'
import {addressClaimsByIp, guestAddressIndex} from '../derive/addresses.js'
import {isRunning} from '../derive/context.js'
import {runProbes} from './probe-runner.js'
import type {Runner} from '../lib/runner.js'
import {getOrCreate} from '../lib/collections.js'
import {type WireFacts, wireProbe} from '../../probes/wire.js'
import {type WireJudgement, judgeWire, wireContextFor, wireOf} from '../derive/wire.js'
import {type RequestLabels, type WireRequests, bridgeOfInterface, judgeRequests, requestLabels, segmentIndexes} from '../derive/wire-requests.js'
import type {Link} from '../../probes/links.js'
import {type Route, routesProbe} from '../../probes/routes.js'

export type Verdict = 'ok' | 'no address' | 'APIPA' | 'foreign address' | 'conflict' | 'silent' | 'DHCP unanswered' | 'gateway unanswered' | 'wrong netmask' | 'stale' | 'shut off'

/** What the guest did on the wire during --listen: null when it was not listened to. */
export interface WireRow {
  seconds: number
  /** Frames the guest sent. */
  sent: number
  silent: boolean
  dhcp: {discovers: number; requests: number; answers: string[]; unanswered: boolean}
  foreign: string[]
  rogueServers: string[]
  /** Its network's own DHCP servers; null where this host cannot know them (a bridged LAN, a network without DHCP). */
  ownDhcpServers: string[] | null
  ipv6LinkLocal: string[]
  capped: boolean
  /** What it asked for on the wire and who answered: its gateway, neighbours, DNS servers, DHCP, IPv6 DAD, ARP it answers. */
  requests: RequestLabels
}

export interface AddressSeen {
  ip: string
  sources: string[]
}

export interface IpRow {
  domain: string
  state: string
  interface: string | null
  mac: string | null
  /** libvirt network name, or the bridge / host device for bridge and direct interfaces. */
  network: string | null
  type: string
  ipv4: AddressSeen[]
  ipv6: AddressSeen[]
  /** ISO time the DHCP lease ends; null: no lease, or one that never expires. */
  leaseExpiry: string | null
  verdict: Verdict
  /** For conflicts: the other MACs (and their guests) claiming the same address. */
  conflictsWith: string[]
  wire: WireRow | null
}

export interface IpInventory {
  host: string
  capturedAt: string
  rows: IpRow[]
  probes: ProbeStatus[]
}

// Routes: an address the host routes through the guest's bridge is the network's, not foreign (as diagnose judges it).
const PROBES = [hostProbe, linksProbe, routesProbe, neighboursProbe, libvirtProbe, leasesProbe, arpScanProbe, guestAgentProbe, wireProbe]
/** The probes whose facts the inventory reads. */
export const INVENTORY_FACTS: readonly string[] = PROBES.map((p) => p.id)

export async function ipInventory(runner: Runner, options: ProbeOptions, only: string[] = []): Promise<IpInventory> {
  return buildInventory(await runProbes(PROBES, runner, options), runner.capturedAt, only, runner.origin)
}

/** The rows, from probe results (pure: tests feed it altered facts). */
export function buildInventory(results: Record<string, ProbeResult>, capturedAt: Date, only: string[] = [], origin?: string): IpInventory {
  const libvirt = data<LibvirtFacts>(results.libvirt)
  if (!libvirt) throw new UserError(`cannot list guests: ${!results.libvirt.ok ? results.libvirt.error : 'libvirt probe failed'}`)
  const unknown = only.filter((name) => !libvirt.domains.some((d) => d.name === name))
  if (unknown.length > 0) throw new UserError(`no such domain: ${unknown.join(', ')}`)
  const leases = data<LeaseFacts>(results.leases)
  const neighbours = data<Neighbour[]>(results.neighbours)
  const agent = data<GuestAgentFacts>(results['guest-agent'])
  const wire = data<WireFacts>(results.wire)
  const links = data<Link[]>(results.links)
  const hostAddresses = (links ?? []).flatMap((l) => l.addresses.filter((a) => a.family === 'inet').map((a) => a.address))
  const byMac = guestAddressIndex(leases, neighbours, data<ArpScanFacts>(results['arp-scan']), wire, hostAddresses)
  for (const list of Object.values(agent?.addresses ?? {})) {
    for (const a of list) if (a.family === 'ipv4') getOrCreate(byMac, a.mac, () => []).push({ip: a.ip, source: 'agent'})
  }
  // Who claims each IPv4 address, for conflicts: the same answer diagnose gets.
  const claims = addressClaimsByIp(byMac)
  const v6ByMac = new Map<string, AddressSeen[]>()
  const addV6 = (mac: string, ip: string, source: string) => {
    const list = getOrCreate(v6ByMac, mac, () => [])
    const seen = list.find((x) => x.ip === ip)
    if (seen) seen.sources.includes(source) || seen.sources.push(source)
    else list.push({ip, sources: [source]})
  }
  for (const n of neighbours ?? []) if (n.mac && n.ip.includes(':') && !n.state.includes('FAILED')) addV6(n.mac, n.ip, 'neighbour')
  for (const list of Object.values(agent?.addresses ?? {})) for (const a of list) if (a.family === 'ipv6') addV6(a.mac, a.ip, 'agent')
  for (const w of wire?.interfaces ?? []) for (const ip of w.ipv6.linkLocal) addV6(w.mac, ip, 'wire')
  const domainOfMac = new Map(libvirt.domains.flatMap((d) => d.interfaces.filter((i) => i.mac).map((i) => [i.mac!, d.name] as const)))
  const bridgeOfMac = new Map(libvirt.domains.flatMap((d) => d.interfaces.filter((i) => i.mac).map((i) => [i.mac!, bridgeOfInterface(i, libvirt)] as const)))
  const segments = segmentIndexes({wire, libvirt, links, leases, neighbours, bridgeOfMac: (m) => bridgeOfMac.get(m), domainOfMac: (m) => domainOfMac.get(m)})
  // Two running guests with one MAC share whatever address it gets: that is a conflict too.
  const runningByMac = new Map<string, string[]>()
  for (const d of libvirt.domains.filter(isRunning)) for (const i of d.interfaces) if (i.mac) getOrCreate(runningByMac, i.mac, () => []).push(d.name)

  const rows: IpRow[] = []
  for (const d of libvirt.domains) {
    if (only.length > 0 && !only.includes(d.name)) continue
    const running = isRunning(d)
    for (const i of d.interfaces) {
      const seen = new Map<string, AddressSeen>()
      let leaseExpiry: number | null = null
      for (const a of running && i.mac ? byMac.get(i.mac) ?? [] : []) {
        const entry = seen.get(a.ip) ?? seen.set(a.ip, {ip: a.ip, sources: []}).get(a.ip)!
        if (!entry.sources.includes(a.source)) entry.sources.push(a.source)
        if (a.source === 'lease' && a.expiry) leaseExpiry = Math.max(leaseExpiry ?? 0, a.expiry)
      }
      const ipv4 = [...seen.values()].sort((a, b) => a.ip.localeCompare(b.ip, undefined, {numeric: true}))
      const conflictsWith = [
        ...[...new Set(ipv4.flatMap((a) => [...(claims.get(a.ip) ?? [])].filter((m) => m !== i.mac)))].map((m) => (domainOfMac.get(m) ? `${m} (${domainOfMac.get(m)})` : m)),
        ...(running && i.mac ? (runningByMac.get(i.mac) ?? []).filter((other) => other !== d.name).map((other) => `${other} (same MAC)`) : []),
      ]
      const heard = running ? wireOf(wire, i.mac) : undefined
      const context = heard && wireContextFor(i, libvirt, links, leases, data<Route[]>(results.routes))
      const judged = heard && context ? judgeWire(heard, context) : undefined
      // What the host knows it holds (lease, guest agent): a neighbour entry may be a proxy's answer.
      const held = ipv4.filter((a) => a.sources.includes('lease') || a.sources.includes('agent')).map((a) => a.ip)
      const requests = heard && context ? judgeRequests(heard, context, segments.get(bridgeOfInterface(i, libvirt) ?? ''), held, (m) => domainOfMac.get(m)) : undefined
      rows.push({
        domain: d.name,
        state: d.state,
        interface: running ? i.target ?? null : null,
        mac: i.mac ?? null,
        network: i.type === 'network' ? i.source ?? null : i.source ?? i.bridge ?? null,
        type: i.type,
        ipv4,
        ipv6: running && i.mac ? v6ByMac.get(i.mac) ?? [] : [],
        leaseExpiry: leaseExpiry ? new Date(leaseExpiry * 1000).toISOString() : null,
        verdict: verdictOf(running, ipv4, conflictsWith, judged, requests),
        conflictsWith,
        wire: judged && context && requests ? wireRow(judged, wire!.seconds, context.ownServers, requests) : null,
      })
    }
  }
  return {
    host: hostNameOf(results, origin),
    capturedAt: capturedAt.toISOString(),
    rows,
    probes: probeStatuses(results),
  }
}

function wireRow(j: WireJudgement, seconds: number, ownDhcpServers: string[] | null, requests: WireRequests): WireRow {
  const w = j.heard
  return {
    seconds,
    sent: w.sent,
    silent: j.silent,
    dhcp: {discovers: w.dhcp.discovers, requests: w.dhcp.requests, answers: w.dhcp.answers.map((a) => `${a.message.toUpperCase()} ${a.address ? `${a.address} ` : ''}from ${a.server} (${a.serverMac})`), unanswered: j.dhcpUnanswered},
    foreign: j.foreign,
    rogueServers: j.rogueServers,
    ownDhcpServers,
    ipv6LinkLocal: w.ipv6.linkLocal,
    capped: w.capped,
    requests: requestLabels(requests),
  }
}

/**
 * One verdict per guest interface. With the wire (--listen) the guest's own frames decide over
 * the host's tables: a guest that sent nothing is silent whatever a lease says, one that uses
 * an address its network cannot route has a foreign address.
 */
export function verdictOf(running: boolean, ipv4: AddressSeen[], conflictsWith: string[], wire?: WireJudgement, requests?: WireRequests): Verdict {
  if (!running) return 'shut off'
  if (conflictsWith.length > 0) return 'conflict'
  if (wire?.silent) return 'silent'
  if (wire && wire.foreign.length > 0) return 'foreign address'
  if (ipv4.length === 0) return wire?.dhcpUnanswered ? 'DHCP unanswered' : 'no address'
  if (ipv4.every((a) => isApipa(a.ip))) return 'APIPA'
  // An address that cannot reach its gateway, or takes its neighbours for strangers (and strangers for neighbours), is not ok.
  if (requests && requests.gatewayUnanswered.length > 0) return 'gateway unanswered'
  if (requests && (requests.offSubnetAsked.length > 0 || requests.onSubnetViaGateway.length > 0)) return 'wrong netmask'
  // A lease on file that nothing confirms: the guest is not answering from it.
  if (ipv4.every((a) => a.sources.length === 1 && a.sources[0] === 'lease')) return 'stale'
  return 'ok'
}
