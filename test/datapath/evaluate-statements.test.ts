/**
 * The evaluator's statements and its trace, one case per verdict-making branch (the mutation check,
 * test/mutation/README.md, found these unpinned): mark copies, continue and queue, NAT outside a nat
 * chain, verdict maps by name, non-terminal targets, undecidable matches settled by a later one, the
 * call stack's depth, and what each trace step says (the reports quote it as the deciding rule).
 */
import {describe, expect, it} from 'vitest'
import {buildRuleset} from '../../probes/netfilter/ruleset.js'
import {compile} from '../../src/datapath/netfilter/compile.js'
import {type Branch, type EvalContext, runHook, startBranch} from '../../src/datapath/netfilter/evaluate.js'
import {type NfPacket, newPacket} from '../../src/datapath/netfilter/packet.js'
import type {NfExpr, NfHook, NfRuleset, NfSet, NfTable} from '../../src/lib/netfilter.js'
import {accept, cmp, drop, goto, ipt, jump, nft, num, prefix, ruleset, str} from './builders.js'

const ctx: EvalContext = {
  addressType: (a) => (a === '198.51.100.1' ? ['local'] : ['unicast']),
  addressOf: (dev) => ({eth0: '198.51.100.1', virbr0: '192.168.122.1'})[dev],
}
const egress = (over: Partial<NfPacket> = {}): NfPacket =>
  newPacket({family: 4, iifname: 'virbr0', oifname: 'eth0', src: '192.168.122.50', dst: '203.0.113.10', l4proto: 'tcp', sport: 40000, dport: 80, ...over})
const run = (rs: NfRuleset, hook: NfHook, packet: NfPacket): Branch[] => runHook(compile(rs), hook, 'ip', [startBranch(packet)], ctx)
const statuses = (bs: Branch[]) => bs.map((b) => b.status).sort()
/** FORWARD of an iptables filter table with the given rules (policy accept unless said). */
const forward = (rules: NfExpr[][], chains: Record<string, NfExpr[][]> = {}, policy: 'accept' | 'drop' = 'accept') => ruleset([ipt('filter', {FORWARD: rules, ...chains}, {FORWARD: policy})])
/** The last step of a branch's trace, stripped to what a report quotes. */
const lastStep = (b: Branch) => {
  const s = b.steps[b.steps.length - 1]
  return {event: s.event, action: s.action, note: s.note, rule: s.rule?.text}
}

const markSet = (what: 'mark' | 'ct mark', value: number, op: 'set' | 'and' | 'or' | 'xor' = 'set'): NfExpr => ({kind: 'mark', what, op, value, text: `${what} ${op} ${value}`})
const markCopy = (from: 'mark' | 'ct mark', to: 'mark' | 'ct mark'): NfExpr => ({kind: 'mark-copy', from, to, text: `${to} set ${from}`})
const unknownMark = {mark: 'unknown' as const}
/** A packet whose connection mark was set outside the path (newPacket always starts a fresh connection). */
const unknownCtMark = (over: Partial<NfPacket> = {}): NfPacket => {
  const p = egress(over)
  return {...p, ct: {...p.ct, mark: 'unknown'}}
}

