/**
 * Ground truth for the datapath: what the lab's guests measured (oracle.json, from their
 * consoles) and what the kernel traced (kernel-trace.txt) held against the flows kvmdoctor
 * followed in the same recording. Pure functions: the replay suite and the live lab both use them.
 */
import type {Flow, HopVerdict} from '../src/datapath/flows.js'
import type {TraceStep} from '../src/datapath/netfilter/evaluate.js'
import type {PacketFields, TracedPacket} from './lab/kernel-trace.js'
import type {BeyondHost, ReachCheck, ReachVerdict, Scenario} from './scenarios.js'

export type GuestReach = Record<ReachCheck, ReachVerdict>

export const MEASURES: ReachCheck[] = ['dhcp', 'dns', 'ping', 'tcp']

/** The scenario's declarations, one list whatever form they were written in. */
export const declarationsOf = (scenario: Pick<Scenario, 'beyondHost'>): BeyondHost[] => (scenario.beyondHost === undefined ? [] : Array.isArray(scenario.beyondHost) ? scenario.beyondHost : [scenario.beyondHost])

/** One guest's measure, as the guest saw it and as kvmdoctor judges it. */
export interface Judgement {
  guest: string
  measure: ReachCheck
  guestSaw: ReachVerdict
  /** kvmdoctor's verdict on the measure's request and reply together; `none`: it follows no flow for it. */
  kvmdoctor: HopVerdict | 'none'
  /** Where it is decided: the first failing flow's failing hop, else the first undecided one. */
  detail: string
  /** What the verdict takes for granted (Flow.assumptions of its flows). */
  assumptions: string[]
  /** The scenario's declaration that covers it. */
  declared?: BeyondHost
}

export interface Disagreement {
  guest: string
  measure: string
  guestSaw: ReachVerdict
  kvmdoctorSays: string
  /** Why this is not agreement (an undeclared indeterminate verdict, a declaration kvmdoctor's verdict makes needless ...). */
  why: string
}

/** kvmdoctor's verdict on a measure: its flows (request and reply) taken together. */
export function measureVerdict(flows: Flow[]): Pick<Judgement, 'kvmdoctor' | 'detail' | 'assumptions'> {
  if (flows.length === 0) return {kvmdoctor: 'none', detail: 'no flow followed', assumptions: []}
  const assumptions = [...new Set(flows.flatMap((f) => f.assumptions ?? []))]
  const failing = flows.find((f) => f.verdict === 'fail')
  if (failing) return {kvmdoctor: 'fail', detail: `${failing.kind} fails at ${failing.decidedBy?.name}: ${failing.decidedBy?.detail}`, assumptions}
  const unsure = flows.find((f) => f.verdict === 'indeterminate')
  if (unsure) return {kvmdoctor: 'indeterminate', detail: `${unsure.kind} cannot be told at ${unsure.decidedBy?.name}: ${unsure.decidedBy?.detail}`, assumptions}
  return {kvmdoctor: 'pass', detail: 'every hop passes', assumptions}
}

/**
 * Every guest's every measure against kvmdoctor's verdict on it. The rule, for each measure a guest took
 * (`skip`: not taken, e.g. DHCP by a static guest):
 * - kvmdoctor's verdict is measureVerdict of the measure's flows; a pass that rests on assumptions (Flow.assumptions:
 *   an assumed source address, the device a reply arrives by, a server on a LAN) is a pass all the same.
 * - Not declared by the scenario: pass must meet ok and fail must meet fail. `indeterminate` and `none` (no flow
 *   followed) are disagreements: the scenario has to say why the host cannot tell.
 * - Declared (beyondHost: the guests, the measures, why): the verdict must be one the host's own state cannot
 *   decide: indeterminate, none, or a verdict resting on assumptions that differs from what the guest saw (the lab
 *   broke what was assumed). A verdict without assumptions, or one that agrees with the guest, means the measure can
 *   be compared: the declaration is then a disagreement of its own (a scenario declares at most what it cannot compare).
 */
