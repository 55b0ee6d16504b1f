import {describe, expect, it} from 'vitest'
import type {LeaseFacts} from '../../probes/leases.js'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import rule from '../../rules/dhcp-pool-nearly-full.js'
import {alter, factsOf, fire} from '../helpers.js'

/** The healthy host's default network with a 10-address range and `n` leases in it. */
async function poolWith(n: number) {
  const base = alter<LibvirtFacts>(await factsOf('healthy'), 'libvirt', (l) => (l.networks[0].ips[0].dhcpRanges = [{start: '192.168.122.10', end: '192.168.122.19'}]))
  return alter<LeaseFacts>(base, 'leases', (l) => {
    l.leases = Array.from({length: n}, (_, i) => ({source: 'libvirt', file: '/var/lib/libvirt/dnsmasq/virbr0.status', bridge: 'virbr0', ip: `192.168.122.${10 + i}`, mac: `52:54:00:00:00:${String(i).padStart(2, '0')}`, expiry: null, expired: false}))
  })
}

describe('dhcp-pool-nearly-full', () => {
  it('fires at 9 of 10 addresses leased', async () => {
    const {names, evaluation} = await fire(rule, await poolWith(9))
    expect(names).toEqual(['default'])
    expect(evaluation.findings[0].title).toContain('90% used')
  })
  it('stays silent at 8 of 10, and at 10 of 10 (that is dhcp-range-exhausted)', async () => {
    expect((await fire(rule, await poolWith(8))).names).toEqual([])
    expect((await fire(rule, await poolWith(10))).names).toEqual([])
  })
  it('stays silent on the healthy host', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
})
