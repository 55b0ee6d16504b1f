import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import type {Link} from '../../probes/links.js'
import {parseIptablesSaveIR} from '../../probes/netfilter/iptables-save.js'
import {parseIpRoute} from '../../probes/routes.js'
import type {SysctlFacts} from '../../probes/sysctl.js'
import type {NfRuleset} from '../../src/lib/netfilter.js'
import rule from '../../rules/ipv6-forward-drop.js'
import {type Facts, alter, factsOf, fire, fireAll, model, withProbeData} from '../helpers.js'

// The lab host's own IPv6 routes (a default route by eth0), and the network's prefix on virbr0.
const ROUTES6 = JSON.stringify([
  {dst: 'fd00::/64', dev: 'eth0', protocol: 'kernel', metric: 256, flags: []},
  {dst: '2001:db8:ca2:2::/64', dev: 'virbr0', protocol: 'kernel', metric: 256, flags: []},
  {dst: 'default', gateway: 'fd00::1', dev: 'eth0', metric: 1024, flags: []},
])

/** The healthy recording with IPv6 on its network (libvirt turns IPv6 forwarding on for it). */
async function ipv6Host(): Promise<Facts> {
  let facts = withProbeData(await factsOf('healthy'), 'routes6', parseIpRoute(ROUTES6, 'inet6'))
  facts = alter<LibvirtFacts>(facts, 'libvirt', (l) => l.networks[0].ips.push({family: 'ipv6', address: '2001:db8:ca2:2::1', prefix: 64, dhcpRanges: [], dhcpHosts: []}))
  // libvirt puts the network's IPv6 address on its bridge too.
  facts = alter<Link[]>(facts, 'links', (links) => links.find((l) => l.name === 'virbr0')!.addresses.push({family: 'inet6', address: '2001:db8:ca2:2::1', prefix: 64, scope: 'global'}))
  return alter<SysctlFacts>(facts, 'sysctl', (s) => (s.values['net.ipv6.conf.all.forwarding'] = 1))
}

/** One ip6tables rule added at the top of the recorded ip6tables-nft FORWARD chain, as `ip6tables -I FORWARD` would. */
function withIp6tablesRule(facts: Facts, line: string): Facts {
  return alter<NfRuleset>(facts, 'netfilter', (rs) => {
    const parsed = parseIptablesSaveIR(`*filter\n:FORWARD ACCEPT [0:0]\n${line}\nCOMMIT\n`, {backend: 'iptables-nft', family: 'ip6'})[0].chains.FORWARD.rules[0]
    const chain = rs.tables.find((t) => t.backend === 'iptables-nft' && t.family === 'ip6' && t.name === 'filter')!.chains.FORWARD
    chain.rules.unshift(parsed)
    chain.rules.forEach((r, i) => (r.ref = {...r.ref, index: i}))
  })
}

