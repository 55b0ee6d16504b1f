import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parseIpRules} from '../../probes/ip-rules.js'
import {parseIpAddr} from '../../probes/links.js'
import {parseIpNeigh} from '../../probes/neighbours.js'
import {parseIpRoute} from '../../probes/routes.js'

/**
 * One network state (a namespace: bridge virbr9 with STP, a veth port, IPv4 and IPv6 addresses, a route, a
 * permanent neighbour, an ip rule) listed by two iproute2 versions: Debian bullseye's 5.9 (run from its
 * package here, with bullseye's libbpf0) and bookworm's 6.1, which the lab recordings come from. 6.1's
 * `ip -j -d addr` adds keys (allmulti, gro_max_size, tso_max_size, tso_max_segs); routes, neighbours and
 * rules print the same.
 */
const data = (version: string, file: string) => readFileSync(join(import.meta.dirname, '../data/iproute', version, file), 'utf8')

describe('iproute2 5.9 and 6.1 listings of one state', () => {
  it('ip -j -d addr show: the same links from both, though 6.1 prints more keys', () => {
    const old = data('5.9', 'ip-j-d-addr-show.json')
    const now = data('6.1', 'ip-j-d-addr-show.json')
    expect(old).not.toEqual(now)
    expect(now).toContain('"gro_max_size"')
    expect(old).not.toContain('"gro_max_size"')
    const links = parseIpAddr(old)
    // 5.9 prints neither a port's bcast_flood nor its locked flag: those stay unknown (the datapath then does not judge them).
    const without59Flags = parseIpAddr(now).map((l) => (l.port ? {...l, port: Object.fromEntries(Object.entries(l.port).filter(([k]) => k !== 'bcastFlood' && k !== 'locked'))} : l))
    expect(links).toEqual(without59Flags)
    expect(parseIpAddr(now).find((l) => l.name === 'vnet9')?.port).toMatchObject({bcastFlood: true, locked: false})
    const bridge = links.find((l) => l.name === 'virbr9')!
    expect(bridge).toMatchObject({kind: 'bridge', bridge: {stpState: 1, forwardDelayCs: 200}, mac: '52:54:00:6b:64:f0'})
    expect(bridge.addresses).toContainEqual({family: 'inet', address: '192.168.150.1', prefix: 24, scope: 'global'})
    expect(links.find((l) => l.name === 'vnet9')).toMatchObject({kind: 'veth', master: 'virbr9'})
  })

  it('routes, neighbours and rules: the same from both', () => {
    expect(parseIpRoute(data('5.9', 'ip-j-route-show-table-all.json'))).toEqual(parseIpRoute(data('6.1', 'ip-j-route-show-table-all.json')))
    expect(parseIpRoute(data('5.9', 'ip-j-route-show-table-all.json'))).toContainEqual(expect.objectContaining({dst: '198.51.100.0/24', gateway: '192.168.150.2', dev: 'virbr9'}))
    expect(parseIpNeigh(data('5.9', 'ip-j-neigh-show.json'))).toEqual(parseIpNeigh(data('6.1', 'ip-j-neigh-show.json')))
    expect(parseIpNeigh(data('5.9', 'ip-j-neigh-show.json'))).toContainEqual(expect.objectContaining({ip: '192.168.150.20'}))
    expect(parseIpRules(data('5.9', 'ip-j-rule-show.json'), 'inet')).toEqual(parseIpRules(data('6.1', 'ip-j-rule-show.json'), 'inet'))
  })
})
