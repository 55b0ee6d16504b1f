import {describe, expect, it} from 'vitest'
import {buildRuleset} from '../../probes/netfilter/ruleset.js'
import {rule} from '../../rules/iptables-nft-incompatible.js'
import {rule as libvirtRulesMissing} from '../../rules/libvirt-firewall-rules-missing.js'
import {factsOf, fire, netfilterData, withRuleset, recordedOutput} from '../helpers.js'

const recorded = (file: string) => recordedOutput('healthy', file)

/**
 * The lab's iptables-nft never meets a native nft rule in its tables on its own; the real capture
 * test/data/netfilter/incompatible.* (an iptables-nft nat table with a native rule and base chain
 * added by nft) is that one fact, put into lab recordings.
 */
describe('iptables-nft-incompatible', () => {
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
