import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import {rule} from '../../rules/libvirt-network-inactive.js'
import {alter, factsOf, fire} from '../helpers.js'

describe('libvirt-network-inactive', () => {
  it('fires when a network guests use is down (lab: virsh net-destroy default)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('network-inactive'))
    expect(names).toEqual(['default'])
    expect(evaluation.findings[0].fix).toEqual(['virsh net-start default', 'virsh net-autostart default'])
    expect(evaluation.findings[0].evidence.join(' ')).toContain('kdlab-web01')
  })
  it('stays silent on the healthy host', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it('stays silent for an inactive network nobody uses and nothing autostarts', async () => {
    const facts = alter<LibvirtFacts>(await factsOf('healthy'), 'libvirt', (l) => {
      l.networks.push({...l.networks[0], name: 'spare', bridge: 'virbr9', active: false, autostart: false})
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('fires for an unused network that is marked autostart', async () => {
    const facts = alter<LibvirtFacts>(await factsOf('healthy'), 'libvirt', (l) => {
      l.networks.push({...l.networks[0], name: 'spare', bridge: 'virbr9', active: false, autostart: true})
    })
    expect((await fire(rule, facts)).names).toEqual(['spare'])
  })
})
