/**
 * The lab's oracles (test/oracles.ts): the strict rule that holds kvmdoctor's verdicts against what the
 * guests measured, and the packet-by-packet comparison of its walks with the kernel's trace, on a real
 * `nft monitor trace` of a guest's four measures both ways (test/lab/data/capture-roundtrip.sh). Pure.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import type {Flow, FlowKind, Hop, HopVerdict} from '../src/datapath/flows.js'
import type {TraceStep} from '../src/datapath/netfilter/evaluate.js'
import type {NfHook} from '../src/lib/netfilter.js'
import {ROOT} from './helpers.js'
import {parseTrace, tracePackets} from './lab/kernel-trace.js'
import {type GuestReach, type PacketKind, compareKernel, decisionText, judge, kernelDecisions, measuredPackets, natChainsOf} from './oracles.js'
import type {BeyondHost, ReachCheck} from './scenarios.js'

const flow = (guest: string, kind: FlowKind, verdict: HopVerdict, assumptions: string[] = []): Flow => {
  const hop: Hop = {name: verdict === 'pass' ? 'tap vnet0' : 'netfilter forward', verdict, detail: verdict}
  return {guest, iface: 'vnet0', kind, description: kind, packet: '', verdict, hops: [hop], ...(verdict === 'pass' ? {} : {decidedBy: hop}), ...(assumptions.length > 0 ? {assumptions} : {})}
}
const KINDS: Record<ReachCheck, FlowKind[]> = {dhcp: ['dhcp', 'dhcp-reply'], dns: ['dns', 'dns-reply'], ping: ['custom', 'custom'], tcp: ['egress', 'egress-reply']}
/** One guest whose every measure's request passes and whose reply has `reply[measure]` (default pass). */
const flowsOf = (reply: Partial<Record<ReachCheck, [HopVerdict, string[]?] | 'none'>>) => (guest: string, m: ReachCheck) => {
  const r = reply[m] ?? ['pass']
  return r === 'none' ? [] : [flow(guest, KINDS[m][0], 'pass'), flow(guest, KINDS[m][1], r[0], r[1])]
}
const ok: GuestReach = {dhcp: 'ok', dns: 'ok', ping: 'ok', tcp: 'ok'}
const whys = (r: ReturnType<typeof judge>) => r.disagreements.map((d) => `${d.guest} ${d.measure}: ${d.why}`)

