import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import rule from '../../rules/nat-masquerade-wrong-interface.js'
import {alter, factsOf, fire, fireAll} from '../helpers.js'

describe('nat-masquerade-wrong-interface', () => {
  it("fires for a NAT network pinned to a device that does not exist (lab: dev='kdlab-nodev')", async () => {
    const {names, evaluation} = await fire(rule, await factsOf('nat-pinned-missing-dev'))
    expect(names).toEqual(['kdlab-pinned'])
    expect(evaluation.findings[0].evidence).toContain('ip link: kdlab-nodev is absent')
  })
  it("fires for a device that exists but is not the default route's", async () => {
    const facts = alter<LibvirtFacts>(await factsOf('healthy'), 'libvirt', (l) => (l.networks[0].forwardDev = 'lo'))
    expect((await fire(rule, facts)).names).toEqual(['default'])
  })
  it("fires for a routed network pinned to another device than the traffic's (lab network-routed-pinned-other-dev: libvirt's LIBVIRT_FWO rejected the guest's egress), and explains that reject: one root, no Docker story as its own cause", async () => {
    const facts = await factsOf('network-routed-pinned-other-dev')
    const {names, evaluation} = await fire(rule, facts)
    expect(names).toEqual(['kdlab-rt'])
    expect(evaluation.findings[0].title).toBe('Routed network kdlab-rt is pinned to kdlab-pin0, which is present and not the default route\'s device')
    expect(evaluation.findings[0].evidence).toContain("virsh net-dumpxml kdlab-rt: <forward mode='route' dev='kdlab-pin0'/>")
    const all = await fireAll(facts)
    const reject = all.evaluation.findings.find((f) => f.id === 'iptables-forward-drop')
    expect(reject?.entity.name).toMatch(/-A LIBVIRT_FWO -i kdlab-rt -j REJECT/)
    expect(reject?.explainedBy).toBe('nat-masquerade-wrong-interface@network:kdlab-rt')
  })
  it("stays silent for MASQUERADE without -o (libvirt's default, no dev=)", async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it("stays silent when dev= names the default route's device", async () => {
    const facts = alter<LibvirtFacts>(await factsOf('healthy'), 'libvirt', (l) => (l.networks[0].forwardDev = 'eth0'))
    expect((await fire(rule, facts)).names).toEqual([])
  })
})
