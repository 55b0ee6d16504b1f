import {describe, expect, it} from 'vitest'
import type {SysctlFacts} from '../../probes/sysctl.js'
import rule from '../../rules/bridge-netfilter-enabled.js'
import {alter, factsOf, fire, withIptablesRule} from '../helpers.js'

describe('bridge-netfilter-enabled', () => {
  it('fires as high when bridged guest frames meet a dropping FORWARD chain (lab)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('bridged-forward-drop'))
    expect(names).toEqual(['kdlab-br0'])
    expect(evaluation.findings[0].severity).toBe('high')
  })
  it('fires as low when FORWARD accepts the bridged frames (a physdev-is-bridged accept first)', async () => {
    const facts = withIptablesRule(await factsOf('bridged-forward-drop'), 'filter', '-A FORWARD -m physdev --physdev-is-bridged -j ACCEPT')
    const {evaluation} = await fire(rule, facts)
    expect(evaluation.findings.map((f) => `${f.entity.name}:${f.severity}`)).toEqual(['kdlab-br0:low'])
  })
  it('stays silent when the key is 0 or absent (module not loaded)', async () => {
    const zero = alter<SysctlFacts>(await factsOf('bridged-forward-drop'), 'sysctl', (s) => (s.values['net.bridge.bridge-nf-call-iptables'] = 0))
    expect((await fire(rule, zero)).names).toEqual([])
    const absent = alter<SysctlFacts>(await factsOf('bridged-forward-drop'), 'sysctl', (s) => (s.values['net.bridge.bridge-nf-call-iptables'] = null))
    const {names, evaluation} = await fire(rule, absent)
    expect(names).toEqual([])
    expect(evaluation.notChecked.map((n) => n.entity?.name)).toContain('kdlab-br0')
  })
  it("stays silent for libvirt's NAT bridge (routed, not bridged, traffic)", async () => {
    const facts = alter<SysctlFacts>(await factsOf('healthy'), 'sysctl', (s) => (s.values['net.bridge.bridge-nf-call-iptables'] = 1))
    expect((await fire(rule, facts)).names).toEqual([])
  })
})
