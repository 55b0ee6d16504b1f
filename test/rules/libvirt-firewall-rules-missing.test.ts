import {describe, expect, it} from 'vitest'
import {buildRuleset} from '../../probes/netfilter/ruleset.js'
import rule from '../../rules/libvirt-firewall-rules-missing.js'
import {factsOf, fire, netfilterData, unavailable, withRuleset} from '../helpers.js'

describe('libvirt-firewall-rules-missing', () => {
  it('fires when the LIBVIRT_* chains were flushed (lab)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('firewall-flushed'))
    expect(names).toEqual(['default'])
    expect(evaluation.findings[0].evidence).toContain('libvirt firewall backend seen: iptables')
  })
  it('stays silent on the healthy host', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it("stays silent with libvirt's nftables backend: its rules live in table ip libvirt_network (real listing)", async () => {
    const nftBackend = buildRuleset({nft: {json: netfilterData('libvirt-nftables.nft-j-list-ruleset.json'), text: netfilterData('libvirt-nftables.nft-a-list-ruleset.txt')}})
    expect((await fire(rule, withRuleset(await factsOf('firewall-flushed'), nftBackend))).names).toEqual([])
  })
  it('is not checked when the packet filter could not be read (a failed read is no missing rule)', async () => {
    const {evaluation} = await fire(rule, unavailable(await factsOf('firewall-flushed'), 'netfilter', 'iptables-save: timed out after 5 s'))
    expect(evaluation.findings).toEqual([])
    expect(evaluation.notChecked).toHaveLength(1)
  })
})
