import {describe, expect, it} from 'vitest'
import rule from '../../rules/guest-flow-blocked.js'
import {ALL_RULES} from '../../rules/index.js'
import {ownershipOf} from '../../rules/kit.js'
import type {Element} from '../../src/datapath/elements.js'
import {renderSteps} from '../../src/lib/fix.js'
import {type Facts, alter, factsOf, fire, fireAll, withIptablesRule, withProbeData} from '../helpers.js'
import type {Link} from '../../probes/links.js'
import type {BridgeVlanFacts} from '../../probes/bridge-vlan.js'
import type {NfRuleset} from '../../src/lib/netfilter.js'
import type {FdbFacts} from '../../probes/fdb.js'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import {dataOf} from '../../probes/types.js'

describe('guest-flow-blocked', () => {
  it('fires for a RETURN that keeps packets from the MASQUERADE (lab), with that rule deleted as the fix', async () => {
    const {evaluation} = await fire(rule, await factsOf('nat-return-before-libvirt'))
    expect(evaluation.findings).toHaveLength(1)
    expect(evaluation.findings[0].fix).toEqual([expect.stringMatching(/^iptables -t nat -D POSTROUTING -s 192\.168\.122\.0\/24 -j RETURN/)])
  })
  it('fires for forwarding switched off on the bridge alone (lab)', async () => {
    const {evaluation} = await fire(rule, await factsOf('bridge-forwarding-off'))
    expect(evaluation.findings.map((f) => f.fix)).toEqual([['sysctl -w net.ipv4.conf.virbr0.forwarding=1']])
  })
  it("fires for the guest's tap set down and for its NIC's link held down by libvirt (lab)", async () => {
    expect((await fire(rule, await factsOf('tap-admin-down'))).evaluation.findings[0].fix[0]).toMatch(/^ip link set vnet\d+ up$/)
    expect((await fire(rule, await factsOf('domif-link-down'))).evaluation.findings[0].fix[0]).toMatch(/^virsh domif-setlink kdlab-web01 vnet\d+ up$/)
  })
  it("fires for a bridge chain's drop of the guest's MAC (lab: web01 measured nothing), the admin's rule deleted: not the IP input accept, which names the bridge where the bridge family sees ports", async () => {
    const facts = await factsOf('nft-bridge-input-drop')
    const {evaluation} = await fire(rule, facts)
    expect(evaluation.findings.map((f) => [f.entity.name, f.fix])).toEqual([['nft bridge kdlab_br chain in: ether saddr 52:54:00:6b:64:01 drop (handle 2)', ['nft delete rule bridge kdlab_br in handle 2']]])
    expect((await fireAll(facts)).ids).not.toContain('host-input-blocks-dhcp-dns')
  })
  it("fires for libvirt's nwfilter pinned to an address the guest does not use (lab: nwf02 measured DHCP only), with no fix (libvirt's chain) and a note naming the filter; not on a clean-traffic guest that uses its own address", async () => {
    const {evaluation} = await fire(rule, await factsOf('nwfilter-ip-stale'))
    expect(evaluation.findings.map((f) => f.entity.name)).toEqual([expect.stringMatching(/^nft bridge nat chain I-vnet\d+-ipv4-ip: counter drop \(handle \d+\)$/)])
    expect(evaluation.findings[0].fix).toEqual([])
    expect(evaluation.findings[0].note).toEqual([expect.stringMatching(/^I-vnet\d+-ipv4-ip is libvirt's nwfilter for vnet\d+ \(the domain's <filterref>\)/)])
    expect((await fire(rule, await factsOf('nwfilter-clean-traffic'))).evaluation.findings).toEqual([])
  })
  it("owns the layer-3 rules of a guest's nwfilter too (lab: nwf03's filter drops its TCP to port 80 in FI-vnetN on forward, nwf04's DNS in HI-vnetN on input): no fix, the note names the filter; neither the FORWARD rule nor the INPUT rule claims libvirt's chain", async () => {
    for (const [name, chain] of [['nwfilter-tcp-out-drop', 'FI'], ['nwfilter-dns-out-drop', 'HI']]) {
      const facts = await factsOf(name)
      const {evaluation} = await fire(rule, facts)
      expect(evaluation.findings.map((f) => f.entity.name), name).toEqual([expect.stringMatching(new RegExp(`^iptables -t filter -A ${chain}-vnet\\d+ -p (tcp -m tcp|udp -m udp) --dport (80|53) -j DROP$`))])
      expect(evaluation.findings[0].fix).toEqual([])
      expect(evaluation.findings[0].note).toEqual([expect.stringMatching(new RegExp(`^${chain}-vnet\\d+ is libvirt's nwfilter for vnet\\d+ \\(the domain's <filterref>\\)`))])
      const all = await fireAll(facts)
      expect(all.ids, name).not.toContain('iptables-forward-drop')
      expect(all.ids, name).not.toContain('host-input-blocks-dhcp-dns')
    }
  })
  it("a bridge that filters by VLAN: a recording without the VLAN read stays not checked, never passed; with it, a tap outside the bridge device's VLAN is the deciding element (no fix: which VLAN is meant is the admin's choice)", async () => {
    const filtering = alter<Link[]>(await factsOf('healthy'), 'links', (links) => {
      links.find((l) => l.name === 'virbr0')!.bridge!.vlanFiltering = true
    })
    const old = await fireAll(filtering)
    expect(old.ids).not.toContain('guest-flow-blocked')
    expect(old.evaluation.findings.find((f) => f.id === 'guest-flow-indeterminate')?.entity.name).toBe('bridge virbr0: vlan_filtering 1')
    const tap = dataOf<Link[]>(filtering.results.links)!.find((l) => l.master === 'virbr0')!.name
    const vlans: BridgeVlanFacts = {ports: {virbr0: [{from: 1, to: 1, pvid: true, untagged: true}], [tap]: [{from: 10, to: 10, pvid: true, untagged: true}]}}
    const {evaluation} = await fire(rule, withProbeData(filtering, 'bridge-vlan', vlans))
    expect(evaluation.findings.map((f) => [f.entity.name, f.fix])).toEqual([['bridge vlan: virbr0 lacks VLAN 10, the VLAN the guests send in', []]])
    expect(evaluation.findings[0].note).toEqual([expect.stringMatching(/^check bridge vlan show: the guest's tap and virbr0 \(the bridge device, self\) must share a VLAN/)])
  })
  describe("the bridge's fdb (lab)", () => {
    it("a sticky entry for web01's MAC on another port (web01 measured nothing): every frame to it fails at that entry, printed as the evidence, deleted as the fix", async () => {
      const facts = await factsOf('fdb-sticky-wrong-port')
      const {evaluation} = await fire(rule, facts)
      expect(evaluation.findings).toHaveLength(1)
      const f = evaluation.findings[0]
      expect(f.entity.name).toBe('bridge fdb: 52:54:00:6b:64:01 dev kdlab-fdb0 sticky master virbr0 static')
      expect(f.evidence[0]).toBe('decided by: bridge fdb: 52:54:00:6b:64:01 dev kdlab-fdb0 sticky master virbr0 static')
      expect(f.evidence.join('\n')).toMatch(/dhcp-reply/)
      expect(f.fix).toEqual(['bridge fdb del 52:54:00:6b:64:01 dev kdlab-fdb0 master'])
    })
    it('a tap that neither learns nor floods unknown unicast, its learned entry gone (web01 measured nothing): no entry names its port, so every unicast frame to web01 fails there; learning back on is the fix', async () => {
      const {evaluation} = await fire(rule, await factsOf('tap-unicast-flood-off'))
      expect(evaluation.findings.map((f) => [f.entity.name, f.fix])).toEqual([[expect.stringMatching(/^bridge link: vnet\d+ learning off flood off$/), [expect.stringMatching(/^bridge link set dev vnet\d+ learning on$/)]]])
      for (const kind of ['dhcp-reply', 'dns-reply', 'egress-reply']) expect(evaluation.findings[0].evidence.join('\n'), kind).toContain(`kdlab-web01 ${kind}:`)
    })
    it('flood and learning off: a static entry for the guest on its port lets its frames in, one tied to a VLAN does not on a bridge without VLAN filtering (its lookups are in VLAN 0)', async () => {
      const facts = await factsOf('tap-unicast-flood-off')
      const fdb = facts.results.fdb.ok ? (facts.results.fdb.data as FdbFacts) : undefined
      expect(fdb?.entries.some((e) => e.mac === '52:54:00:6b:64:01')).toBe(false)
      const tap = dataOf<LibvirtFacts>(facts.results.libvirt)!.domains.find((d) => d.name === 'kdlab-web01')!.interfaces[0].target!
      const withEntry = (vlan?: number) => alter<FdbFacts>(facts, 'fdb', (d) => d.entries.push({mac: '52:54:00:6b:64:01', dev: tap, bridge: 'virbr0', state: 'static', ...(vlan ? {vlan} : {})}))
      const blocked = async (f: Facts) => (await fire(rule, f)).evaluation.findings.map((x) => x.entity.name)
      expect(await blocked(withEntry())).toEqual([])
      expect(await blocked(withEntry(10))).toEqual([expect.stringMatching(/^bridge link: vnet\d+ learning off flood off$/)])
    })
    it("a static entry there that the bridge moves back with the guest's next frame (web01 measured everything ok): nothing, wherever the entry was when read", async () => {
      const facts = await factsOf('fdb-static-wrong-port')
      // The bridge had moved it back to web01's port before kvmdoctor looked.
      const web01 = (f: Facts) => (f.results.fdb.ok ? (f.results.fdb.data as FdbFacts).entries : []).filter((e) => e.mac === '52:54:00:6b:64:01')
      expect(web01(facts)).toEqual([{mac: '52:54:00:6b:64:01', dev: expect.stringMatching(/^vnet\d+$/), bridge: 'virbr0', state: 'static'}])
      const guestFlows = async (f: Facts) => (await fireAll(f)).ids.filter((id) => id.startsWith('guest-flow'))
      expect(await guestFlows(facts)).toEqual([])
      // Still on the veth, as it was injected: the tap learns, so it passes; made sticky there, it fails.
      const onVeth = (sticky: boolean) => alter<FdbFacts>(facts, 'fdb', (d) => (d.entries = d.entries.map((e) => (e.mac === '52:54:00:6b:64:01' ? {...e, dev: 'kdlab-fdb0', ...(sticky ? {sticky: true as const} : {})} : e))))
      expect(await guestFlows(onVeth(false))).toEqual([])
      expect(await guestFlows(onVeth(true))).toEqual(['guest-flow-blocked'])
    })
    it('the fdb unread on the sticky host: no finding of the entry, the flows to web01 undecided (never passed) and the run not OK', async () => {
      const facts = await factsOf('fdb-sticky-wrong-port')
      const unread = {...facts, results: {...facts.results, fdb: {id: 'fdb', ok: false as const, error: 'bridge -j fdb show: exit 1: permission denied', durationMs: 0}}}
      const {ids, evaluation} = await fireAll(unread)
      expect(ids).not.toContain('guest-flow-blocked')
      expect(evaluation.findings.find((x) => x.id === 'guest-flow-indeterminate')?.entity.name).toBe('bridge fdb show: not read (bridge -j fdb show: exit 1: permission denied)')
    })
  })
  it('stays silent on the healthy host', async () => {
    expect((await fire(rule, await factsOf('healthy'))).names).toEqual([])
  })
  it('stays silent where a catalogue pattern names the element (ip_forward off, MASQUERADE deleted, tap detached)', async () => {
    for (const name of ['ip-forward-off', 'masquerade-removed', 'tap-detached']) {
      const {ids} = await fireAll(await factsOf(name))
      expect(ids, name).not.toContain('guest-flow-blocked')
    }
  })
})

describe('the undo of the round trip\'s elements, from the rule that owns each kind (as the datapath once wrote them)', () => {
  const undo = (el: Element) => renderSteps(ownershipOf(ALL_RULES, el)[0]?.ownership.undo(el) ?? [])
  it('bridge port flags, a permanent neighbour entry, a bridge answering no ARP, a port too small for its bridge', () => {
    // A locked port (802.1X) is not unlocked: that admits every MAC on it; the note says where to authorize the guest.
    expect(undo({id: 'port:vnet0 locked', kind: 'bridge-port', text: '', device: 'vnet0', portFlag: 'locked'})).toEqual([])
    expect(undo({id: 'port:vnet0 bcast_flood', kind: 'bridge-port', text: '', device: 'vnet0', portFlag: 'bcast_flood'})).toEqual(['bridge link set dev vnet0 bcast_flood on'])
    expect(undo({id: 'neigh:eth0 10.0.0.1', kind: 'neighbour', text: '', device: 'eth0', address: '10.0.0.1', permanent: true})).toEqual(['ip neigh del 10.0.0.1 dev eth0'])
    // A neighbour that did not answer is nothing to delete.
    expect(undo({id: 'neigh:eth0 10.0.0.1', kind: 'neighbour', text: '', device: 'eth0', address: '10.0.0.1'})).toEqual([])
    const arp = 'net.ipv4.conf.virbr0.arp_ignore'
    expect(undo({id: `sysctl:${arp}`, kind: 'sysctl', text: '', sysctl: {key: arp, value: 8}, device: 'virbr0'})).toEqual([`sysctl -w ${arp}=0`])
    expect(undo({id: 'mtu:virbr0', kind: 'link', text: '', device: 'vnet0', master: 'virbr0', mtu: 1500})).toEqual(['ip link set vnet0 mtu 1500'])
    // A link down stays link-down's; one set up without carrier is not fixed by setting it up again (a no-op printed as a fix).
    expect(undo({id: 'link:vnet0', kind: 'link', text: '', device: 'vnet0', state: 'down'})).toEqual(['ip link set vnet0 up'])
    expect(undo({id: 'link:eth1', kind: 'link', text: '', device: 'eth1', state: 'no-carrier'})).toEqual([])
  })
  it("routes: one made to refuse is deleted by its type; the kernel's local route of a host address never is (it took the bridge's own address: trace --to 192.168.122.1 printed its deletion)", () => {
    expect(undo({id: 'route:main 192.168.122.128/25', kind: 'route', text: '', route: {type: 'blackhole', dst: '192.168.122.128/25', table: 'main'}})).toEqual(['ip route del blackhole 192.168.122.128/25'])
    expect(undo({id: 'route:local 192.168.122.1', kind: 'route', text: '', route: {type: 'local', dst: '192.168.122.1', table: 'local'}})).toEqual([])
    expect(undo({id: 'route:local 192.168.122.255', kind: 'route', text: '', route: {type: 'broadcast', dst: '192.168.122.255', table: 'local'}})).toEqual([])
  })
  it("an fdb entry: deleted from the bridge's table (master) on a port, from the device itself on the bridge; an fdb not read is nothing to undo", () => {
    const mac = '52:54:00:00:00:01'
    expect(undo({id: `fdb:virbr0 ${mac}`, kind: 'bridge-fdb', text: '', device: 'veth9', master: 'virbr0', fdb: {mac}})).toEqual([`bridge fdb del ${mac} dev veth9 master`])
    expect(undo({id: `fdb:virbr0 ${mac}`, kind: 'bridge-fdb', text: '', device: 'virbr0', master: 'virbr0', fdb: {mac}})).toEqual([`bridge fdb del ${mac} dev virbr0`])
    expect(undo({id: `fdb:br0 ${mac} vlan 10`, kind: 'bridge-fdb', text: '', device: 'veth9', master: 'br0', fdb: {mac, vlan: 10}})).toEqual([`bridge fdb del ${mac} dev veth9 master vlan 10`])
    expect(undo({id: 'fdb:not-read', kind: 'bridge-fdb', text: ''})).toEqual([])
  })
  it('tc qdiscs and filters; tc not read is nothing to undo', () => {
    expect(undo({id: 'tc-qdisc:eth0 1:', kind: 'tc-qdisc', text: '', device: 'eth0', tcQdisc: {parent: 'root', handle: '1:'}})).toEqual(['tc qdisc del dev eth0 root'])
    expect(undo({id: 'tc-qdisc:eth0 10:', kind: 'tc-qdisc', text: '', device: 'eth0', tcQdisc: {parent: '1:1', handle: '10:'}})).toEqual(['tc qdisc del dev eth0 parent 1:1 handle 10:'])
    expect(undo({id: 'tc-filter:eth0 1: pref 3', kind: 'tc-filter', text: '', device: 'eth0', tcFilter: {attach: '1:', pref: 3}})).toEqual(['tc filter del dev eth0 parent 1: pref 3'])
    expect(undo({id: 'tc:not-read', kind: 'tc-qdisc', text: ''})).toEqual([])
  })
  describe('conntrack zones (red team 4): a reply is looked up in its own zone and must meet its connection', () => {
    /** The notrack-guest-subnet recording (a raw PREROUTING of iptables-nft) with its NOTRACK replaced by LINE. */
    const zoned = async (line: string) =>
      withIptablesRule(
        alter<NfRuleset>(await factsOf('notrack-guest-subnet'), 'netfilter', (rs) => rs.tables.find((t) => t.backend === 'iptables-nft' && t.family === 'ip' && t.name === 'raw')!.chains.PREROUTING.rules.splice(0, 1)),
        'raw',
        line,
      )
    const found = async (line: string) => (await fireAll(await zoned(line))).evaluation.findings.filter((f) => f.id.startsWith('guest-flow-'))
    it("a zone for the guests' side only: the replies (zone 0) miss their connections (zone 1), the MASQUERADE is never undone; the zone rule decides and is deleted", async () => {
      const [f, ...rest] = await found('-A PREROUTING -i virbr0 -j CT --zone 1')
      expect(rest).toEqual([])
      expect(f).toMatchObject({id: 'guest-flow-blocked', entity: {name: 'iptables -t raw -A PREROUTING -i virbr0 -j CT --zone 1'}, fix: ['iptables -t raw -D PREROUTING -i virbr0 -j CT --zone 1']})
      expect(f.summary).toMatch(/looks the packet up in zone 0, its connection was made in zone 1 .*no NAT undone.*the reply to 198\.51\.100\.1 stays the host's own/)
      expect(f.evidence.join('\n')).toMatch(/egress-reply/)
      // The same zone for the uplink's side alone (or --zone-reply there) misses them the other way round.
      expect((await found('-A PREROUTING -i kdlab-up0 -j CT --zone-reply 2')).map((x) => x.entity.name)).toEqual(['iptables -t raw -A PREROUTING -i kdlab-up0 -j CT --zone-reply 2'])
    })
    it('one zone for both sides, or a zone of the original direction alone (the reply tuple stays in zone 0): no finding', async () => {
      expect(await found('-A PREROUTING -j CT --zone 1')).toEqual([])
      expect(await found('-A PREROUTING -i virbr0 -j CT --zone-orig 1')).toEqual([])
    })
    it("a zone taken from the mark: the replies' lookup is undecided, naming the zone rule, never the host's local route (the untranslated reply's)", async () => {
      expect((await found('-A PREROUTING -i virbr0 -j CT --zone mark')).map((x) => `${x.id} ${x.entity.name}`)).toEqual(['guest-flow-indeterminate iptables -t raw -A PREROUTING -i virbr0 -j CT --zone mark'])
    })
    it('an undecided prerouting hook on the replies (an IPS queue on the uplink) leaves them undecided there: never routed untranslated to the host', async () => {
      const {evaluation} = await fireAll(withIptablesRule(await factsOf('healthy'), 'mangle', '-A PREROUTING -i kdlab-up0 -j NFQUEUE --queue-num 1'))
      expect(evaluation.findings.filter((f) => f.id.startsWith('guest-flow-')).map((x) => `${x.id} ${x.entity.name}`)).toEqual(['guest-flow-indeterminate iptables -t mangle -A PREROUTING -i kdlab-up0 -j NFQUEUE --queue-num 1'])
    })
  })
})
