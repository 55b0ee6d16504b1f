import {describe, expect, it} from 'vitest'
import {parseIpsetIR} from '../../probes/netfilter/ipset.js'
import {ParseError} from '../../probes/types.js'
import {data} from './data.js'

describe('parseIpsetIR', () => {
  const list = parseIpsetIR(data('kitchen.ipset-list.txt'))

  it('reads every set of `ipset list` with its type, family and flags', () => {
    expect(list.warnings).toEqual([])
    expect(Object.keys(list.sets)).toEqual(['ipset kd-block', 'ipset kd-pairs', 'ipset kd-svc', 'ipset kd-ports', 'ipset kd-v6', 'ipset kd-ifnets', 'ipset kd-empty', 'ipset kd-range', 'ipset kd-list'])
    expect(Object.values(list.sets).map((s) => [s.name, s.type, s.family, s.flags, s.complete])).toEqual([
      ['kd-block', ['hash:net'], 'ip', ['comment'], true],
      ['kd-pairs', ['hash:ip,port,ip'], 'ip', [], true],
      ['kd-svc', ['hash:ip,port'], 'ip', [], true],
      ['kd-ports', ['bitmap:port'], undefined, [], true],
      ['kd-v6', ['hash:net'], 'ip6', ['timeout', 'counters'], true],
      ['kd-ifnets', ['hash:net,iface'], 'ip', [], true],
      ['kd-empty', ['hash:ip'], 'ip', [], true],
      ['kd-range', ['hash:ip'], 'ip', [], true],
      ['kd-list', ['list:set'], undefined, [], true],
    ])
  })

  it('reads members the way -m set compares them; nomatch entries apart', () => {
    const s = list.sets
    expect(s['ipset kd-block']).toEqual({
      backend: 'ipset',
      name: 'kd-block',
      type: ['hash:net'],
      family: 'ip',
      flags: ['comment'],
      elems: [{t: 'addr', v: '203.0.113.99'}, {t: 'prefix', v: '10.66.0.0/16'}],
      nomatch: [{t: 'prefix', v: '198.51.100.0/24'}],
      complete: true,
    })
    expect(s['ipset kd-pairs'].elems).toEqual([{t: 'concat', parts: [{t: 'addr', v: '192.168.122.10'}, {t: 'str', v: 'tcp'}, {t: 'num', v: 22}, {t: 'addr', v: '10.0.0.1'}]}])
    expect(s['ipset kd-svc'].elems).toEqual([
      {t: 'concat', parts: [{t: 'addr', v: '192.168.122.11'}, {t: 'str', v: 'udp'}, {t: 'num', v: 53}]},
      {t: 'concat', parts: [{t: 'addr', v: '192.168.122.10'}, {t: 'str', v: 'tcp'}, {t: 'num', v: 22}]},
      {t: 'concat', parts: [{t: 'addr', v: '192.168.122.12'}, {t: 'str', v: 'tcp'}, {t: 'num', v: 80}]},
    ])
    expect(s['ipset kd-ports'].elems).toEqual([1080, 1100, 1101, 1102, 1103, 1104, 1105].map((v) => ({t: 'num', v})))
    expect(s['ipset kd-v6'].elems).toEqual([{t: 'prefix', v: '2001:db8:bad::/48'}])
    expect(s['ipset kd-ifnets'].elems).toEqual([
      {t: 'concat', parts: [{t: 'prefix', v: '10.0.0.0/8'}, {t: 'str', v: 'eth0'}]},
      {t: 'concat', parts: [{t: 'prefix', v: '192.168.122.0/24'}, {t: 'str', v: 'virbr0'}]},
    ])
    expect(s['ipset kd-empty'].elems).toEqual([])
    expect(s['ipset kd-list'].elems).toEqual([{t: 'setref', name: 'ipset kd-block'}, {t: 'setref', name: 'ipset kd-v6'}])
  })

  it('reads `ipset save` of the same sets to the same result', () => {
    const save = parseIpsetIR(data('kitchen.ipset-save.txt'))
    expect(save).toEqual(list)
  })

  it('marks a set incomplete when its members were not all read (truncated output)', () => {
    const text = data('kitchen.ipset-list.txt')
    const cut = parseIpsetIR(text.slice(0, text.indexOf('1103')))
    expect(cut.sets['ipset kd-ports']).toMatchObject({complete: false, elems: [1080, 1100, 1101, 1102].map((v) => ({t: 'num', v}))})
    expect(cut.sets['ipset kd-block'].complete).toBe(true)
    expect(cut.warnings).toEqual(['ipset kd-ports: 4 members read of 7'])
    const headerOnly = parseIpsetIR(text.slice(0, text.indexOf('Members:')))
    expect(headerOnly.sets).toEqual({'ipset kd-block': {backend: 'ipset', name: 'kd-block', type: ['hash:net'], family: 'ip', flags: ['comment'], elems: [], complete: false}})
    expect(headerOnly.warnings).toEqual(['ipset kd-block: no member list'])
    const odd = parseIpsetIR(text.replace('192.168.122.10,tcp:22,10.0.0.1', '192.168.122.10,icmp:echo-request,10.0.0.1'))
    expect(odd.sets['ipset kd-pairs'].complete).toBe(false)
    expect(odd.warnings).toEqual(['ipset kd-pairs: member "192.168.122.10,icmp:echo-request,10.0.0.1" not understood'])
  })

  it('reads empty output as no sets and throws ParseError on anything else', () => {
    expect(parseIpsetIR('')).toEqual({sets: {}, warnings: []})
    expect(() => parseIpsetIR('ipset v7.17: Kernel error received: Operation not permitted\n')).toThrow(ParseError)
    expect(() => parseIpsetIR('create a hash:ip\nadd b 10.0.0.1\n')).toThrow(ParseError)
    expect(() => parseIpsetIR('Name: x\nMembers:\n')).toThrow(/no Type/)
  })
})
