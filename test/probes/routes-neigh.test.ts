import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parseIpNeigh} from '../../probes/neighbours.js'
import {parseIpRoute, routes6Probe} from '../../probes/routes.js'
import {ParseError} from '../../probes/types.js'
import {runProbes} from '../../src/core/probe-runner.js'
import {MemoryRunner} from '../../src/core/snapshot.js'
import type {Capture} from '../../src/lib/runner.js'
import {sample} from '../helpers.js'
import {OPTIONS} from './one-command-host.js'

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

describe('routes6: the IPv6 rows of the listing of every family, or ip -6', () => {
  const command = (argv: string, output: string): Capture => ({kind: 'command', argv: argv.split(' '), output, stderr: '', exitCode: 0, durationMs: 1, timedOut: false, truncated: false})
  const ipv6Kernel: Capture = {kind: 'file', path: '/proc/sys/net/ipv6/conf/all/disable_ipv6', output: '0\n', durationMs: 0, truncated: false}
  const v4 = '{"dst":"default","gateway":"192.0.2.1","dev":"eth0","flags":[]},{"type":"local","dst":"127.0.0.1","dev":"lo","table":"local","protocol":"kernel","scope":"host","prefsrc":"127.0.0.1","flags":[]}'
  const v6 = '{"dst":"fd00::/64","dev":"eth0","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},{"dst":"default","gateway":"fd00::1","dev":"eth0","metric":1024,"flags":[],"pref":"medium"}'
  const listedBy6 = '[{"dst":"fd00::/64","dev":"eth0","protocol":"kernel","metric":256,"flags":[],"pref":"medium"}]'
  const routes6 = async (captures: Capture[]) => {
    const host = new MemoryRunner(captures, new Date('2026-12-06T10:00:00Z'))
    const asked: string[] = []
    const run = host.run.bind(host)
    host.run = async (argv) => (asked.push(argv.join(' ')), run(argv))
    const result = (await runProbes([routes6Probe], host, OPTIONS)).routes6
    return {result, asked}
  }

  it('takes the IPv6 rows of `ip route show table all` (the kernel dumps every family) on a kernel with IPv6: no `ip -6`', async () => {
    const {result, asked} = await routes6([ipv6Kernel, command('ip -j route show table all', `[${v4},${v6}]`)])
    expect(result).toMatchObject({ok: true, data: [{family: 'inet6', dst: 'fd00::/64'}, {family: 'inet6', dst: 'default', gateway: 'fd00::1'}]})
    expect(result.ok && result.degraded).toBeFalsy()
    expect(asked).toEqual(['ip -j route show table all'])
  })

  it("asks `ip -6` when a row's family cannot be told, an IPv4 row follows an IPv6 one, none is IPv6, or the listing failed", async () => {
    const cases = [`[${v4},{"dst":"default","dev":"wg0","metric":1024,"flags":[]},${v6}]`, `[${v4},${v6},{"dst":"10.0.0.0/8","dev":"eth1","flags":[]}]`, `[${v4}]`, 'not json']
    for (const listing of cases) {
      const {result, asked} = await routes6([ipv6Kernel, command('ip -j route show table all', listing), command('ip -6 -j route show table all', listedBy6)])
      expect(result, listing).toMatchObject({ok: true, data: [{family: 'inet6', dst: 'fd00::/64'}]})
      expect(result.ok && result.degraded, listing).toBeFalsy()
      expect(asked, listing).toContain('ip -6 -j route show table all')
    }
  })

  it('reads `ip -6` as recordings made before hold it (no IPv6 kernel variable read), whatever the listing of every family shows', async () => {
    const {result, asked} = await routes6([command('ip -j route show table all', `[${v4},${v6}]`), command('ip -6 -j route show table all', listedBy6)])
    expect(result).toMatchObject({ok: true, data: [{dst: 'fd00::/64'}]})
    expect(result.ok && result.data).toHaveLength(1)
    expect(asked).toEqual(['ip -6 -j route show table all'])
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
