import {describe, expect, it} from 'vitest'
import rule from '../../rules/port-forward-blocked.js'
import type {NfRuleset} from '../../src/lib/netfilter.js'
import {alter, factsOf, withIptablesRule} from '../helpers.js'
import {HOST, fireInbound, healthy, withForward} from '../inbound.js'

describe('port-forward-blocked', () => {
  it("fires for a DNAT without an accept ahead of libvirt's reject: the narrowest accept before it, libvirt's reject kept", async () => {
    const {facts, web} = await healthy()
    const {findings} = await fireInbound(rule, withForward(facts, web, false))
    expect(findings).toHaveLength(1)
    const f = findings[0]
    expect(f.entity).toEqual({kind: 'forward', name: `tcp ${HOST}:8080 -> ${web}:80`})
    expect(f.evidence[0]).toBe('decided by: iptables -t filter -A LIBVIRT_FWI -o virbr0 -j REJECT --reject-with icmp-port-unreachable')
    expect(f.fix).toEqual([`iptables -I FORWARD 1 -d ${web}/32 -o virbr0 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT -j ACCEPT`])
    expect(f.fix.join('\n')).not.toMatch(/ -D | -F |-P FORWARD|delete/)
  })

  it('fires when the accept sits after libvirt\'s jumps (too late), with the same fix', async () => {
    const {facts, web} = await healthy()
    const late = withIptablesRule(withForward(facts, web, false), 'filter', `-A FORWARD -d ${web}/32 -o virbr0 -p tcp -m tcp --dport 80 -j ACCEPT`, 99)
    expect((await fireInbound(rule, late)).findings.map((f) => f.fix)).toEqual([[`iptables -I FORWARD 1 -d ${web}/32 -o virbr0 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT -j ACCEPT`]])
  })

  it("fires for a DNAT that matches only another device than the outside's: the rule does not catch it", async () => {
    const {facts, web} = await healthy()
    const elsewhere = withForward(facts, web, true, `-A PREROUTING -i eth0 -d ${HOST}/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination ${web}:80`)
    // The forward names eth0: the outside it means arrives there (eth0's own side), and the DNAT applies.
    expect((await fireInbound(rule, elsewhere)).findings).toEqual([])
    const {findings} = await fireInbound(rule, alter<NfRuleset>(elsewhere, 'netfilter', () => {}), [])
    expect(findings).toEqual([])
  })

  it('fires for a --publish nothing forwards', async () => {
    const {facts} = await healthy()
    const {findings} = await fireInbound(rule, facts, [{guest: 'kdlab-web01', port: 443, proto: 'tcp'}])
    expect(findings.map((f) => f.evidence[0])).toEqual([`decided by: nothing forwards tcp ${HOST}:443 to kdlab-web01 (--publish kdlab-web01:443/tcp)`])
  })

  it('fires behind a ufw-managed FORWARD (its routed default DROP): a ufw route rule, not a deleted policy', async () => {
    const {facts, web} = await healthy()
    // ufw's chains jumped first (as ufw-style-dhcp-drop), FORWARD policy DROP: libvirt never sees the packet.
    let ufw = withForward(facts, web, false)
    ufw = alter<NfRuleset>(ufw, 'netfilter', (rs) => (rs.tables.find((t) => t.backend === 'iptables-nft' && t.name === 'filter')!.chains.FORWARD.base!.policy = 'drop'))
    ufw = withIptablesRule(ufw, 'filter', '-A FORWARD -j ufw-before-forward')
    const {findings} = await fireInbound(rule, alter<NfRuleset>(ufw, 'netfilter', (rs) => {
      const filter = rs.tables.find((t) => t.backend === 'iptables-nft' && t.name === 'filter')!
      filter.chains['ufw-before-forward'] = {backend: 'iptables-nft', family: 'ip', table: 'filter', name: 'ufw-before-forward', rules: [{ref: {backend: 'iptables-nft', family: 'ip', table: 'filter', chain: 'ufw-before-forward', index: 0}, text: '-A ufw-before-forward -j ufw-skip-to-policy-forward', exprs: [{kind: 'jump', target: 'ufw-skip-to-policy-forward'}]}]}
      filter.chains['ufw-skip-to-policy-forward'] = {backend: 'iptables-nft', family: 'ip', table: 'filter', name: 'ufw-skip-to-policy-forward', rules: [{ref: {backend: 'iptables-nft', family: 'ip', table: 'filter', chain: 'ufw-skip-to-policy-forward', index: 0}, text: '-A ufw-skip-to-policy-forward -j DROP', exprs: [{kind: 'verdict', verdict: 'drop'}]}]}
    }))
    expect(findings.map((f) => f.fix)).toEqual([[`ufw route allow proto tcp from any to ${web} port 80`]])
  })

  it("judges an accept by the connection's original destination (-m conntrack --ctorigdst/--ctorigdstport, the address and port published): it passes the port it names, not another one (it used to be undecided)", async () => {
    const {facts, web} = await healthy()
    const byOrig = (port: number) => withIptablesRule(withForward(facts, web, false), 'filter', `-A FORWARD -p tcp -m conntrack --ctorigdst ${HOST} --ctorigdstport ${port} -j ACCEPT`)
    expect((await fireInbound(rule, byOrig(8080))).findings).toEqual([])
    const {findings} = await fireInbound(rule, byOrig(9090))
    expect(findings.map((f) => f.evidence[0])).toEqual(['decided by: iptables -t filter -A LIBVIRT_FWI -o virbr0 -j REJECT --reject-with icmp-port-unreachable'])
  })

  it("a forward to an address no guest holds, dropped before its DNAT (lab: inbound-dnat-stale plus a legacy prerouting drop): says what is there, never an empty guest", async () => {
    const recorded = withIptablesRule(await factsOf('inbound-dnat-stale'), 'mangle', '-A PREROUTING -i kdlab-up0 -p tcp -m tcp --dport 8080 -j DROP', 0, 'iptables-legacy')
    const [f] = (await fireInbound(rule, recorded)).findings
    expect(f.title).toBe(`The published port tcp ${HOST}:8080 -> 192.168.122.250:80 does not reach 192.168.122.250 (no guest holds it): netfilter prerouting`)
    expect(f.summary).toContain('is meant for 192.168.122.250:80, which no guest holds, but its inbound flow stops')
    expect(`${f.title} ${f.summary}`).not.toMatch(/\bnone\b|\(\)/)
  })

  it('a drop before the DNAT (mangle PREROUTING) gets an accept in that chain and table, by the published address and port, that the round trip then passes', async () => {
    const {facts, web} = await healthy()
    const dropped = withIptablesRule(withForward(facts, web, true), 'mangle', '-A PREROUTING -p tcp -m tcp --dport 8080 -j DROP')
    const {findings} = await fireInbound(rule, dropped)
    // Not FORWARD's words (-o, the guest's address, ctstate DNAT): none of them holds in prerouting before the DNAT.
    expect(findings.map((f) => f.fix)).toEqual([[`iptables -t mangle -I PREROUTING 1 -d ${HOST}/32 -p tcp -m tcp --dport 8080 -j ACCEPT`]])
    const fixed = withIptablesRule(dropped, 'mangle', `-A PREROUTING -d ${HOST}/32 -p tcp -m tcp --dport 8080 -j ACCEPT`)
    expect((await fireInbound(rule, fixed)).findings).toEqual([])
  })

  it("the accept goes just before the drop, not at the chain's top: a blocklist before it (-s 198.18.0.0/15 -j DROP) keeps the published port closed to that network", async () => {
    const {facts, web} = await healthy()
    const blocklist = '-A PREROUTING -s 198.18.0.0/15 -j DROP'
    const dropped = withIptablesRule(withIptablesRule(withForward(facts, web, true), 'mangle', '-A PREROUTING -p tcp -m tcp --dport 8080 -j DROP'), 'mangle', blocklist, 0)
    const {findings} = await fireInbound(rule, dropped)
    // At the top (-I PREROUTING), the accept would let the blocklisted network reach the guest's port.
    expect(findings.map((f) => f.fix)).toEqual([[`iptables -t mangle -I PREROUTING 2 -d ${HOST}/32 -p tcp -m tcp --dport 8080 -j ACCEPT`]])
    const fixed = withIptablesRule(dropped, 'mangle', `-A PREROUTING -d ${HOST}/32 -p tcp -m tcp --dport 8080 -j ACCEPT`, 1)
    expect((await fireInbound(rule, fixed)).findings).toEqual([])
  })

  it('stays silent for a forward with its accept ahead of libvirt (the round trip from outside passes)', async () => {
    const {facts, web} = await healthy()
    expect((await fireInbound(rule, withForward(facts, web))).findings).toEqual([])
  })

  it('stays silent on a host without forwards', async () => {
    const {facts} = await healthy()
    const {findings, evaluation} = await fireInbound(rule, facts)
    expect(findings).toEqual([])
    expect(evaluation.checked.filter((c) => c.ruleId === rule.id)).toEqual([])
  })
})
