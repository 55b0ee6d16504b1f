/**
 * The lab's kernel oracle parser (test/lab/kernel-trace.ts) on real `nft -a monitor trace`
 * output captured on the lab host (test/lab/data/*.txt, with the `nft -a -j list ruleset`
 * taken while tracing). Pure: no root, no nft.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {type Trace, annotatePositions, finalVerdict, parseTrace} from './lab/kernel-trace.js'
import {ROOT} from './helpers.js'

const data = (file: string) => readFileSync(join(ROOT, 'test/lab/data', file), 'utf8')
const load = (name: string) => annotatePositions(parseTrace(data(`${name}.txt`)), data(`${name}.ruleset.json`))
const path = (t: Trace) => t.events.filter((e) => e.kind !== 'packet').map((e) => `${e.family} ${e.table} ${e.chain} ${e.kind}${e.position ? `#${e.position}` : ''} ${e.verdict ?? ''}`.trim())

describe('nft monitor trace parser', () => {
  it('a guest DNS query accepted by libvirt in INPUT (iptables-nft rules with handles and positions)', () => {
    const traces = load('trace-dns-input-accept')
    const text = data('trace-dns-input-accept.txt')
    // Every line is accounted for, in trace ids as the kernel gave them.
    expect(traces.reduce((n, t) => n + t.events.length, 0)).toBe(text.split('\n').filter((l) => l.startsWith('trace id ')).length)
    expect(new Set(traces.map((t) => t.id)).size).toBe(traces.length)
    const input = traces.find((t) => t.events.some((e) => e.chain === 'LIBVIRT_INP'))!
    expect(path(input)).toEqual([
      'ip mangle INPUT policy accept',
      'ip filter INPUT rule#1 jump',
      'ip filter LIBVIRT_INP rule#1 accept',
      'ip nat INPUT policy accept',
    ])
    const accept = input.events.find((e) => e.chain === 'LIBVIRT_INP')!
    expect(accept).toMatchObject({family: 'ip', table: 'filter', kind: 'rule', handle: 19, verdict: 'accept', position: 1})
    expect(accept.rule).toBe('iifname "virbr0" udp dport 53 counter packets 63 bytes 3528 accept')
    expect(input.events.find((e) => e.verdict === 'jump')).toMatchObject({target: 'LIBVIRT_INP', handle: 9})
    // Accepted by filter, then through nat INPUT: the last word is nat's policy.
    expect(finalVerdict(input)).toMatchObject({table: 'nat', chain: 'INPUT', kind: 'policy', verdict: 'accept'})
    // The packet line: what was traced.
    const packet = input.events.find((e) => e.kind === 'packet')!
    expect(packet.packet).toContain('ip saddr 192.168.122.190 ip daddr 192.168.122.1')
    expect(packet.packet).toContain('udp dport 53')
  })

  it('prerouting segments: the trace rules themselves, unknown to the monitor cache, and bridge frames', () => {
    const traces = load('trace-dns-input-accept')
    const pre = traces.find((t) => t.events.some((e) => e.family === 'bridge'))!
    expect(path(pre)).toEqual([
      'bridge kdlab_trace prerouting rule#1 continue',
      'bridge kdlab_trace prerouting policy accept',
      'inet kdlab_trace prerouting rule#1 continue',
      'inet kdlab_trace prerouting policy accept',
      'ip mangle PREROUTING policy accept',
      'ip nat PREROUTING policy accept',
    ])
    const unknown = pre.events.find((e) => e.family === 'bridge' && e.kind === 'rule')!
    expect(unknown).toMatchObject({handle: 2, verdict: 'continue'})
    expect(unknown.rule).toBeUndefined()
    // The bridge sees the tap, the inet family the bridge.
    expect(pre.events.find((e) => e.family === 'bridge' && e.kind === 'packet')!.packet).toMatch(/^iif "vnet\d+"/)
    expect(pre.events.find((e) => e.family === 'inet' && e.kind === 'packet')!.packet).toMatch(/^iif "virbr0"/)
    expect(finalVerdict(pre)?.verdict).toBe('accept')
  })

  it('forwarded guest traffic: a Docker-style DOCKER-USER return, then an iptables REJECT (a drop) or libvirt accept and masquerade', () => {
    const traces = load('trace-forward-docker-reject')
    const forwards = traces.filter((t) => t.events.some((e) => e.chain === 'FORWARD' && e.table === 'filter'))
    expect(forwards.length).toBeGreaterThan(1)
    const rejected = forwards.find((t) => finalVerdict(t)?.verdict === 'drop')!
    expect(path(rejected)).toEqual([
      'ip mangle FORWARD policy accept',
      'ip filter FORWARD rule#1 jump',
      'ip filter DOCKER-USER return#1 return',
      'ip filter FORWARD rule#2 drop',
    ])
    const ret = rejected.events.find((e) => e.kind === 'return')!
    expect(ret).toMatchObject({chain: 'DOCKER-USER', handle: 32, verdict: 'return', rule: 'counter packets 0 bytes 0 return'})
    expect(finalVerdict(rejected)).toMatchObject({chain: 'FORWARD', handle: 34, position: 2})
    // The rule is iptables' `-j REJECT --reject-with tcp-reset`: nft shows it natively.
    expect(finalVerdict(rejected)!.rule).toContain('reject with tcp reset')

    const accepted = forwards.find((t) => finalVerdict(t)?.verdict === 'accept')!
    expect(path(accepted)).toEqual([
      'ip mangle FORWARD policy accept',
      'ip filter FORWARD rule#1 jump',
      'ip filter DOCKER-USER return#1 return',
      'ip filter FORWARD rule#3 jump',
      'ip filter FORWARD rule#4 jump',
      'ip filter FORWARD rule#5 jump',
      'ip filter LIBVIRT_FWO rule#1 accept',
      'ip mangle POSTROUTING rule#1 jump',
      'ip mangle POSTROUTING policy accept',
      'ip nat POSTROUTING rule#1 jump',
      'ip nat LIBVIRT_PRT rule#5 accept',
    ])
    expect(accepted.events[accepted.events.length - 1].rule).toContain('masquerade')
  })

  it('firewalld-style table after iptables: accepted by libvirt\'s chain, then rejected by a later hook priority (goto, handles per table)', () => {
    const traces = load('trace-firewalld-public-zone')
    const dhcp = traces.find((t) => t.events.some((e) => e.rule?.includes('udp dport 67')) && finalVerdict(t)?.verdict === 'drop')!
    expect(path(dhcp)).toEqual([
      'ip mangle INPUT policy accept',
      'ip filter INPUT rule#1 jump',
      'ip filter LIBVIRT_INP rule#3 accept',
      'inet firewalld filter_INPUT rule#5 jump',
      'inet firewalld filter_INPUT_ZONES rule#2 goto',
      'inet firewalld filter_IN_public rule#1 jump',
      'inet firewalld filter_INPUT rule#6 drop',
    ])
    expect(dhcp.events.find((e) => e.verdict === 'goto')).toMatchObject({target: 'filter_IN_public', handle: 30})
    // Handles are per table: 21 is libvirt's DHCP accept in ip filter and firewalld's reject in inet firewalld.
    const byHandle = dhcp.events.filter((e) => e.handle === 21)
    expect(byHandle.map((e) => `${e.family} ${e.table} ${e.chain} #${e.position}`)).toEqual(['ip filter LIBVIRT_INP #3', 'inet firewalld filter_INPUT #6'])
    expect(finalVerdict(dhcp)).toMatchObject({family: 'inet', table: 'firewalld', chain: 'filter_INPUT', rule: 'reject with icmpx admin-prohibited', verdict: 'drop'})
    // Forwarded packets: libvirt's FORWARD accept, then firewalld's public zone has nothing for them.
    const forwarded = traces.filter((t) => t.events.some((e) => e.chain === 'LIBVIRT_FWO'))
    expect(forwarded.length).toBeGreaterThan(0)
    for (const t of forwarded) expect(`${finalVerdict(t)?.table} ${finalVerdict(t)?.chain} ${finalVerdict(t)?.verdict}`).toBe('firewalld filter_FORWARD drop')
  })

  it('formats not in the captures: policy drop with a mark, a bare return, lines that are not trace events', () => {
    const traces = parseTrace(
      [
        'trace id 0a0b0c0d inet kdlab_fw forward packet: iif "virbr0" oif "kdlab-up0" ip saddr 192.168.122.50 ip daddr 203.0.113.10 ip protocol icmp',
        'trace id 0a0b0c0d inet kdlab_fw forward rule meta mark 0x00000001 drop # handle 7 (verdict drop) meta mark 0x00000001',
        'trace id 0a0b0c0d ip filter DOCKER-ISOLATION-STAGE-1 return',
        'trace id 0a0b0c0d ip filter FORWARD policy drop meta mark 0x00000001',
        'Error: something unrelated',
        '',
      ].join('\n'),
    )
    expect(traces).toHaveLength(1)
    expect(traces[0].events.map((e) => e.kind)).toEqual(['packet', 'rule', 'return', 'policy'])
    expect(traces[0].events[1]).toMatchObject({handle: 7, verdict: 'drop', packet: 'meta mark 0x00000001', rule: 'meta mark 0x00000001 drop'})
    expect(traces[0].events[2]).toMatchObject({chain: 'DOCKER-ISOLATION-STAGE-1', verdict: 'return'})
    expect(traces[0].events[3]).toMatchObject({kind: 'policy', verdict: 'drop', packet: 'meta mark 0x00000001'})
    // The first drop decides: nothing runs after it.
    expect(finalVerdict(traces[0])).toMatchObject({kind: 'rule', handle: 7})
  })
})
