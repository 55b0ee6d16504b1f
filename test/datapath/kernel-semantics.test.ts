/**
 * The evaluator against the kernel's own semantics where an earlier reading was wrong (issue 22):
 * the call stack (nft_do_chain / ipt_do_table), NAT bindings (nf_nat_inet_fn), values it cannot read.
 */
import {describe, expect, it} from 'vitest'
import {compile} from '../../src/datapath/netfilter/compile.js'
import {type Branch, type EvalContext, deviceChains, runHook, startBranch} from '../../src/datapath/netfilter/evaluate.js'
import {type NfPacket, newPacket} from '../../src/datapath/netfilter/packet.js'
import type {NfExpr, NfHook, NfRuleset} from '../../src/lib/netfilter.js'
import forwardPolicyDrop from '../../rules/iptables-forward-drop.js'
import {factsOf, fire, withIptablesRule} from '../helpers.js'
import {accept, cmp, drop, goto, ipt, jump, nft, num, prefix, ret, ruleset, str} from './builders.js'

const ctx: EvalContext = {
  addressType: (a) => (a === '192.168.122.1' || a === '198.51.100.1' ? ['local'] : ['unicast']),
  addressOf: (dev) => ({eth0: '198.51.100.1', virbr0: '192.168.122.1'})[dev],
}
const egress = (over: Partial<NfPacket> = {}): NfPacket =>
  newPacket({family: 4, iifname: 'virbr0', oifname: 'eth0', src: '192.168.122.50', dst: '203.0.113.10', l4proto: 'tcp', sport: 40000, dport: 80, ...over})
const run = (rs: NfRuleset, hook: NfHook, packet: NfPacket, layer: 'ip' | 'bridge' = 'ip'): Branch[] => runHook(compile(rs), hook, layer, [startBranch(packet)], ctx)
const statuses = (bs: Branch[]) => bs.map((b) => b.status).sort()

describe('call stack as the kernel keeps it', () => {
  it('a goto from a base chain to a chain that runs off its end applies the base chain policy', () => {
    const rs = ruleset([ipt('filter', {FORWARD: [[goto('A')]], A: [[cmp('dport', num(22)), accept]]}, {FORWARD: 'drop'})])
    const out = run(rs, 'forward', egress())
    expect(statuses(out)).toEqual(['drop'])
    expect(out[0].decidedBy).toMatchObject({event: 'policy', action: 'drop', chain: {chain: 'FORWARD'}})
    // Native nft: same (the target's absent policy is not an accept).
    const native = ruleset([nft('inet', 'fw', {fwd: {base: {hook: 'forward', policy: 'drop'}, rules: [[goto('tail')]]}, tail: {rules: []}})])
    expect(statuses(run(native, 'forward', egress()))).toEqual(['drop'])
  })

  it('return from a goto target with nothing on the stack applies the base policy', () => {
    const rs = ruleset([nft('inet', 'fw', {fwd: {base: {hook: 'forward', policy: 'drop'}, rules: [[goto('a')], [accept]]}, a: {rules: [[ret]]}})])
    expect(statuses(run(rs, 'forward', egress()))).toEqual(['drop'])
  })

  it('nested goto returns to the caller of the chain that did the goto, one frame only', () => {
    // FORWARD jump A; A jump C, then drop; C goto B; B runs off: back to A after "jump C", whose drop decides.
    const rs = ruleset([ipt('filter', {FORWARD: [[jump('A')], [accept]], A: [[jump('C')], [drop]], C: [[goto('B')]], B: []}, {FORWARD: 'accept'})])
    const out = run(rs, 'forward', egress())
    expect(statuses(out)).toEqual(['drop'])
    expect(out[0].decidedBy).toMatchObject({chain: {chain: 'A'}, rule: {ref: {index: 1}}})
    // goto chains: A goto B, B goto C, C returns: back to FORWARD after "jump A".
    const chained = ruleset([ipt('filter', {FORWARD: [[jump('A')], [drop]], A: [[goto('B')]], B: [[goto('C')]], C: [[ret]]}, {FORWARD: 'accept'})])
    expect(statuses(run(chained, 'forward', egress()))).toEqual(['drop'])
  })
})

const dnatTo = (addr: string, port?: number): NfExpr => ({kind: 'nat', type: 'dnat', addr, ...(port !== undefined ? {port} : {}), text: `dnat to ${addr}`})
const snatTo = (addr: string): NfExpr => ({kind: 'nat', type: 'snat', addr, text: `snat to ${addr}`})