describe('ipv6-forward-drop', () => {
  it('follows an IPv6 egress flow for a guest of a network with IPv6, through the same evaluator (passes on the healthy host)', async () => {
    const flows = model(await ipv6Host()).datapath
    expect(flows.ok).toBe(true)
    const egress6 = flows.ok ? flows.datapath.flows.filter((f) => f.kind === 'egress6' || f.kind === 'egress6-reply') : []
    // IPv6 is routed, not NATed: whether the reply comes back is the upstream's routing, out of the host's sight.
    expect(egress6.map((f) => `${f.kind} ${f.verdict} ${f.decidedBy?.name ?? ''}`.trim())).toEqual(['egress6 pass', 'egress6-reply indeterminate return route'])
    expect(egress6[0].description).toMatch(/via eth0/)
  })
  it("forwarding: conf/all, else the arriving device's force_forwarding (Linux 6.17); a device's own forwarding key forwards nothing (kernel: the differential's force_forwarding rulesets)", async () => {
    const egress6With = async (values: Record<string, number | null>) => {
      const facts = alter<SysctlFacts>(await ipv6Host(), 'sysctl', (s) => Object.assign(s.values, {'net.ipv6.conf.all.forwarding': 0}, values))
      const flows = model(facts).datapath
      return flows.ok ? flows.datapath.flows.filter((f) => f.kind === 'egress6' || f.kind === 'egress6-reply').map((f) => `${f.kind} ${f.verdict} ${f.decidedBy?.name ?? ''}`.trim()) : []
    }
    const absent = {'net.ipv6.conf.virbr0.force_forwarding': null, 'net.ipv6.conf.eth0.force_forwarding': null}
    // The guests' bridge forces forwarding: the request is forwarded; the reply arrives by eth0, which does not.
    expect(await egress6With({...absent, 'net.ipv6.conf.virbr0.force_forwarding': 1, 'net.ipv6.conf.eth0.force_forwarding': 0})).toEqual(['egress6 pass', 'egress6-reply fail forwarding'])
    expect(await egress6With({'net.ipv6.conf.virbr0.force_forwarding': 1, 'net.ipv6.conf.eth0.force_forwarding': 1})).toEqual(['egress6 pass', 'egress6-reply indeterminate return route'])
    // A kernel without the key (null), or the key at 0: conf/all = 0 forwards nothing, whatever the device's own forwarding key.
    expect(await egress6With({...absent, 'net.ipv6.conf.virbr0.forwarding': 1})).toEqual(['egress6 fail forwarding'])
    // Not read (a recording made before kvmdoctor read it): not told.
    const unread = alter<SysctlFacts>(await ipv6Host(), 'sysctl', (s) => {
      s.values['net.ipv6.conf.all.forwarding'] = 0
      delete s.values['net.ipv6.conf.virbr0.force_forwarding']
    })
    const flows = model(unread).datapath
    expect(flows.ok && flows.datapath.flows.find((f) => f.kind === 'egress6')?.hops.find((h) => h.name === 'forwarding')).toMatchObject({verdict: 'indeterminate', detail: 'net.ipv6.conf.virbr0.force_forwarding could not be read'})
  })
  it('fires for an ip6tables FORWARD drop while IPv4 passes, with narrow accepts before it as the fix', async () => {
    const facts = withIp6tablesRule(await ipv6Host(), '-A FORWARD -i virbr0 -j DROP')
    const {evaluation} = await fire(rule, facts)
    expect(evaluation.findings.map((f) => f.entity.name)).toEqual(['ip6tables -t filter -A FORWARD -i virbr0 -j DROP'])
    // The network's IPv6 prefix only, as libvirt's own accepts.
    expect(evaluation.findings[0].fix).toEqual(['ip6tables -t filter -I FORWARD 1 -s 2001:db8:ca2:2::/64 -i virbr0 -j ACCEPT', 'ip6tables -t filter -I FORWARD 1 -d 2001:db8:ca2:2::/64 -o virbr0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT'])
    // The specific rule claims the element: the general one stays silent, and no IPv4 rule speaks for it.
    const all = await fireAll(facts)
    expect(all.ids.filter((id) => ['guest-flow-blocked', 'iptables-forward-drop', 'nft-forward-drop'].includes(id))).toEqual([])
  })
  it('a multipath IPv6 default route: each next hop is followed; a drop on one leaves egress undecided at the route (intermittent), never the first hop\'s pass', async () => {
    // iproute2 6.1's listing of `ip -6 route add default nexthop via fd00::1 dev eth0 nexthop via fd01::1 dev kdlab-up0`.
    const multipath = JSON.stringify([
      {dst: 'fd00::/64', dev: 'eth0', protocol: 'kernel', metric: 256, flags: []},
      {dst: '2001:db8:ca2:2::/64', dev: 'virbr0', protocol: 'kernel', metric: 256, flags: []},
      {dst: 'default', metric: 1024, flags: [], nexthops: [{gateway: 'fd00::1', dev: 'eth0', weight: 1, flags: []}, {gateway: 'fd01::1', dev: 'kdlab-up0', weight: 1, flags: []}]},
    ])
    const facts = withProbeData(await ipv6Host(), 'routes6', parseIpRoute(multipath, 'inet6'))
    const flows6 = (f: Facts) => {
      const d = model(f).datapath
      return d.ok ? d.datapath.flows.filter((x) => x.kind === 'egress6') : []
    }
    const [egress] = flows6(withIp6tablesRule(facts, '-A FORWARD -o kdlab-up0 -j DROP'))
    expect(egress).toMatchObject({verdict: 'indeterminate', decidedBy: {name: 'multipath', intermittent: true}})
    expect(egress.decidedBy!.detail).toMatch(/via eth0 gw fd00::1 the request passes; via kdlab-up0 gw fd01::1 the request fails at netfilter forward/)
    expect(egress.description).toContain('via eth0 or kdlab-up0')
    // Both next hops passing: decided as one route would be.
    expect(flows6(facts).map((f) => f.verdict)).toEqual(['pass'])
  })

  it('stays silent on the IPv6 host without a drop, and when the network has no IPv6', async () => {
    expect((await fire(rule, await ipv6Host())).names).toEqual([])
    expect((await fire(rule, withIp6tablesRule(await factsOf('healthy'), '-A FORWARD -i virbr0 -j DROP'))).names).toEqual([])
  })
  it('does not follow IPv6 when the host has no IPv6 way out (no IPv6 default route): guests are offered none', async () => {
    const facts = withProbeData(await ipv6Host(), 'routes6', parseIpRoute(JSON.stringify([{dst: '2001:db8:ca2:2::/64', dev: 'virbr0', protocol: 'kernel', metric: 256, flags: []}]), 'inet6'))
    const d = model(facts).datapath
    expect(d.ok && d.datapath.flows.some((f) => f.kind === 'egress6')).toBe(false)
  })
})
