import {describe, expect, it} from 'vitest'
import type {HookFacts} from '../../probes/libvirt-hooks.js'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import type {Neighbour} from '../../probes/neighbours.js'
import type {Route} from '../../probes/routes.js'
import type {Flow} from '../../src/datapath/flows.js'
import {alter, withIptablesRule, withProbeData} from '../helpers.js'
import {HOST, healthy, inbound, inboundModel, withForward} from '../inbound.js'

const summary = (flows: Flow[]) => Object.fromEntries(flows.map((f) => [f.kind, f.verdict === 'pass' ? 'pass' : `${f.verdict} at ${f.decidedBy?.name}`]))

describe('inbound flows: a published port followed both ways, from outside, the host and other guests', () => {
  it('a forward with its accept ahead of libvirt: the round trip from outside passes, DNAT and the reply translated back', async () => {
    const {facts, web} = await healthy()
    const flows = inbound(withForward(facts, web))
    expect(summary(flows)).toEqual({inbound: 'pass', 'inbound-reply': 'pass', 'hairpin-host': 'fail at DNAT'})
    const request = flows.find((f) => f.kind === 'inbound')!
    // The outside stand-in is the recording's --internet (203.0.113.10), routed by kdlab-up0: it arrives there.
    expect(request.description).toBe(`inbound from 203.0.113.10 by kdlab-up0: tcp ${HOST}:8080 → ${web}:80`)
    expect(request.hops.map((h) => h.name)).toEqual(expect.arrayContaining(['uplink kdlab-up0 (in)', 'netfilter prerouting', 'DNAT', 'routing', 'forwarding', 'netfilter forward', 'netfilter postrouting']))
    expect(request.hops.find((h) => h.name === 'DNAT')!.detail).toContain(`→ ${web}:80`)
    // A pass is the host's side only: the client and the guest's service are assumed, and said so.
    expect(request.assumptions).toEqual([expect.stringContaining('a client at 203.0.113.10, beyond kdlab-up0'), "kdlab-web01 answers on tcp 80 (a service inside the guest, out of the host's sight)"])
    expect(flows.find((f) => f.kind === 'inbound-reply')!.hops.at(-1)!.name).toBe('uplink kdlab-up0 (out)')
  })

  it('a DNAT to an address range: each client gets one address, so each is followed; where they disagree the flow is undecided, intermittent', async () => {
    const {facts, web} = await healthy()
    const next = web.replace(/\d+$/, (n) => String(Number(n) + 1))
    const flows = inbound(withForward(facts, web, true, `-A PREROUTING -d ${HOST}/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination ${web}-${next}:80`))
    const request = flows.find((f) => f.kind === 'inbound')!
    // web01 answers at the first address; nothing runs at the second: the clients hashed to it are lost.
    expect(request).toMatchObject({verdict: 'indeterminate', decidedBy: {name: 'DNAT range', intermittent: true}})
    expect(request.decidedBy!.detail).toContain(`to ${web} it passes; to ${next} it fails at DNAT target`)
    // A range of one address is a plain DNAT.
    const one = inbound(withForward(facts, web, true, `-A PREROUTING -d ${HOST}/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination ${web}-${web}:80`))
    expect(summary(one)).toMatchObject({inbound: 'pass', 'inbound-reply': 'pass'})
  })

  it('a DNAT to a port range keeps a port already in it, else gives its first (observed: 8080 to 9000-9001 is 9000; 80 to 80-90 stays 80)', async () => {
    const {facts, web} = await healthy()
    const kept = inbound(withForward(facts, web, true, `-A PREROUTING -d ${HOST}/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination ${web}:79-8081`))
    expect(kept.find((f) => f.kind === 'inbound')!.description).toBe(`inbound from 203.0.113.10 by kdlab-up0: tcp ${HOST}:8080 → ${web}:8080`)
    const first = inbound(withForward(facts, web, true, `-A PREROUTING -d ${HOST}/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination ${web}:80-90`))
    expect(first.find((f) => f.kind === 'inbound')!.description).toBe(`inbound from 203.0.113.10 by kdlab-up0: tcp ${HOST}:8080 → ${web}:80`)
  })

  it('a DNAT to a port range with --random draws the port per connection: the flow is undecided at the DNAT, never a pass to the first port', async () => {
    const {facts, web} = await healthy()
    const flows = inbound(withForward(facts, web, true, `-A PREROUTING -d ${HOST}/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination ${web}:80-90 --random`))
    const flow = flows.find((f) => f.kind === 'inbound')!
    expect(flow.verdict).toBe('indeterminate')
    expect(flow.hops.find((h) => h.name === 'DNAT')).toMatchObject({verdict: 'indeterminate', detail: expect.stringContaining('picks the port at random')})
  })

  it('the route back to the client over two next hops: the reply is hashed onto one, so it is undecided, naming each (never the first hop\'s pass)', async () => {
    const {facts, web} = await healthy()
    const multipath = alter<Route[]>(withForward(facts, web), 'routes', (routes) => {
      const r = routes.find((x) => x.dst === '203.0.113.10' && x.type === 'unicast')!
      Object.assign(r, {dev: undefined, gateway: undefined, nexthops: [{gateway: '198.51.100.2', dev: 'kdlab-up0'}, {gateway: '192.0.2.1', dev: 'eth0'}]})
    })
    const reply = inbound(multipath).find((f) => f.kind === 'inbound-reply')!
    expect(reply).toMatchObject({verdict: 'indeterminate', decidedBy: {name: 'multipath'}})
    expect(reply.decidedBy!.detail).toMatch(/via kdlab-up0 gw 198\.51\.100\.2 the reply passes; via eth0 gw 192\.0\.2\.1 the reply is undecided at return path/)
  })

  it("without the accept, libvirt's LIBVIRT_FWI reject stops it (a NAT network admits only replies); the reply is not followed", async () => {
    const {facts, web} = await healthy()
    const flows = inbound(withForward(facts, web, false))
    expect(summary(flows)).toEqual({inbound: 'fail at netfilter forward', 'hairpin-host': 'fail at DNAT'})
    expect(flows[0].decidedBy!.element!.text).toBe('iptables -t filter -A LIBVIRT_FWI -o virbr0 -j REJECT --reject-with icmp-port-unreachable')
  })

  it('an accept appended after libvirt\'s jumps is too late', async () => {
    const {facts, web} = await healthy()
    const late = withIptablesRule(withForward(facts, web, false), 'filter', `-A FORWARD -d ${web}/32 -o virbr0 -p tcp -m tcp --dport 80 -j ACCEPT`, 99)
    expect(summary(inbound(late)).inbound).toBe('fail at netfilter forward')
  })

  it('the host reaches the forward through a DNAT in nat OUTPUT, and its answer comes back to the host', async () => {
    const {facts, web} = await healthy()
    const hairpin = withIptablesRule(withForward(facts, web), 'nat', `-A OUTPUT -d ${HOST}/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination ${web}:80`)
    expect(summary(inbound(hairpin))).toMatchObject({'hairpin-host': 'pass', 'hairpin-host-reply': 'pass'})
  })

  it('a DNAT to an address nobody holds stops at its target, naming the guest the host last saw there and its address now', async () => {
    const {facts, web, mac} = await healthy()
    const old = '192.168.122.250'
    const moved = alter<Neighbour[]>(withForward(facts, old), 'neighbours', (n) => n.push({ip: old, dev: 'virbr0', mac, state: ['STALE']}))
    const flows = inbound(moved)
    // No guest to hairpin to: only the flow from outside.
    expect(summary(flows)).toEqual({inbound: 'fail at DNAT target'})
    expect(flows[0].decidedBy!.detail).toBe(`${old} is no running guest's address: kdlab-web01 (${mac}) was seen there and now holds ${web}`)
    expect(flows[0].guest).toBe('kdlab-web01')
    // Without that trace of the move, the target is nobody's and nobody is named.
    const nobody = inbound(withForward(facts, old))
    expect(nobody[0].decidedBy!.detail).toBe(`${old} is no running guest's address`)
    expect(nobody[0].guest).toBe('')
  })

  it('reads nft DNAT maps: the entry for the port leads to the guest', async () => {
    const {facts, web} = await healthy()
    const withMap = alter<{tables: unknown[]; sets: Record<string, unknown>}>(withIptablesRule(facts, 'filter', `-A FORWARD -d ${web}/32 -o virbr0 -p tcp -m tcp --dport 80 -j ACCEPT`), 'netfilter', (rs) => {
      rs.sets['ip kdin_fwd ports'] = {backend: 'nft', family: 'ip', table: 'kdin_fwd', name: 'ports', type: ['inet_service'], flags: [], elems: [{t: 'num', v: 8080}], data: [{t: 'concat', parts: [{t: 'addr', v: web}, {t: 'num', v: 80}]}], complete: true}
      rs.tables.push({backend: 'nft', family: 'ip', name: 'kdin_fwd', chains: {pre: {backend: 'nft', family: 'ip', table: 'kdin_fwd', name: 'pre', base: {type: 'nat', hook: 'prerouting', priority: -100, policy: 'accept'}, rules: [{ref: {backend: 'nft', family: 'ip', table: 'kdin_fwd', chain: 'pre', index: 0, handle: 3}, text: 'ip daddr 198.51.100.1 dnat ip addr . port to tcp dport map @ports', exprs: [{kind: 'cmp', field: 'daddr', op: 'eq', value: {t: 'addr', v: HOST}}, {kind: 'cmp', field: 'l4proto', op: 'eq', value: {t: 'str', v: 'tcp'}, implicit: true}, {kind: 'nat', type: 'dnat', map: {field: 'dport', entries: {t: 'setref', name: 'ip kdin_fwd ports'}}, text: 'dnat ip addr . port to tcp dport map @ports'}]}]}}})
    })
    const m = inboundModel(withMap)
    expect(m.datapath.ok && m.datapath.datapath.forwards.map((f) => f.id)).toEqual([`tcp ${HOST}:8080 -> ${web}:80`])
    expect(summary(inbound(withMap))).toMatchObject({inbound: 'pass', 'inbound-reply': 'pass'})
  })

  it('a hook whose DNAT is not in the ruleset: the forward it means is followed and fails at the DNAT it lost', async () => {
    const {facts, web} = await healthy()
    const hooks: HookFacts = {scripts: [{path: '/etc/libvirt/hooks/qemu', kind: 'qemu', forwards: [{proto: 'tcp', port: 8080, hostAddress: HOST, target: {addr: web, port: 80}, object: 'kdlab-web01', at: 'line 18'}], accepts: [{proto: 'tcp', addr: web, port: 80, outDevice: 'virbr0', object: 'kdlab-web01', at: 'line 17'}], unread: []}]}
    const flows = inbound(withProbeData(facts, 'libvirt-hooks', hooks))
    expect(flows[0].decidedBy!.element).toMatchObject({kind: 'hook-lost', text: `/etc/libvirt/hooks/qemu (line 18) forwards tcp 8080 to ${web}:80; no such DNAT is in the ruleset`})
    // The same forward in the ruleset is one forward, found twice.
    const m = inboundModel(withForward(withProbeData(facts, 'libvirt-hooks', hooks), web))
    expect(m.datapath.ok && m.datapath.datapath.forwards.map((f) => f.sources.map((s) => s.kind))).toEqual([['rule', 'hook']])
  })

  it('--publish a service nothing forwards: the flow says so; --publish of one a forward serves joins that forward', async () => {
    const {facts, web} = await healthy()
    const flows = inbound(facts, [{guest: 'kdlab-web01', port: 443, proto: 'tcp'}])
    expect(flows[0].decidedBy!.element).toMatchObject({kind: 'dnat-missing', text: `nothing forwards tcp ${HOST}:443 to kdlab-web01 (--publish kdlab-web01:443/tcp)`})
    const m = inboundModel(withForward(facts, web), [{guest: 'kdlab-web01', port: 80, proto: 'tcp'}])
    expect(m.datapath.ok && m.datapath.datapath.forwards.map((f) => f.sources.map((s) => s.kind))).toEqual([['rule', 'publish']])
  })

  it('a routed network: the guest is reached at its own address, if the upstream routes its subnet here (undecided, beyond the host)', async () => {
    const {facts} = await healthy()
    // libvirt's rules for a routed network accept what comes in for its subnet.
    const routed = withIptablesRule(alter<LibvirtFacts>(facts, 'libvirt', (l) => (l.networks.find((n) => n.name === 'default')!.forwardMode = 'route')), 'filter', '-A LIBVIRT_FWI -d 192.168.122.0/24 -o virbr0 -j ACCEPT')
    const flows = inbound(routed, [{guest: 'kdlab-web01', port: 80, proto: 'tcp'}])
    expect(flows[0].verdict).toBe('indeterminate')
    expect(flows[0].decidedBy).toMatchObject({name: 'upstream route', element: {id: 'return-route:default', kind: 'return-route'}})
    expect(flows[0].hops.some((h) => h.name === 'DNAT')).toBe(false)
  })

  it('a host without forwards has no inbound flows (and the bench host pays nothing for them)', async () => {
    const {facts} = await healthy()
    expect(inbound(facts)).toEqual([])
  })
})
