import {describe, expect, it} from 'vitest'
import type {HostFacts} from '../../probes/host.js'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import rule from '../../rules/vhost-net-missing.js'
import {alter, factsOf, fire} from '../helpers.js'

describe('vhost-net-missing', () => {
  it('fires for running KVM guests with virtio NICs and no vhost-net', async () => {
    let facts = alter<LibvirtFacts>(await factsOf('healthy'), 'libvirt', (l) => (l.domains[0].type = 'kvm'))
    facts = alter<HostFacts>(facts, 'host', (h) => (h.vhostNet = false))
    expect((await fire(rule, facts)).names).toHaveLength(1)
  })
  it('stays silent for software-emulated (type qemu) guests: the lab host has no vhost-net and is fine', async () => {
    const facts = await factsOf('healthy')
    expect(facts.results.host.ok && (facts.results.host.data as HostFacts).vhostNet).toBe(false)
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('stays silent when vhost-net is there', async () => {
    let facts = alter<LibvirtFacts>(await factsOf('healthy'), 'libvirt', (l) => (l.domains[0].type = 'kvm'))
    facts = alter<HostFacts>(facts, 'host', (h) => (h.vhostNet = true))
    expect((await fire(rule, facts)).names).toEqual([])
  })
})
