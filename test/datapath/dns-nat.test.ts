/**
 * A guest's DNS query to its network's resolver that prerouting's NAT sends elsewhere (red team 19, lab-recorded): on
 * to a resolver beyond the host (a DNAT), whose answer the host cannot see; or to a port on the host nothing listens on
 * (host-input-blocks-dhcp-dns's tests hold that one).
 */
import {describe, expect, it} from 'vitest'
import blocked from '../../rules/guest-flow-blocked.js'
import indeterminate from '../../rules/guest-flow-indeterminate.js'
import {type Facts, factsOf, fire, model, withIptablesRule} from '../helpers.js'

const dnsFlows = (facts: Facts) => {
  const m = model(facts)
  if (!m.datapath.ok) throw new Error(m.datapath.reason)
  return m.datapath.datapath.flows.filter((f) => f.guest === 'kdlab-web01' && (f.kind === 'dns' || f.kind === 'dns-reply'))
}
const DNAT = 'iptables -t nat -A PREROUTING -i virbr0 -p udp -m udp --dport 53 -j DNAT --to-destination 203.0.113.10'

// Lab nat-dnat-dns-upstream: the guests' DNS DNATed on to 203.0.113.10, where a DNS server answered; every measure of
// the guest passed. kvmdoctor expected the query delivered to the host, and failed it at the route onward (critical
// guest-flow-blocked on the route to 203.0.113.10, no fix).
describe('a DNS query DNATed on to a resolver beyond the host (lab: nat-dnat-dns-upstream)', () => {
  it('is forwarded and masqueraded like other traffic, then undecided at the resolver the DNAT names, both ways', async () => {
    const [query, answer] = dnsFlows(await factsOf('nat-dnat-dns-upstream'))
    expect([query.kind, query.verdict, answer.kind, answer.verdict]).toEqual(['dns', 'indeterminate', 'dns-reply', 'indeterminate'])
    expect(query.description).toBe('DNS query to 192.168.122.1, sent on to 203.0.113.10')
    expect(query.hops.map((h) => [h.name, h.verdict]).filter(([name]) => ['routing', 'netfilter forward', 'NAT', 'resolver'].includes(name))).toEqual([
      ['routing', 'pass'],
      ['netfilter forward', 'pass'],
      ['NAT', 'pass'],
      ['resolver', 'indeterminate'],
    ])
    expect(query.hops.at(-1)?.detail).toBe(`${DNAT} sends kdlab-web01's DNS queries to 192.168.122.1 on to 203.0.113.10:53: whether a DNS server answers there is decided beyond the host`)
  })
  it('raises no block, only the low undecided finding', async () => {
    const facts = await factsOf('nat-dnat-dns-upstream')
    expect((await fire(blocked, facts)).names).toEqual([])
    const {evaluation} = await fire(indeterminate, facts)
    expect(evaluation.findings.map((f) => [f.severity, f.entity.name.startsWith(`resolver: ${DNAT}`)])).toEqual([['low', true]])
  })
  it("fails where the host itself stops the forwarded query (a FORWARD drop of DNS to the DNAT's target)", async () => {
    const facts = withIptablesRule(await factsOf('nat-dnat-dns-upstream'), 'filter', '-A FORWARD -d 203.0.113.10/32 -p udp -m udp --dport 53 -j DROP')
    const [query] = dnsFlows(facts)
    expect([query.verdict, query.decidedBy?.name, query.decidedBy?.element?.ruleText]).toEqual(['fail', 'netfilter forward', '-A FORWARD -d 203.0.113.10/32 -p udp -m udp --dport 53 -j DROP'])
    expect((await fire(blocked, facts)).names).toHaveLength(1)
  })
})
