import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import rule from '../../rules/guest-agent-missing.js'
import {alter, factsOf, fire} from '../helpers.js'

describe('guest-agent-missing', () => {
  it('fires (info) for a running guest without the agent channel (lab guests have none)', async () => {
    const {names} = await fire(rule, await factsOf('healthy'))
    expect(names).toEqual(['kdlab-web01'])
  })
  it('stays silent with the channel, and for shut-off guests', async () => {
    const withAgent = alter<LibvirtFacts>(await factsOf('healthy'), 'libvirt', (l) => (l.domains[0].guestAgentChannel = true))
    expect((await fire(rule, withAgent)).names).toEqual([])
    const off = alter<LibvirtFacts>(await factsOf('healthy'), 'libvirt', (l) => (l.domains[0].state = 'shut off'))
    expect((await fire(rule, off)).names).toEqual([])
  })
})
