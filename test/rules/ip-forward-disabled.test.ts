import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import rule from '../../rules/ip-forward-disabled.js'
import {alter, factsOf, fire, unavailable} from '../helpers.js'

describe('ip-forward-disabled', () => {
  it('fires when ip_forward is 0 with a NAT network active (lab: sysctl -w net.ipv4.ip_forward=0)', async () => {
    const {evaluation} = await fire(rule, await factsOf('ip-forward-off'))
    expect(evaluation.findings.map((f) => f.entity.kind)).toEqual(['host'])
    expect(evaluation.findings[0].evidence).toContain('net.ipv4.ip_forward = 0')
    expect(evaluation.findings[0].fix[0]).toBe('sysctl -w net.ipv4.ip_forward=1')
  })
  it('stays silent on the healthy host', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it('stays silent when only isolated networks exist (no routing on the host)', async () => {
    const facts = alter<LibvirtFacts>(await factsOf('ip-forward-off'), 'libvirt', (l) => l.networks.forEach((n) => (n.forwardMode = 'isolated')))
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('is "not checked", never passed, when the sysctl cannot be read', async () => {
    const {names, evaluation} = await fire(rule, unavailable(await factsOf('ip-forward-off'), 'sysctl'))
    expect(names).toEqual([])
    expect(evaluation.notChecked[0]).toMatchObject({ruleId: 'ip-forward-disabled', reason: expect.stringContaining('permission denied')})
  })
})
