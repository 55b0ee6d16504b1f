import {describe, expect, it} from 'vitest'
import rule from '../../rules/guest-flow-indeterminate.js'
import type {SysctlFacts} from '../../probes/sysctl.js'
import type {Route} from '../../probes/routes.js'
import type {NetfilterFacts} from '../../probes/netfilter.js'
import type {TcFacts} from '../../probes/tc.js'
import {parseNftJsonIR} from '../../probes/netfilter/nft-json.js'
import {alter, factsOf, fire, fireAll, withIptablesRule, withProbeData} from '../helpers.js'
import {fireInbound, healthy, withForward} from '../inbound.js'
import portForwardBlocked from '../../rules/port-forward-blocked.js'

describe('guest-flow-indeterminate', () => {
  it("fires, low and with nothing to run, for a network that serves no DNS (lab network-dns-disabled: the guest's DNS failed while kvmdoctor followed none and said OK)", async () => {
    const {evaluation} = await fire(rule, await factsOf('network-dns-disabled'))
    expect(evaluation.findings.map((f) => [f.entity.name, f.severity, f.fix])).toEqual([["network kdlab-nodns: <dns enable='no'/>", 'low', []]])
    expect(evaluation.findings[0].summary).toContain('which server kdlab-nodns01 asks (one configured in the guest, if any) is not seen from the host')
  })
  it('fires for a drop that depends on a random mark (lab), naming the rule and both outcomes', async () => {
    const {evaluation} = await fire(rule, await factsOf('mark-random-drop'))
    expect(evaluation.findings).toHaveLength(1)
    expect(evaluation.findings[0].evidence.join('\n')).toMatch(/statistic.*if it matches, .*; if not, /s)
  })
  it('a rule marking half the forwarded packets, which are then dropped (lab: mark-random-drop), is an intermittent failure: high, not low', async () => {
    const {evaluation} = await fire(rule, await factsOf('mark-random-drop'))
    expect(evaluation.findings[0]).toMatchObject({severity: 'high', title: expect.stringMatching(/dropped intermittently/)})
  })
  it("a netem qdisc losing 30% at random on a guest's tap (tc-tap-tbf-burst's tbf made a netem) is a known, intermittent loss: high, its qdisc removed; a loss model not read stays low", async () => {
    const recorded = await factsOf('tc-tap-tbf-burst')
    const netem = (options: Record<string, unknown>) =>
      alter<TcFacts>(recorded, 'tc', (tc) => Object.assign(tc.qdiscs.find((q) => q.kind === 'tbf')!, {kind: 'netem', options}))
    const {evaluation} = await fire(rule, netem({limit: 1000, 'loss-random': {loss: 0.3, correlation: 0}, ecn: false, gap: 0}))
    expect(evaluation.findings).toHaveLength(1)
    expect(evaluation.findings[0]).toMatchObject({severity: 'high', title: expect.stringMatching(/dropped intermittently .*loss 30%/), fix: ['tc qdisc del dev vnet0 root']})
    const gemodel = (await fire(rule, netem({limit: 1000, 'loss-gemodel': {p: 0.1, r: 0.9}}))).evaluation.findings
    expect(gemodel.map((f) => [f.severity, f.fix])).toEqual([['low', []]])
  })
  it('a rule that cannot be told for want of a fact (a mark set outside the path) stays low: not a chance drop', async () => {
    const {evaluation} = await fire(rule, await factsOf('iptables-nft-incompatible'))
    expect(evaluation.findings.map((f) => f.severity)).not.toContain('high')
  })
  it("rp_filter unreadable on the other uplinks (lab: rp-filter-asymmetric with conf/all's 1 unread): the reply's arrival stays undecided, never a pass", async () => {
    const unread = alter<SysctlFacts>(await factsOf('rp-filter-asymmetric'), 'sysctl', (s) => {
      delete s.values['net.ipv4.conf.all.rp_filter']
      s.unreadable['net.ipv4.conf.all.rp_filter'] = 'permission denied'
    })
    const {evaluation} = await fire(rule, unread)
    expect(evaluation.findings).toHaveLength(1)
    expect(evaluation.findings[0].summary).toMatch(/by eth0 or kdlab-rp0, rp_filter \(net\.ipv4\.conf\.all\.rp_filter could not be read\) may drop it/)
  })
  it('stays silent on the healthy host and where rate limits do not change the outcome (ufw)', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
    expect((await fire(rule, await factsOf('ufw-style-healthy'))).names).toEqual([])
  })
  it("on a table iptables cannot print (lab), names the rule in nft's words, with no counters, and lists its chain with nft", async () => {
    const {evaluation} = await fire(rule, await factsOf('iptables-nft-incompatible'))
    expect(evaluation.findings.length).toBeGreaterThan(0)
    for (const f of evaluation.findings) {
      expect(f.entity.name).toMatch(/^nft ip filter chain \S+: .* \(handle \d+\)$/)
      expect(f.entity.name).not.toMatch(/packets \d+|bytes \d+/)
      expect(f.fix).toEqual([])
      expect(f.check?.at(-1)).toMatch(/^nft -a list chain ip filter \S+$/)
    }
  })
  describe("the bridge's own layer (lab, red team 2): what stops a guest there is never a pass", () => {
    it('a tap that neither learns nor floods unknown unicast, its learned entry gone, read without the fdb (a recording made before kvmdoctor read it): the frames to the guest are undecided on its port, none passes', async () => {
      const facts = withProbeData(await factsOf('tap-unicast-flood-off'), 'fdb', {entries: [], notRead: 'bridge -j fdb show: not recorded in this snapshot'})
      const {evaluation} = await fire(rule, facts)
      expect(evaluation.findings.map((f) => f.entity.name)).toEqual([expect.stringMatching(/^bridge link: vnet\d+ learning off flood off$/)])
      expect(evaluation.findings[0].summary).toMatch(/the fdb is not in this recording/)
    })
    it('ARP off on the bridge (the guests kept working on their caches): high, intermittent, with ARP put back on as the fix', async () => {
      const {evaluation} = await fire(rule, await factsOf('bridge-arp-off'))
      expect(evaluation.findings).toHaveLength(1)
      expect(evaluation.findings[0]).toMatchObject({severity: 'high', title: expect.stringMatching(/dropped intermittently at ARP for 192\.168\.122\.1/), fix: ['ip link set virbr0 arp on']})
    })
    it("an arp chain's drop on the bridge: high, intermittent, the admin's rule deleted by handle; the IP input rule (host-input-blocks-dhcp-dns) does not take an arp chain", async () => {
      const facts = await factsOf('nft-arp-input-drop')
      const {evaluation} = await fire(rule, facts)
      expect(evaluation.findings).toHaveLength(1)
      expect(evaluation.findings[0]).toMatchObject({severity: 'high', fix: ['nft delete rule arp kdlab_arp in handle 2']})
      expect((await fireAll(facts)).ids).not.toContain('host-input-blocks-dhcp-dns')
    })
    it("stays silent on a static fdb entry the bridge moves back with the guest's next frame, and on a tidy host's counting bridge and arp tables, MSS clamp, rate-limited LOG and a port that floods without learning (web01 measured everything ok)", async () => {
      expect((await fire(rule, await factsOf('fdb-static-wrong-port'))).names).toEqual([])
      // An arp table that only counts once made every guest flow undecided ("arp chains are not evaluated").
      expect((await fire(rule, await factsOf('healthy-harmless-extras'))).names).toEqual([])
    })
  })
  describe('published ports (red team 3): an inbound round trip the host cannot decide is never an OK', () => {
    it("a DNAT whose only accept waits for a port knock (-m recent): the forward's inbound flow is undecided and this rule names the accept; port-forward-blocked stays silent (nothing failed)", async () => {
      const {facts, web} = await healthy()
      const knock = withIptablesRule(withForward(facts, web, false), 'filter', `-A FORWARD -d ${web}/32 -o virbr0 -p tcp -m tcp --dport 80 -m recent --rcheck --seconds 30 --name knock -j ACCEPT`)
      const {findings} = await fireInbound(rule, knock)
      expect(findings).toHaveLength(1)
      expect(findings[0].entity.name).toMatch(/-m recent --rcheck/)
      expect(findings[0].evidence.join('\n')).toMatch(/kdlab-web01 inbound: /)
      expect(findings[0].fix).toEqual([])
      expect(findings[0].check?.[0]).toBe('kvmdoctor trace --inbound 198.51.100.1:8080/tcp')
      expect((await fireInbound(portForwardBlocked, knock)).findings).toEqual([])
    })
    it('stays silent for the same forward with a plain accept ahead of libvirt (every inbound flow passes)', async () => {
      const {facts, web} = await healthy()
      expect((await fireInbound(rule, withForward(facts, web))).findings).toEqual([])
    })
  })
  describe('a multipath route to the internet (red team 4): the kernel hashes each flow onto one next hop', () => {
    /** The lab host with its route to the lab internet spread over kdlab-up0 and eth0 (ip route ... nexthop ... nexthop ...). */
    const multipath = async () =>
      alter<Route[]>(await factsOf('healthy'), 'routes', (routes) => {
        const r = routes.find((x) => x.dst === '203.0.113.10' && x.dev === 'kdlab-up0')!
        r.nexthops = [{gateway: r.gateway, dev: r.dev}, {gateway: '192.0.2.1', dev: 'eth0'}]
        delete r.gateway
        delete r.dev
      })
    it("a forward drop on one next hop only: high (the guests whose flows hash there are cut off), never the first next hop's OK; the fix is the narrow accept, not the admin's rule deleted", async () => {
      const {evaluation} = await fireAll(withIptablesRule(await multipath(), 'filter', '-A FORWARD -o eth0 -j DROP'))
      const found = evaluation.findings.filter((f) => f.id === 'guest-flow-indeterminate')
      expect(found).toHaveLength(1)
      expect(found[0]).toMatchObject({severity: 'high', entity: {name: 'iptables -t filter -A FORWARD -o eth0 -j DROP'}})
      expect(found[0].summary).toMatch(/via kdlab-up0 gw 198\.51\.100\.2 the request passes; via eth0 gw 192\.0\.2\.1 the request fails at netfilter forward/)
      expect(found[0].fix).toEqual(['iptables -t filter -I FORWARD 1 -s 192.168.122.0/24 -i virbr0 -j ACCEPT', 'iptables -t filter -I FORWARD 1 -d 192.168.122.0/24 -o virbr0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT'])
    })
    it('both next hops passing: no finding (no false alarm for ECMP on purpose)', async () => {
      expect((await fire(rule, await multipath())).names).toEqual([])
    })
  })
  describe("a mark set in one table and dropped on in another's forward chain (red team 4: both said OK; the guests' egress is dropped)", () => {
    /** The healthy recording with an nft table (nft 1.0.6's own JSON listing of it) added. */
    const withTable = async (json: string) => alter<NetfilterFacts>(await factsOf('healthy'), 'netfilter', (nf) => nf.tables.push(...parseNftJsonIR(json).tables))
    const chains = (mark: string) =>
      `{"nftables": [{"table": {"family": "inet", "name": "adm", "handle": 1}}, {"chain": {"family": "inet", "table": "adm", "name": "p", "handle": 1, "type": "filter", "hook": "prerouting", "prio": -150, "policy": "accept"}}, {"chain": {"family": "inet", "table": "adm", "name": "f", "handle": 2, "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"}}, {"rule": {"family": "inet", "table": "adm", "chain": "p", "handle": 4, "expr": [{"mangle": {"key": {"meta": {"key": "mark"}}, "value": ${mark}}}]}}, {"rule": {"family": "inet", "table": "adm", "chain": "f", "handle": 5, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "mark"}}, "right": 1}}, {"drop": null}]}}]}`
    it('from a map of the source address (meta mark set ip saddr map { 192.168.122.0/24 : 0x1 }): the entry is looked up, the egress fails at the drop', async () => {
      const {evaluation} = await fireAll(await withTable(chains('{"map": {"key": {"payload": {"protocol": "ip", "field": "saddr"}}, "data": {"set": [[{"prefix": {"addr": "192.168.122.0", "len": 24}}, 1]]}}}')))
      expect(evaluation.findings.filter((f) => f.severity === 'critical').map((f) => `${f.id} ${f.entity.name}`)).toEqual(['nft-forward-drop nft inet adm chain f: meta mark 1 drop (handle 5)'])
    })
    it('from numgen (meta mark set numgen inc mod 2): the mark is not computed, so the drop is undecided, never skipped as if the mark were still 0', async () => {
      const {evaluation} = await fire(rule, await withTable(chains('{"numgen": {"mode": "inc", "mod": 2, "offset": 0}}')))
      expect(evaluation.findings.map((f) => f.entity.name)).toEqual(['nft inet adm chain f: meta mark 1 drop (handle 5)'])
      expect(evaluation.findings[0].evidence.join('\n')).toMatch(/if it matches, dropped by nft inet adm f: meta mark 1 drop; if not, passes/)
    })
  })
})
