import {describe, expect, it} from 'vitest'
import type {LeaseFacts} from '../../probes/leases.js'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import type {Neighbour} from '../../probes/neighbours.js'
import rule from '../../rules/dnat-target-stale.js'
import {alter, factsOf, fireAll, withIptablesRule} from '../helpers.js'
import {HOST, fireInbound, healthy, withForward} from '../inbound.js'

const OLD = '192.168.122.250'

describe('dnat-target-stale', () => {
  it('fires for a DNAT to an address web01 held before (the host last saw its MAC there): retargeted in place, every value quoted', async () => {
    const {facts, web, mac} = await healthy()
    const moved = alter<Neighbour[]>(withForward(facts, OLD), 'neighbours', (n) => n.push({ip: OLD, dev: 'virbr0', mac, state: ['STALE']}))
    const {findings} = await fireInbound(rule, moved)
    expect(findings).toHaveLength(1)
    const f = findings[0]
    expect(f.entity).toEqual({kind: 'forward', name: `tcp ${HOST}:8080 -> ${OLD}:80`})
    expect(f.context?.domain).toBe('kdlab-web01')
    expect(f.evidence).toContain(`probably moved: kdlab-web01 (${mac}) was last seen at ${OLD} and holds ${web} now (its current lease)`)
    // The new rule goes in at the old one's position before the old one is deleted: no moment without a forward.
    expect(f.fix).toEqual([
      `iptables -t nat -I PREROUTING 1 -d ${HOST}/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination ${web}:80`,
      `iptables -t nat -D PREROUTING -d ${HOST}/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination ${OLD}:80`,
    ])
    expect((f.note ?? []).join('\n')).toContain(`virsh net-update default add ip-dhcp-host "<host mac='${mac}' ip='${OLD}'/>"`)
  })

  it("the host's own DNAT (nat OUTPUT) follows the guest too: every rule of the forward retargeted in its place, not the outside's alone", async () => {
    const {facts, web, mac} = await healthy()
    const both = withIptablesRule(withForward(facts, OLD), 'nat', `-A OUTPUT -d ${HOST}/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination ${OLD}:80`)
    const moved = alter<Neighbour[]>(both, 'neighbours', (n) => n.push({ip: OLD, dev: 'virbr0', mac, state: ['STALE']}))
    const [f] = (await fireInbound(rule, moved)).findings
    expect(f.fix).toEqual([
      `iptables -t nat -I PREROUTING 1 -d ${HOST}/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination ${web}:80`,
      `iptables -t nat -D PREROUTING -d ${HOST}/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination ${OLD}:80`,
      `iptables -t nat -I OUTPUT 1 -d ${HOST}/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination ${web}:80`,
      `iptables -t nat -D OUTPUT -d ${HOST}/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination ${OLD}:80`,
    ])
  })

  it("the network already pins the target to web01's MAC (the pin made, its lease not yet renewed): no retarget that its renewal would undo; renew inside the guest", async () => {
    const {facts, web, mac} = await healthy()
    const moved = alter<Neighbour[]>(withForward(facts, OLD), 'neighbours', (n) => n.push({ip: OLD, dev: 'virbr0', mac, state: ['STALE']}))
    const pin = (m: string) => alter<LibvirtFacts>(moved, 'libvirt', (l) => l.networks.find((n) => n.name === 'default')!.ips[0].dhcpHosts.push({mac: m, ip: OLD}))
    const [f] = (await fireInbound(rule, pin(mac.toUpperCase()))).findings
    expect(f.fix).toEqual([])
    expect(f.evidence).toContain(`network default's static DHCP host: <host mac='${mac}' ip='${OLD}'/>`)
    expect((f.note ?? []).join('\n')).toMatch(/takes it back when it next renews its lease/)
    expect((f.note ?? []).join('\n')).not.toContain('net-update')
    // Pinned to another guest's MAC: web01 is not coming back, the forward follows it.
    const [other] = (await fireInbound(rule, pin('52:54:00:00:00:99'))).findings
    expect(other.fix).toEqual([
      `iptables -t nat -I PREROUTING 1 -d ${HOST}/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination ${web}:80`,
      `iptables -t nat -D PREROUTING -d ${HOST}/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination ${OLD}:80`,
    ])
  })

  it('fires for a target nobody holds or held: no guest named, no fix guessed', async () => {
    const {facts} = await healthy()
    const {findings} = await fireInbound(rule, withForward(facts, OLD))
    expect(findings.map((f) => [f.entity.name, f.fix, f.context?.domain])).toEqual([[`tcp ${HOST}:8080 -> ${OLD}:80`, [], undefined]])
  })

  it("stays silent while a running guest of the target's network has an address no source reports (lab: inbound-dnat-stale, web01's lease and neighbour entry gone): it may hold the target, said as undecided", async () => {
    const recorded = await factsOf('inbound-dnat-stale')
    expect((await fireInbound(rule, recorded)).findings.map((f) => f.id)).toEqual(['dnat-target-stale'])
    const unseen = alter<Neighbour[]>(alter<LeaseFacts>(recorded, 'leases', (l) => (l.leases = [])), 'neighbours', (n) => n.splice(0, n.length, ...n.filter((x) => x.dev !== 'virbr0')))
    expect((await fireInbound(rule, unseen)).findings).toEqual([])
    const {evaluation} = await fireAll(unseen)
    const target = evaluation.findings.find((f) => f.id === 'guest-flow-indeterminate' && f.entity.name.includes(`target ${OLD}`))
    expect(target?.summary).toContain('no source reports the address of kdlab-web01 (52:54:00:6b:64:01) on its network: it may be theirs')
  })

  it("an undecided target names what is there, never an empty guest (lab: inbound-dnat-stale, web01's address unseen): evidence says the address no guest holds, no guest counted", async () => {
    const recorded = await factsOf('inbound-dnat-stale')
    const unseen = alter<Neighbour[]>(alter<LeaseFacts>(recorded, 'leases', (l) => (l.leases = [])), 'neighbours', (n) => n.splice(0, n.length, ...n.filter((x) => x.dev !== 'virbr0')))
    const {evaluation} = await fireAll(unseen)
    const target = evaluation.findings.find((f) => f.id === 'guest-flow-indeterminate' && f.entity.name.includes(`target ${OLD}`))
    expect(target?.evidence.filter((l) => /^\s|^\S* ?inbound:/.test(l) && !l.includes('no guest holds it'))).toEqual([])
    expect(target?.evidence.some((l) => l.startsWith(`${OLD} (no guest holds it) inbound: `))).toBe(true)
    expect(target?.context?.domain).toBeUndefined()
  })

  it('stays silent for a forward to the address web01 holds now', async () => {
    const {facts, web} = await healthy()
    const {findings, evaluation} = await fireInbound(rule, withForward(facts, web))
    expect(findings).toEqual([])
    // It was judged (the forward exists), not skipped.
    expect(evaluation.checked.filter((c) => c.ruleId === rule.id).length).toBeGreaterThan(0)
  })

  it('stays silent for a forward outside any libvirt network (a host of its own behind the DNAT)', async () => {
    const {facts} = await healthy()
    expect((await fireInbound(rule, withForward(facts, '10.99.0.5'))).findings).toEqual([])
  })

  it("stays silent for a forward to the host's own address on the network (its gateway: a service on the host, no guest's to lose); still fires for a free address beside it", async () => {
    const {facts} = await healthy()
    expect((await fireInbound(rule, withForward(facts, '192.168.122.1'))).findings).toEqual([])
    expect((await fireInbound(rule, withForward(facts, '192.168.122.2'))).findings.map((f) => f.entity.name)).toEqual([`tcp ${HOST}:8080 -> 192.168.122.2:80`])
  })
})
