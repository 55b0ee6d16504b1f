import {describe, expect, it} from 'vitest'
import {buildRuleset} from '../../probes/netfilter/ruleset.js'
import rule from '../../rules/iptables-nft-incompatible.js'
import libvirtRulesMissing from '../../rules/libvirt-firewall-rules-missing.js'
import type {NetfilterFacts} from '../../probes/netfilter.js'
import {alter, factsOf, fire, fireAll, netfilterData, withRuleset, recordedOutput} from '../helpers.js'

const recorded = (file: string) => recordedOutput('healthy', file)

/**
 * Recorded live: fixtures/iptables-nft-incompatible (a native `ct state invalid` rule inserted into ip filter
 * FORWARD; iptables-nft 1.8.9 prints "# Table `filter' is incompatible, use 'nft' tool." and nothing of the
 * table). The real capture test/data/netfilter/incompatible.* (a nat table with a native base chain:
 * "contains incompatible base-chains") is that one fact put into other lab recordings.
 */
describe('iptables-nft-incompatible', () => {
  it('fires on the live recording, and libvirt\'s filter rules, read from nft, are not called missing', async () => {
    const facts = await factsOf('iptables-nft-incompatible')
    const {evaluation} = await fire(rule, facts)
    expect(evaluation.findings).toHaveLength(1)
    expect(evaluation.findings[0].title).toMatch(/ip filter/)
    expect((await fire(libvirtRulesMissing, facts)).names).toEqual([])
  })
  it('stays silent where iptables-save misreads a native rule without calling the table incompatible, and on a legacy host', async () => {
    expect((await fire(rule, await factsOf('iptables-nft-set-lookup'))).names).toEqual([])
    expect((await fire(rule, await factsOf('legacy-backend-healthy'))).names).toEqual([])
  })
  it('fires for the captured nat table iptables-save calls incompatible', async () => {
    const rs = buildRuleset({iptables: [{text: netfilterData('incompatible.iptables-save.txt'), family: 'ip'}], nft: {json: netfilterData('incompatible.nft-j-list-ruleset.json'), text: netfilterData('incompatible.nft-a-list-ruleset.txt')}})
    const {evaluation} = await fire(rule, withRuleset(await factsOf('healthy'), rs))
    expect(evaluation.findings).toHaveLength(1)
    expect(evaluation.findings[0].title).toMatch(/ip nat/)
  })
  it("fires for the lab's own nat table once iptables-save calls it incompatible, and libvirt's rules there are not called missing (they are read from nft)", async () => {
    // What iptables-save prints when a native base chain joins its nat table: the comment, and the chains it could still print.
    const save = recorded('command-iptables-save--c.txt').replace(/^\*nat$/m, "# Table `nat' contains incompatible base-chains, use 'nft' tool to list them.\n*nat")
    const rs = buildRuleset({iptables: [{text: save, family: 'ip'}], nft: {json: recorded('command-nft--j-list-ruleset.txt'), text: recorded('command-nft--a-list-ruleset.txt')}})
    const facts = withRuleset(await factsOf('healthy'), rs)
    expect((await fire(rule, facts)).names).toHaveLength(1)
    expect((await fire(libvirtRulesMissing, facts)).names).toEqual([])
  })
  it("stays silent on the healthy host and on libvirt's nftables backend (native rules in a table of their own)", async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
    expect((await fire(rule, await factsOf('libvirt-nftables-backend'))).names).toEqual([])
  })
})

describe('iptables-nft-incompatible: the flows it makes undecidable are listed under it', () => {
  it('explains the indeterminate finding of a rule in the incompatible table (lab)', async () => {
    const all = (await fireAll(await factsOf('iptables-nft-incompatible'))).evaluation.findings
    const undecided = all.filter((f) => f.id === 'guest-flow-indeterminate')
    expect(undecided.length).toBeGreaterThan(0)
    for (const f of undecided) expect(f.explainedBy?.split('@')[0]).toBe('iptables-nft-incompatible')
  })
  it('leaves an indeterminate verdict in a readable table alone (lab: a random mark; the incompatible table put beside it)', async () => {
    const facts = await factsOf('mark-random-drop')
    // An incompatible nat table beside the random-mark rule of the readable mangle table.
    const marked = alter<NetfilterFacts>(facts, 'netfilter', (n) => {
      const nat = n.tables.find((t) => t.backend === 'iptables-nft' && t.family === 'ip' && t.name === 'nat')!
      nat.incompatible = true
    })
    const all = (await fireAll(marked)).evaluation.findings
    expect(all.some((f) => f.id === 'iptables-nft-incompatible')).toBe(true)
    const undecided = all.filter((f) => f.id === 'guest-flow-indeterminate')
    expect(undecided.length).toBeGreaterThan(0)
    for (const f of undecided) expect(f.explainedBy).toBeUndefined()
  })
})
