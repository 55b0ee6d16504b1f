import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parseIpNeigh} from '../../probes/neighbours.js'
import {parseIpRoute} from '../../probes/routes.js'
import {ParseError} from '../../probes/types.js'
import {sample} from '../helpers.js'

describe('parseIpRoute (ip -j route show table all)', () => {
  const routes = parseIpRoute(sample('ip-j-route-show-table-all.json'))
  it('finds the IPv4 default route with its gateway and device, apart from the IPv6 one', () => {
    expect(routes.find((r) => r.dst === 'default' && r.gateway === 'fd00::1')?.family).toBe('inet6')
    const defaults = routes.filter((r) => r.dst === 'default' && r.table === 'main' && r.family === 'inet')
    expect(defaults).toHaveLength(1)
    expect(defaults[0]).toMatchObject({gateway: '192.0.2.1', dev: 'eth0', metric: 0, type: 'unicast'})
  })
  it('keeps local-table routes apart from main', () => {
    expect(routes.find((r) => r.dst === '192.168.122.0/24' && r.table === 'main')?.dev).toBe('virbr0')
    expect(routes.filter((r) => r.table === 'local').every((r) => r.type !== 'unicast')).toBe(true)
  })
  it('reads metrics and ECMP next hops', () => {
    const [r] = parseIpRoute('[{"dst":"default","metric":100,"nexthops":[{"gateway":"10.0.0.1","dev":"eth0"},{"gateway":"10.0.1.1","dev":"eth1"}],"flags":[]}]')
    expect(r.metric).toBe(100)
    expect(r.nexthops.map((h) => h.dev)).toEqual(['eth0', 'eth1'])
  })
  it("reads a next hop's flags as ip prints them (iproute2 6.1, a multipath default route whose second device is down)", () => {
    // Captured in a network namespace: two veths, `ip route add default nexthop via ... dev d0 nexthop via ... dev d1`, d1 set down.
    const [r] = parseIpRoute(readFileSync(join(import.meta.dirname, '../data/iproute/6.1/ip-j-route-show-multipath-dead.json'), 'utf8'))
    expect(r.nexthops).toEqual([
      {gateway: '198.51.100.1', dev: 'd0'},
      {gateway: '203.0.113.1', dev: 'd1', flags: ['dead', 'linkdown']},
    ])
  })
  it('rejects garbage', () => {
    expect(() => parseIpRoute('not json')).toThrow(ParseError)
  })
})

describe('parseIpNeigh (ip -j neigh show)', () => {
  it('reads entries, MACs and states; FAILED entries have no MAC', () => {
    const n = parseIpNeigh(sample('ip-j-neigh-show.json'))
    expect(n).toHaveLength(3)
    expect(n[0]).toEqual({ip: '192.168.122.192', dev: 'virbr0', mac: '52:54:00:ae:17:88', state: ['DELAY']})
    expect(n[2]).toEqual({ip: 'fd00::1', dev: 'eth0', state: ['FAILED']})
  })
  it('rejects entries without dst', () => {
    expect(() => parseIpNeigh('[{"dev":"eth0"}]')).toThrow(ParseError)
  })
})