describe('the guest oracle: every measure compared, indeterminate only where the scenario says why', () => {
  it('agreement both ways; a pass against a failed measure (or the reverse) disagrees, assumptions or not', () => {
    const guests = {g1: {...ok, tcp: 'fail'}, g2: {...ok, ping: 'fail'}} satisfies Record<string, GuestReach>
    const r = judge(flowsOf({tcp: ['fail'], ping: ['pass', ['the reply arrives by eth0']]}), guests, [])
    expect(r.judgements).toHaveLength(8)
    expect(whys(r)).toEqual(['g2 ping: the guest measured fail', 'g2 tcp: the guest measured ok'])
    expect(r.disagreements.find((d) => d.guest === 'g2' && d.measure === 'ping')?.kvmdoctorSays).toBe('pass (assuming the reply arrives by eth0)')
  })

  it('indeterminate and no flow at all disagree unless declared; declared, they agree with either outcome', () => {
    const f = flowsOf({dns: ['indeterminate'], tcp: 'none'})
    expect(whys(judge(f, {g1: ok}, []))).toEqual([
      'g1 dns: kvmdoctor cannot tell, and the scenario does not say why the host cannot (beyondHost)',
      'g1 tcp: kvmdoctor follows no flow for it, and the scenario does not say why (beyondHost)',
    ])
    const declared: BeyondHost[] = [{measures: ['dns', 'tcp'], why: 'out of sight'}]
    const r = judge(f, {g1: ok}, declared)
    expect(r.disagreements).toEqual([])
    expect(r.judgements.filter((j) => j.declared).map((j) => `${j.measure} ${j.kvmdoctor}`)).toEqual(['dns indeterminate', 'tcp none'])
  })

  it('a declaration covers at most what cannot be compared: one kvmdoctor decides is a disagreement of its own', () => {
    const declared: BeyondHost[] = [{guests: ['g1'], measures: ['dhcp', 'dns', 'ping', 'tcp'], why: 'the LAN'}]
    const f = flowsOf({dns: ['pass', ['the LAN routes it']], ping: ['pass', ['the LAN routes it']], tcp: ['fail']})
    const r = judge(f, {g1: {dhcp: 'skip', dns: 'fail', ping: 'ok', tcp: 'ok'}}, declared)
    expect(whys(r)).toEqual([
      // The guest takes no DHCP measure: nothing to declare.
      'g1 dhcp: declared beyond the host (the LAN), but the guest does not measure it',
      // A pass resting on an assumption the lab breaks: that is what a declaration is for (dns); agreeing, it is needless (ping).
      "g1 ping: declared beyond the host (the LAN), but kvmdoctor's verdict agrees with the guest: compare it",
      // A verdict on the host's state alone is compared: declared away, a wrong one would hide.
      "g1 tcp: declared beyond the host (the LAN), but kvmdoctor decides it on the host's state alone, and wrongly",
    ])
    expect(whys(judge(f, {}, declared))).toEqual(['g1 dhcp,dns,ping,tcp: declared beyond the host (the LAN), but g1 did not run'])
  })

  it('a declaration for every guest leaves the others of the scenario compared strictly', () => {
    const r = judge(flowsOf({ping: ['indeterminate']}), {g1: ok, g2: {...ok, ping: 'fail'}}, [{guests: ['g2'], measures: ['ping'], why: 'random'}])
    expect(whys(r)).toEqual(['g1 ping: kvmdoctor cannot tell, and the scenario does not say why the host cannot (beyondHost)'])
  })
})

// ---------- the kernel oracle, on a real trace ----------

const data = (file: string) => readFileSync(join(ROOT, 'test/lab/data', file), 'utf8')
const TRACE = data('trace-roundtrip.txt')
const RULESET = data('trace-roundtrip.ruleset.json')
const HOOKS: Record<string, NfHook> = {PREROUTING: 'prerouting', INPUT: 'input', FORWARD: 'forward', OUTPUT: 'output', POSTROUTING: 'postrouting'}

/** A flow whose hops hold these decisions ('ip filter INPUT #9 jump', 'ip nat INPUT policy accept'), by hop. */
function walked(guest: string, kind: FlowKind, hops: [string, string[]][], last?: Hop): Flow {
  const out: Hop[] = hops.map(([name, decisions]) => {
    const hook = HOOKS[decisions.find((d) => HOOKS[d.split(' ')[2]])?.split(' ')[2] ?? 'INPUT']
    const steps: TraceStep[] = decisions.map((d) => {
      const [family, table, chain, ...rest] = d.split(' ')
      const ref = {backend: 'iptables-nft' as const, family: family as 'ip', table, chain, hook}
      if (rest[0] === 'policy') return {hook, chain: ref, event: 'policy', action: rest[1]}
      return {hook, chain: ref, event: 'rule', action: rest[1], rule: {ref: {backend: 'iptables-nft', family: 'ip', table, chain, index: 0, handle: Number(rest[0].slice(1))}, text: d}}
    })
    return {name, verdict: 'pass', detail: '', steps}
  })
  if (last) out.push(last)
  const verdict = last?.verdict ?? 'pass'
  return {guest, iface: 'vnet0', kind, description: kind, packet: '', verdict, hops: out, ...(last ? {decidedBy: last} : {})}
}

