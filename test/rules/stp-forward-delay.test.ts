import {describe, expect, it} from 'vitest'
import type {Link} from '../../probes/links.js'
import rule from '../../rules/stp-forward-delay.js'
import {alter, factsOf, fire} from '../helpers.js'

describe('stp-forward-delay', () => {
  it('fires for STP with a 15 s forward delay (lab)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('stp-forward-delay'))
    expect(names).toEqual(['virbr0'])
    expect(evaluation.findings[0].title).toBe('Bridge virbr0 holds new ports for 2 x 15 s (STP)')
  })
  it("stays silent for libvirt's stp='on' delay='0' (the kernel reports its 2 s minimum, healthy lab)", async () => {
    const facts = await factsOf('healthy')
    const virbr0 = facts.results.links.ok ? (facts.results.links.data as Link[]).find((l) => l.name === 'virbr0') : undefined
    expect(virbr0?.bridge).toEqual({stpState: 1, forwardDelayCs: 200})
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('stays silent with STP off', async () => {
    const facts = alter<Link[]>(await factsOf('stp-forward-delay'), 'links', (links) => (links.find((l) => l.name === 'virbr0')!.bridge!.stpState = 0))
    expect((await fire(rule, facts)).names).toEqual([])
  })
})
