import {describe, expect, it} from 'vitest'
import {compile} from '../../src/datapath/netfilter/compile.js'
import {type Branch, type EvalContext, runHook, startBranch} from '../../src/datapath/netfilter/evaluate.js'
import {type NfPacket, newPacket, replyPacket} from '../../src/datapath/netfilter/packet.js'
import type {NfHook, NfRuleset} from '../../src/lib/netfilter.js'
import {accept, cmp, drop, goto, ipt, jump, nft, num, prefix, reject, ret, ruleset, str} from './builders.js'

const ctx: EvalContext = {
  addressType: (a) => (a === '192.168.122.1' || a === '198.51.100.1' ? ['local'] : a === '255.255.255.255' ? ['broadcast'] : ['unicast']),
  addressOf: (dev) => ({eth0: '198.51.100.1', virbr0: '192.168.122.1'})[dev],
}

const egress = (over: Partial<NfPacket> = {}): NfPacket =>
  newPacket({family: 4, iifname: 'virbr0', oifname: 'eth0', src: '192.168.122.50', dst: '203.0.113.10', l4proto: 'tcp', sport: 40000, dport: 80, ...over})

function run(rs: NfRuleset, hook: NfHook, packet: NfPacket, layer: 'ip' | 'bridge' = 'ip'): Branch[] {
  return runHook(compile(rs), hook, layer, [startBranch(packet)], ctx)
}
const statuses = (bs: Branch[]) => bs.map((b) => b.status).sort()
const decided = (bs: Branch[]) => bs.find((b) => b.decidedBy)?.decidedBy

describe('netfilter evaluator: chains and verdicts', () => {
  it('accept in one base chain does not spare the packet from a later base chain on the hook', () => {
    const rs = ruleset([ipt('filter', {FORWARD: [[accept]]}), nft('inet', 'fw', {forward: {base: {hook: 'forward', priority: 10, policy: 'drop'}, rules: []}})])
    const out = run(rs, 'forward', egress())
    expect(statuses(out)).toEqual(['drop'])
    expect(decided(out)).toMatchObject({event: 'policy', chain: {table: 'fw', chain: 'forward', priority: 10}})
  })

  it('runs base chains in priority order: an earlier drop decides before a later accept is reached', () => {
    const rs = ruleset([nft('inet', 'late', {fwd: {base: {hook: 'forward', priority: 5}, rules: [[accept]]}}), nft('inet', 'early', {fwd: {base: {hook: 'forward', priority: -5}, rules: [[cmp('iifname', str('virbr0')), drop]]}})])
    const out = run(rs, 'forward', egress())
    expect(decided(out)).toMatchObject({chain: {table: 'early'}, rule: {ref: {handle: 100}}})
    const steps = out[0].steps.map((s) => `${s.chain.table}:${s.event}`)
    expect(steps).toEqual(['early:enter', 'early:rule'])
  })

  it('reject is as final as drop; the policy applies when no rule decides', () => {
    expect(statuses(run(ruleset([ipt('filter', {FORWARD: [[cmp('iifname', str('virbr0')), reject]]})]), 'forward', egress()))).toEqual(['drop'])
    expect(statuses(run(ruleset([ipt('filter', {FORWARD: [[cmp('iifname', str('eth9')), accept]]}, {FORWARD: 'drop'})]), 'forward', egress()))).toEqual(['drop'])
    expect(statuses(run(ruleset([ipt('filter', {FORWARD: []}, {FORWARD: 'accept'})]), 'forward', egress()))).toEqual(['accept'])
  })

  it('jump returns to the caller; goto does not; return in a base chain falls to the policy', () => {
    const viaJump = ruleset([ipt('filter', {FORWARD: [[jump('A')], [drop]], A: [[ret]]})])
    expect(statuses(run(viaJump, 'forward', egress()))).toEqual(['drop'])
    // goto A, A returns: back to FORWARD's caller (none: the base chain ends, policy accept), so the later drop is never reached.
    const viaGoto = ruleset([ipt('filter', {FORWARD: [[jump('B')], [drop]], B: [[goto('A')], [drop]], A: [[ret]]})])
    expect(statuses(run(viaGoto, 'forward', egress()))).toEqual(['drop'])
    const gotoFromBase = ruleset([ipt('filter', {FORWARD: [[goto('A')], [drop]], A: [[ret]]}, {FORWARD: 'accept'})])
    expect(statuses(run(gotoFromBase, 'forward', egress()))).toEqual(['accept'])
    const baseReturn = ruleset([ipt('filter', {FORWARD: [[ret], [accept]]}, {FORWARD: 'drop'})])
    expect(decided(run(baseReturn, 'forward', egress()))).toMatchObject({event: 'policy', action: 'drop'})
  })

  it('a jump to a chain that does not exist is not a guess: the fate is unknown', () => {
    const out = run(ruleset([ipt('filter', {FORWARD: [[jump('NOPE')]]})]), 'forward', egress())
    expect(statuses(out)).toEqual(['unknown'])
  })
})

