import {describe, expect, it} from 'vitest'
import rule from '../../rules/dhcp-pool-nearly-full.js'
import {factsOf, fire} from '../helpers.js'
import {poolWith as poolWithCase} from './cases.js'

const poolWith = async (n: number) => poolWithCase(await factsOf('healthy'), n)

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
