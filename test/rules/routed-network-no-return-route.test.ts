import {describe, expect, it} from 'vitest'
import rule from '../../rules/routed-network-no-return-route.js'
import {factsOf, fire} from '../helpers.js'
import {forwardMode} from './cases.js'

const mode = (m: string) => async () => forwardMode(await factsOf('healthy'), m)

describe('routed-network-no-return-route', () => {
  it('fires for a routed network: its egress replies are undecided, not passed', async () => {
    const facts = await mode('route')()
    const {evaluation} = await fire(rule, facts)
    expect(evaluation.findings).toHaveLength(1)
    expect(evaluation.findings[0].evidence.join('\n')).toContain('192.168.122.0/24')
  })
  it('fires for an open network too', async () => {
    expect((await fire(rule, await mode('open')())).names).toHaveLength(1)
  })
  it('stays silent for a NAT network (the healthy lab host)', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
})