describe('NAT binds once per connection and hook', () => {
  it('a second nat chain on the same hook does not translate a packet already bound', () => {
    const rs = ruleset([
      nft('ip', 'first', {post: {base: {hook: 'postrouting', type: 'nat', priority: 100}, rules: [[snatTo('198.51.100.7')]]}}),
      nft('ip', 'second', {post: {base: {hook: 'postrouting', type: 'nat', priority: 110}, rules: [[snatTo('198.51.100.9')]]}}),
    ])
    const out = run(rs, 'postrouting', egress())
    expect(out).toHaveLength(1)
    expect(out[0].packet.src).toBe('198.51.100.7')
    expect(out[0].nat).toHaveLength(1)
  })

  it('a nat chain that binds nothing leaves the next one its turn; an accept does not bind', () => {
    const rs = ruleset([
      nft('ip', 'first', {post: {base: {hook: 'postrouting', type: 'nat', priority: 100}, rules: [[accept]]}}),
      ipt('nat', {POSTROUTING: [[cmp('saddr', prefix('192.168.122.0/24')), {kind: 'nat', type: 'masquerade', text: '-j MASQUERADE'}]]}),
    ])
    expect(run(rs, 'postrouting', egress())[0].packet.src).toBe('198.51.100.1')
  })

  it('nat chains run at the NAT core priority: a filter chain at -50 sees the DNATed destination of a nat chain at 0', () => {
    const rs = ruleset([
      nft('ip', 'n', {pre: {base: {hook: 'prerouting', type: 'nat', priority: 0}, rules: [[cmp('dport', num(8080)), dnatTo('192.168.122.50', 80)]]}}),
      nft('ip', 'f', {pre: {base: {hook: 'prerouting', priority: -50}, rules: [[cmp('daddr', str('192.168.122.50')), drop]]}}),
    ])
    const inbound = newPacket({family: 4, iifname: 'eth0', src: '203.0.113.10', dst: '198.51.100.1', l4proto: 'tcp', sport: 50000, dport: 8080})
    expect(statuses(run(rs, 'prerouting', inbound))).toEqual(['drop'])
  })

  it('DNAT at prerouting does not stop SNAT at postrouting', () => {
    const rs = ruleset([
      nft('ip', 'n', {
        pre: {base: {hook: 'prerouting', type: 'nat', priority: -100}, rules: [[cmp('dport', num(8080)), dnatTo('192.168.122.50', 80)]]},
        post: {base: {hook: 'postrouting', type: 'nat', priority: 100}, rules: [[cmp('daddr', str('192.168.122.50')), snatTo('192.168.122.1')]]},
      }),
    ])
    const inbound = newPacket({family: 4, iifname: 'eth0', src: '203.0.113.10', dst: '198.51.100.1', l4proto: 'tcp', sport: 50000, dport: 8080})
    const pre = run(rs, 'prerouting', inbound)
    const post = runHook(compile(rs), 'postrouting', 'ip', pre, ctx)
    expect(post[0].packet).toMatchObject({src: '192.168.122.1', dst: '192.168.122.50', dport: 80})
  })
})

describe('values the evaluator cannot read are unknown, never false', () => {
  it.each([
    ['prefix', cmp('saddr', prefix('192.168.122.0/33'))],
    ['address', cmp('saddr', {t: 'addr', v: '192.168.122.x'})],
    ['address range', cmp('saddr', {t: 'range', lo: {t: 'addr', v: '192.168.122.1'}, hi: {t: 'addr', v: 'bogus'}})],
    ['set element', cmp('saddr', {t: 'set', elems: [prefix('10.0.0.0/8'), prefix('nonsense/8')]})],
  ])('an unparseable %s', (_what, match) => {
    const rs = ruleset([ipt('filter', {FORWARD: [[match, drop]]})])
    const out = run(rs, 'forward', egress())
    expect(statuses(out)).toEqual(['accept', 'drop'])
    expect(out.find((b) => b.status === 'drop')!.assumptions[0].step.event).toBe('maybe')
  })
})