describe('marks: packet and connection marks are two values', () => {
  it('sets the connection mark, not the packet mark, and says which in the trace', () => {
    const out = run(forward([[markSet('ct mark', 7)], [cmp('mark', num(7)), drop], [cmp('ct mark', num(7)), accept]], {}, 'drop'), 'forward', egress())
    expect(statuses(out)).toEqual(['accept'])
    expect(out[0].packet).toMatchObject({mark: 0, ct: {mark: 7}})
    expect(out[0].steps.find((s) => s.rule?.text === 'rule FORWARD#1')).toMatchObject({event: 'rule', action: 'ct mark set 0x7'})
  })

  it('a mark operation on a mark set outside the path stays unknown (a later mark match cannot be decided)', () => {
    const out = run(forward([[markSet('mark', 0xff00, 'and')], [cmp('mark', num(0)), drop]]), 'forward', egress(unknownMark))
    expect(statuses(out)).toEqual(['accept', 'drop'])
  })

  it('copies the connection mark to the packet (CONNMARK --restore-mark) and back (--save-mark)', () => {
    const restore = run(forward([[markSet('ct mark', 3)], [markCopy('ct mark', 'mark')], [cmp('mark', num(3)), drop]]), 'forward', egress())
    expect(statuses(restore)).toEqual(['drop'])
    expect(restore[0].steps.find((s) => s.rule?.text === 'rule FORWARD#2')).toMatchObject({event: 'rule', action: 'mark set ct mark'})
    const save = run(forward([[markSet('mark', 5)], [markCopy('mark', 'ct mark')], [cmp('ct mark', num(5)), drop], [cmp('mark', num(5)), accept]]), 'forward', egress())
    expect(statuses(save)).toEqual(['drop'])
    expect(save[0].packet).toMatchObject({mark: 5, ct: {mark: 5}})
  })

  it('never changes the packet it was given: each statement that writes (mark, mark copy, notrack) writes a copy (cached walks share it)', () => {
    const statements: NfExpr[] = [markSet('ct mark', 9), markCopy('ct mark', 'mark'), markCopy('mark', 'ct mark'), {kind: 'notrack', text: '-j CT --notrack'}]
    for (const statement of statements) {
      const packet = {...egress({mark: 4}), ct: {...egress().ct, mark: 6}}
      const before = structuredClone(packet)
      const out = run(ruleset([ipt('raw', {PREROUTING: [[statement]]})]), 'prerouting', packet)
      expect(out[0].packet).not.toEqual(before)
      expect(packet).toEqual(before)
    }
  })

  it('an untracked packet is "ct state untracked" for the chains after the notrack', () => {
    const rs = ruleset([ipt('raw', {PREROUTING: [[{kind: 'notrack', text: '-j CT --notrack'}]]}), ipt('mangle', {PREROUTING: [[cmp('ct state', {t: 'flags', v: ['untracked']}), drop]]})])
    const out = run(rs, 'prerouting', egress())
    expect(statuses(out)).toEqual(['drop'])
    expect(out[0].steps.find((s) => s.chain.table === 'raw' && s.event === 'rule')).toMatchObject({action: 'notrack'})
  })
})

describe('verdicts that do not end the chain, and those a program decides', () => {
  it('continue goes on with the next rule', () => {
    const cont: NfExpr = {kind: 'verdict', verdict: 'continue'}
    expect(statuses(run(forward([[cont], [drop]]), 'forward', egress()))).toEqual(['drop'])
  })

  it('queue hands the packet to a userspace program: its fate is unknown, and the trace says why', () => {
    const out = run(forward([[cmp('iifname', str('virbr0')), {kind: 'verdict', verdict: 'queue'}], [drop]]), 'forward', egress())
    expect(statuses(out)).toEqual(['unknown'])
    expect(out[0].decidedBy).toMatchObject({event: 'rule', action: 'queue', note: 'a userspace program decides (queue)', rule: {text: 'rule FORWARD#1'}})
  })

  it('a target that is not terminal (TCPMSS, LOG the evaluator does not model) goes on; one that may be terminal is unknown', () => {
    const passing = run(forward([[{kind: 'opaque-statement', text: '-j TEE --gateway 10.0.0.1', terminal: false}], [drop]]), 'forward', egress())
    expect(statuses(passing)).toEqual(['drop'])
    expect(passing[0].steps.find((s) => s.rule?.text === 'rule FORWARD#1')).toMatchObject({event: 'rule', action: '-j TEE --gateway 10.0.0.1'})
    expect(passing[0].steps.find((s) => s.rule?.text === 'rule FORWARD#1')?.note).toBeUndefined()
    const maybe = run(forward([[{kind: 'opaque-statement', text: '-j SECMARK', terminal: 'unknown'}], [accept]], {}, 'drop'), 'forward', egress())
    expect(statuses(maybe)).toEqual(['unknown'])
    expect(lastStep(maybe[0])).toEqual({event: 'maybe', action: '-j SECMARK', note: 'a target the evaluator does not model', rule: 'rule FORWARD#1'})
    // terminal: true ends the chain unknowably too (it is a verdict the evaluator cannot read).
    expect(statuses(run(forward([[{kind: 'opaque-statement', text: '-j IDLETIMER', terminal: true}], [drop]]), 'forward', egress()))).toEqual(['unknown'])
  })
})

