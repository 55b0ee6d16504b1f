/**
 * `kvmdoctor ip`: every guest interface with its addresses from every source
 * the host has (leases, neighbour table, guest agent, arp-scan), and a verdict
 * read from the findings on it (the rules judge; this lists). Reads files and
 * one-shot commands; one virsh call per guest only where a guest agent must be asked.
 */
import {arpScanProbe} from '../../probes/arpscan.js'
import {type GuestAgentFacts, guestAgentProbe} from '../../probes/guest-agent.js'
import {hostProbe} from '../../probes/host.js'
import {type LeaseFacts, leasesProbe} from '../../probes/leases.js'
import {type DomainInterface, type LibvirtFacts, libvirtProbe} from '../../probes/libvirt.js'
import {type Link, linksProbe} from '../../probes/links.js'
import {type Neighbour, neighboursProbe} from '../../probes/neighbours.js'
import {ovsProbe} from '../../probes/ovs.js'
import {type Route, routesProbe} from '../../probes/routes.js'
import {type ProbeOptions, type ProbeResult, dataOf as data} from '../../probes/types.js'
import {type WireFacts, wireProbe} from '../../probes/wire.js'
import type {ArpScanFacts} from '../../probes/arpscan.js'
import {ALL_RULES} from '../../rules/index.js'
import {addressClaimsByIp, answered, guestAddressIndex} from '../derive/addresses.js'
import {isRunning} from '../derive/context.js'
import {buildModel} from '../derive/index.js'
import {addressesOutside, wireContextFor, wireOf} from '../derive/wire.js'
import {getOrCreate} from '../lib/collections.js'
import {requestLabels, requestsOfGuests} from '../derive/wire-requests.js'
import {isApipa} from '../lib/ipv4.js'
import type {Runner} from '../lib/runner.js'
import type {Finding} from '../result/findings.js'
import type {AddressSeen, IpInventory, IpRow, Verdict, WireRow} from '../result/ip.js'
import {evaluate} from './engine.js'
import {knownNames} from './names.js'
import {unknownNameMessage} from '../lib/suggest.js'
import {UncheckedError, UserError} from './errors.js'
import {hostNameOf, probeStatuses, runProbes} from './probe-runner.js'

export type {AddressSeen, IpInventory, IpRow, Verdict, WireRow} from '../result/ip.js'

// Routes: an address the host routes through the guest's bridge is the network's, not foreign (as diagnose judges it).
const PROBES = [hostProbe, linksProbe, routesProbe, neighboursProbe, libvirtProbe, leasesProbe, arpScanProbe, guestAgentProbe, wireProbe]

export async function ipInventory(runner: Runner, options: ProbeOptions, only: string[] = []): Promise<IpInventory> {
  // arp-scan reads Open vSwitch's bridges (their internal ports reach OVS guests): OVS is read for it, not listed.
  return buildInventory(await runProbes(PROBES, runner, options, [ovsProbe]), runner.capturedAt, only, runner.origin)
}

/** The rows, from probe results, and the findings of every rule on them (tests feed it altered facts). */
export async function buildInventory(results: Record<string, ProbeResult>, capturedAt: Date, only: string[] = [], origin?: string): Promise<IpInventory> {
  checkDomains(results, only)
  const {findings} = await evaluate(buildModel(results, capturedAt), ALL_RULES)
  return inventoryOf(results, findings, capturedAt, only, origin)
}

function checkDomains(results: Record<string, ProbeResult>, only: string[]): void {
  const libvirt = data<LibvirtFacts>(results.libvirt)
  // Not bad input: the host could not be read (libvirtd down, virsh missing), so no guest was checked.
  if (!libvirt) throw new UncheckedError(`cannot list guests: ${!results.libvirt.ok ? results.libvirt.error : 'libvirt probe failed'}`)
  const unknown = only.filter((name) => !libvirt.domains.some((d) => d.name === name))
  if (unknown.length > 0) {
    const known = knownNames(libvirt)
    throw new UserError(unknown.map((name) => unknownNameMessage(name, 'guest', known)).join('; '))
  }
}

/**
 * The rows, from probe results and the findings on the guests (a diagnosis's, for the topology):
 * addresses as the sources report them, verdicts as the rules judged them.
 */