describe('br_netfilter: bridged frames on the IP hooks see the bridge and its ports', () => {
  it("kvmdoctor's own fix for bridged-forward-drop, applied to the facts, leaves forward-policy-drop silent", async () => {
    const facts = await factsOf('bridged-forward-drop')
    const {evaluation} = await fire(forwardPolicyDrop, facts)
    expect(evaluation.findings).toHaveLength(1)
    // Each fix line an `iptables -I CHAIN ...` insert: put it into the facts at the head of its chain, in order.
    const lines = evaluation.findings[0].fix!
    expect(lines.length).toBeGreaterThan(0)
    let fixed = facts
    for (const line of [...lines].reverse()) {
      const m = /^iptables (?:-t (\S+) )?-I (\S+) (.*)$/.exec(line)
      expect(m, line).not.toBeNull()
      fixed = withIptablesRule(fixed, m![1] ?? 'filter', `-A ${m![2]} ${m![3]}`)
    }
    expect((await fire(forwardPolicyDrop, fixed)).names).toEqual([])
  })

  it('-i BRIDGE matches at forward; physdev ports: the in port from prerouting on, the out port and --physdev-is-bridged from forward on', () => {
    const rs = (chain: string, exprs: NfExpr[]) => ruleset([ipt(chain === 'PREROUTING' ? 'mangle' : 'filter', {[chain]: [[...exprs, drop]]})])
    const bridged = (over: Partial<NfPacket>) => newPacket({family: 4, physIn: 'vnet0', bridged: true, src: '10.0.0.5', dst: '10.0.0.9', l4proto: 'udp', sport: 1000, dport: 2000, ...over})
    const atForward = bridged({iifname: 'br0', oifname: 'br0', physOut: 'eth1'})
    const atPrerouting = bridged({iifname: 'br0'})
    expect(statuses(run(rs('FORWARD', [cmp('iifname', str('br0'))]), 'forward', atForward))).toEqual(['drop'])
    expect(statuses(run(rs('FORWARD', [cmp('physdev-out', str('eth1'))]), 'forward', atForward))).toEqual(['drop'])
    expect(statuses(run(rs('FORWARD', [cmp('physdev-is-bridged', num(1))]), 'forward', atForward))).toEqual(['drop'])
    expect(statuses(run(rs('PREROUTING', [cmp('physdev-in', str('vnet0'))]), 'prerouting', atPrerouting))).toEqual(['drop'])
    // The out port is not known at prerouting: --physdev-out never matches there, its negation always does; not "bridged" yet.
    expect(statuses(run(rs('PREROUTING', [cmp('physdev-out', str('eth1'))]), 'prerouting', atPrerouting))).toEqual(['accept'])
    expect(statuses(run(rs('PREROUTING', [cmp('physdev-out', str('eth1'), 'ne')]), 'prerouting', atPrerouting))).toEqual(['drop'])
    expect(statuses(run(rs('PREROUTING', [cmp('physdev-is-bridged', num(1))]), 'prerouting', atPrerouting))).toEqual(['accept'])
  })
})

describe('netdev chains run on the device, in kernel order', () => {
  const netdevTable = (chains: Record<string, {hook: 'ingress' | 'egress'; device: string; priority?: number; policy?: 'accept' | 'drop'; rules: NfExpr[][]}>) =>
    nft('netdev', 'nd', Object.fromEntries(Object.entries(chains).map(([name, c]) => [name, {base: {hook: c.hook, device: c.device, priority: c.priority ?? 0, policy: c.policy ?? 'accept'}, rules: c.rules}])))

  it('ingress is before conntrack (ct state reads invalid there) and chains of other devices do not run', () => {
    const rs = compile(ruleset([netdevTable({a: {hook: 'ingress', device: 'eth0', rules: [[cmp('ct state', {t: 'flags', v: ['invalid']}), drop]]}, b: {hook: 'ingress', device: 'eth1', rules: [[drop]]}})]))
    const reply = {...egress({iifname: 'eth0', oifname: undefined}), ct: {state: 'established' as const, status: [], direction: 'reply' as const, mark: 0}}
    expect(statuses(runHook(rs, 'ingress', 'netdev', [startBranch(reply)], ctx))).toEqual(['drop'])
    expect(deviceChains(rs, 'ingress', 'eth1').map((c) => c.name)).toEqual(['b'])
    expect(statuses(runHook(rs, 'ingress', 'netdev', [startBranch({...reply, iifname: 'eth2'})], ctx))).toEqual(['accept'])
  })
})

