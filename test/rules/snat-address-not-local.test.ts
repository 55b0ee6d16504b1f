import {describe, expect, it} from 'vitest'
import rule from '../../rules/snat-address-not-local.js'
import {factsOf, fire, withIptablesRule} from '../helpers.js'
import {snatTo} from './cases.js'

const snat = snatTo

describe('snat-address-not-local', () => {
  it('fires for an SNAT to an address this host does not own, naming the rule and the address', async () => {
    const {evaluation} = await fire(rule, withIptablesRule(await factsOf('healthy'), 'nat', snat('203.0.113.99')))
    expect(evaluation.findings).toHaveLength(1)
    const f = evaluation.findings[0]
    expect(f.title).toContain('203.0.113.99')
    expect(f.evidence[0]).toContain('SNAT --to-source 203.0.113.99')
    // Rendered for a shell: the negation quoted like any word a shell could read otherwise.
    expect(f.fix).toEqual([`iptables -t nat ${snat('203.0.113.99').replace('-A ', '-D ').replace(' ! ', " '!' ")}`])
  })
  it("fires for an SNAT to a range whose first address is the host's and the others are not (the kernel picks one per connection): undecided by chance, naming the first foreign address; the path followed the first and passed before", async () => {
    const {evaluation} = await fire(rule, withIptablesRule(await factsOf('healthy'), 'nat', snat('198.51.100.1-198.51.100.3')))
    expect(evaluation.findings).toHaveLength(1)
    expect(evaluation.findings[0].title).toContain('198.51.100.2')
    expect(evaluation.findings[0].evidence.join('\n')).toMatch(/egress-reply/)
  })
  it('stays silent for an SNAT to an address of the host, and for MASQUERADE (the healthy lab host)', async () => {
    expect((await fire(rule, withIptablesRule(await factsOf('healthy'), 'nat', snat('198.51.100.1')))).names).toEqual([])
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
})
