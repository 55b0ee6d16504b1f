import {describe, expect, it} from 'vitest'
import type {Link} from '../../probes/links.js'
import rule from '../../rules/mtu-mismatch.js'
import {alter, factsOf, fire} from '../helpers.js'

describe('mtu-mismatch', () => {
  it('fires when a 1400 port sits beside 1500 taps on virbr0 (lab)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('mtu-mismatch'))
    expect(names).toEqual(['virbr0'])
    expect(evaluation.findings[0].evidence[0]).toContain('kdlab-mtu0 1400')
  })
  it('fires when the uplink has a larger MTU than the bridge', async () => {
    const facts = alter<Link[]>(await factsOf('mtu-mismatch'), 'links', (links) => {
      links.find((l) => l.name === 'kdlab-mtu0')!.mtu = 9000
      links.find((l) => l.name === 'virbr0')!.mtu = 1500
      links.filter((l) => l.master === 'virbr0' && l.kind === 'tap').forEach((l) => (l.mtu = 1500))
    })
    expect((await fire(rule, facts)).names).toEqual(['virbr0'])
  })
  it('stays silent when all ports agree (healthy lab)', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
})