describe('NAT statements', () => {
  it('outside a nat chain they change nothing and the walk goes on (the trace says so)', () => {
    const snat: NfExpr = {kind: 'nat', type: 'snat', addr: '198.51.100.9', text: 'snat to 198.51.100.9'}
    const rs = ruleset([nft('ip', 'f', {post: {base: {hook: 'postrouting', type: 'filter', priority: 0}, rules: [[snat], [cmp('saddr', prefix('192.168.122.0/24')), drop]]}})])
    const out = run(rs, 'postrouting', egress())
    expect(statuses(out)).toEqual(['drop'])
    expect(out[0].packet.src).toBe('192.168.122.50')
    expect(out[0].nat).toEqual([])
    expect(out[0].steps[1]).toMatchObject({event: 'rule', action: 'snat', note: 'NAT outside a nat chain has no effect'})
  })

  it('a NAT map whose key cannot be read ends the walk unknown, naming the map', () => {
    const dnatByMark: NfExpr = {kind: 'nat', type: 'dnat', map: {field: 'mark', entries: [{key: num(1), addr: '192.168.122.9'}]}, text: 'dnat to meta mark map { 1 : 192.168.122.9 }'}
    const rs = ruleset([ipt('nat', {PREROUTING: [[dnatByMark]]})])
    const out = run(rs, 'prerouting', egress(unknownMark))
    expect(statuses(out)).toEqual(['unknown'])
    expect(lastStep(out[0])).toMatchObject({event: 'maybe', note: 'cannot tell which entry of the NAT map applies'})
    const known = run(rs, 'prerouting', egress({mark: 1}))
    expect(known[0].packet.dst).toBe('192.168.122.9')
    expect(known[0].steps[1]).toMatchObject({event: 'rule', action: 'dnat'})
  })
})

describe('verdict maps', () => {
  const vmapSet = (complete: boolean): NfSet => ({backend: 'nft', family: 'inet', table: 'fw', name: 'zones', type: ['ifname'], flags: [], elems: [str('virbr0'), str('eth0')], data: [{kind: 'verdict', verdict: 'drop'}, {kind: 'verdict', verdict: 'accept'}], complete})
  const byName = (complete: boolean) =>
    ruleset([nft('inet', 'fw', {fwd: {base: {hook: 'forward'}, rules: [[{kind: 'vmap', field: 'iifname', map: {t: 'setref', name: 'inet fw zones'}, text: 'iifname vmap @zones'}]]}})], {'inet fw zones': vmapSet(complete)})

  it('a named map picks the verdict by key', () => {
    expect(statuses(run(byName(true), 'forward', egress()))).toEqual(['drop'])
    expect(statuses(run(byName(true), 'forward', egress({iifname: 'eth0'})))).toEqual(['accept'])
  })

  it('a named map not read completely is unknown, never a miss', () => {
    const out = run(byName(false), 'forward', egress())
    expect(statuses(out)).toEqual(['unknown'])
    expect(lastStep(out[0])).toMatchObject({event: 'maybe', note: 'verdict map not readable'})
  })

  it('a key that cannot be read is unknown, also when a later entry would match the rest', () => {
    const byMark: NfExpr = {kind: 'vmap', field: 'mark', map: [{key: num(1), then: {kind: 'verdict', verdict: 'drop'}}], text: 'meta mark vmap { 1 : drop }'}
    const out = run(ruleset([nft('inet', 'fw', {fwd: {base: {hook: 'forward'}, rules: [[byMark], [accept]]}})]), 'forward', egress(unknownMark))
    expect(statuses(out)).toEqual(['unknown'])
    expect(lastStep(out[0])).toMatchObject({event: 'maybe', note: 'cannot tell which entry of the verdict map applies'})
    // An address entry that cannot be compared (a set gone) before one that matches: which applies is not known.
    const bySaddr: NfExpr = {kind: 'vmap', field: 'saddr', map: [{key: {t: 'setref', name: 'inet fw gone'}, then: {kind: 'verdict', verdict: 'accept'}}, {key: prefix('192.168.122.0/24'), then: {kind: 'verdict', verdict: 'drop'}}], text: 'ip saddr vmap { @gone : accept, 192.168.122.0/24 : drop }'}
    expect(statuses(run(ruleset([nft('inet', 'fw', {fwd: {base: {hook: 'forward'}, rules: [[bySaddr]]}})]), 'forward', egress()))).toEqual(['unknown'])
  })
})