describe('netfilter evaluator: matches', () => {
  const one = (exprs: Parameters<typeof ipt>[1]['x'][number], packet: NfPacket, hook: NfHook = 'forward') =>
    statuses(run(ruleset([ipt('filter', {FORWARD: [exprs], INPUT: [exprs], OUTPUT: [exprs]})]), hook, packet))

  it('interfaces: exact, wildcard, negated', () => {
    expect(one([cmp('iifname', str('virbr*')), drop], egress())).toEqual(['drop'])
    expect(one([cmp('iifname', str('virbr1')), drop], egress())).toEqual(['accept'])
    expect(one([cmp('oifname', str('eth0'), 'ne'), drop], egress())).toEqual(['accept'])
    expect(one([cmp('oifname', str('docker0'), 'ne'), drop], egress())).toEqual(['drop'])
  })

  it('addresses: prefixes, single addresses, ranges, negation, IPv6 apart', () => {
    expect(one([cmp('saddr', prefix('192.168.122.0/24')), drop], egress())).toEqual(['drop'])
    expect(one([cmp('saddr', prefix('192.168.122.0/24'), 'ne'), drop], egress())).toEqual(['accept'])
    expect(one([cmp('daddr', {t: 'addr', v: '203.0.113.10'}), drop], egress())).toEqual(['drop'])
    expect(one([cmp('daddr', {t: 'range', lo: {t: 'addr', v: '203.0.113.1'}, hi: {t: 'addr', v: '203.0.113.9'}}), drop], egress())).toEqual(['accept'])
    expect(one([cmp('saddr', prefix('fd00::/8')), drop], egress())).toEqual(['accept'])
  })

  it('protocols by name or number, ports, port ranges and sets', () => {
    expect(one([cmp('l4proto', str('tcp')), drop], egress())).toEqual(['drop'])
    expect(one([cmp('l4proto', num(6)), drop], egress())).toEqual(['drop'])
    expect(one([cmp('l4proto', str('udp')), drop], egress())).toEqual(['accept'])
    expect(one([cmp('dport', num(80)), drop], egress())).toEqual(['drop'])
    expect(one([cmp('dport', {t: 'range', lo: num(1), hi: num(79)}), drop], egress())).toEqual(['accept'])
    expect(one([cmp('dport', {t: 'set', elems: [num(22), {t: 'range', lo: num(70), hi: num(90)}]}), drop], egress())).toEqual(['drop'])
    // icmp has no ports: a port match never matches it.
    expect(one([cmp('dport', num(80)), drop], egress({l4proto: 'icmp', sport: undefined, dport: undefined, icmpType: 8}))).toEqual(['accept'])
  })

  it('icmp types by name and number', () => {
    const ping = egress({l4proto: 'icmp', sport: undefined, dport: undefined, icmpType: 8})
    expect(one([cmp('icmp type', str('echo-request')), drop], ping)).toEqual(['drop'])
    expect(one([cmp('icmp type', num(0)), drop], ping)).toEqual(['accept'])
  })

  it('conntrack state: new vs established; invalid before conntrack runs (raw)', () => {
    const est = replyPacket({family: 4, iifname: 'eth0', oifname: 'virbr0', src: '203.0.113.10', dst: '192.168.122.50', l4proto: 'tcp', sport: 80, dport: 40000})
    const rule = [cmp('ct state', {t: 'flags', v: ['related', 'established']}), accept]
    expect(statuses(run(ruleset([ipt('filter', {FORWARD: [rule]}, {FORWARD: 'drop'})]), 'forward', est))).toEqual(['accept'])
    expect(statuses(run(ruleset([ipt('filter', {FORWARD: [rule]}, {FORWARD: 'drop'})]), 'forward', egress()))).toEqual(['drop'])
    const raw = ruleset([ipt('raw', {PREROUTING: [[cmp('ct state', {t: 'flags', v: ['invalid']}), drop]]})])
    expect(statuses(run(raw, 'prerouting', egress()))).toEqual(['drop'])
  })

  it('physdev for bridged frames (br_netfilter)', () => {
    const bridged = newPacket({family: 4, iifname: 'br0', oifname: 'br0', physIn: 'vnet0', physOut: 'eth1', bridged: true, src: '0.0.0.0', dst: '255.255.255.255', l4proto: 'udp', sport: 68, dport: 67})
    expect(one([cmp('physdev-is-bridged', num(1)), accept], bridged).length).toBe(1)
    expect(statuses(run(ruleset([ipt('filter', {FORWARD: [[cmp('physdev-is-bridged', num(1)), accept]]}, {FORWARD: 'drop'})]), 'forward', bridged))).toEqual(['accept'])
    expect(statuses(run(ruleset([ipt('filter', {FORWARD: [[cmp('physdev-is-bridged', num(1)), accept]]}, {FORWARD: 'drop'})]), 'forward', egress()))).toEqual(['drop'])
    expect(one([cmp('physdev-in', str('vnet+'.replace('+', '*'))), drop], bridged)).toEqual(['drop'])
  })

  it('address types (addrtype / fib)', () => {
    const dns = newPacket({family: 4, iifname: 'virbr0', src: '192.168.122.50', dst: '192.168.122.1', l4proto: 'udp', sport: 40000, dport: 53})
    expect(one([cmp('fib daddr type', str('local')), drop], dns, 'input')).toEqual(['drop'])
    expect(one([cmp('fib daddr type', str('local')), drop], egress())).toEqual(['accept'])
  })

  it('named nft sets, anonymous sets and ipsets', () => {
    const set = {backend: 'nft' as const, family: 'inet' as const, table: 'fw', name: 'blocked', type: ['ipv4_addr'], flags: ['interval'], elems: [prefix('203.0.113.0/24')], complete: true}
    const rs = ruleset([nft('inet', 'fw', {fwd: {base: {hook: 'forward'}, rules: [[cmp('daddr', {t: 'setref', name: 'inet fw blocked'}), drop]]}})], {'inet fw blocked': set})
    expect(statuses(run(rs, 'forward', egress()))).toEqual(['drop'])
    const ipset = {backend: 'ipset' as const, name: 'kdlab-block', type: ['hash:net'], flags: [], elems: [prefix('10.0.0.0/8')], complete: true}
    const rs2 = ruleset([ipt('filter', {FORWARD: [[cmp('daddr', {t: 'setref', name: 'ipset kdlab-block'}), drop]]})], {'ipset kdlab-block': ipset})
    expect(statuses(run(rs2, 'forward', egress()))).toEqual(['accept'])
    // An ipset that could not be read: absent from it is not proven.
    const rs3 = ruleset([ipt('filter', {FORWARD: [[cmp('daddr', {t: 'setref', name: 'ipset kdlab-block'}), drop]]})], {'ipset kdlab-block': {...ipset, complete: false}})
    expect(statuses(run(rs3, 'forward', egress()))).toEqual(['accept', 'drop'])
    // A set that is not there at all is not a "no match" either.
    expect(statuses(run(ruleset([ipt('filter', {FORWARD: [[cmp('daddr', {t: 'setref', name: 'ipset gone'}), drop]]})]), 'forward', egress()))).toEqual(['accept', 'drop'])
  })

  it('vmaps pick the verdict by key', () => {
    const vmap = {kind: 'vmap' as const, field: 'iifname' as const, map: [{key: str('virbr0'), then: {kind: 'verdict' as const, verdict: 'drop' as const}}, {key: str('eth0'), then: {kind: 'verdict' as const, verdict: 'accept' as const}}], text: 'iifname vmap { "virbr0" : drop, "eth0" : accept }'}
    const rs = ruleset([nft('inet', 'fw', {fwd: {base: {hook: 'forward'}, rules: [[vmap]]}})])
    expect(statuses(run(rs, 'forward', egress()))).toEqual(['drop'])
    expect(statuses(run(rs, 'forward', egress({iifname: 'eth0'})))).toEqual(['accept'])
    expect(statuses(run(rs, 'forward', egress({iifname: 'eth1'})))).toEqual(['accept'])
  })
})

