import {describe, expect, it} from 'vitest'
import type {SysctlFacts} from '../../probes/sysctl.js'
import rule from '../../rules/iptables-forward-drop.js'
import type {NfRuleset} from '../../src/lib/netfilter.js'
import {alter, factsOf, fire, iptablesTables, withIptablesRule} from '../helpers.js'

describe('iptables-forward-drop', () => {
  it('fires for bridged guests behind FORWARD DROP with bridge-nf-call-iptables=1 (lab)', async () => {
    const {evaluation} = await fire(rule, await factsOf('bridged-forward-drop'))
    expect(evaluation.findings).toHaveLength(1)
    const f = evaluation.findings[0]
    expect(f.entity.kind).toBe('element')
    expect(f.evidence[0]).toBe('decided by: iptables -t filter chain FORWARD (hook forward, priority 0) policy drop')
    // Docker's chain is there: the accept goes where Docker leaves room for it. The drop meets only bridged frames
    // (br_netfilter): the accept is for frames in and out by the bridge, not for what the host would route from it.
    expect(f.fix).toEqual(['iptables -t filter -I DOCKER-USER -i kdlab-br0 -o kdlab-br0 -j ACCEPT'])
  })
  it("names the bridge's own nf_call_iptables as what hands its frames to FORWARD when the host-wide sysctl is 0 (lab)", async () => {
    const {evaluation} = await fire(rule, await factsOf('bridged-forward-drop-bridge-option'))
    expect(evaluation.findings).toHaveLength(1)
    const {evidence} = evaluation.findings[0]
    expect(evidence).toContain('bridge-nf-call-iptables = 0')
    expect(evidence).toContain('kdlab-br0: its own nf_call_iptables = 1 passes its frames to iptables (this applies, not the sysctl)')
    // Where the sysctl itself is on, there is no bridge switch to name.
    expect((await fire(rule, await factsOf('bridged-forward-drop'))).evaluation.findings[0].evidence.filter((l) => /own nf_call_iptables/.test(l))).toEqual([])
  })
  it("fires for an explicit REJECT ahead of libvirt's chains (lab), with narrow accepts before it as the fix", async () => {
    const {evaluation} = await fire(rule, await factsOf('forward-reject-subnet'))
    // The admin's REJECT stays: the guests' traffic is accepted before it, from and back to the network's subnet only
    // (as libvirt's LIBVIRT_FWO/FWI: a guest sending from another address stays refused).
    expect(evaluation.findings.map((f) => f.fix)).toEqual([
      ['iptables -t filter -I FORWARD 1 -s 192.168.122.0/24 -i virbr0 -j ACCEPT', 'iptables -t filter -I FORWARD 1 -d 192.168.122.0/24 -o virbr0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT'],
    ])
  })
  it("puts the accepts just before the drop, not at the chain's top: an admin's earlier drop of the guests' traffic to 10.0.0.0/8 keeps deciding, and the accepts let the blocked flow through", async () => {
    // The admin keeps the guests off an internal network (rule 1); the REJECT of the recording is rule 2.
    const earlier = '-A FORWARD -s 192.168.122.0/24 -d 10.0.0.0/8 -j DROP'
    const facts = withIptablesRule(await factsOf('forward-reject-subnet'), 'filter', earlier, 0)
    const {evaluation} = await fire(rule, facts)
    const fix = evaluation.findings.map((f) => f.fix)
    // At the top (-I FORWARD), they would take the guests' traffic to 10.0.0.0/8 past the admin's DROP.
    expect(fix).toEqual([
      ['iptables -t filter -I FORWARD 2 -s 192.168.122.0/24 -i virbr0 -j ACCEPT', 'iptables -t filter -I FORWARD 2 -d 192.168.122.0/24 -o virbr0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT'],
    ])
    // Applied as printed (each inserted as rule 2, the second above the first): the REJECT no longer stops the guests,
    // and the admin's DROP is still the chain's first rule.
    const applied = fix[0].reduce((f, line) => withIptablesRule(f, 'filter', line.replace(/^iptables -t filter -I FORWARD 2 /, '-A FORWARD '), 1), facts)
    expect((await fire(rule, applied)).evaluation.findings).toEqual([])
    const forward = (applied.results.netfilter as {data: NfRuleset}).data.tables.find((t) => t.backend === 'iptables-nft' && t.name === 'filter')!.chains.FORWARD
    expect(forward.rules[0].text).toBe(earlier)
  })
  it("for a chain's DROP policy, appends the accepts (every rule of the chain keeps deciding), or puts them before the chain's first RETURN, where what returns meets the policy", async () => {
    const healthy = withIptablesRule(await factsOf('healthy'), 'filter', '-A FORWARD -s 192.168.122.0/24 -d 10.0.0.0/8 -j DROP', 0)
    const policyDrop = (facts: typeof healthy) =>
      alter<NfRuleset>(facts, 'netfilter', (rs) => {
        const forward = rs.tables.find((t) => t.backend === 'iptables-nft' && t.name === 'filter')!.chains.FORWARD
        // libvirt's jumps gone (a flush by a script, the admin's rule put back): the policy decides.
        forward.rules = forward.rules.filter((r) => !/LIBVIRT_/.test(r.text))
        forward.base!.policy = 'drop'
      })
    const appended = (await fire(rule, policyDrop(healthy))).evaluation.findings.map((f) => f.fix)
    expect(appended).toEqual([['iptables -t filter -A FORWARD -s 192.168.122.0/24 -i virbr0 -j ACCEPT', 'iptables -t filter -A FORWARD -d 192.168.122.0/24 -o virbr0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT']])
    // A RETURN in the base chain (rule 2) sends what it matches to the policy: an accept appended after it would not be met.
    const returning = policyDrop(withIptablesRule(healthy, 'filter', '-A FORWARD -o eth0 -j RETURN', 1))
    expect((await fire(rule, returning)).evaluation.findings.map((f) => f.fix)).toEqual([
      ['iptables -t filter -I FORWARD 2 -s 192.168.122.0/24 -i virbr0 -j ACCEPT', 'iptables -t filter -I FORWARD 2 -d 192.168.122.0/24 -o virbr0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT'],
    ])
  })
  it("behind ufw's routed DROP, accepts the network's subnet by a ufw route rule and admits nothing new towards the guests", async () => {
    // ufw's chains jumped ahead of libvirt's, its forward default DROP (ufw-skip-to-policy-forward).
    let facts = alter<NfRuleset>(await factsOf('healthy'), 'netfilter', (rs) => {
      const filter = rs.tables.find((t) => t.backend === 'iptables-nft' && t.name === 'filter')!
      const ufw = iptablesTables('*filter\n:ufw-before-forward - [0:0]\n:ufw-skip-to-policy-forward - [0:0]\n-A ufw-before-forward -j ufw-skip-to-policy-forward\n-A ufw-skip-to-policy-forward -j DROP\nCOMMIT\n')[0]
      Object.assign(filter.chains, ufw.chains)
    })
    facts = withIptablesRule(facts, 'filter', '-A FORWARD -j ufw-before-forward')
    const {evaluation} = await fire(rule, facts)
    // ufw's before.rules accepts RELATED,ESTABLISHED itself; `ufw route allow out on virbr0` would admit new connections to the guests.
    expect(evaluation.findings.map((f) => f.fix)).toEqual([['ufw route allow in on virbr0 from 192.168.122.0/24']])
  })
  it('fires for a drop inside DOCKER-USER and for an ipset match (lab)', async () => {
    expect((await fire(rule, await factsOf('docker-user-drop'))).evaluation.findings[0].entity.name).toMatch(/DOCKER-USER -i virbr0 -j DROP/)
    expect((await fire(rule, await factsOf('ipset-forward-drop'))).evaluation.findings[0].entity.name).toMatch(/--match-set kdlab-block dst -j DROP/)
  })
  it("stays silent for NAT guests whose LIBVIRT_FWO accept comes first (lab: Docker's DROP policy, a full Docker ruleset)", async () => {
    expect((await fire(rule, await factsOf('docker-forward-drop-nat-ok'))).names).toEqual([])
    expect((await fire(rule, await factsOf('docker-style-healthy'))).names).toEqual([])
  })
  it('stays silent for bridged guests when bridge-nf-call-iptables is 0 (frames never meet iptables)', async () => {
    const facts = alter<SysctlFacts>(await factsOf('bridged-forward-drop'), 'sysctl', (s) => (s.values['net.bridge.bridge-nf-call-iptables'] = 0))
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('stays silent when a physdev-is-bridged ACCEPT comes first', async () => {
    const facts = withIptablesRule(await factsOf('bridged-forward-drop'), 'filter', '-A FORWARD -m physdev --physdev-is-bridged -j ACCEPT')
    expect((await fire(rule, facts)).names).toEqual([])
  })
  it('stays silent on the healthy host', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
})
