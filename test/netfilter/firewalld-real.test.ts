import {describe, expect, it} from 'vitest'
import type {NetfilterFacts} from '../../probes/netfilter.js'
import {buildRuleset} from '../../probes/netfilter/ruleset.js'
import hostInputBlocks from '../../rules/host-input-blocks-dhcp-dns.js'
import {alter, factsOf, fire, netfilterData} from '../helpers.js'

/**
 * A real firewalld (Debian 12, 1.3.3, nftables backend) ruleset, captured by
 * test/data/firewalld/capture.sh: virbr0 bound to the libvirt zone, virbr1 to none (public).
 * Added to the healthy lab recording's own tables, as firewalld's table sits beside iptables-nft's.
 */
function firewalldRuleset(rename?: string) {
  const swap = (t: string) => (rename ? t.replaceAll('"virbr0"', `"${rename}"`) : t)
  return buildRuleset({nft: {json: swap(netfilterData('firewalld-real.nft-j-list-ruleset.json')), text: swap(netfilterData('firewalld-real.nft-a-list-ruleset.txt'))}})
}

describe("a real firewalld's nftables ruleset", () => {
  it('parses into one inet firewalld table with its base chains, nothing opaque left unsaid', () => {
    const rs = firewalldRuleset()
    expect(rs.tables.map((t) => `${t.backend} ${t.family} ${t.name}`)).toEqual(['nft inet firewalld'])
    const hooks = Object.values(rs.tables[0].chains).filter((c) => c.base).map((c) => c.base!.hook).sort()
    expect(hooks).toEqual(expect.arrayContaining(['forward', 'input', 'prerouting', 'postrouting', 'output']))
    expect(rs.warnings.filter((w) => !/ct helper|object/.test(w))).toEqual([])
  })
  const withFirewalld = async (rename?: string) =>
    alter<NetfilterFacts>(await factsOf('healthy'), 'netfilter', (nf) => {
      nf.tables.push(...firewalldRuleset(rename).tables)
    })
  it('does not block DHCP/DNS of a bridge in the libvirt zone (stays silent)', async () => {
    expect((await fire(hostInputBlocks, await withFirewalld())).names).toEqual([])
  })
  it('fires host-input-blocks-dhcp-dns when the bridge is in no zone (public rejects DHCP): the zone binding is the one fact changed', async () => {
    const {evaluation} = await fire(hostInputBlocks, await withFirewalld('virbr9'))
    expect(evaluation.findings.length).toBeGreaterThan(0)
    expect(evaluation.findings[0].entity.name).toMatch(/^nft inet firewalld /)
  })
})
