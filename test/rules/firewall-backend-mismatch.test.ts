import {describe, expect, it} from 'vitest'
import type {NetfilterFacts} from '../../probes/netfilter.js'
import rule from '../../rules/firewall-backend-mismatch.js'
import {alter, factsOf, fire, iptablesTables} from '../helpers.js'

const dropLegacy = (nf: NetfilterFacts) => (nf.tables = nf.tables.filter((t) => t.backend !== 'iptables-legacy'))

describe('firewall-backend-mismatch', () => {
  it('fires on the lab recording: a MASQUERADE in iptables-legacy beside iptables-nft', async () => {
    const {evaluation} = await fire(rule, await factsOf('firewall-backend-mismatch'))
    expect(evaluation.findings).toHaveLength(1)
    expect(evaluation.findings[0].evidence[1]).toMatch(/, 1 in iptables-legacy-save$/)
  })
  it('fires when iptables-nft warns that legacy tables are present and iptables-legacy-save cannot show them', async () => {
    const facts = alter<NetfilterFacts>(await factsOf('healthy'), 'netfilter', (nf) => {
      dropLegacy(nf)
      nf.legacyTablesWarning = true
    })
    expect((await fire(rule, facts)).names).toHaveLength(1)
  })
  it('is not checked, not fired, when iptables-legacy-save was there to read and could not be (a sosreport does not list legacy tables)', async () => {
    const facts = alter<NetfilterFacts>(await factsOf('healthy'), 'netfilter', (nf) => {
      dropLegacy(nf)
      nf.legacyTablesWarning = true
      nf.gaps.push('iptables-legacy-save: iptables-legacy-save -c: not collected by this sosreport')
    })
    const {evaluation, names} = await fire(rule, facts)
    expect(names).toEqual([])
    expect(evaluation.notChecked).toEqual([expect.objectContaining({ruleId: 'firewall-backend-mismatch', reason: expect.stringContaining('legacy tables are present and iptables-legacy-save')})])
  })
  it('stays silent for the warning alone when the legacy tables are empty (an `iptables-legacy -L` leaves them behind)', async () => {
    const facts = alter<NetfilterFacts>(await factsOf('healthy'), 'netfilter', (nf) => {
      dropLegacy(nf)
      nf.legacyTablesWarning = true
      nf.tables.push(...iptablesTables('*nat\n:PREROUTING ACCEPT [6:504]\n:POSTROUTING ACCEPT [2:88]\nCOMMIT\n', 'iptables-legacy'))
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('fires when the legacy tables hold rules beside nf_tables rules', async () => {
    const facts = alter<NetfilterFacts>(await factsOf('healthy'), 'netfilter', (nf) => {
      dropLegacy(nf)
      nf.tables.push(...iptablesTables('*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -s 172.17.0.0/16 -j MASQUERADE\nCOMMIT\n', 'iptables-legacy'))
    })
    const {evaluation} = await fire(rule, facts)
    expect(evaluation.findings[0].evidence[1]).toMatch(/in iptables-save, 1 in iptables-legacy-save$/)
  })
  it('stays silent for an empty legacy ruleset, and on the healthy host', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
    const facts = alter<NetfilterFacts>(await factsOf('healthy'), 'netfilter', (nf) => {
      dropLegacy(nf)
      nf.tables.push(...iptablesTables('*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n', 'iptables-legacy'))
    })
    expect((await fire(rule, facts)).names).toEqual([])
  })
})