describe('undecidable matches', () => {
  const markIs1 = cmp('mark', num(1))

  it('a later match of the rule known false settles it: no fork, no "maybe" in the trace, also past undecidable matches between', () => {
    const limit: NfExpr = {kind: 'nondeterministic', what: 'limit', text: '-m limit'}
    const owner: NfExpr = {kind: 'opaque', text: '-m owner --uid-owner 0'}
    for (const rule of [[markIs1, cmp('iifname', str('virbr0')), cmp('dport', num(22)), drop], [markIs1, limit, owner, cmp('dport', num(22)), drop]]) {
      const out = run(forward([rule]), 'forward', egress(unknownMark))
      expect(out).toHaveLength(1)
      expect(out[0].status).toBe('accept')
      expect(out[0].steps.some((s) => s.event === 'maybe')).toBe(false)
    }
  })

  it('a rule of matches only (a counter) that may match goes on to the next rule either way', () => {
    expect(statuses(run(forward([[markIs1, cmp('iifname', str('virbr0'))], [drop]]), 'forward', egress(unknownMark)))).toEqual(['drop'])
  })

  it('later matches that hold (or cannot be told either) leave it undecided', () => {
    expect(statuses(run(forward([[markIs1, cmp('iifname', str('virbr0')), drop]]), 'forward', egress(unknownMark)))).toEqual(['accept', 'drop'])
    expect(statuses(run(forward([[markIs1, cmp('ct mark', num(1)), drop]]), 'forward', unknownCtMark(unknownMark)))).toEqual(['accept', 'drop'])
  })

  it('matches after a statement are not read ahead: the statement runs first when the rule matches', () => {
    // mark unknown; the rule sets ct mark 2 when it matches, then its iifname test fails: the connection mark differs by branch.
    const out = run(forward([[markIs1, markSet('ct mark', 2), cmp('iifname', str('eth9')), accept], [cmp('ct mark', num(2)), drop]]), 'forward', egress(unknownMark))
    expect(statuses(out)).toEqual(['accept', 'drop'])
  })

  it('names why each match could not be decided', () => {
    const notes = (exprs: NfExpr[], packet: NfPacket) => run(forward([[...exprs, drop]]), 'forward', packet).flatMap((b) => b.steps.filter((s) => s.event === 'maybe').map((s) => s.note))
    expect(notes([markIs1], egress(unknownMark))).toContain('cannot tell: the packet mark is set outside the path')
    expect(notes([cmp('ct mark', num(1))], unknownCtMark())).toContain('cannot tell: the connection mark is set outside the path')
    expect(notes([cmp('ether saddr', str('52:54:00:00:00:01'))], egress())).toContain('cannot tell: ether saddr is not known for this packet')
    // Both marks unknown: each match names its own.
    const both = unknownCtMark(unknownMark)
    expect(notes([cmp('ct mark', num(1))], both)).toEqual(['cannot tell: the connection mark is set outside the path', 'cannot tell: the connection mark is set outside the path'])
    expect(notes([cmp('ether saddr', str('52:54:00:00:00:01'))], both)).toContain('cannot tell: ether saddr is not known for this packet')
    expect(notes([{kind: 'nondeterministic', what: 'limit', text: '-m limit --limit 5/min'}], egress())).toContain('may match (limit)')
    expect(notes([{kind: 'opaque', text: '-m owner --uid-owner 0'}], egress())).toContain('not modelled: -m owner --uid-owner 0')
  })
})

