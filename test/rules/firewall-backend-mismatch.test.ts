import {describe, expect, it} from 'vitest'
import type {NetfilterFacts} from '../../probes/netfilter.js'
import rule from '../../rules/firewall-backend-mismatch.js'
import {renderStep} from '../../src/lib/fix.js'
import {alter, factsOf, fire, iptablesTables, withIptablesRule} from '../helpers.js'

const dropLegacy = (nf: NetfilterFacts) => (nf.tables = nf.tables.filter((t) => t.backend !== 'iptables-legacy'))

describe('firewall-backend-mismatch', () => {
  it('fires on the lab recording: a MASQUERADE in iptables-legacy beside iptables-nft', async () => {
    const {evaluation} = await fire(rule, await factsOf('firewall-backend-mismatch'))
    expect(evaluation.findings).toHaveLength(1)
    expect(evaluation.findings[0].evidence[1]).toMatch(/, 1 in iptables-legacy-save$/)
  })
  it("moves the live legacy MASQUERADE to iptables-nft first, then deletes it from the legacy table by its exact spec: no alternative switched, no flush, no restart; applied, the finding clears and the MASQUERADE still acts", async () => {
    const facts = await factsOf('firewall-backend-mismatch')
    const found = (await fire(rule, facts)).evaluation.findings[0]
    const printed = found.fixSteps.map(renderStep)
    expect(printed).toEqual(['iptables-nft -t nat -A POSTROUTING -s 10.250.0.0/24 -j MASQUERADE', 'iptables-legacy -t nat -D POSTROUTING -s 10.250.0.0/24 -j MASQUERADE'])
    expect(printed.join('\n')).not.toMatch(/update-alternatives|systemctl| -F\b/)
    expect(found.note?.join(' ')).toContain('added to iptables-nft first')
    // Applied to the recording's facts: appended in iptables-nft, gone from iptables-legacy.
    const moved = withIptablesRule(facts, 'nat', '-A POSTROUTING -s 10.250.0.0/24 -j MASQUERADE', Number.MAX_SAFE_INTEGER)
    const fixed = alter<NetfilterFacts>(moved, 'netfilter', (nf) => {
      const legacyNat = nf.tables.find((t) => t.backend === 'iptables-legacy' && t.family === 'ip' && t.name === 'nat')!
      legacyNat.chains.POSTROUTING.rules = legacyNat.chains.POSTROUTING.rules.filter((r) => r.text !== '-A POSTROUTING -s 10.250.0.0/24 -j MASQUERADE')
    })
    expect((await fire(rule, fixed)).names).toEqual([])
    const result = fixed.results.netfilter
    if (!result.ok) throw new Error(result.error)
    const nft = result.data as NetfilterFacts
    expect(nft.tables.find((t) => t.backend === 'iptables-nft' && t.name === 'nat')!.chains.POSTROUTING.rules.map((r) => r.text)).toContain('-A POSTROUTING -s 10.250.0.0/24 -j MASQUERADE')
  })
  it('only deletes a legacy rule iptables-nft already holds the same; prints nothing for a drop or a chain of its own (the admin moves those)', async () => {
    const both = withIptablesRule(await factsOf('firewall-backend-mismatch'), 'nat', '-A POSTROUTING -s 10.250.0.0/24 -j MASQUERADE')
    expect((await fire(rule, both)).evaluation.findings[0].fixSteps.map(renderStep)).toEqual(['iptables-legacy -t nat -D POSTROUTING -s 10.250.0.0/24 -j MASQUERADE'])
    for (const extra of ['*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -s 10.250.0.0/24 -j DROP\nCOMMIT\n', '*filter\n:FORWARD ACCEPT [0:0]\n:ADMIN - [0:0]\n-A FORWARD -j ADMIN\n-A ADMIN -j ACCEPT\nCOMMIT\n']) {
      const facts = alter<NetfilterFacts>(await factsOf('firewall-backend-mismatch'), 'netfilter', (nf) => {
        nf.tables = nf.tables.filter((t) => !(t.backend === 'iptables-legacy' && t.name === 'filter' && t.family === 'ip'))
        nf.tables.push(...iptablesTables(extra, 'iptables-legacy'))
      })
      const found = (await fire(rule, facts)).evaluation.findings[0]
      expect(found.fixSteps).toEqual([])
      expect(found.note?.join(' ')).toContain('by hand')
    }
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