describe('netfilter evaluator: marks, NAT, undecidable matches', () => {
  it('a mark set earlier on the same path decides a later mark match', () => {
    const rs = ruleset([ipt('mangle', {FORWARD: [[cmp('iifname', str('virbr0')), {kind: 'mark', what: 'mark', op: 'set', value: 1, text: 'MARK --set-mark 0x1'}]]}), ipt('filter', {FORWARD: [[cmp('mark', num(1)), drop]]})])
    const out = run(rs, 'forward', egress())
    expect(statuses(out)).toEqual(['drop'])
    expect(out[0].assumptions).toEqual([])
  })

  it('a mark set outside the path makes a deciding rule indeterminate, naming the rule and both outcomes', () => {
    const rs = ruleset([ipt('filter', {FORWARD: [[cmp('mark', num(1), 'eq', {mask: 0xff}), drop]]})])
    const out = run(rs, 'forward', egress({mark: 'unknown'}))
    expect(statuses(out)).toEqual(['accept', 'drop'])
    const dropped = out.find((b) => b.status === 'drop')!
    expect(dropped.assumptions).toMatchObject([{assumed: true, step: {event: 'maybe', rule: {text: 'rule FORWARD#1'}}}])
  })

  it('rate limits "may match": when both outcomes end alike the verdict stands', () => {
    const limit = {kind: 'nondeterministic' as const, what: 'limit', text: '-m limit --limit 5/min'}
    const logOnly = ruleset([ipt('filter', {FORWARD: [[limit, {kind: 'effect', text: 'LOG'}], [drop]]})])
    const out = run(logOnly, 'forward', egress())
    expect(statuses(out)).toEqual(['drop'])
    const deciding = ruleset([ipt('filter', {FORWARD: [[limit, accept], [drop]]})])
    expect(statuses(run(deciding, 'forward', egress()))).toEqual(['accept', 'drop'])
  })

  it('an unmodelled match or target is indeterminate, never "no match"', () => {
    const opaque = ruleset([ipt('filter', {FORWARD: [[{kind: 'opaque', text: '-m owner --uid-owner 0'}, drop]]})])
    expect(statuses(run(opaque, 'forward', egress()))).toEqual(['accept', 'drop'])
    const target = ruleset([ipt('filter', {FORWARD: [[{kind: 'opaque-statement', text: '-j NFQUEUE', terminal: 'unknown'}]]})])
    expect(statuses(run(target, 'forward', egress()))).toEqual(['unknown'])
  })

  it('NAT chains see only the first packet; masquerade changes the source for the chains after it', () => {
    const masq = {kind: 'nat' as const, type: 'masquerade' as const, text: '-j MASQUERADE'}
    const rs = ruleset([
      ipt('nat', {POSTROUTING: [[cmp('saddr', prefix('192.168.122.0/24')), masq]]}),
      nft('ip', 'after', {post: {base: {hook: 'postrouting', priority: 200}, rules: [[cmp('saddr', prefix('192.168.122.0/24')), drop]]}}),
    ])
    const out = run(rs, 'postrouting', egress())
    expect(statuses(out)).toEqual(['accept'])
    expect(out[0].packet.src).toBe('198.51.100.1')
    expect(out[0].nat).toMatchObject([{type: 'masquerade', from: '192.168.122.50', to: '198.51.100.1'}])
    const established = {...egress(), ct: {state: 'established' as const, status: [], direction: 'original' as const, mark: 0}}
    const later = run(rs, 'postrouting', established)
    expect(later[0].packet.src).toBe('192.168.122.50')
    expect(statuses(later)).toEqual(['drop'])
  })

  it('DNAT in prerouting rewrites the destination; an untracked packet is never NATed', () => {
    const dnat = {kind: 'nat' as const, type: 'dnat' as const, addr: '192.168.122.250', port: 80, text: '-j DNAT --to-destination 192.168.122.250:80'}
    const inbound = newPacket({family: 4, iifname: 'eth0', src: '203.0.113.10', dst: '198.51.100.1', l4proto: 'tcp', sport: 50000, dport: 8080})
    const rs = ruleset([ipt('nat', {PREROUTING: [[cmp('dport', num(8080)), dnat]]})])
    expect(run(rs, 'prerouting', inbound)[0].packet).toMatchObject({dst: '192.168.122.250', dport: 80})
    const notrack = ruleset([ipt('raw', {PREROUTING: [[{kind: 'notrack', text: '-j CT --notrack'}]]}), ipt('nat', {PREROUTING: [[cmp('dport', num(8080)), dnat]]})])
    expect(run(notrack, 'prerouting', inbound)[0].packet.dst).toBe('198.51.100.1')
  })

  it('bridge family hooks run only bridge tables', () => {
    const rs = ruleset([nft('bridge', 'filter', {fwd: {base: {hook: 'forward', policy: 'drop'}, rules: []}}), ipt('filter', {FORWARD: [[accept]]})])
    expect(statuses(run(rs, 'forward', egress(), 'bridge'))).toEqual(['drop'])
    expect(statuses(run(rs, 'forward', egress(), 'ip'))).toEqual(['accept'])
  })
})
