import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import rule from '../../rules/mac-duplicate.js'
import {alter, factsOf, fire} from '../helpers.js'

describe('mac-duplicate', () => {
  it('fires on both running guests that share a MAC (lab)', async () => {
    const {names} = await fire(rule, await factsOf('mac-duplicate'))
    expect(names.map((n) => n.split('/')[0]).sort()).toEqual(['kdlab-dup01', 'kdlab-web01'])
  })
  it('stays silent when the copy is shut off', async () => {
    const facts = alter<LibvirtFacts>(await factsOf('mac-duplicate'), 'libvirt', (l) => (l.domains.find((d) => d.name === 'kdlab-dup01')!.state = 'shut off'))
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('stays silent on the healthy host', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
})
