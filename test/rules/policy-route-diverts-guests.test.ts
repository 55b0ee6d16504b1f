import {describe, expect, it} from 'vitest'
import type {Link} from '../../probes/links.js'
import {type PolicyRuleFacts, parseIpRules} from '../../probes/ip-rules.js'
import type {Route} from '../../probes/routes.js'
import rule from '../../rules/policy-route-diverts-guests.js'
import {alter, factsOf, fire} from '../helpers.js'

describe('policy-route-diverts-guests', () => {
  it('fires for an ip rule sending guest traffic to a table with only an unreachable route (lab)', async () => {
    const {evaluation} = await fire(rule, await factsOf('policy-route-unreachable'))
    expect(evaluation.findings).toHaveLength(1)
    expect(evaluation.findings[0].entity.name).toMatch(/^ip rule 100: from 192\.168\.122\.0\/24 iif virbr0 lookup 100/)
    expect(evaluation.findings[0].fix).toEqual(['ip rule add iif virbr0 lookup main priority 99'])
  })
  it('fires when a VPN-style rule routes guests out of the tunnel instead of the uplink (the flow still passes)', async () => {
    let facts = await factsOf('healthy')
    facts = alter<Link[]>(facts, 'links', (links) => links.push({name: 'tun0', index: 99, kind: 'tun', operstate: 'UNKNOWN', flags: ['UP', 'LOWER_UP'], up: true, lowerUp: true, noCarrier: false, mtu: 1280, addresses: [{family: 'inet', address: '100.64.0.2', prefix: 32, scope: 'global'}]}))
    facts = alter<Route[]>(facts, 'routes', (routes) => routes.push({family: 'inet', dst: 'default', type: 'unicast', table: '52', dev: 'tun0', metric: 0, nexthops: []}))
    facts = alter<PolicyRuleFacts>(facts, 'ip-rules', (r) => r.inet.splice(1, 0, ...parseIpRules('[{"priority":5270,"src":"all","table":"52"}]', 'inet')))
    const {evaluation} = await fire(rule, facts)
    expect(evaluation.findings.map((f) => f.entity.name)).toEqual(['ip rule 5270: from all lookup 52'])
    expect(evaluation.findings[0].fix).toEqual(['ip rule add iif virbr0 lookup main priority 5269'])
  })
  it('stays silent on the healthy host (only the kernel\'s default rules)', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
})