const PRE = ['ip mangle PREROUTING policy accept', 'ip nat PREROUTING policy accept']
const POST = ['ip mangle POSTROUTING #7 jump', 'ip mangle POSTROUTING policy accept']
const FORWARD_OUT = ['ip mangle FORWARD policy accept', 'ip filter FORWARD #10 jump', 'ip filter FORWARD #11 jump', 'ip filter FORWARD #12 jump', 'ip filter LIBVIRT_FWO #16 accept']
const FORWARD_IN = ['ip mangle FORWARD policy accept', 'ip filter FORWARD #10 jump', 'ip filter FORWARD #11 jump', 'ip filter LIBVIRT_FWI #14 accept']
/** kvmdoctor's walks of the capture's host (libvirt's rules, every built-in chain registered), as they should be. */
const WALKS: Record<PacketKind, Flow | undefined> = {
  dhcp: walked('web01', 'dhcp', [['netfilter prerouting', PRE], ['netfilter input', ['ip mangle INPUT policy accept', 'ip filter INPUT #9 jump', 'ip filter LIBVIRT_INP #21 accept', 'ip nat INPUT policy accept']]]),
  'dhcp-reply': walked('web01', 'dhcp-reply', [['netfilter output', ['ip mangle OUTPUT policy accept', 'ip nat OUTPUT policy accept', 'ip filter OUTPUT #13 jump', 'ip filter LIBVIRT_OUT #25 accept']], ['netfilter postrouting', [...POST, 'ip nat POSTROUTING #6 jump', 'ip nat POSTROUTING policy accept']]]),
  'dhcp-lan': undefined,
  'dhcp-reply-lan': undefined,
  dns: walked('web01', 'dns', [['netfilter prerouting', PRE], ['netfilter input', ['ip mangle INPUT policy accept', 'ip filter INPUT #9 jump', 'ip filter LIBVIRT_INP #19 accept', 'ip nat INPUT policy accept']]]),
  'dns-reply': walked('web01', 'dns-reply', [['netfilter output', ['ip mangle OUTPUT policy accept', 'ip filter OUTPUT #13 jump', 'ip filter OUTPUT policy accept']], ['netfilter postrouting', POST]]),
  tcp: walked('web01', 'egress', [['netfilter prerouting', PRE], ['netfilter forward', FORWARD_OUT], ['netfilter postrouting', [...POST, 'ip nat POSTROUTING #6 jump', 'ip nat LIBVIRT_PRT #9 accept']]]),
  'tcp-reply': walked('web01', 'egress-reply', [['netfilter prerouting', ['ip mangle PREROUTING policy accept']], ['netfilter forward', FORWARD_IN], ['netfilter postrouting', POST]]),
  ping: walked('web01', 'custom', [['netfilter prerouting', PRE], ['netfilter forward', FORWARD_OUT], ['netfilter postrouting', [...POST, 'ip nat POSTROUTING #6 jump', 'ip nat LIBVIRT_PRT #11 accept']]]),
  'ping-reply': walked('web01', 'custom', [['netfilter prerouting', ['ip mangle PREROUTING policy accept']], ['netfilter forward', FORWARD_IN], ['netfilter postrouting', POST]]),
}
const NAT = new Set(['ip nat PREROUTING', 'ip nat INPUT', 'ip nat OUTPUT', 'ip nat POSTROUTING', 'ip nat LIBVIRT_PRT'])
const GUESTS = [{name: 'web01', mac: '52:54:00:6b:64:01', addresses: ['192.168.122.190'], bridge: 'virbr0'}]
const INTERNET = {addr: '203.0.113.10', port: 80}
const compare = (walks: Partial<Record<PacketKind, Flow | undefined>> = {}) => compareKernel(tracePackets(TRACE, RULESET), GUESTS, INTERNET, (_g, kind) => (kind in walks ? walks[kind] : WALKS[kind]), NAT)

