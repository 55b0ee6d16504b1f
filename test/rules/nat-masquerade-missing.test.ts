import {describe, expect, it} from 'vitest'
import {type IptablesFacts, parseRule} from '../../probes/iptables.js'
import type {NftFacts} from '../../probes/nftables.js'
import {rule} from '../../rules/nat-masquerade-missing.js'
import {alter, factsOf, fire, unavailable} from '../helpers.js'

describe('nat-masquerade-missing', () => {
  it("fires when libvirt's MASQUERADE rules are gone (lab: deleted from LIBVIRT_PRT)", async () => {
    const {names, evaluation} = await fire(rule, await factsOf('masquerade-removed'))
    expect(names).toEqual(['default'])
    expect(evaluation.findings[0].fix).toContain('virsh net-destroy default && virsh net-start default')
  })
  it('stays silent on the healthy host, where the rules are reachable from POSTROUTING', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it("accepts libvirt's nftables backend: masquerade in table ip libvirt_network", async () => {
    let facts = alter<NftFacts>(await factsOf('masquerade-removed'), 'nftables', (n) => {
      n.chains = n.chains.filter((c) => c.table !== 'nat')
      n.chains.push({family: 'ip', table: 'libvirt_network', name: 'guest_nat', type: 'nat', hook: 'postrouting', priority: 100, policy: 'accept', rules: [{verdict: 'masquerade', saddr: '192.168.122.0/24', daddr: '192.168.122.0/24', negated: ['daddr'], summary: ''}]})
    })
    facts = unavailable(facts, 'iptables', 'iptables-save: command not found')
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('accepts a blanket MASQUERADE without -s (it covers the guests too)', async () => {
    const facts = alter<IptablesFacts>(await factsOf('masquerade-removed'), 'iptables', (i) => {
      i.main.tables.nat.chains.POSTROUTING.rules.push(parseRule('POSTROUTING', ['-o', 'eth0', '-j', 'MASQUERADE'], '-A POSTROUTING -o eth0 -j MASQUERADE'))
    })
    expect((await fire(rule, unavailable(facts, 'nftables'))).names).toEqual([])
  })
  it('does not count a MASQUERADE in a chain nothing jumps to', async () => {
    const facts = alter<IptablesFacts>(await factsOf('masquerade-removed'), 'iptables', (i) => {
      i.main.tables.nat.chains.ORPHAN = {name: 'ORPHAN', rules: [parseRule('ORPHAN', ['-s', '192.168.122.0/24', '-j', 'MASQUERADE'], '-A ORPHAN -s 192.168.122.0/24 -j MASQUERADE')]}
    })
    expect((await fire(rule, unavailable(facts, 'nftables'))).names).toEqual(['default'])
  })
  it('is not checked when neither iptables nor nftables could be read', async () => {
    const facts = unavailable(unavailable(await factsOf('masquerade-removed'), 'iptables'), 'nftables')
    const {names, evaluation} = await fire(rule, facts)
    expect(names).toEqual([])
    expect(evaluation.notChecked[0].reason).toMatch(/iptables and nftables unavailable/)
  })
})
