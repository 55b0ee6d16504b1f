import {describe, expect, it} from 'vitest'
import type {NftFacts} from '../../probes/nftables.js'
import {rule} from '../../rules/libvirt-firewall-rules-missing.js'
import {alter, factsOf, fire, unavailable} from '../helpers.js'

describe('libvirt-firewall-rules-missing', () => {
  it('fires when the LIBVIRT_* chains were flushed (lab)', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('firewall-flushed'))
    expect(names).toEqual(['default'])
    expect(evaluation.findings[0].evidence).toContain('libvirt firewall backend seen: iptables')
  })
  it('stays silent on the healthy host', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it("stays silent with libvirt's nftables backend: its rules live in table ip libvirt_network", async () => {
    let facts = alter<NftFacts>(await factsOf('firewall-flushed'), 'nftables', (n) => {
      n.tables.push({family: 'ip', name: 'libvirt_network'})
      n.chains.push({family: 'ip', table: 'libvirt_network', name: 'guest_output', type: 'filter', hook: 'forward', priority: 0, policy: 'accept', rules: [{verdict: 'accept', iif: 'virbr0', saddr: '192.168.122.0/24', negated: [], summary: ''}]})
    })
    facts = unavailable(facts, 'iptables', 'iptables-save: command not found')
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('is not checked when no firewall could be read', async () => {
    const {evaluation} = await fire(rule, unavailable(unavailable(await factsOf('firewall-flushed'), 'iptables'), 'nftables'))
    expect(evaluation.findings).toEqual([])
    expect(evaluation.notChecked).toHaveLength(1)
  })
})
