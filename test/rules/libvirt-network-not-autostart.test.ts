import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import rule from '../../rules/libvirt-network-not-autostart.js'
import {alter, factsOf, fire} from '../helpers.js'

describe('libvirt-network-not-autostart', () => {
  it('fires when an autostart guest uses a network that is not autostarted (lab: virsh autostart kdlab-web01)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('network-not-autostart'))
    expect(names).toEqual(['default'])
    expect(evaluation.findings[0].fix).toEqual(['virsh net-autostart default'])
  })
  it('stays silent when no autostart guest uses it (healthy lab)', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it('stays silent when the network autostarts too', async () => {
    const facts = alter<LibvirtFacts>(await factsOf('network-not-autostart'), 'libvirt', (l) => (l.networks[0].autostart = true))
    expect((await fire(rule, facts)).names).toEqual([])
  })
})
