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
    // Loose on those two alone (max(all, IF) = 2 there): `all` = 2 would loosen every other interface of the host too.
    expect(evaluation.findings[0].fix).toEqual([
      'sysctl -w net.ipv4.conf.kdlab-nh0.rp_filter=2 net.ipv4.conf.kdlab-nh1.rp_filter=2',
      "printf '%s\\n' 'net.ipv4.conf.kdlab-nh0.rp_filter = 2' 'net.ipv4.conf.kdlab-nh1.rp_filter = 2' >> /etc/sysctl.d/90-kvmdoctor.conf",
    ])
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
  it("conf/all unreadable: not checked, never passed on the device's own 0 (the kernel takes the larger)", async () => {
    const unread = alter<SysctlFacts>(secondUplink(await factsOf('healthy')), 'sysctl', (s) => {
      delete s.values['net.ipv4.conf.all.rp_filter']
      s.unreadable['net.ipv4.conf.all.rp_filter'] = '/proc/sys/net/ipv4/conf/all/rp_filter: permission denied'
    })
    const {names, evaluation} = await fire(rule, unread)
    expect(names).toEqual([])
    expect(evaluation.notChecked).toEqual([expect.objectContaining({ruleId: 'rp-filter-strict', reason: expect.stringMatching(/rp_filter of eth0.*could not be read \(\/proc\/sys\/net\/ipv4\/conf\/all\/rp_filter: permission denied\)/)})])
    // The device's own 1 does not decide either: conf/all at 2 would make it loose.
    expect((await fire(rule, alter<SysctlFacts>(unread, 'sysctl', (s) => (s.values['net.ipv4.conf.eth0.rp_filter'] = 1)))).evaluation.notChecked).toHaveLength(1)
  })
})
