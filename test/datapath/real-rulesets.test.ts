/**
 * The evaluator on real rulesets, as the real tools listed them (test/data/netfilter: libvirt's
 * own iptables and nftables backends, Docker, ufw, firewalld), parsed by the probe's parsers.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parseNftRuleExprs} from '../../probes/netfilter/nft-json.js'
import {parseRuleText} from '../../probes/netfilter/nft-text.js'
import {buildRuleset} from '../../probes/netfilter/ruleset.js'
import {compile} from '../../src/datapath/netfilter/compile.js'
import {type Branch, type EvalContext, runHook, startBranch} from '../../src/datapath/netfilter/evaluate.js'
import {type NfPacket, newPacket, replyPacket} from '../../src/datapath/netfilter/packet.js'
import type {NfHook} from '../../src/lib/netfilter.js'
import {ROOT} from '../helpers.js'

const data = (f: string) => readFileSync(join(ROOT, 'test/data/netfilter', f), 'utf8')

const ctx: EvalContext = {
  addressType: (a, _f, dev) => (a === '192.168.122.1' && (!dev || dev === 'virbr0') ? ['local'] : a === '198.51.100.2' && (!dev || dev === 'eth0') ? ['local'] : a === '255.255.255.255' ? ['broadcast'] : ['unicast']),
  addressOf: (dev) => ({eth0: '198.51.100.2', virbr0: '192.168.122.1'})[dev],
}

/** Walks hooks in order, as a path would, and returns the final branches. */
function walk(rs: ReturnType<typeof buildRuleset>, hooks: [NfHook, Partial<NfPacket>][], packet: NfPacket): Branch[] {
  const compiled = compile(rs)
  let branches = [startBranch(packet)]
  for (const [hook, devices] of hooks) {
    branches = runHook(compiled, hook, 'ip', branches.map((b) => ({...b, packet: {...b.packet, iifname: undefined, oifname: undefined, ...devices}})), ctx)
  }
  return branches
}

const egress = newPacket({family: 4, src: '192.168.122.50', dst: '203.0.113.10', l4proto: 'tcp', sport: 40000, dport: 80})
const egressHooks: [NfHook, Partial<NfPacket>][] = [
  ['prerouting', {iifname: 'virbr0'}],
  ['forward', {iifname: 'virbr0', oifname: 'eth0'}],
  ['postrouting', {iifname: 'virbr0', oifname: 'eth0'}],
]
const dns = newPacket({family: 4, src: '192.168.122.50', dst: '192.168.122.1', l4proto: 'udp', sport: 40000, dport: 53})
const dhcp = newPacket({family: 4, src: '0.0.0.0', dst: '255.255.255.255', l4proto: 'udp', sport: 68, dport: 67, pkttype: 'broadcast'})
const inputHooks: [NfHook, Partial<NfPacket>][] = [
  ['prerouting', {iifname: 'virbr0'}],
  ['input', {iifname: 'virbr0'}],
]
const reply = replyPacket({family: 4, src: '203.0.113.10', dst: '192.168.122.50', l4proto: 'tcp', sport: 80, dport: 40000}, ['snat'])
const replyHooks: [NfHook, Partial<NfPacket>][] = [['forward', {iifname: 'eth0', oifname: 'virbr0'}]]
const inbound = newPacket({family: 4, src: '203.0.113.10', dst: '192.168.122.50', l4proto: 'tcp', sport: 50000, dport: 22})

const only = (bs: Branch[]) => {
  expect(bs).toHaveLength(1)
  return bs[0]
}

describe('libvirt iptables backend (real iptables-save of libvirt\'s own firewall commands)', () => {
  const rs = buildRuleset({iptables: [{text: data('libvirt-iptables.iptables-save.txt'), family: 'ip'}], nft: {json: data('libvirt-iptables.nft-j-list-ruleset.json'), text: data('libvirt-iptables.nft-a-list-ruleset.txt')}})

  it('lets a guest out through LIBVIRT_FWO and masquerades it in LIBVIRT_PRT', () => {
    const b = only(walk(rs, egressHooks, egress))
    expect(b.status).toBe('accept')
    expect(b.packet.src).toBe('198.51.100.2')
    expect(b.nat[0].step.rule?.text).toMatch(/^-A LIBVIRT_PRT -s 192\.168\.122\.0\/24 ! -d 192\.168\.122\.0\/24 -p tcp -j MASQUERADE/)
  })

  it('accepts DNS and DHCP from the bridge in LIBVIRT_INP', () => {
    expect(only(walk(rs, inputHooks, dns)).steps.filter((s) => s.event === 'rule' && s.action === 'accept').map((s) => s.rule?.text)).toEqual(['-A LIBVIRT_INP -i virbr0 -p udp -m udp --dport 53 -j ACCEPT'])
    expect(only(walk(rs, inputHooks, dhcp)).status).toBe('accept')
  })

  it('lets replies in (LIBVIRT_FWI related,established) and rejects new connections to guests', () => {
    expect(only(walk(rs, replyHooks, reply)).status).toBe('accept')
    const blocked = only(walk(rs, [['forward', {iifname: 'eth0', oifname: 'virbr0'}]], inbound))
    expect(blocked.status).toBe('drop')
    expect(blocked.decidedBy?.rule?.text).toBe('-A LIBVIRT_FWI -o virbr0 -j REJECT --reject-with icmp-port-unreachable')
    // The nft handle of the iptables-nft rule, for the kernel's trace.
    expect(blocked.decidedBy?.rule?.ref.handle).toEqual(expect.any(Number))
  })
})