describe('NAT chains', () => {
  it("every chain a nat base chain reaches, also when a legacy table of the same name (listed apart) is empty", () => {
    const chain = (name: string, rules: {kind: string; target?: string}[][], base?: string) => ({name, ...(base ? {base: {type: base}} : {}), rules: rules.map((exprs) => ({exprs}))})
    const legacy = {family: 'ip', name: 'nat', chains: {POSTROUTING: chain('POSTROUTING', [], 'nat')}}
    const nft = {family: 'ip', name: 'nat', chains: {POSTROUTING: chain('POSTROUTING', [[{kind: 'jump', target: 'LIBVIRT_PRT'}]], 'nat'), LIBVIRT_PRT: chain('LIBVIRT_PRT', [[{kind: 'goto', target: 'MASQ'}]]), MASQ: chain('MASQ', []), OTHER: chain('OTHER', [])}}
    const filter = {family: 'ip', name: 'filter', chains: {FORWARD: chain('FORWARD', [[{kind: 'jump', target: 'LIBVIRT_FWO'}]], 'filter'), LIBVIRT_FWO: chain('LIBVIRT_FWO', [])}}
    expect([...natChainsOf({tables: [legacy, nft, filter]})].sort()).toEqual(['ip nat LIBVIRT_PRT', 'ip nat MASQ', 'ip nat POSTROUTING'])
  })
})