describe('the call stack and the trace of a jump', () => {
  /** FORWARD jumps into C1, C1 into C2 ... CN, which accepts; policy drop. */
  const nested = (n: number) => {
    const chains: Record<string, NfExpr[][]> = {}
    for (let i = 1; i <= n; i++) chains[`C${i}`] = [[i < n ? jump(`C${i + 1}`) : accept]]
    return forward([[jump('C1')]], chains, 'drop')
  }

  it('follows 63 nested jumps; the 64th frame is refused as too deep, which is unknown, never a pass', () => {
    expect(statuses(run(nested(63), 'forward', egress()))).toEqual(['accept'])
    const deep = run(nested(64), 'forward', egress())
    expect(statuses(deep)).toEqual(['unknown'])
    expect(deep[0].decidedBy).toMatchObject({event: 'rule', action: 'jump C64', note: 'chains nest too deep'})
  })

  it('a goto or jump to a missing chain names the chain and how it was reached', () => {
    expect(run(forward([[goto('NOPE')]]), 'forward', egress())[0].decidedBy).toMatchObject({event: 'rule', action: 'goto NOPE', note: 'no chain NOPE in this table'})
    expect(run(forward([[jump('GONE')]]), 'forward', egress())[0].decidedBy).toMatchObject({event: 'rule', action: 'jump GONE', note: 'no chain GONE in this table'})
  })

  it('a jump that returns is in the trace as "jump X"', () => {
    const out = run(forward([[jump('A')], [drop]], {A: []}), 'forward', egress())
    expect(out[0].steps[1]).toMatchObject({event: 'rule', action: 'jump A', rule: {text: 'rule FORWARD#1'}})
  })
})

describe('counters in the trace', () => {
  it('each rule step and the policy step carry the recorded counters of what they are about', () => {
    const rs = forward([[cmp('dport', num(22)), accept]], {}, 'drop')
    const table = rs.tables[0] as NfTable
    table.chains.FORWARD.counters = {packets: 12, bytes: 3400}
    table.chains.FORWARD.rules[0].counters = {packets: 5, bytes: 300}
    const ssh = run(rs, 'forward', egress({dport: 22}))
    expect(ssh[0].steps[1]).toMatchObject({event: 'rule', counters: {packets: 5, bytes: 300}})
    const web = run(rs, 'forward', egress())
    expect(web[0].decidedBy).toMatchObject({event: 'policy', counters: {packets: 12, bytes: 3400}})
  })
})

describe('walk limits: past them the verdict is unknown, never a guess', () => {
  /** N rules, each undecidable (the connection mark is unknown) and, where it matches, setting its own packet-mark bit: 2^N distinct branches. */
  const forks = (n: number) => forward(Array.from({length: n}, (_, i) => [cmp('ct mark', num(i)), markSet('mark', 1 << i, 'or')]))

  it('64 undecidable combinations are all followed', () => {
    const out = run(forks(6), 'forward', unknownCtMark())
    expect(out).toHaveLength(64)
    expect(new Set(out.map((b) => b.status))).toEqual(new Set(['accept']))
  })

  it('more than 64 after a chain: one unknown branch that says so', () => {
    for (const n of [7, 8]) {
      const out = run(forks(n), 'forward', unknownCtMark())
      expect(out).toHaveLength(1)
      expect(out[0].status).toBe('unknown')
      expect(out[0].decidedBy).toMatchObject({event: 'skip', note: 'more than 64 undecidable combinations: not explored', chain: {chain: 'FORWARD'}})
    }
  })

  it('more than 256 pending inside one chain (300 undecidable LOG rules): the chain stops exploring', () => {
    const logs = forward(Array.from({length: 300}, (_, i) => [cmp('ct mark', num(i)), {kind: 'effect', text: 'LOG'} as NfExpr]))
    const out = run(logs, 'forward', unknownCtMark())
    expect(out.find((b) => b.status === 'unknown')?.decidedBy).toMatchObject({event: 'skip', note: 'too many undecidable combinations: not explored'})
  })
})