describe("libvirt nftables backend (real nft listing of libvirt's own commands)", () => {
  const rs = buildRuleset({nft: {json: data('libvirt-nftables.nft-j-list-ruleset.json'), text: data('libvirt-nftables.nft-a-list-ruleset.txt')}})

  it('accepts a guest out in table ip libvirt_network and masquerades it', () => {
    const b = only(walk(rs, egressHooks, egress))
    expect(b.status).toBe('accept')
    expect(b.nat.map((n) => n.type)).toEqual(['masquerade'])
    expect(b.nat[0].step.chain).toMatchObject({backend: 'nft', table: 'libvirt_network'})
  })

  it('rejects new connections into the guests and accepts the replies', () => {
    expect(only(walk(rs, [['forward', {iifname: 'eth0', oifname: 'virbr0'}]], inbound)).status).toBe('drop')
    expect(only(walk(rs, replyHooks, reply)).status).toBe('accept')
  })

  it('after the bridge is deleted and its index left in the rules, the guests cannot be judged (indeterminate, not "no match")', () => {
    const gone = buildRuleset({nft: {json: data('libvirt-nftables-deleted-bridge.nft-j-list-ruleset.json'), text: data('libvirt-nftables-deleted-bridge.nft-a-list-ruleset.txt')}})
    const out = walk(gone, [['forward', {iifname: 'virbr0', oifname: 'eth0'}]], egress)
    expect(out.length).toBeGreaterThan(1)
    expect(out.flatMap((b) => b.assumptions).length).toBeGreaterThan(0)
  })
})

describe('Docker beside libvirt (real iptables-nft listing): FORWARD policy DROP, DOCKER-USER first', () => {
  const rs = buildRuleset({iptables: [{text: data('docker.iptables-save.txt'), family: 'ip'}], nft: {json: data('docker.nft-j-list-ruleset.json'), text: data('docker.nft-a-list-ruleset.txt')}})

  it("NAT guests still pass: DOCKER-USER and the isolation chains return, libvirt's chains accept", () => {
    const b = only(walk(rs, egressHooks, egress))
    expect(b.status).toBe('accept')
    expect(b.steps.filter((s) => s.hook === 'postrouting').length).toBeGreaterThan(0)
  })

  it("a guest-to-guest-on-another-bridge packet meets Docker's FORWARD policy DROP", () => {
    const sideways = newPacket({family: 4, src: '192.168.122.50', dst: '10.9.9.9', l4proto: 'tcp', sport: 40000, dport: 80})
    const out = only(walk(rs, [['forward', {iifname: 'docker9', oifname: 'eth0'}]], sideways))
    expect(out.decidedBy).toMatchObject({event: 'policy', action: 'drop', chain: {table: 'filter', chain: 'FORWARD'}})
  })
})

describe('ufw (real iptables-legacy listing with limit/recent rules)', () => {
  const rs = buildRuleset({iptables: [{text: data('ufw.iptables-legacy-save.txt'), family: 'ip'}]})

  it("accepts the guests' DNS and DHCP through ufw-user-input, whatever its rate-limit rules say", () => {
    const b = walk(rs, inputHooks, dns)
    expect(b.map((x) => x.status)).toEqual(['accept'])
    expect(walk(rs, inputHooks, dhcp).map((x) => x.status)).toEqual(['accept'])
  })

  it('drops what no ufw rule allows from the uplink (INPUT policy DROP), whatever its rate-limited LOG rules do', () => {
    const ssh = newPacket({family: 4, src: '203.0.113.10', dst: '198.51.100.2', l4proto: 'tcp', sport: 40000, dport: 2222})
    const out = walk(rs, [['input', {iifname: 'eth0'}]], ssh)
    expect(out.map((b) => b.status)).toEqual(['drop'])
    expect(out[0].assumptions).toEqual([])
  })
})

