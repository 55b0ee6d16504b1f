import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import type {Route} from '../../probes/routes.js'
import rule from '../../rules/guest-address-foreign.js'
import {alter, factsOf, fire} from '../helpers.js'

describe('guest-address-foreign', () => {
  it('fires for a guest with a static address of another subnet (lab, --listen)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('wire-foreign-address'))
    expect(names).toHaveLength(1)
    expect(names[0]).toMatch(/^kdlab-foreign01\//)
    expect(evaluation.findings[0].title).toContain('172.31.99.50')
    expect(evaluation.findings[0].title).toContain('192.168.122.0/24')
  })
  it('stays silent for a self-assigned 169.254 address (that is apipa-address; lab, --listen)', async () => {
    expect((await fire(rule, await factsOf('wire-apipa-only'))).names).toEqual([])
  })
  it('stays silent when the network does route the address', async () => {
    const facts = alter<LibvirtFacts>(await factsOf('wire-foreign-address'), 'libvirt', (l) => {
      l.networks.find((n) => n.name === 'default')!.ips.push({family: 'ipv4', address: '172.31.99.1', prefix: 24, dhcpRanges: [], dhcpHosts: []})
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it("stays silent when the host routes the address through the guest's bridge (a network <route>, or a static route to a router guest)", async () => {
    const facts = alter<Route[]>(await factsOf('wire-foreign-address'), 'routes', (routes) => {
      routes.push({family: 'inet', dst: '172.31.99.0/24', type: 'unicast', table: 'main', dev: 'virbr0', gateway: '192.168.122.2', metric: 0, protocol: 'static', nexthops: []})
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('still fires when the route for the address leaves through another device', async () => {
    const facts = alter<Route[]>(await factsOf('wire-foreign-address'), 'routes', (routes) => {
      routes.push({family: 'inet', dst: '172.31.99.0/24', type: 'unicast', table: 'main', dev: 'eth0', gateway: '192.0.2.254', metric: 0, protocol: 'static', nexthops: []})
    })
    expect((await fire(rule, facts)).names).toHaveLength(1)
  })
})