describe('conntrack before and after it ran', () => {
  const established = (): NfPacket => ({...egress(), ct: {state: 'established', status: [], direction: 'original', mark: 0}})
  it('a locally sent packet in a chain below -200 at output has no connection yet (invalid); at -150 it has', () => {
    const at = (priority: number) => ruleset([nft('ip', 'r', {out: {base: {hook: 'output', priority, policy: 'drop'}, rules: [[cmp('ct state', {t: 'flags', v: ['established']}), accept]]}})])
    expect(statuses(run(at(-300), 'output', established()))).toEqual(['drop'])
    expect(statuses(run(at(-150), 'output', established()))).toEqual(['accept'])
  })

  /** iptables-save (legacy) of the given tables, as the probe reads it. */
  const saved = (tables: string) => buildRuleset({iptables: [{text: `# Generated by iptables-save v1.8.9 (legacy) on Sat Dec  5 20:00:00 2026\n${tables}`, family: 'ip'}]})
  const inbound = (): NfPacket => newPacket({family: 4, iifname: 'eth0', oifname: 'virbr0', src: '203.0.113.10', dst: '192.168.122.50', l4proto: 'tcp', sport: 40000, dport: 22})

  it('an untracked packet has no connection status: neither --ctstatus DNAT nor ! --ctstatus DNAT matches it', () => {
    const rs = (negated: boolean) =>
      saved(
        `*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -i eth0 -j CT --notrack\nCOMMIT\n` +
          `*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -o virbr0 -m conntrack ${negated ? '! ' : ''}--ctstatus DNAT -j DROP\nCOMMIT\n`,
      )
    const through = (negated: boolean, iifname = 'eth0') => {
      const compiled = compile(rs(negated))
      const pre = runHook(compiled, 'prerouting', 'ip', [startBranch({...inbound(), iifname})], ctx)
      return runHook(compiled, 'forward', 'ip', pre, ctx).map((b) => b.status)
    }
    expect(through(true)).toEqual(['accept'])
    expect(through(false)).toEqual(['accept'])
    // A tracked packet (from another device, not notracked) that was not DNATed is dropped by the negation.
    expect(through(true, 'eth1')).toEqual(['drop'])
  })

  it('before conntrack (raw) a packet has no connection mark or direction to match, negated or not', () => {
    const rs = saved(`*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -m connmark ! --mark 0x1 -j DROP\n-A PREROUTING -m conntrack --ctdir ORIGINAL -j DROP\nCOMMIT\n`)
    expect(statuses(run(rs, 'prerouting', inbound()))).toEqual(['accept'])
    // The same rules after conntrack (mangle, -150) see the connection.
    const mangle = saved(`*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A PREROUTING -m connmark ! --mark 0x1 -j DROP\nCOMMIT\n`)
    expect(statuses(run(mangle, 'prerouting', inbound()))).toEqual(['drop'])
    const direction = saved(`*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A PREROUTING -m conntrack --ctdir ORIGINAL -j DROP\nCOMMIT\n`)
    expect(statuses(run(direction, 'prerouting', inbound()))).toEqual(['drop'])
  })
})

describe('steps in user chains belong to their base chain', () => {
  it('a rule reached by jump names the base chain and its priority', () => {
    const out = run(forward([[jump('A')]], {A: [[drop]]}), 'forward', egress())
    expect(out[0].decidedBy).toMatchObject({chain: {chain: 'A', base: 'FORWARD', priority: 0, hook: 'forward'}})
  })
})

describe('mark operations', () => {
  const after = (op: NfExpr, start: number) => run(forward([[op]]), 'forward', egress({mark: start}))[0].packet.mark
  it('set (with and without a mask), and, or, xor', () => {
    expect(after({kind: 'mark', what: 'mark', op: 'set', value: 0x100, mask: 0xf00, text: '--set-xmark 0x100/0xf00'}, 0x2f0)).toBe(0x1f0)
    expect(after({kind: 'mark', what: 'mark', op: 'set', value: 0x100, text: '--set-mark 0x100'}, 0x2f0)).toBe(0x100)
    expect(after(markSet('mark', 0x0f0, 'and'), 0xff0)).toBe(0x0f0)
    expect(after(markSet('mark', 0x0ff, 'or'), 0xff0)).toBe(0xfff)
    expect(after(markSet('mark', 0x0ff, 'xor'), 0xff0)).toBe(0xf0f)
  })
})