export function judge(flowsFor: (guest: string, measure: ReachCheck) => Flow[], guests: Record<string, GuestReach>, declarations: BeyondHost[]): {judgements: Judgement[]; disagreements: Disagreement[]} {
  const judgements: Judgement[] = []
  const disagreements: Disagreement[] = []
  for (const d of declarations) {
    for (const g of d.guests ?? []) {
      if (!(g in guests)) disagreements.push({guest: g, measure: d.measures.join(','), guestSaw: 'skip', kvmdoctorSays: '-', why: `declared beyond the host (${d.why}), but ${g} did not run`})
    }
  }
  for (const [guest, reach] of Object.entries(guests)) {
    for (const measure of MEASURES) {
      const saw = reach[measure]
      const declared = declarations.find((d) => (d.guests === undefined || d.guests.includes(guest)) && d.measures.includes(measure))
      if (saw === 'skip') {
        // A declaration for every guest may cover a guest that does not take the measure; one that names it may not.
        if (declared?.guests) disagreements.push({guest, measure, guestSaw: saw, kvmdoctorSays: '-', why: `declared beyond the host (${declared.why}), but the guest does not measure it`})
        continue
      }
      const j: Judgement = {guest, measure, guestSaw: saw, ...measureVerdict(flowsFor(guest, measure)), ...(declared ? {declared} : {})}
      judgements.push(j)
      const says = `${j.kvmdoctor}${j.kvmdoctor === 'pass' ? '' : `: ${j.detail}`}${j.assumptions.length > 0 ? ` (assuming ${j.assumptions.join('; ')})` : ''}`
      const agrees = (j.kvmdoctor === 'pass' && saw === 'ok') || (j.kvmdoctor === 'fail' && saw === 'fail')
      const why = declared
        ? j.kvmdoctor === 'indeterminate' || j.kvmdoctor === 'none'
          ? undefined
          : agrees
            ? `declared beyond the host (${declared.why}), but kvmdoctor's verdict agrees with the guest: compare it`
            : j.assumptions.length === 0
              ? `declared beyond the host (${declared.why}), but kvmdoctor decides it on the host's state alone, and wrongly`
              : undefined
        : agrees
          ? undefined
          : j.kvmdoctor === 'indeterminate'
            ? 'kvmdoctor cannot tell, and the scenario does not say why the host cannot (beyondHost)'
            : j.kvmdoctor === 'none'
              ? 'kvmdoctor follows no flow for it, and the scenario does not say why (beyondHost)'
              : `the guest measured ${saw}`
      if (why) disagreements.push({guest, measure, guestSaw: saw, kvmdoctorSays: says, why})
    }
  }
  return {judgements, disagreements}
}

// ---------- the kernel oracle ----------

/** One decision of a netfilter walk, as the kernel's trace and kvmdoctor's evaluator both tell it. */
export interface Decision {
  family: string
  table: string
  chain: string
  /** nft rule handle; absent for policies. */
  handle?: number
  verdict: 'accept' | 'drop' | 'jump' | 'goto' | 'return' | 'policy accept' | 'policy drop'
}

export const decisionText = (d: Decision) => `${d.family} ${d.table} ${d.chain}${d.handle !== undefined ? ` #${d.handle}` : ''} ${d.verdict}`

const VERDICTS = new Set(['accept', 'drop', 'jump', 'goto', 'return'])

/** kvmdoctor's steps as decisions: verdicts, jumps, explicit returns, policies (NAT ends a nat chain with accept). */
export function evaluatorDecisions(steps: TraceStep[]): Decision[] {
  const out: Decision[] = []
  for (const s of steps) {
    const base = {family: s.chain.family, table: s.chain.table, chain: s.chain.chain}
    if (s.event === 'policy') out.push({...base, verdict: s.action === 'drop' ? 'policy drop' : 'policy accept'})
    if (s.event !== 'rule' || !s.action) continue
    const word = s.action.split(' ')[0]
    const verdict = word === 'reject' ? 'drop' : ['masquerade', 'snat', 'dnat', 'redirect'].includes(word) ? 'accept' : word
    if (VERDICTS.has(verdict)) out.push({...base, handle: s.rule?.ref.handle, verdict: verdict as Decision['verdict']})
  }
  return out
}