export function inventoryOf(results: Record<string, ProbeResult>, findings: Finding[], capturedAt: Date, only: string[] = [], origin?: string): IpInventory {
  checkDomains(results, only)
  const libvirt = data<LibvirtFacts>(results.libvirt)!
  const leases = data<LeaseFacts>(results.leases)
  const neighbours = data<Neighbour[]>(results.neighbours)
  const agent = data<GuestAgentFacts>(results['guest-agent'])
  const wire = data<WireFacts>(results.wire)
  const links = data<Link[]>(results.links)
  const arpScan = data<ArpScanFacts>(results['arp-scan'])
  const byMac = guestAddressIndex(leases, neighbours, arpScan, wire, agent, links)
  // Who claims each IPv4 address: the MACs a conflict names.
  const claims = addressClaimsByIp(byMac)
  // What the rules found on each guest interface (by domain and MAC) and on each address.
  const onInterface = new Map<string, Map<string, Finding>>()
  const conflicted = new Set<string>()
  for (const f of findings) {
    if (f.entity.kind === 'address' && f.id === 'ip-address-conflict') conflicted.add(f.entity.name)
    if (f.entity.kind === 'interface') getOrCreate(onInterface, `${f.context?.domain}\u0000${f.context?.mac}`, () => new Map()).set(f.id, f)
  }
  const v6ByMac = new Map<string, AddressSeen[]>()
  const addV6 = (mac: string, ip: string, source: string) => {
    const list = getOrCreate(v6ByMac, mac, () => [])
    const seen = list.find((x) => x.ip === ip)
    if (seen) seen.sources.includes(source) || seen.sources.push(source)
    else list.push({ip, sources: [source]})
  }
  for (const n of neighbours ?? []) if (n.mac && n.ip.includes(':') && answered(n)) addV6(n.mac, n.ip, 'neighbour')
  for (const list of Object.values(agent?.addresses ?? {})) for (const a of list) if (a.family === 'ipv6') addV6(a.mac, a.ip, 'agent')
  for (const w of wire?.interfaces ?? []) for (const ip of w.ipv6.linkLocal) addV6(w.mac, ip, 'wire')
  const domainOfMac = new Map(libvirt.domains.flatMap((d) => d.interfaces.filter((i) => i.mac).map((i) => [i.mac!, d.name] as const)))
  // Two running guests with one MAC share whatever address it gets: that is a conflict too.
  const runningByMac = new Map<string, string[]>()
  for (const d of libvirt.domains.filter(isRunning)) for (const i of d.interfaces) if (i.mac) getOrCreate(runningByMac, i.mac, () => []).push(d.name)

  const contextOf = (i: DomainInterface) => wireContextFor(i, libvirt, links, leases, data<Route[]>(results.routes))
  // What each listened guest asked for, and who was there to answer (the labels `ip` prints; the rules judge).
  const requestsOf = requestsOfGuests({wire, libvirt, links, leases, neighbours, addressesByMac: byMac, contextOf})

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
      const found = onInterface.get(`${d.name}\u0000${i.mac}`) ?? new Map<string, Finding>()
      const heard = running ? wireOf(wire, i.mac) : undefined
      const judged = {
        conflict: ipv4.some((a) => conflicted.has(a.ip)) || found.has('mac-duplicate'),
        silent: found.has('guest-silent'),
        foreign: found.has('guest-address-foreign'),
        dhcpUnanswered: found.has('dhcp-no-offer'),
        gatewayUnanswered: found.has('guest-gateway-unanswered'),
        wrongNetmask: found.has('guest-netmask-wrong'),
        // No source of this interface's addresses could be read: nothing seen is not "no address".
        unread: !leases && !neighbours && !arpScan && !heard && agent?.addresses[d.name] === undefined,
      }
      const context = heard && contextOf(i)
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
        verdict: verdictOf(running, ipv4, judged),
        conflictsWith,
        wire: heard && context ? {
          seconds: wire!.seconds,
          sent: heard.sent,
          silent: judged.silent,
          dhcp: {discovers: heard.dhcp.discovers, requests: heard.dhcp.requests, answers: heard.dhcp.answers.map((a) => `${a.message.toUpperCase()} ${a.address ? `${a.address} ` : ''}from ${a.server} (${a.serverMac})`), unanswered: judged.dhcpUnanswered},
          foreign: addressesOutside(heard, context.subnets),
          rogueServers: found.get('rogue-dhcp-server')?.found ?? [],
          ownDhcpServers: context.ownServers,
          ipv6LinkLocal: heard.ipv6.linkLocal,
          capped: heard.capped,
          requests: requestLabels(requestsOf(i, heard)),
        } satisfies WireRow : null,
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

/** What the rules found on a guest interface (a conflict on its addresses or its MAC, and the wire's findings). */
export interface Judged {
  conflict: boolean
  silent: boolean
  foreign: boolean
  dhcpUnanswered: boolean
  gatewayUnanswered: boolean
  wrongNetmask: boolean
  /** No source of the interface's addresses could be read (leases, neighbours, arp-scan, its agent, the wire). */
  unread: boolean
}

/**
 * One verdict per guest interface: the findings on it first (with the wire, the guest's own
 * frames decide over the host's tables), then what its addresses are.
 */
export function verdictOf(running: boolean, ipv4: AddressSeen[], judged: Judged): Verdict {
  if (!running) return 'shut off'
  if (judged.conflict) return 'conflict'
  if (judged.silent) return 'silent'
  if (judged.foreign) return 'foreign address'
  if (ipv4.length === 0) return judged.dhcpUnanswered ? 'DHCP unanswered' : judged.unread ? 'unknown' : 'no address'
  if (ipv4.every((a) => isApipa(a.ip))) return 'APIPA'
  // An address that cannot reach its gateway, or takes its neighbours for strangers (and strangers for neighbours), is not ok.
  if (judged.gatewayUnanswered) return 'gateway unanswered'
  if (judged.wrongNetmask) return 'wrong netmask'
  // A lease on file that nothing confirms: the guest is not answering from it.
  if (ipv4.every((a) => a.sources.length === 1 && a.sources[0] === 'lease')) return 'stale'
  return 'ok'
}