describe('firewalld (real nft listing of a firewalld-style inet table: zones by vmap)', () => {
  const rs = buildRuleset({nft: {json: data('firewalld.nft-j-list-ruleset.json'), text: data('firewalld.nft-a-list-ruleset.txt')}})

  it('sends the bridge to its zone by verdict map and accepts the guests\' DNS there', () => {
    const b = walk(rs, inputHooks, dns)
    expect(b.map((x) => x.status)).toEqual(['accept'])
    expect(b[0].steps.some((s) => s.chain.chain === 'filter_IN_libvirt')).toBe(true)
  })

  it('forwards virbr0 → eth0 through its zone and drops eth0 → virbr0 by the map', () => {
    expect(walk(rs, [['forward', {iifname: 'virbr0', oifname: 'eth0'}]], egress).map((b) => b.status)).toEqual(['accept'])
    expect(walk(rs, [['forward', {iifname: 'eth0', oifname: 'virbr0'}]], inbound).map((b) => b.status)).toEqual(['drop'])
  })
})

describe('NAT maps (real nft listing: DNAT to addresses looked up by port, or by address and port)', () => {
  const rs = buildRuleset({nft: {json: data('nat-maps.nft-j-list-ruleset.json'), text: data('nat-maps.nft-a-list-ruleset.txt')}})
  const to = (dst: string, dport: number, iifname = 'eth1') => walk(rs, [['prerouting', {iifname}]], newPacket({family: 4, src: '203.0.113.10', dst, l4proto: 'tcp', sport: 50000, dport}))

  it('translates address and port from a named map of address . port data (iifname eth0 only)', () => {
    expect(only(to('198.51.100.2', 8080, 'eth0')).packet).toMatchObject({dst: '192.168.122.10', dport: 80})
    // Arriving elsewhere the first rule does not match; no other map has 8080: not translated.
    expect(only(to('198.51.100.2', 8080)).packet).toMatchObject({dst: '198.51.100.2', dport: 8080})
  })

  it('translates the address only from a named or an inline map, keeping the port', () => {
    expect(only(to('198.51.100.2', 2222)).packet).toMatchObject({dst: '192.168.122.11', dport: 2222})
    expect(only(to('198.51.100.2', 3333)).packet).toMatchObject({dst: '192.168.122.12', dport: 3333})
  })

  it('reads a concatenated key (ip daddr . tcp dport): only that address and port pair is translated', () => {
    expect(only(to('1.2.3.4', 5555)).packet).toMatchObject({dst: '192.168.122.14', dport: 80})
    expect(only(to('1.2.3.5', 5555)).packet).toMatchObject({dst: '1.2.3.5', dport: 5555})
  })

  it('a packet with no entry breaks the rule and goes on to the next (4444 matches the plain DNAT after the maps)', () => {
    const b = only(to('1.2.3.4', 4444))
    expect(b.packet).toMatchObject({dst: '192.168.122.13', dport: 22})
    expect(b.nat).toMatchObject([{type: 'dnat', field: 'dst', from: '1.2.3.4', to: '192.168.122.13'}])
  })

  it('a map that could not be read completely is undecided, never a miss', () => {
    const partial = structuredClone(rs)
    partial.sets['ip kdin portfw2'].complete = false
    const out = runHook(compile(partial), 'prerouting', 'ip', [startBranch(newPacket({family: 4, iifname: 'eth1', src: '203.0.113.10', dst: '198.51.100.2', l4proto: 'tcp', sport: 50000, dport: 2222}))], ctx)
    expect(out.map((b) => b.status)).toEqual(['unknown'])
  })
})

/**
 * Rules whose effect their listing does not show (test/data/netfilter/src/capture-state.sh: the listings, and in
 * state.kernel.txt what the kernel did with each packet below on that router).
 */