/** The kernel's decisions for one traced packet, in order, leaving out the trace tables themselves. */
export function kernelDecisions(p: TracedPacket, traceTable = 'kdlab_trace'): (Decision & {hook: string})[] {
  const out: (Decision & {hook: string})[] = []
  for (const e of p.events) {
    if (e.table === traceTable) continue
    const base = {family: e.family, table: e.table, chain: e.chain, hook: e.hook}
    if (e.kind === 'policy') out.push({...base, verdict: e.verdict === 'drop' ? 'policy drop' : 'policy accept'})
    else if ((e.kind === 'rule' || e.kind === 'return') && e.handle !== undefined && VERDICTS.has(e.verdict ?? '')) out.push({...base, handle: e.handle, verdict: e.verdict as Decision['verdict']})
  }
  return out
}

/** A decision of kvmdoctor's walk, with the hop that made it. */
export type WalkDecision = Decision & {hop: string}

/**
 * kvmdoctor's walk of a flow as the kernel's trace can show it: the netfilter decisions hop by hop, up to the first
 * hop it cannot tell (the packet's fate from there on is not claimed). iptables-legacy chains are left out: the
 * kernel's nftables trace cannot see x_tables.
 */
export function walkDecisions(flow: Flow): {decisions: WalkDecision[]; undecidedAt?: string} {
  const decisions: WalkDecision[] = []
  for (const h of flow.hops) {
    if (h.verdict === 'indeterminate') return {decisions, undecidedAt: `${h.name} (${h.detail})`}
    // The hooks' own walks (the NAT hop shows the postrouting steps again, as what decides it).
    if (h.steps && /^(netfilter|bridge|netdev) /.test(h.name)) decisions.push(...evaluatorDecisions(h.steps.filter((s) => s.chain.backend !== 'iptables-legacy')).map((d) => ({...d, hop: h.name})))
  }
  return {decisions}
}

/** Chains reached from nat base chains (iptables' nat tables, native nft nat chains and what they jump to). */
export function natChainsOf(rs: {tables: {family: string; name: string; chains: Record<string, {name: string; base?: {type: string}; rules: {exprs: {kind: string; target?: string}[]}[]}>}[]}): Set<string> {
  const out = new Set<string>()
  for (const t of rs.tables) {
    // Per table: an iptables-legacy table of the same name (listed apart) must not hide this one's chains.
    const seen = new Set<string>()
    const visit = (name: string) => {
      const chain = t.chains[name]
      if (!chain || seen.has(name)) return
      seen.add(name)
      out.add(`${t.family} ${t.name} ${name}`)
      for (const r of chain.rules) for (const e of r.exprs) if ((e.kind === 'jump' || e.kind === 'goto') && e.target) visit(e.target)
    }
    for (const c of Object.values(t.chains)) if (c.base?.type === 'nat') visit(c.name)
  }
  return out
}

/** The packets the kernel oracle compares: each measure's request and its reply. */
export type PacketKind = 'dhcp' | 'dhcp-lan' | 'dhcp-reply' | 'dhcp-reply-lan' | 'dns' | 'dns-reply' | 'tcp' | 'tcp-reply' | 'ping' | 'ping-reply'

/** A lab guest as the kernel oracle tells its packets apart. */
export interface TraceGuest {
  name: string
  mac?: string
  /** Its IPv4 addresses (its console's KD-ADDRS). */
  addresses: string[]
  /** The bridge its tap is a port of. */
  bridge?: string
  /** Bridged to a LAN (a plain host bridge): its DHCP server and its way out are on the LAN, not this host. */
  lan?: boolean
}

export interface KernelComparison {
  guest: string
  kind: PacketKind
  /** The packet as the first base chain saw it. */
  packet: string
  /** kvmdoctor's decisions for the same kind of packet (up to where it cannot tell). */
  kvmdoctor: string[]
  kernel: string[]
  /** kvmdoctor cannot tell the packet's fate from this hop on: the kernel's decisions from there are not compared. */
  undecidedAt?: string
  /** Not its connection's first packet since the conntrack entries were deleted: compared without NAT chains. */
  repeat?: boolean
  agrees: boolean
  /** Where they part: kvmdoctor's hop and decision, and the kernel's hook and decision there. */
  hop?: string
}

