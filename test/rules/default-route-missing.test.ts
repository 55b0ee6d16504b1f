import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import type {Route} from '../../probes/routes.js'
import rule from '../../rules/default-route-missing.js'
import {alter, factsOf, fire} from '../helpers.js'

describe('default-route-missing', () => {
  it('fires on a host without a default route (lab: namespace host)', async () => {
    const {names} = await fire(rule, await factsOf('default-route-missing'))
    expect(names).toHaveLength(1)
  })
  it('stays silent on the healthy host', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it('stays silent when no NAT/routed network needs a way out', async () => {
    const facts = alter<LibvirtFacts>(await factsOf('default-route-missing'), 'libvirt', (l) => l.networks.forEach((n) => (n.forwardMode = 'isolated')))
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('an IPv6 default route does not count as the IPv4 way out', async () => {
    const facts = alter<Route[]>(await factsOf('default-route-missing'), 'routes', (r) => r.push({family: 'inet6', dst: 'default', gateway: 'fd00::1', dev: 'kdlab-nh1', type: 'unicast', table: 'main', metric: 1024, nexthops: []}))
    expect((await fire(rule, facts)).names).toHaveLength(1)
  })
})