describe('NAT statements change the packet as the kernel would', () => {
  const natRun = (hook: NfHook, stmt: NfExpr, packet: NfPacket, chains = 'nat') =>
    run(ruleset([ipt(chains, {[hook.toUpperCase()]: [[stmt]]})]), hook, packet)[0]
  const masq: NfExpr = {kind: 'nat', type: 'masquerade', text: '-j MASQUERADE'}

  it('masquerade to a device with no address (or no device): the source is unknown, the packet keeps its own', () => {
    for (const packet of [egress({oifname: 'eth9'}), egress({oifname: undefined})]) {
      const b = natRun('postrouting', masq, packet)
      expect(b.nat).toMatchObject([{type: 'masquerade', field: 'src', from: '192.168.122.50', to: 'unknown'}])
      expect(b.packet.src).toBe('192.168.122.50')
    }
  })

  it('snat with a port changes the source port where the packet has one; the connection is marked snat for later chains', () => {
    const snat: NfExpr = {kind: 'nat', type: 'snat', addr: '198.51.100.1', port: 1024, text: 'snat to 198.51.100.1:1024'}
    const b = natRun('postrouting', snat, egress())
    expect(b.packet).toMatchObject({src: '198.51.100.1', sport: 1024, ct: {status: ['snat']}})
    expect(natRun('postrouting', snat, egress({l4proto: 'icmp', sport: undefined, dport: undefined, icmpType: 8})).packet.sport).toBeUndefined()
    const noPort: NfExpr = {kind: 'nat', type: 'snat', addr: '198.51.100.1', text: 'snat to 198.51.100.1'}
    expect(natRun('postrouting', noPort, egress()).packet.sport).toBe(40000)
    const dnatPort: NfExpr = {kind: 'nat', type: 'dnat', addr: '192.168.122.9', port: 8080, text: 'dnat to 192.168.122.9:8080'}
    expect(natRun('prerouting', dnatPort, egress({l4proto: 'icmp', sport: undefined, dport: undefined, icmpType: 8})).packet.dport).toBeUndefined()
    const later = ruleset([ipt('nat', {POSTROUTING: [[snat]]}), nft('ip', 'f', {post: {base: {hook: 'postrouting', priority: 200}, rules: [[cmp('ct status', {t: 'flags', v: ['snat']}), drop]]}})])
    expect(statuses(run(later, 'postrouting', egress()))).toEqual(['drop'])
  })

  it('redirect sends to the input device\'s address, else to loopback (IPv4 or IPv6); dnat without a port keeps it', () => {
    const redirect: NfExpr = {kind: 'nat', type: 'redirect', port: 3128, text: '-j REDIRECT --to-ports 3128'}
    expect(natRun('prerouting', redirect, egress()).packet).toMatchObject({dst: '192.168.122.1', dport: 3128, ct: {status: ['dnat']}})
    expect(natRun('prerouting', redirect, egress({iifname: 'eth9'})).packet.dst).toBe('127.0.0.1')
    expect(natRun('output', redirect, egress({iifname: undefined})).packet.dst).toBe('127.0.0.1')
    const v6 = run(ruleset([ipt('nat', {PREROUTING: [[redirect]]}, {}, 'ip6')]), 'prerouting', egress({family: 6, iifname: 'eth9', src: 'fd00::50', dst: '2001:db8::10'}))[0]
    expect(v6.packet.dst).toBe('::1')
    const dnat: NfExpr = {kind: 'nat', type: 'dnat', addr: '192.168.122.9', text: 'dnat to 192.168.122.9'}
    const b = natRun('prerouting', dnat, egress())
    expect(b.packet).toMatchObject({dst: '192.168.122.9', dport: 80})
    expect(b.nat).toMatchObject([{type: 'dnat', field: 'dst', from: '203.0.113.10', to: '192.168.122.9'}])
  })

  it('a NAT map entry without an address cannot be applied: unknown', () => {
    const set: NfSet = {backend: 'nft', family: 'ip', table: 'n', name: 'fwd', type: ['inet_service'], flags: [], elems: [num(80)], data: [{t: 'concat', parts: [str('192.168.122.9'), num(8080)]}], complete: true}
    const byName = (entries: {t: 'setref'; name: string}) => ruleset([nft('ip', 'n', {pre: {base: {hook: 'prerouting', type: 'nat', priority: -100}, rules: [[{kind: 'nat', type: 'dnat', map: {field: 'dport', entries}, text: 'dnat to tcp dport map @fwd'}]]}})], {'ip n fwd': set})
    expect(run(byName({t: 'setref', name: 'ip n fwd'}), 'prerouting', egress())[0].packet).toMatchObject({dst: '192.168.122.9', dport: 8080})
    const noAddr = ruleset([ipt('nat', {PREROUTING: [[{kind: 'nat', type: 'dnat', map: {field: 'dport', entries: [{key: num(80)}]}, text: 'dnat to tcp dport map { 80 : ? }'}]]})])
    expect(statuses(run(noAddr, 'prerouting', egress()))).toEqual(['unknown'])
  })
})

