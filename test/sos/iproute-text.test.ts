import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {bridgeFdbTextToJson, ipAddressTextToJson, ipNeighTextToJson, ipRouteTextToJson, ipRuleTextToJson} from '../../probes/iproute-text.js'
import {parseIpRules} from '../../probes/ip-rules.js'
import {parseIpAddr} from '../../probes/links.js'
import {parseIpNeigh} from '../../probes/neighbours.js'
import {parseBridgeFdb} from '../../probes/fdb.js'
import {parseIpRoute} from '../../probes/routes.js'
import {ParseError} from '../../probes/types.js'

/**
 * One network state listed by iproute2 6.1 as text (what sos records) and as JSON (what kvmdoctor
 * reads): test/data/sos/iproute/generate.sh made both. The probes' parsers must read the same facts
 * from the JSON the text parsers rebuild as from iproute2's own.
 */
const data = (file: string) => readFileSync(join(import.meta.dirname, '../data/sos/iproute', file), 'utf8')
const rebuilt = (objects: unknown) => JSON.stringify(objects)

describe('iproute2 text listings read back as its JSON', () => {
  it('ip -d address: links, kinds, bridges and their ports, addresses with labels and flags', () => {
    const links = parseIpAddr(rebuilt(ipAddressTextToJson(data('ip_-d_address'))))
    expect(links).toEqual(parseIpAddr(data('ip-j-d-addr-show.json')))
    expect(links.find((l) => l.name === 'virbr9')).toMatchObject({kind: 'bridge', bridge: {stpState: 1, forwardDelayCs: 400}, mtu: 1450, up: true, noCarrier: true})
    expect(links.find((l) => l.name === 'vnet10')).toMatchObject({kind: 'tap', master: 'virbr9', portState: 'disabled'})
    expect(links.find((l) => l.name === 'dummy0.100')?.addresses).toEqual([{family: 'inet', address: '10.100.0.1', prefix: 24, scope: 'global'}, expect.objectContaining({family: 'inet6'})])
  })

  it('ip route show table all: every table, types, ECMP next hops, both families', () => {
    const text = data('ip_route_show_table_all')
    expect(parseIpRoute(rebuilt(ipRouteTextToJson(text)))).toEqual(parseIpRoute(data('ip-j-route-show-table-all.json')))
    const six = data('ip_-6_route_show_table_all')
    expect(parseIpRoute(rebuilt(ipRouteTextToJson(six)), 'inet6')).toEqual(parseIpRoute(data('ip-6-j-route-show-table-all.json'), 'inet6'))
    const ecmp = parseIpRoute(rebuilt(ipRouteTextToJson(text))).find((r) => r.dst === '10.200.0.0/16')
    expect(ecmp?.nexthops).toEqual([{gateway: '10.9.0.250', dev: 'dummy0'}, {gateway: '10.100.0.250', dev: 'dummy0.100'}])
  })

  it('ip -s -s neigh show: the statistics are skipped, states kept', () => {
    const neigh = parseIpNeigh(rebuilt(ipNeighTextToJson(data('ip_-s_-s_neigh_show'))))
    expect(neigh).toEqual(parseIpNeigh(data('ip-j-neigh-show.json')))
    expect(neigh.find((n) => n.ip === '10.9.0.9')).toEqual({ip: '10.9.0.9', dev: 'dummy0', state: ['FAILED']})
  })

  it('ip -4 rule and ip -6 rule: selectors, marks, not, goto, actions, suppress_prefixlength', () => {
    expect(parseIpRules(rebuilt(ipRuleTextToJson(data('ip_-4_rule'))), 'inet')).toEqual(parseIpRules(data('ip-j-rule-show.json'), 'inet'))
    expect(parseIpRules(rebuilt(ipRuleTextToJson(data('ip_-6_rule'))), 'inet6')).toEqual(parseIpRules(data('ip-6-j-rule-show.json'), 'inet6'))
    // As ip prints them (iproute2 6.1, observed): port ranges, an unresolved goto, a nop; read as their ip -j forms are.
    const text = '100:\tfrom all goto 200 [unresolved]\n300:\tfrom all sport 1000-2000 lookup 100\n403:\tfrom all iif kbr0 nop\n'
    const json = '[{"priority":100,"src":"all","goto":200,"unresolved":null},{"priority":300,"src":"all","sport_start":1000,"sport_end":2000,"table":"100"},{"priority":403,"src":"all","iif":"kbr0","nop":null}]'
    expect(parseIpRules(rebuilt(ipRuleTextToJson(text)), 'inet')).toEqual(parseIpRules(json, 'inet'))
  })

  it('bridge -s -s -d -t fdb show: the use times are skipped; states, sticky, extern_learn and the bridge kept', () => {
    const fdb = parseBridgeFdb(rebuilt(bridgeFdbTextToJson(data('bridge_-s_-s_-d_-t_fdb_show'))))
    expect(fdb).toEqual(parseBridgeFdb(data('bridge-j-fdb-show.json')))
    expect(fdb.find((e) => e.mac === '52:54:00:6b:64:02')).toEqual({mac: '52:54:00:6b:64:02', dev: 'vnet9', bridge: 'virbr9', state: 'static', sticky: true})
    expect(bridgeFdbTextToJson('52:54:00:00:00:01 dev vnet0 vlan 10 master br0 \n')).toEqual([{mac: '52:54:00:00:00:01', ifname: 'vnet0', vlan: 10, master: 'br0', flags: [], state: ''}])
  })

  it('refuses what it cannot read instead of guessing', () => {
    expect(() => ipRouteTextToJson('10.0.0.0/8 via 10.1.1.1 frobnicate 3\n')).toThrow(ParseError)
    expect(() => ipRuleTextToJson('from all lookup main\n')).toThrow(ParseError)
    expect(() => ipAddressTextToJson('    inet 10.0.0.1/8 scope global eth0\n')).toThrow(ParseError)
    expect(() => ipNeighTextToJson('10.0.0.1 lladdr 52:54:00:00:00:01 REACHABLE\n')).toThrow(ParseError)
    expect(() => bridgeFdbTextToJson('52:54:00:00:00:01 master br0 static\n')).toThrow(ParseError)
    expect(() => bridgeFdbTextToJson('52:54:00:00:00:01 dev vnet0 frobnicate master br0\n')).toThrow(ParseError)
  })
})