describe('the kernel oracle: packets put together from a real trace', () => {
  const packets = tracePackets(TRACE, RULESET)

  it('trace ids are reused and interleaved: each packet is its own, its segments in kernel order', () => {
    // parseTrace groups by id: some id carries more than one packet (the same base chain twice).
    const reused = parseTrace(TRACE).filter((t) => {
      const chains = t.events.filter((e) => e.kind === 'packet').map((e) => `${e.family} ${e.table} ${e.chain}`)
      return new Set(chains).size < chains.length
    })
    expect(reused.length).toBeGreaterThan(0)
    const order = ['prerouting', 'output', 'input', 'forward', 'postrouting']
    for (const p of packets) {
      const hooks = p.seen.map((s) => order.indexOf(s.hook))
      expect(hooks, p.seen.map((s) => `${s.table} ${s.chain}`).join(', ')).toEqual([...hooks].sort((a, b) => a - b))
      // One packet: one IP id and length throughout, whatever NAT did to its addresses.
      expect(new Set(p.seen.map((s) => `${s.fields.ipId} ${s.fields.length}`)).size).toBe(1)
    }
    expect(packets.length).toBeGreaterThan(reused.length + 30)
  })

  it('a frame the bridge hands up to the IP layer under a new trace id is one packet (lab capture, bridged-healthy)', () => {
    const lab = tracePackets(data('trace-bridged-lan.txt'), data('trace-bridged-lan.ruleset.json'))
    const ping = lab.filter((p) => p.seen[0].fields.etherSrc === '52:54:00:6b:64:01' && p.seen[0].fields.icmpType === 'echo-request' && p.seen[0].fields.dst === '203.0.113.10')
    expect(ping.length).toBeGreaterThan(0)
    for (const p of ping) {
      expect(new Set(p.events.map((e) => e.id)).size, 'its trace ids').toBeGreaterThan(1)
      expect(p.seen.map((s) => `${s.family} ${s.table} ${s.chain}`)).toEqual(['bridge kdlab_trace prerouting', 'inet kdlab_trace prerouting', 'ip filter FORWARD', 'ip mangle POSTROUTING', 'ip nat POSTROUTING'])
    }
  })

  it("a broadcast the bridge floods to another guest's port and delivers to the host is two packets with one start (lab capture, dnsmasq-killed)", () => {
    const lab = tracePackets(data('trace-flooded-broadcast.txt'), data('trace-flooded-broadcast.ruleset.json'))
    const dhcp = lab.filter((p) => p.seen[0].fields.etherSrc === '52:54:00:6b:64:01' && p.seen[0].fields.dport === 67)
    const ways = dhcp.map((p) => p.seen.map((s) => `${s.table} ${s.chain}`).join(', '))
    expect(ways).toContain('kdlab_trace prerouting, kdlab_trace prerouting, filter INPUT')
    expect(ways).toContain('kdlab_trace prerouting, kdlab_trace prerouting, filter FORWARD, mangle POSTROUTING, nat POSTROUTING')
    // The flooded copy leaves the bridge it came in by; the local one is what a host-served guest's DHCP flow walks.
    const guests = [{name: 'kdlab-web01', mac: '52:54:00:6b:64:01', addresses: ['192.168.122.190'], bridge: 'virbr0'}]
    const {measured, uncompared} = measuredPackets(lab, guests, INTERNET)
    expect(measured.filter((m) => m.kind === 'dhcp').every((m) => m.packet.seen.some((s) => s.hook === 'input'))).toBe(true)
    expect(uncompared["a copy of a guest's DHCP broadcast the bridge floods to its other ports (its server is this host)"]).toBeGreaterThan(0)
    // A LAN guest's is the other way round.
    const lan = measuredPackets(lab, [{...guests[0], lan: true}], INTERNET)
    expect(lan.measured.filter((m) => m.kind === 'dhcp-lan').every((m) => m.packet.seen.some((s) => s.hook === 'forward'))).toBe(true)
    expect(lan.uncompared["a copy of a LAN guest's DHCP broadcast the host takes in (its server is on the LAN)"]).toBeGreaterThan(0)
  })

  it("br_netfilter's IP hooks inside the bridge's, and the bridge's own MAC on what the host routes out: each one packet (lab captures, nwfilter-clean-traffic and ebtables-input-dns-drop)", () => {
    const chains = (p: {seen: {family: string; table: string; chain: string}[]}) => p.seen.map((s) => `${s.family} ${s.table} ${s.chain}`).join(', ')
    // The IP prerouting runs inside the bridge's prerouting: the bridge's input follows it, under the same trace id.
    const ebt = tracePackets(data('trace-ebtables-input.txt'), data('trace-ebtables-input.ruleset.json'))
    const dns = ebt.filter((p) => p.seen[0].fields.etherSrc === '52:54:00:6b:64:01' && p.seen[0].fields.dport === 53)
    expect(dns.length).toBeGreaterThan(0)
    for (const p of dns) expect(chains(p)).toBe('bridge kdlab_trace prerouting, inet kdlab_trace prerouting, bridge filter INPUT')
    const nwf = tracePackets(data('trace-nwfilter-brnf.txt'), data('trace-nwfilter-brnf.ruleset.json'))
    // A broadcast flooded to the other guest's port: the IP postrouting after the bridge's postrouting, on the copy only.
    const dhcp = nwf.filter((p) => p.seen[0].fields.etherSrc === '52:54:00:6b:64:01' && p.seen[0].fields.dport === 67).map(chains)
    expect(dhcp).toContain('bridge kdlab_trace prerouting, bridge nat PREROUTING, inet kdlab_trace prerouting, ip filter INPUT')
    expect(dhcp).toContain('bridge kdlab_trace prerouting, bridge nat PREROUTING, inet kdlab_trace prerouting, ip filter FORWARD, bridge nat POSTROUTING, ip mangle POSTROUTING')
    expect(dhcp.every((way) => way.startsWith('bridge kdlab_trace prerouting'))).toBe(true)
    // Routed out by the bridge, the answer carries the bridge's MAC in the bridge's postrouting: still the same packet.
    const replies = nwf.filter((p) => p.seen[0].fields.icmpType === 'echo-reply' && p.seen[0].fields.dst === '192.168.122.190')
    expect(replies.length).toBeGreaterThan(0)
    for (const p of replies) expect(p.seen.at(-1)).toMatchObject({family: 'bridge', table: 'nat', chain: 'POSTROUTING'})
  })

  it('each measure both ways, DHCP exchanges from 0.0.0.0 included', () => {
    const r = compare()
    const kinds = r.compared.map((k) => k.kind)
    for (const kind of ['dhcp', 'dhcp-reply', 'dns', 'dns-reply', 'tcp', 'tcp-reply', 'ping', 'ping-reply'] as const) expect(kinds, kind).toContain(kind)
    expect(r.compared.filter((k) => !k.agrees)).toEqual([])
    // The connection's later segments from the guest, and its ICMP errors, are no packet kvmdoctor walks.
    expect(Object.keys(r.uncompared)).toEqual(["a guest packet of no measured kind (its gateway ping, a connection's later segments, ICMP errors)"])
  })

  it("NAT chains are compared on a connection's first packet; a repeated DHCP broadcast meets nat INPUT again but not nat PREROUTING", () => {
    const dhcp = compare().compared.filter((k) => k.kind === 'dhcp')
    expect(dhcp.map((k) => Boolean(k.repeat))).toEqual([false, true, true, true])
    expect(dhcp[0].kernel).toEqual(WALKS.dhcp!.hops.flatMap((h) => h.steps!.map((s) => expect.stringContaining(`${s.chain.table} ${s.chain.chain}`))))
    const repeat = packets.filter((p) => p.seen[0].fields.dport === 67)[1]
    expect(kernelDecisions(repeat).map(decisionText)).toEqual(['ip mangle PREROUTING policy accept', 'ip mangle INPUT policy accept', 'ip filter INPUT #9 jump', 'ip filter LIBVIRT_INP #21 accept', 'ip nat INPUT policy accept'])
    // Without the NAT chains on the first packet, kvmdoctor's walk is not the kernel's.
    const noNat = walked('web01', 'dhcp', [['netfilter prerouting', ['ip mangle PREROUTING policy accept']], ['netfilter input', ['ip mangle INPUT policy accept', 'ip filter INPUT #9 jump', 'ip filter LIBVIRT_INP #21 accept']]])
    const first = compare({dhcp: noNat}).compared.find((k) => k.kind === 'dhcp')!
    expect(first).toMatchObject({agrees: false, hop: "kvmdoctor's netfilter input: ip mangle INPUT policy accept; the kernel's ip prerouting: ip nat PREROUTING policy accept"})
  })

  it('a chain the kernel has not registered (iptables-save prints it all the same) is a disagreement at its hop', () => {
    const raw = walked('web01', 'dns-reply', [['netfilter output', ['ip raw OUTPUT policy accept', 'ip mangle OUTPUT policy accept', 'ip filter OUTPUT #13 jump', 'ip filter OUTPUT policy accept']], ['netfilter postrouting', POST]])
    const bad = compare({'dns-reply': raw}).compared.filter((k) => !k.agrees)
    expect(bad.length).toBeGreaterThan(0)
    expect(bad.every((k) => k.hop === "kvmdoctor's netfilter output: ip raw OUTPUT policy accept; the kernel's ip output: ip mangle OUTPUT policy accept")).toBe(true)
  })

  it('a walk kvmdoctor cannot finish is compared up to the hop it cannot tell; without a walk, the packet is not compared', () => {
    const undecided: Hop = {name: 'tc egress kdlab-up0', verdict: 'indeterminate', detail: 'tc not read'}
    const cut = walked('web01', 'egress', [['netfilter prerouting', PRE], ['netfilter forward', FORWARD_OUT]], undecided)
    const tcp = compare({tcp: cut}).compared.filter((k) => k.kind === 'tcp')
    expect(tcp.every((k) => k.agrees && k.undecidedAt === 'tc egress kdlab-up0 (tc not read)')).toBe(true)
    // ... but what it does claim must be the kernel's.
    const wrong = walked('web01', 'egress', [['netfilter prerouting', PRE], ['netfilter forward', FORWARD_IN]], undecided)
    expect(compare({tcp: wrong}).compared.filter((k) => k.kind === 'tcp' && !k.agrees).length).toBeGreaterThan(0)
    const none = compare({ping: undefined})
    expect(none.compared.some((k) => k.kind === 'ping')).toBe(false)
    expect(none.uncompared['ping: kvmdoctor walks no such packet for web01']).toBeGreaterThan(0)
  })

  it('replies of connections older than the trace (their conntrack entries deleted, their NAT gone) are not compared', () => {
    // The trace without its first TCP connection's SYN: that connection's replies are left out.
    const syn = packets.find((p) => p.seen[0].fields.tcpFlags === 'syn')!
    const port = syn.seen[0].fields.sport
    const r = compareKernel(packets.filter((p) => p !== syn), GUESTS, INTERNET, (_g, kind) => WALKS[kind], NAT)
    expect(r.compared.some((k) => k.kind === 'tcp-reply' && k.packet.includes(`:${port}`))).toBe(false)
    expect(r.uncompared['a reply whose request was not traced (a connection older than the trace)']).toBeGreaterThan(0)
  })
})
