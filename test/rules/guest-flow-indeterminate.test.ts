import {describe, expect, it} from 'vitest'
import rule from '../../rules/guest-flow-indeterminate.js'
import {factsOf, fire} from '../helpers.js'

describe('guest-flow-indeterminate', () => {
  it('fires for a drop that depends on a random mark (lab), naming the rule and both outcomes', async () => {
    const {evaluation} = await fire(rule, await factsOf('mark-random-drop'))
    expect(evaluation.findings).toHaveLength(1)
    expect(evaluation.findings[0].evidence.join('\n')).toMatch(/statistic.*if it matches, .*; if not, /s)
  })
  it('stays silent on the healthy host and where rate limits do not change the outcome (ufw)', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
    expect((await fire(rule, await factsOf('ufw-style-healthy'))).names).toEqual([])
  })
  it("on a table iptables cannot print (lab), names the rule in nft's words, with no counters, and lists its chain with nft", async () => {
    const {evaluation} = await fire(rule, await factsOf('iptables-nft-incompatible'))
    expect(evaluation.findings.length).toBeGreaterThan(0)
    for (const f of evaluation.findings) {
      expect(f.entity.name).toMatch(/^nft ip filter chain \S+: .* \(handle \d+\)$/)
      expect(f.entity.name).not.toMatch(/packets \d+|bytes \d+/)
      expect(f.fix).toEqual([])
      expect(f.check?.at(-1)).toMatch(/^nft -a list chain ip filter \S+$/)
    }
  })
})
