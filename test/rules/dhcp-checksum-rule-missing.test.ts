import {describe, expect, it} from 'vitest'
import type {NetfilterFacts} from '../../probes/netfilter.js'
import {buildRuleset} from '../../probes/netfilter/ruleset.js'
import rule from '../../rules/dhcp-checksum-rule-missing.js'
import {alter, factsOf, fire, netfilterData, withRuleset} from '../helpers.js'

describe('dhcp-checksum-rule-missing', () => {
  it('fires with the iptables backend and no CHECKSUM rule', async () => {
    const facts = alter<NetfilterFacts>(await factsOf('healthy'), 'netfilter', (nf) => {
      nf.tables.find((t) => t.backend === 'iptables-nft' && t.family === 'ip' && t.name === 'mangle')!.chains.LIBVIRT_PRT.rules = []
    })
    const {names, evaluation} = await fire(rule, facts)
    expect(names).toEqual(['default'])
    expect(evaluation.findings[0].fix).toEqual(['iptables -t mangle -A POSTROUTING -o virbr0 -p udp --dport 68 -j CHECKSUM --checksum-fill'])
  })
  it('stays silent when libvirt added it (healthy lab)', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it("stays silent on a network of forward mode open (lab): libvirt adds no firewall rule for it, the admin's firewall does it all", async () => {
    const facts = await factsOf('network-open-forward-off')
    const {evaluation} = await fire(rule, facts)
    expect(evaluation.findings).toEqual([])
    // The default network beside it (NAT, libvirt's CHECKSUM rule in place) is judged and passes.
    expect(evaluation.applicable.map((a) => a.entity.name).sort()).toEqual(['default'])
  })
  it('stays silent with the nftables backend (libvirt never adds it there)', async () => {
    const nftBackend = buildRuleset({nft: {json: netfilterData('libvirt-nftables.nft-j-list-ruleset.json'), text: netfilterData('libvirt-nftables.nft-a-list-ruleset.txt')}})
    expect((await fire(rule, withRuleset(await factsOf('healthy'), nftBackend))).names).toEqual([])
  })
})
