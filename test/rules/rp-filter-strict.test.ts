import {describe, expect, it} from 'vitest'
import type {Route} from '../../probes/routes.js'
import type {SysctlFacts} from '../../probes/sysctl.js'
import rule from '../../rules/rp-filter-strict.js'
import {alter, factsOf, fire} from '../helpers.js'

const strict = (facts: Awaited<ReturnType<typeof factsOf>>) => alter<SysctlFacts>(facts, 'sysctl', (s) => (s.values['net.ipv4.conf.all.rp_filter'] = 1))
const secondUplink = (facts: Awaited<ReturnType<typeof factsOf>>) =>
  alter<Route[]>(facts, 'routes', (r) => r.push({family: 'inet', dst: 'default', type: 'unicast', table: 'main', gateway: '198.51.100.1', dev: 'eth1', metric: 100, nexthops: []}))

describe('rp-filter-strict', () => {
  it('fires on the lab recording: two uplinks and rp_filter=1 in a namespace host', async () => {
    const {evaluation} = await fire(rule, await factsOf('rp-filter-strict'))
    expect(evaluation.findings[0].evidence[0]).toBe('strict interfaces (effective = max(all, IF)): kdlab-nh0 (rp_filter 1), kdlab-nh1 (rp_filter 1)')
  })
  it('fires for strict rp_filter with two uplinks', async () => {
    const {evaluation} = await fire(rule, secondUplink(strict(await factsOf('healthy'))))
    expect(evaluation.findings).toHaveLength(1)
    expect(evaluation.findings[0].evidence[0]).toContain('eth0 (rp_filter 1)')
  })
  it('stays silent on a single-homed host with strict rp_filter', async () => {
    expect((await fire(rule, strict(await factsOf('healthy')))).names).toEqual([])
  })
  it('stays silent with loose mode (2) on a multi-homed host', async () => {
    const loose = alter<SysctlFacts>(await factsOf('healthy'), 'sysctl', (s) => (s.values['net.ipv4.conf.all.rp_filter'] = 2))
    expect((await fire(rule, secondUplink(loose))).names).toEqual([])
  })
})