describe('state the listing does not show (real nft and iptables listings; kernel outcomes in state.kernel.txt)', () => {
  const nftRs = buildRuleset({nft: {json: data('state.nft-j-list-ruleset.json'), text: data('state.nft-a-list-ruleset.txt')}})
  const iptRs = buildRuleset({ipset: data('state.ipset-list.txt'), iptables: [{family: 'ip', text: data('state.iptables-save-c.txt'), backend: undefined}]})
  const routed = (rs: ReturnType<typeof buildRuleset>, p: NfPacket) => walk(rs, [['prerouting', {iifname: 'rc'}], ['forward', {iifname: 'rc', oifname: 'rs'}]], p)
  const fate = (bs: Branch[]) => (bs.every((b) => b.status === 'accept') ? 'pass' : bs.every((b) => b.status === 'drop') ? 'drop' : 'indeterminate')
  const ping = (src: string, dst: string) => newPacket({family: 4, src, dst, l4proto: 'icmp', icmpType: 8})

  it('a header rewrite (stateless NAT: ip daddr set, tcp dport set) leaves the path undecided, never followed with the packet as it came', () => {
    // Kernel: the connection to :8080, rewritten to :22, met `tcp dport 22 drop` (fails); followed unchanged it reached `ip saddr @seen accept`.
    const dport = only(routed(nftRs, newPacket({family: 4, src: '10.1.0.2', dst: '10.2.0.2', l4proto: 'tcp', sport: 40000, dport: 8080})))
    expect(dport.status).toBe('unknown')
    expect(dport.decidedBy).toMatchObject({rule: {text: 'tcp dport 8080 tcp dport set 22 notrack'}, note: expect.stringContaining("rewrites the packet's tcp dport")})
    // Kernel: the ping for 10.2.0.99, rewritten to 10.2.0.2, was dropped by a rule for 10.2.0.2.
    expect(only(routed(nftRs, ping('10.1.0.2', '10.2.0.99'))).decidedBy?.note).toContain("rewrites the packet's ip daddr")
  })

  it('keeps rewrites of the class of service and of a TTL of 64 as effects, and takes one of TTL 1 for a rewrite', () => {
    const rules = nftRs.tables.find((t) => t.name === 'kd_state')!.chains.header_rewrites.rules
    expect(rules.map((r) => r.exprs.at(-1)!.kind)).toEqual(['opaque-statement', 'effect', 'effect'])
    // IPv4's "no checksum" (kernel: the UDP case's datagram arrived through `udp dport 53 udp checksum set 0`); over IPv6 it is dropped.
    expect(nftRs.tables.find((t) => t.name === 'kd_state')!.chains.post.rules[0].exprs.at(-1)).toEqual({kind: 'effect', text: 'udp checksum set 0'})
    expect(parseNftRuleExprs(parseRuleText('udp checksum set 0').expr, {family: 'inet', table: 't'}).exprs.at(-1)?.kind).toBe('opaque-statement')
    // iptables' TTL target: kernel, --ttl-set 1 in mangle PREROUTING dropped the forwarded ping (it was an effect, a pass); 64 passed it.
    const ttl = (text: string) => buildRuleset({iptables: [{family: 'ip', text, backend: undefined}]})
    const low = ttl(data('state-ttl.iptables-save.txt'))
    const ping1 = walk(low, [['prerouting', {iifname: 'rc'}]], ping('10.1.0.2', '10.2.0.2'))
    expect(only(ping1).decidedBy).toMatchObject({rule: {text: '-A PREROUTING -p icmp -j TTL --ttl-set 1'}, note: expect.stringContaining("rewrites the packet's TTL")})
    expect(fate(walk(ttl(data('state-ttl.iptables-save.txt').replace('--ttl-set 1', '--ttl-set 64')), [['prerouting', {iifname: 'rc'}]], ping('10.1.0.2', '10.2.0.2')))).toBe('pass')
  })

  it('a limit or ct count in a set element drops only over its rate or count: undecided, not a drop of every packet', () => {
    // Kernel: one ping passed `add @flood { ip saddr limit rate over 10/second } drop`; the first connection `add @cc { ip saddr ct count over 2 } drop`.
    const flood = routed(nftRs, ping('10.1.0.2', '10.2.0.2'))
    expect(fate(flood)).toBe('indeterminate')
    expect(flood.find((b) => b.status === 'drop')?.assumptions.map((a) => a.step.note)).toEqual(['may match (limit of each element of @flood)'])
    expect(fate(routed(nftRs, newPacket({family: 4, src: '10.1.0.2', dst: '10.2.0.2', l4proto: 'tcp', sport: 40001, dport: 23})))).toBe('indeterminate')
  })

  it('a set the packet path fills (update @seen, -j SET --add-set) may hold a key its listing lacks: undecided, not a miss', () => {
    // Kernel: 10.1.0.3, not in @seen when listed, was added by `update @seen { ip saddr }` and accepted by `ip saddr @seen accept`.
    const seen = routed(nftRs, newPacket({family: 4, src: '10.1.0.3', dst: '10.2.0.2', l4proto: 'udp', sport: 40000, dport: 53}))
    expect(fate(seen)).toBe('indeterminate')
    expect(seen.flatMap((b) => b.steps).find((s) => s.event === 'maybe')?.note).toContain('set seen is filled as packets pass ("update @seen { ip saddr }")')
    // A key the listing holds still matches: 10.1.0.2 is accepted.
    expect(fate(routed(nftRs, newPacket({family: 4, src: '10.1.0.2', dst: '10.2.0.2', l4proto: 'udp', sport: 40000, dport: 53})))).toBe('pass')
    // Kernel: the empty ipset kd-seen, filled by -j SET --add-set, accepted the ping.
    expect(fate(walk(iptRs, [['forward', {iifname: 'rc', oifname: 'rs'}]], ping('10.1.0.2', '10.2.0.2')))).toBe('indeterminate')
  })
})
