import {describe, expect, it} from 'vitest'
import type {SysctlFacts} from '../../probes/sysctl.js'
import rule from '../../rules/conntrack-table-full.js'
import {renderStep} from '../../src/lib/fix.js'
import {alter, factsOf, fire, fireAll} from '../helpers.js'

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
  it("raises the lowered maximum back to the kernel's default for the host, set and persisted: never the full table's own value", async () => {
    const facts = await factsOf('conntrack-full')
    // The recording predates nf_conntrack_buckets: the kernel's default on a 1-4 GiB host stands for it.
    const fix = (await fire(rule, facts)).evaluation.findings[0].fixSteps.map(renderStep)
    expect(fix).toEqual(['sysctl -w net.netfilter.nf_conntrack_max=65536', expect.stringMatching(/net\.netfilter\.nf_conntrack_max = 65536'? .*\/etc\/sysctl\.d\/90-kvmdoctor\.conf/)])
    // With the table size read (this lab host's: 24 GiB, 262144 buckets), its default, as the kernel sized it.
    const sized = alter<SysctlFacts>(facts, 'sysctl', (s) => (s.values['net.netfilter.nf_conntrack_buckets'] = 262144))
    const found = (await fire(rule, sized)).evaluation.findings[0]
    expect(found.fixSteps.map(renderStep)[0]).toBe('sysctl -w net.netfilter.nf_conntrack_max=262144')
    expect(found.fixSteps.map(renderStep).join('\n')).not.toMatch(/nf_conntrack_max ?= ?63\b/)
    // The trace's undo of the full table is the same value.
    const {evaluation} = await fireAll(sized)
    const undo = evaluation.findings.flatMap((f) => f.fixSteps.map(renderStep)).filter((l) => l.startsWith('sysctl -w net.netfilter.nf_conntrack_max='))
    expect(new Set(undo)).toEqual(new Set(['sysctl -w net.netfilter.nf_conntrack_max=262144']))
  })
  it('doubles a maximum an admin already set above the default', async () => {
    const big = alter<SysctlFacts>(await conntrack(990_000, 1_000_000), 'sysctl', (s) => (s.values['net.netfilter.nf_conntrack_buckets'] = 262144))
    expect((await fire(rule, big)).evaluation.findings[0].fixSteps.map(renderStep)[0]).toBe('sysctl -w net.netfilter.nf_conntrack_max=2000000')
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
