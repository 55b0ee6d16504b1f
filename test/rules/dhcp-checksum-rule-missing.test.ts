import {describe, expect, it} from 'vitest'
import type {IptablesFacts} from '../../probes/iptables.js'
import type {NftFacts} from '../../probes/nftables.js'
import {rule} from '../../rules/dhcp-checksum-rule-missing.js'
import {alter, factsOf, fire} from '../helpers.js'

describe('dhcp-checksum-rule-missing', () => {
  it('fires with the iptables backend and no CHECKSUM rule', async () => {
    const facts = alter<IptablesFacts>(await factsOf('healthy'), 'iptables', (i) => (i.main.tables.mangle.chains.LIBVIRT_PRT.rules = []))
    const {names, evaluation} = await fire(rule, facts)
    expect(names).toEqual(['default'])
    expect(evaluation.findings[0].fix).toEqual(['iptables -t mangle -A POSTROUTING -o virbr0 -p udp --dport 68 -j CHECKSUM --checksum-fill'])
  })
  it('stays silent when libvirt added it (healthy lab)', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it('stays silent with the nftables backend (libvirt never adds it there)', async () => {
    let facts = alter<IptablesFacts>(await factsOf('healthy'), 'iptables', (i) => (i.main.tables = {}))
    facts = alter<NftFacts>(facts, 'nftables', (n) => n.tables.push({family: 'ip', name: 'libvirt_network'}))
    expect((await fire(rule, facts)).names).toEqual([])
  })
})
