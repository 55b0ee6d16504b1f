import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import {rule} from '../../rules/guest-address-foreign.js'
import {alter, factsOf, fire} from '../helpers.js'

describe('guest-address-foreign', () => {
  it('fires for a guest with a static address of another subnet (lab, --listen)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('wire-foreign-address'))
    expect(names).toHaveLength(1)
    expect(names[0]).toMatch(/^kdlab-foreign01\//)
    expect(evaluation.findings[0].title).toContain('172.31.99.50')
    expect(evaluation.findings[0].title).toContain('192.168.122.0/24')
  })
  it('stays silent for a self-assigned 169.254 address (that is apipa-address; lab, --listen)', async () => {
    expect((await fire(rule, await factsOf('wire-apipa-only'))).names).toEqual([])
  })
  it('stays silent when the network does route the address', async () => {
    const facts = alter<LibvirtFacts>(await factsOf('wire-foreign-address'), 'libvirt', (l) => {
      l.networks.find((n) => n.name === 'default')!.ips.push({family: 'ipv4', address: '172.31.99.1', prefix: 24, dhcpRanges: [], dhcpHosts: []})
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })
})
