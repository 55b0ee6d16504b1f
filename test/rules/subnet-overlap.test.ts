import {describe, expect, it} from 'vitest'
import type {Route} from '../../probes/routes.js'
import rule from '../../rules/subnet-overlap.js'
import {alter, factsOf, fire} from '../helpers.js'

const route = (dst: string, dev: string): Route => ({family: 'inet', dst, type: 'unicast', table: 'main', dev, metric: 0, nexthops: []})

describe('subnet-overlap', () => {
  it('fires on the lab recording: 192.168.0.0/16 on another device', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('subnet-overlap'))
    expect(names).toEqual(['default'])
    expect(evaluation.findings[0].evidence[0]).toBe('ip route: 192.168.0.0/16 dev kdlab-vpn0')
  })
  it('fires when a VPN route covers the NAT subnet', async () => {
    const {names, evaluation} = await fire(rule, alter<Route[]>(await factsOf('healthy'), 'routes', (r) => r.push(route('192.168.0.0/16', 'tun0'))))
    expect(names).toEqual(['default'])
    expect(evaluation.findings[0].evidence[0]).toBe('ip route: 192.168.0.0/16 dev tun0')
  })
  it("stays silent for the network's own bridge route and the default route (healthy lab)", async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it('stays silent for adjacent subnets that do not overlap', async () => {
    expect((await fire(rule, alter<Route[]>(await factsOf('healthy'), 'routes', (r) => r.push(route('192.168.123.0/24', 'eth1'))))).names).toEqual([])
  })
})