describe("conntrack's NAT binding applies where the NAT core sits", () => {
  it('a reply of a masqueraded connection: chains before -100 at prerouting see the public address, chains after it the guest', () => {
    const rs = ruleset([
      nft('ip', 'early', {pre: {base: {hook: 'prerouting', priority: -150}, rules: [[cmp('daddr', str('198.51.100.1')), {kind: 'mark', what: 'mark', op: 'set', value: 1, text: 'meta mark set 1'}]]}}),
      nft('ip', 'late', {pre: {base: {hook: 'prerouting', priority: 0}, rules: [[cmp('daddr', str('192.168.122.50')), cmp('mark', num(1)), drop]]}}),
    ])
    const reply: NfPacket = {...newPacket({family: 4, iifname: 'eth0', src: '203.0.113.10', dst: '198.51.100.1', l4proto: 'tcp', sport: 80, dport: 40000}), ct: {state: 'established', status: ['snat'], direction: 'reply', mark: 0, translate: {dst: '192.168.122.50'}}}
    const out = run(rs, 'prerouting', reply)
    expect(statuses(out)).toEqual(['drop'])
    // Nothing hooked at all: the translation still happens, once.
    const none = run(ruleset([]), 'prerouting', reply)
    expect(none[0].packet).toMatchObject({dst: '192.168.122.50', ct: {translate: undefined}})
  })

  it('the source of a DNATed connection is translated back at postrouting, after chains below 100', () => {
    const rs = ruleset([nft('ip', 'f', {a: {base: {hook: 'postrouting', priority: 50}, rules: [[cmp('saddr', str('198.51.100.1')), drop]]}, b: {base: {hook: 'postrouting', priority: 150}, rules: [[cmp('saddr', str('192.168.122.50')), drop]]}})])
    const reply: NfPacket = {...newPacket({family: 4, oifname: 'eth0', src: '192.168.122.50', dst: '203.0.113.10', l4proto: 'tcp', sport: 80, dport: 50000}), ct: {state: 'established', status: ['dnat'], direction: 'reply', mark: 0, translate: {src: '198.51.100.1', sport: 8080}}}
    const out = run(rs, 'postrouting', reply)
    expect(statuses(out)).toEqual(['accept'])
    expect(out[0].packet).toMatchObject({src: '198.51.100.1', sport: 8080})
  })
})

describe('replies of many guests share one walk', () => {
  it('packets whose pending translations are of one address class are walked once and each ends at its own address', () => {
    const compiled = compile(ruleset([nft('ip', 'f', {pre: {base: {hook: 'prerouting', priority: 0}, rules: [[cmp('daddr', prefix('192.168.122.0/24')), {kind: 'mark', what: 'mark', op: 'set', value: 7, text: 'meta mark set 7'}]]}})]))
    const reply = (guest: string): Branch =>
      startBranch({...newPacket({family: 4, iifname: 'eth0', src: '203.0.113.10', dst: '198.51.100.1', l4proto: 'tcp', sport: 80, dport: 40000}), ct: {state: 'established', status: ['snat'], direction: 'reply', mark: 0, translate: {dst: guest}}})
    const out = runHook(compiled, 'prerouting', 'ip', [reply('192.168.122.50'), reply('192.168.122.51')], ctx)
    expect(out.map((b) => [b.packet.dst, b.packet.mark, b.packet.ct.translate])).toEqual([
      ['192.168.122.50', 7, undefined],
      ['192.168.122.51', 7, undefined],
    ])
    expect(compiled.hookCache.get('prerouting')!.get('ip')!.size).toBe(1)
  })
})

describe('conntrack as each hook sees it', () => {
  it('a forward chain below -200 sees the connection (conntrack ran at prerouting); a prerouting chain below it does not', () => {
    const est = (over: Partial<NfPacket> = {}): NfPacket => ({...egress(over), ct: {state: 'established', status: [], direction: 'reply', mark: 0}})
    const forward = ruleset([nft('inet', 'early', {fwd: {base: {hook: 'forward', priority: -300, policy: 'drop'}, rules: [[cmp('ct state', {t: 'flags', v: ['established']}), accept]]}})])
    expect(statuses(run(forward, 'forward', est()))).toEqual(['accept'])
    const prerouting = ruleset([nft('inet', 'early', {pre: {base: {hook: 'prerouting', priority: -300}, rules: [[cmp('ct state', {t: 'flags', v: ['invalid']}), drop]]}})])
    expect(statuses(run(prerouting, 'prerouting', est()))).toEqual(['drop'])
  })

  it('a filter chain at the NAT core priority runs before the nat chains (the core registered first)', () => {
    const rs = ruleset([
      nft('ip', 'n', {pre: {base: {hook: 'prerouting', type: 'nat', priority: -100}, rules: [[cmp('dport', num(8080)), dnatTo('192.168.122.50', 80)]]}}),
      nft('ip', 'f', {pre: {base: {hook: 'prerouting', priority: -100}, rules: [[cmp('daddr', str('192.168.122.50')), drop]]}}),
    ])
    const inbound = newPacket({family: 4, iifname: 'eth0', src: '203.0.113.10', dst: '198.51.100.1', l4proto: 'tcp', sport: 50000, dport: 8080})
    // The filter chain saw the packet before DNAT: its drop did not match.
    expect(run(rs, 'prerouting', inbound).map((b) => [b.status, b.packet.dst])).toEqual([['accept', '192.168.122.50']])
  })
})