describe('packets walked together share a walk only where no rule can tell them apart', () => {
  const both = (rs: NfRuleset, hook: NfHook, a: NfPacket, b: NfPacket) => runHook(compile(rs), hook, 'ip', [startBranch(a), startBranch(b)], ctx).map((x) => x.status)

  it('MAC addresses, where a rule reads them', () => {
    const rs = forward([[cmp('ether saddr', str('52:54:00:00:00:01')), drop]])
    expect(both(rs, 'forward', egress({etherSrc: '52:54:00:00:00:01'}), egress({etherSrc: '52:54:00:00:00:02'}))).toEqual(['drop', 'accept'])
    const byDst = forward([[cmp('ether daddr', str('52:54:00:00:00:01')), drop]])
    expect(both(byDst, 'forward', egress({etherDst: '52:54:00:00:00:02'}), egress({etherDst: '52:54:00:00:00:01'}))).toEqual(['accept', 'drop'])
  })

  it('pending conntrack translations to addresses of different classes', () => {
    const rs = ruleset([nft('ip', 'f', {pre: {base: {hook: 'prerouting', priority: 0}, rules: [[cmp('daddr', prefix('192.168.122.0/24')), drop]]}})])
    const reply = (to: {dst?: string; src?: string}): NfPacket => ({...newPacket({family: 4, iifname: 'eth0', src: '203.0.113.10', dst: '198.51.100.1', l4proto: 'tcp', sport: 80, dport: 40000}), ct: {state: 'established', status: ['snat'], direction: 'reply', mark: 0, translate: to}})
    expect(both(rs, 'prerouting', reply({dst: '192.168.122.50'}), reply({dst: '10.9.9.9'}))).toEqual(['drop', 'accept'])
    // The source side of a translation is part of the class too (applied at postrouting).
    const post = ruleset([nft('ip', 'f', {post: {base: {hook: 'postrouting', priority: 150}, rules: [[cmp('saddr', prefix('198.51.100.0/24')), drop]]}})])
    expect(both(post, 'postrouting', reply({src: '198.51.100.1'}), reply({src: '10.9.9.9'}))).toEqual(['drop', 'accept'])
  })

  it('IPv6 packets meet the ip6 and inet tables, not the ip ones', () => {
    const rs = ruleset([ipt('filter', {FORWARD: [[drop]]}), ipt('filter', {FORWARD: [[cmp('daddr', prefix('2001:db8::/32')), accept], [drop]]}, {}, 'ip6')])
    expect(statuses(run(rs, 'forward', egress({family: 6, src: 'fd00::50', dst: '2001:db8::10'})))).toEqual(['accept'])
    expect(statuses(run(rs, 'forward', egress()))).toEqual(['drop'])
  })
})

describe('what a hook leaves alone', () => {
  it('a branch already dropped passes a later hook untouched, whatever its chains accept', () => {
    const compiled = compile(forward([[cmp('iifname', str('virbr0')), drop]]))
    const dropped = runHook(compiled, 'forward', 'ip', [startBranch(egress())], ctx)
    expect(dropped.map((b) => b.status)).toEqual(['drop'])
    const later = runHook(compile(ruleset([ipt('filter', {FORWARD: [[{kind: 'verdict', verdict: 'accept'}]]})])), 'forward', 'ip', dropped, ctx)
    expect(later).toEqual(dropped)
  })

  it('a statement that writes the packet keeps its connection status (a later ct status match still sees snat)', () => {
    const reply = {...egress(), ct: {state: 'established' as const, status: ['snat'], direction: 'reply' as const, mark: 0}}
    const out = run(forward([[markSet('mark', 1)], [cmp('ct status', {t: 'flags', v: ['snat']}), drop]]), 'forward', reply)
    expect(statuses(out)).toEqual(['drop'])
  })
})
