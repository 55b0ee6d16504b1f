import {describe, expect, it} from 'vitest'
import type {Route} from '../../probes/routes.js'
import type {LibvirtFacts} from '../../probes/libvirt.js'
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
  it("a second network defined on the active one's subnet, inactive and wanted by nothing, is no fault (red team 4: it was high, with net-start as its fix); wanted (autostart), it is", async () => {
    const second = (autostart: boolean) =>
      alter<LibvirtFacts>(healthy, 'libvirt', (l) => l.networks.push({...structuredClone(l.networks[0]), name: 'spare', bridge: 'virbr9', active: false, autostart}))
    const healthy = await factsOf('healthy')
    expect((await fire(rule, second(false))).names).toEqual([])
    expect((await fire(rule, second(true))).names).toEqual(['spare'])
  })
  it('stays silent for adjacent subnets that do not overlap', async () => {
    expect((await fire(rule, alter<Route[]>(await factsOf('healthy'), 'routes', (r) => r.push(route('192.168.123.0/24', 'eth1'))))).names).toEqual([])
  })
})
