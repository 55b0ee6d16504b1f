import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import rule from '../../rules/macvtap-host-isolation.js'
import {alter, factsOf, fire} from '../helpers.js'

describe('macvtap-host-isolation', () => {
  it('fires (info) for a type=direct interface', async () => {
    const facts = alter<LibvirtFacts>(await factsOf('healthy'), 'libvirt', (l) => {
      l.domains[0].interfaces.push({type: 'direct', mac: '52:54:00:aa:aa:aa', source: 'eth0', target: 'macvtap0', linkState: 'up'})
    })
    const {names, evaluation} = await fire(rule, facts)
    expect(names).toEqual(['kdlab-web01/macvtap0'])
    expect(evaluation.findings[0].severity).toBe('info')
  })
  it('stays silent for network and bridge interfaces (healthy lab)', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
})
