import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import rule from '../../rules/dhcp-lease-stale.js'
import {alter, factsOf, fire} from '../helpers.js'

describe('dhcp-lease-stale', () => {
  it('fires for a lease whose MAC no defined domain has', async () => {
    const facts = alter<LibvirtFacts>(await factsOf('healthy'), 'libvirt', (l) => (l.domains = []))
    const {names, evaluation} = await fire(rule, facts)
    expect(names).toEqual(['default'])
    expect(evaluation.findings[0].evidence[0]).toMatch(/^stale leases: 192\.168\.122\.\d+ 52:54:00:6b:64:01$/)
  })
  it('stays silent when every lease belongs to a defined domain (running or not)', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
    const shutOff = alter<LibvirtFacts>(await factsOf('healthy'), 'libvirt', (l) => l.domains.forEach((d) => (d.state = 'shut off')))
    expect((await fire(rule, shutOff)).names).toEqual([])
  })
})
