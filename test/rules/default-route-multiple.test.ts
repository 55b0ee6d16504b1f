import {describe, expect, it} from 'vitest'
import type {Route} from '../../probes/routes.js'
import rule from '../../rules/default-route-multiple.js'
import {alter, factsOf, fire} from '../helpers.js'

const second = (metric: number): Route => ({family: 'inet', dst: 'default', type: 'unicast', table: 'main', gateway: '192.0.2.254', dev: 'eth1', metric, nexthops: []})

describe('default-route-multiple', () => {
  it('fires on the lab recording: a namespace host with two equal-metric defaults', async () => {
    const {evaluation} = await fire(rule, await factsOf('default-route-multiple'))
    expect(evaluation.findings[0].evidence[0]).toBe('ip route show default: default via 10.254.1.1 dev kdlab-nh0 metric 100, default via 10.254.2.1 dev kdlab-nh1 metric 100')
  })
  it('fires for two default routes with the same metric', async () => {
    const facts = alter<Route[]>(await factsOf('healthy'), 'routes', (r) => r.push(second(0)))
    const {names, evaluation} = await fire(rule, facts)
    expect(names).toHaveLength(1)
    expect(evaluation.findings[0].evidence[0]).toContain('default via 192.0.2.254 dev eth1 metric 0')
  })
  it('stays silent on the healthy host (one default route)', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it('stays silent for distinct metrics (failover)', async () => {
    expect((await fire(rule, alter<Route[]>(await factsOf('healthy'), 'routes', (r) => r.push(second(100))))).names).toEqual([])
  })
  it('stays silent for one ECMP route with several next hops', async () => {
    const facts = alter<Route[]>(await factsOf('healthy'), 'routes', (r) => {
      const d = r.find((x) => x.dst === 'default' && x.family === 'inet')!
      d.nexthops = [{gateway: '192.0.2.1', dev: 'eth0'}, {gateway: '192.0.2.254', dev: 'eth1'}]
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })
})
