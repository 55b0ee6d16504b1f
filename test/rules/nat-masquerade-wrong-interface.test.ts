import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import rule from '../../rules/nat-masquerade-wrong-interface.js'
import {alter, factsOf, fire} from '../helpers.js'

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
  it("stays silent for MASQUERADE without -o (libvirt's default, no dev=)", async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it("stays silent when dev= names the default route's device", async () => {
    const facts = alter<LibvirtFacts>(await factsOf('healthy'), 'libvirt', (l) => (l.networks[0].forwardDev = 'eth0'))
    expect((await fire(rule, facts)).names).toEqual([])
  })
})
