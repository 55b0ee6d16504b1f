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
    // A catch-all lookup takes both what the guests send and the replies to them (out of the tunnel).
    expect(evaluation.findings[0].fix).toEqual(['ip rule add iif virbr0 lookup main priority 5269', 'ip rule add to 192.168.122.0/24 lookup main priority 5269'])
  })
  for (const [fixture, priority] of [['reply-policy-blackhole', 102], ['reply-mark-divert', 103]] as const) {
    it(`${fixture}: the rule diverts the replies coming back to the guests: the fix keeps their subnet on main, and with it in place the finding is gone`, async () => {
      const facts = await factsOf(fixture)
      const {evaluation} = await fire(rule, facts)
      expect(evaluation.findings).toHaveLength(1)
      // A rule on the bridge sees only what the guests send: the replies arrive by the uplink (the lab's fix proof showed them still dropped).
      expect(evaluation.findings[0].fix).toEqual([`ip rule add to 192.168.122.0/24 lookup main priority ${priority}`])
      const fixed = alter<PolicyRuleFacts>(facts, 'ip-rules', (r) => {
        const at = r.inet.findIndex((x) => x.priority > priority)
        r.inet.splice(at, 0, ...parseIpRules(`[{"priority":${priority},"src":"all","dst":"192.168.122.0","dstlen":24,"table":"main"}]`, 'inet'))
      })
      expect((await fire(rule, fixed)).names).toEqual([])
    })
  }
  it("policy-route-unreachable: with the fix's own rule in place the finding is gone (a rule that looks up main diverts nothing, though main's route to the lab internet is not the default route's)", async () => {
    const fixed = alter<PolicyRuleFacts>(await factsOf('policy-route-unreachable'), 'ip-rules', (r) => {
      r.inet.splice(r.inet.findIndex((x) => x.priority > 99), 0, ...parseIpRules('[{"priority":99,"src":"all","iif":"virbr0","table":"main"}]', 'inet'))
    })
    expect((await fire(rule, fixed)).names).toEqual([])
  })
  it('stays silent on the healthy host (only the kernel\'s default rules)', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
})