const tuple = (proto: string | undefined, src: string | undefined, sport: number | string | undefined, dst: string | undefined, dport: number | string | undefined) => `${proto} ${src}:${sport ?? ''} > ${dst}:${dport ?? ''}`
const requestTuple = (f: PacketFields) => tuple(f.proto, f.src, f.sport ?? f.icmpId, f.dst, f.dport ?? f.icmpId)
/** The request a reply answers, as the request looked when it arrived (before NAT). */
const answeredTuple = (f: PacketFields) => tuple(f.proto, f.dst, f.dport ?? f.icmpId, f.src, f.sport ?? f.icmpId)

export const packetLine = (f: PacketFields) =>
  `${f.proto ?? '?'} ${f.src ?? '?'}${f.sport !== undefined ? `:${f.sport}` : ''} > ${f.dst ?? '?'}${f.dport !== undefined ? `:${f.dport}` : ''}${f.tcpFlags ? ` [${f.tcpFlags}]` : ''}${f.icmpType ? ` ${f.icmpType}` : ''}${f.iif ? ` in ${f.iif}` : ''}${f.oif ? ` out ${f.oif}` : ''}`

/** What a traced packet is, and whose: or why it is not one kvmdoctor walks. */
function classify(p: TracedPacket, guests: TraceGuest[], internet: {addr: string; port: number}, masterOf: (dev: string) => string | undefined): {kind: PacketKind; guests: TraceGuest[]} | {skip: string} {
  const first = p.seen[0]
  const f = first.fields
  const last = p.seen[p.seen.length - 1].fields
  const byMac = (mac?: string) => guests.filter((g) => mac !== undefined && g.mac?.toLowerCase() === mac.toLowerCase())
  const byAddress = (a?: string) => guests.filter((g) => a !== undefined && g.addresses.includes(a))
  const from = byMac(f.etherSrc)
  if (from.length > 0) {
    if (f.proto === 'udp' && f.dport === 67) {
      // A broadcast both flooded to the bridge's other ports and taken in by the host: each copy is its own packet.
      const flooded = p.seen.some((s) => s.hook === 'forward' && (s.family === 'bridge' || (s.fields.iif !== undefined && s.fields.iif === s.fields.oif)))
      const local = p.seen.some((s) => s.hook === 'input' && s.family !== 'bridge')
      const lan = from.filter((g) => g.lan)
      const host = from.filter((g) => !g.lan)
      if (flooded && host.length > 0 && lan.length === 0) return {skip: "a copy of a guest's DHCP broadcast the bridge floods to its other ports (its server is this host)"}
      // A flooded copy that comes back in through another link of the host (a veth whose peer is a bridge port).
      const elsewhere = (g: TraceGuest) => first.family !== 'bridge' && g.bridge !== undefined && f.iif !== undefined && f.iif !== g.bridge && masterOf(f.iif) !== g.bridge
      if (host.length > 0 && lan.length === 0 && host.every(elsewhere)) return {skip: "a copy of a guest's DHCP broadcast the bridge flooded, back in through another of the host's links"}
      if (local && lan.length > 0 && host.length === 0) return {skip: "a copy of a LAN guest's DHCP broadcast the host takes in (its server is on the LAN)"}
      return lan.length > 0 ? {kind: 'dhcp-lan', guests: lan} : {kind: 'dhcp', guests: host}
    }
    if (f.proto === 'udp' && f.dport === 53) return {kind: 'dns', guests: from}
    if (f.proto === 'tcp' && f.dst === internet.addr && f.dport === internet.port && f.tcpFlags === 'syn') return {kind: 'tcp', guests: from}
    if (f.proto === 'icmp' && f.dst === internet.addr && f.icmpType === 'echo-request') return {kind: 'ping', guests: from}
    return {skip: 'a guest packet of no measured kind (its gateway ping, a connection\'s later segments, ICMP errors)'}
  }
  if (f.src === internet.addr) {
    const to = byAddress(last.dst)
    if (to.length === 0) return {skip: `a packet from ${internet.addr} not forwarded to a guest (to ${last.dst})`}
    if (f.proto === 'tcp' && f.sport === internet.port) return {kind: 'tcp-reply', guests: to}
    if (f.proto === 'icmp' && f.icmpType === 'echo-reply') return {kind: 'ping-reply', guests: to}
    return {skip: `a packet from ${internet.addr} of no measured kind`}
  }
  const dhcpAnswer = f.proto === 'udp' && f.sport === 67 && f.dport === 68
  if (first.hook === 'output') {
    const to = byAddress(f.dst)
    // kvmdoctor follows dnsmasq's answer to a client it knows the lease of as unicast (what dnsmasq sends a client that
    // asks no broadcast); a broadcast answer (a NAK, a client that asks for one) is another packet than the one followed.
    if (dhcpAnswer && f.dst === '255.255.255.255' && guests.some((g) => g.bridge === f.oif && g.addresses.length > 0)) return {skip: 'a DHCP answer dnsmasq broadcast (a NAK, or a client asking for broadcast): kvmdoctor follows the unicast one'}
    if (dhcpAnswer) return {kind: 'dhcp-reply', guests: to.length > 0 ? to : guests.filter((g) => g.bridge !== undefined && g.bridge === f.oif)}
    if (f.proto === 'udp' && f.sport === 53 && to.length > 0) return {kind: 'dns-reply', guests: to}
    return {skip: 'a packet the host sends of no measured kind'}
  }
  if (first.family === 'bridge' && dhcpAnswer && f.iif) {
    // A DHCP server behind a bridge port (a LAN's, or a rogue one) answers: to a guest's MAC, or to every guest on the bridge.
    const to = byMac(f.etherDst)
    const bridge = masterOf(f.iif)
    // A broadcast answer is also taken in by the host itself (the bridge's own port): that copy is no guest's.
    if (to.length === 0 && p.seen.some((s) => s.hook === 'input' && s.family !== 'bridge')) return {skip: "a copy of a LAN DHCP server's broadcast answer the host takes in"}
    return {kind: 'dhcp-reply-lan', guests: to.length > 0 ? to : guests.filter((g) => g.bridge !== undefined && g.bridge === bridge)}
  }
  return {skip: 'a packet of no measured kind'}
}

