import {describe, expect, it} from 'vitest'
import type {Link} from '../../probes/links.js'
import type {Neighbour} from '../../probes/neighbours.js'
import type {Route} from '../../probes/routes.js'
import rule from '../../rules/apipa-address.js'
import {alter, factsOf, fire, rerunApipa, unavailable} from '../helpers.js'

describe('apipa-address', () => {
  it('fires for a guest that self-assigned 169.254/16 (lab: guest booted with dnsmasq dead)', async () => {
    const {evaluation} = await fire(rule, await factsOf('dnsmasq-killed'))
    expect(evaluation.findings).toHaveLength(1)
    expect(evaluation.findings[0].entity.name).toMatch(/^kdlab-apipa01 169\.254\./)
    expect(evaluation.findings[0].evidence.join(' ')).toContain('52:54:00:6b:64:02')
  })
  it('fires from the wire alone for a guest that only announces its 169.254 address (lab, --listen)', async () => {
    const {evaluation} = await fire(rule, await factsOf('wire-apipa-only'))
    expect(evaluation.findings.map((f) => f.entity.name)).toEqual([expect.stringMatching(/^kdlab-zeroconf01 169\.254\./)])
    expect(evaluation.findings[0].evidence.join(' ')).toContain('seen via wire')
  })
  it('stays silent for the same guest when nothing listened (the host tables never saw it)', async () => {
    expect((await fire(rule, await rerunApipa(unavailable(await factsOf('wire-apipa-only'), 'wire')))).names).toEqual([])
  })
  it('stays silent on the healthy host', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it('ignores the 169.254.169.254 metadata address', async () => {
    const facts = alter<Neighbour[]>(await factsOf('healthy'), 'neighbours', (n) => n.push({ip: '169.254.169.254', dev: 'virbr0', mac: '52:54:00:00:00:99', state: ['REACHABLE']}))
    expect((await fire(rule, await rerunApipa(facts))).names).toEqual([])
  })
  it('ignores a link-local address on a host interface that also has a real address', async () => {
    const facts = alter<Link[]>(await factsOf('healthy'), 'links', (links) => {
      links.find((l) => l.name === 'eth0')!.addresses.push({family: 'inet', address: '169.254.7.7', prefix: 16, scope: 'link'})
    })
    expect((await fire(rule, await rerunApipa(facts))).names).toEqual([])
  })
  it('fires for a host interface whose only IPv4 address is link-local', async () => {
    const facts = alter<Link[]>(await factsOf('healthy'), 'links', (links) => {
      const eth0 = links.find((l) => l.name === 'eth0')!
      eth0.addresses = [{family: 'inet', address: '169.254.7.7', prefix: 16, scope: 'link'}]
    })
    expect((await fire(rule, await rerunApipa(facts))).names).toEqual(['eth0 169.254.7.7'])
  })
  it('ignores a guest that also answers from a routable address (link-local on a second address)', async () => {
    const facts = alter<Neighbour[]>(await factsOf('dnsmasq-killed'), 'neighbours', (n) => n.push({ip: '192.168.122.77', dev: 'virbr0', mac: '52:54:00:6b:64:02', state: ['REACHABLE']}))
    expect((await fire(rule, await rerunApipa(facts))).names).toEqual([])
  })
  it('ignores the zeroconf route 169.254.0.0/16 on its own', async () => {
    const facts = alter<Route[]>(await factsOf('healthy'), 'routes', (r) => r.push({family: 'inet', dst: '169.254.0.0/16', type: 'unicast', table: 'main', dev: 'eth0', metric: 1000, nexthops: []}))
    expect((await fire(rule, await rerunApipa(facts))).names).toEqual([])
  })
})
