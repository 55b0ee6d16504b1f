import {describe, expect, it} from 'vitest'
import type {NftFacts} from '../../probes/nftables.js'
import {rule} from '../../rules/nft-forward-drop.js'
import {alter, factsOf, fire} from '../helpers.js'

/** libvirt's nftables backend, plus optionally another table dropping on the forward hook. */
async function nftHost(otherRules: NftFacts['chains'][number]['rules']) {
  return alter<NftFacts>(await factsOf('healthy'), 'nftables', (n) => {
    n.tables.push({family: 'ip', name: 'libvirt_network'}, {family: 'inet', name: 'firewalld'})
    n.chains.push({family: 'ip', table: 'libvirt_network', name: 'guest_output', type: 'filter', hook: 'forward', priority: 0, policy: 'accept', rules: [{verdict: 'accept', iif: 'virbr0', saddr: '192.168.122.0/24', negated: [], summary: ''}]})
    n.chains.push({family: 'inet', table: 'firewalld', name: 'filter_FORWARD', type: 'filter', hook: 'forward', priority: 10, policy: 'drop', rules: otherRules})
  })
}

describe('nft-forward-drop', () => {
  it('fires on the lab recording: an inet table with a dropping forward chain beside libvirt', async () => {
    const {names, evaluation} = await fire(rule, await factsOf('nft-forward-drop'))
    expect(names).toEqual(['default'])
    expect(evaluation.findings[0].evidence[0]).toContain('inet kdlab_fw chain forward (hook forward, priority 10, policy drop)')
  })
  it("fires when another table's forward chain drops by policy and never accepts the bridge", async () => {
    const {names, evaluation} = await fire(rule, await nftHost([]))
    expect(names).toEqual(['default'])
    expect(evaluation.findings[0].evidence[0]).toContain('inet firewalld chain filter_FORWARD (hook forward, priority 10, policy drop)')
  })
  it('stays silent when that table accepts the bridge', async () => {
    expect((await fire(rule, await nftHost([{verdict: 'accept', iif: 'virbr0', negated: [], summary: ''}]))).names).toEqual([])
  })
  it('stays silent with the iptables backend and on the healthy host', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
    expect((await fire(rule, await factsOf('docker-forward-drop-nat-ok'))).names).toEqual([])
  })
})
