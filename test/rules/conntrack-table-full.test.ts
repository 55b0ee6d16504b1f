import {describe, expect, it} from 'vitest'
import type {SysctlFacts} from '../../probes/sysctl.js'
import rule from '../../rules/conntrack-table-full.js'
import {alter, factsOf, fire} from '../helpers.js'

const conntrack = async (count: number, max: number) =>
  alter<SysctlFacts>(await factsOf('healthy'), 'sysctl', (s) => {
    s.values['net.netfilter.nf_conntrack_count'] = count
    s.values['net.netfilter.nf_conntrack_max'] = max
  })

describe('conntrack-table-full', () => {
  it('fires as high when max was set to the count (lab)', async () => {
    const {evaluation} = await fire(rule, await factsOf('conntrack-full'))
    expect(evaluation.findings.map((f) => f.severity)).toEqual(['high'])
  })
  it('fires as medium from 80 %', async () => {
    const {evaluation} = await fire(rule, await conntrack(850, 1000))
    expect(evaluation.findings.map((f) => f.severity)).toEqual(['medium'])
  })
  it('stays silent below 80 % (healthy lab)', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
    expect((await fire(rule, await conntrack(799, 1000))).names).toEqual([])
  })
  it('is not checked when conntrack is not loaded', async () => {
    const {evaluation} = await fire(rule, alter<SysctlFacts>(await factsOf('healthy'), 'sysctl', (s) => (s.values['net.netfilter.nf_conntrack_count'] = null)))
    expect(evaluation.notChecked).toHaveLength(1)
  })
})
