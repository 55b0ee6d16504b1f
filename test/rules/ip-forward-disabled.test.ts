import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import type {SysctlFacts} from '../../probes/sysctl.js'
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
  it('stays silent when ip_forward is 0 but the routed bridge forwards on its own (net.ipv4.conf.virbr0.forwarding set to 1 after)', async () => {
    // The kernel routes what arrives on virbr0 by virbr0's own key (lab: ip-forward-per-device, web01 measured all ok).
    const perDevice = alter<SysctlFacts>(await factsOf('ip-forward-off'), 'sysctl', (s) => (s.values['net.ipv4.conf.virbr0.forwarding'] = 1))
    expect((await fire(rule, perDevice)).names).toEqual([])
    // Not read is not on: still fires.
    const unread = alter<SysctlFacts>(await factsOf('ip-forward-off'), 'sysctl', (s) => (s.values['net.ipv4.conf.virbr0.forwarding'] = null))
    expect((await fire(rule, unread)).names).not.toEqual([])
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