/**
 * Each traced packet kvmdoctor walks, against kvmdoctor's walk of the same kind of packet for the same guest
 * (`walkOf`), decision by decision, NAT chains included. kvmdoctor walks a connection's first packet; a packet that
 * is not its connection's first since the conntrack entries were deleted (a DHCP retransmission, a second answer to
 * the same client) meets the NAT chains only where conntrack holds no NAT binding for it yet, which no host fact
 * shows (a repeated DHCP broadcast passes nat INPUT again and not nat PREROUTING: test/lab/data/trace-roundtrip.txt),
 * so such repeats are compared without their NAT chains on either side. Replies are compared only when their request
 * was traced (a connection older than the trace lost its entry, and its NAT, when the entries were deleted). A packet
 * that may be one of several guests' (a DHCP answer to the broadcast address) agrees when it is one of theirs.
 */
export function compareKernel(
  packets: TracedPacket[],
  guests: TraceGuest[],
  internet: {addr: string; port: number},
  walkOf: (guest: string, kind: PacketKind) => Flow | undefined,
  natChains: Set<string>,
  masterOf: (dev: string) => string | undefined = () => undefined,
): {compared: KernelComparison[]; uncompared: Record<string, number>} {
  const compared: KernelComparison[] = []
  const {measured, uncompared} = measuredPackets(packets, guests, internet, masterOf)
  for (const {packet: p, kind, guests: theirs, repeat} of measured) {
    const isNat = (d: Decision) => natChains.has(`${d.family} ${d.table} ${d.chain}`)
    // NAT chains see only a connection's first packet: a packet that passed no NAT chain in the kernel belongs to a
    // connection older than the trace (a retransmission, a ping's id reused within conntrack's timeout).
    const decisions = kernelDecisions(p)
    const established = repeat || !decisions.some(isNat)
    const outsideNat = (d: Decision) => !(established && isNat(d))
    const kernelWalk = decisions.filter(outsideNat)
    const kernel = kernelWalk.map(decisionText)
    const results = theirs.flatMap((g) => {
      const flow = walkOf(g.name, kind)
      if (!flow) return []
      const walk = walkDecisions(flow)
      // The trace mark is set in inet prerouting/output (after netdev ingress) and the kernel reports no netdev
      // egress events: netdev chains are outside what this trace can show, so they are not compared.
      const expected = walk.decisions.filter((d) => outsideNat(d) && d.family !== 'netdev')
      const want = expected.map(decisionText)
      // A packet kvmdoctor loses before netfilter decides (a tap on no bridge, a link down) may still walk the host's
      // own chains in the kernel (taken in on the unbridged tap, dropped there for want of a socket): kvmdoctor's
      // decisions up to the loss are compared, the kernel's afterwards are not the guest's path.
      const lost = flow.verdict === 'fail' && flow.decidedBy !== undefined && !/^(netfilter|bridge|netdev) /.test(flow.decidedBy.name)
      const upTo = walk.undecidedAt || lost ? kernel.slice(0, want.length) : kernel
      const at = want.findIndex((w, i) => w !== upTo[i])
      const diff = at >= 0 ? at : upTo.length !== want.length ? want.length : -1
      return [{
        guest: g.name,
        kind,
        packet: packetLine(p.seen[0].fields),
        kvmdoctor: want,
        kernel,
        ...(walk.undecidedAt ? {undecidedAt: walk.undecidedAt} : {}),
        ...(established ? {repeat: true} : {}),
        agrees: diff < 0,
        ...(diff >= 0 ? {hop: `kvmdoctor's ${expected[diff]?.hop ?? `walk ends${expected.length > 0 ? ` after ${expected[expected.length - 1].hop}` : ''}`}: ${want[diff] ?? '-'}; the kernel's ${kernelWalk[diff] ? `${kernelWalk[diff].family === 'bridge' ? 'bridge' : kernelWalk[diff].family === 'netdev' ? 'netdev' : 'ip'} ${kernelWalk[diff].hook}: ${kernel[diff]}` : 'walk ends there'}`} : {}),
      } satisfies KernelComparison]
    })
    if (results.length === 0) {
      const why = `${kind}: kvmdoctor walks no such packet for ${theirs.map((g) => g.name).join(', ') || 'any guest'}`
      uncompared[why] = (uncompared[why] ?? 0) + 1
      continue
    }
    compared.push(results.find((r) => r.agrees) ?? results[0])
  }
  return {compared, uncompared}
}

/** A traced packet of a measure: its kind, whose it may be, and whether its connection had a packet before it. */
export interface MeasuredPacket {
  packet: TracedPacket
  kind: PacketKind
  guests: TraceGuest[]
  repeat: boolean
}

/**
 * The traced packets of the guests' measures (compareKernel's rules: see there), the others counted by why they are
 * not: packets of no measured kind, and replies of connections older than the trace.
 */
export function measuredPackets(packets: TracedPacket[], guests: TraceGuest[], internet: {addr: string; port: number}, masterOf: (dev: string) => string | undefined = () => undefined): {measured: MeasuredPacket[]; uncompared: Record<string, number>} {
  const measured: MeasuredPacket[] = []
  const uncompared: Record<string, number> = {}
  const skip = (why: string) => (uncompared[why] = (uncompared[why] ?? 0) + 1)
  const connections = new Set<string>()
  for (const p of packets) {
    if (p.seen.length === 0) continue
    const c = classify(p, guests, internet, masterOf)
    if ('skip' in c) {
      skip(c.skip)
      continue
    }
    const isRequest = c.kind === 'dhcp' || c.kind === 'dhcp-lan' || c.kind === 'dns' || c.kind === 'tcp' || c.kind === 'ping' || c.kind === 'dhcp-reply' || c.kind === 'dhcp-reply-lan'
    let repeat = false
    if (isRequest) {
      const t = requestTuple(p.seen[0].fields)
      repeat = connections.has(t)
      connections.add(t)
    } else if (!connections.has(answeredTuple(p.seen[p.seen.length - 1].fields))) {
      skip('a reply whose request was not traced (a connection older than the trace)')
      continue
    }
    measured.push({packet: p, kind: c.kind, guests: c.guests, repeat})
  }
  return {measured, uncompared}
}
