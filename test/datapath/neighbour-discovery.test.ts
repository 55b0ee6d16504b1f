/**
 * IPv6 needs neighbour discovery of the guests' router (the host's link-local address on the bridge), which conntrack
 * leaves untracked: an input filter that drops ICMPv6 cut every guest's IPv6 off while kvmdoctor passed its egress
 * (red16's note: IPv4 had its ARP hop, IPv6 nothing). Now the solicitation and the advertisement go through the
 * host's input and output hooks, and a drop there holds only while the guests' neighbour caches do.
 */
import {describe, expect, it} from 'vitest'
import {diagnose} from '../../src/core/diagnose.js'
import type {CommandCapture} from '../../src/lib/runner.js'
import {alteredFixture} from '../hostile/helpers.js'

/** ip6tables-save's filter table with RULES added, the FORWARD drop of the recording taken out (IPv6 routed again). */
const withInput = (...rules: string[]) => (c: CommandCapture): CommandCapture =>
  c.argv[0] === 'ip6tables-save' ? {...c, output: c.output.replace('[0:0] -A FORWARD -i virbr0 -j DROP\n', '').replace('[1:128] -A INPUT -j LIBVIRT_INP\n', `${rules.map((r) => `[0:0] ${r}\n`).join('')}[1:128] -A INPUT -j LIBVIRT_INP\n`)} : c

async function egress6(change: (c: CommandCapture) => CommandCapture) {
  const {runner, options} = await alteredFixture('ipv6-forward-drop', {run: change})
  const d = await diagnose({runner, options, version: 'test', now: new Date('2026-12-07T00:00:00Z')})
  const flow = d.flows.find((f) => f.kind === 'egress6')!
  return {flow, d}
}

describe('IPv6 neighbour discovery of the router', () => {
  it("an input drop of ICMPv6 on the bridge: the guest's IPv6 holds only while its neighbour cache does (an intermittent failure, not a pass)", async () => {
    const {flow, d} = await egress6(withInput('-A INPUT -i virbr0 -p ipv6-icmp -j DROP'))
    expect([flow.verdict, flow.decidedBy?.name, flow.decidedBy?.intermittent]).toEqual(['indeterminate', expect.stringMatching(/^neighbour discovery of fe80::\S+ \(input\)$/), true])
    expect(d.findings.find((f) => f.id === 'guest-flow-indeterminate')?.entity.name).toBe('ip6tables -t filter -A INPUT -i virbr0 -p ipv6-icmp -j DROP')
  })
  it('must not fire: ICMPv6 accepted for neighbour discovery ahead of the drop, or only pings dropped', async () => {
    for (const rules of [
      ['-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j ACCEPT', '-A INPUT -i virbr0 -p ipv6-icmp -j DROP'],
      ['-A INPUT -i virbr0 -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j DROP'],
    ]) {
      const {flow} = await egress6(withInput(...rules))
      expect([rules, flow.verdict]).toEqual([rules, 'pass'])
    }
  })
  it('as recorded (its FORWARD drop taken out): the egress passes (a passing exchange adds no hop, as ARP)', async () => {
    const {flow} = await egress6(withInput())
    expect(flow.verdict).toBe('pass')
  })
  it('an output drop of ICMPv6 to the bridge stops the advertisement', async () => {
    const {runner, options} = await alteredFixture('ipv6-forward-drop', {
      run: (c) => withInput()(c.argv[0] === 'ip6tables-save' ? {...c, output: c.output.replace('[462:32268] -A OUTPUT -j LIBVIRT_OUT\n', '[0:0] -A OUTPUT -o virbr0 -p ipv6-icmp -m icmp6 --icmpv6-type 136 -j DROP\n[462:32268] -A OUTPUT -j LIBVIRT_OUT\n')} : c),
    })
    const d = await diagnose({runner, options, version: 'test', now: new Date('2026-12-07T00:00:00Z')})
    expect(d.flows.find((f) => f.kind === 'egress6')!.decidedBy?.name).toMatch(/^neighbour discovery of fe80::\S+ \(output\)$/)
  })
  it("an output drop of router advertisements (a common 'this host is no router' hardening): the guests' IPv6 default route holds only for the last advertisement's lifetime", async () => {
    const withOutput = (rule: string) => (c: CommandCapture): CommandCapture =>
      withInput()(c.argv[0] === 'ip6tables-save' ? {...c, output: c.output.replace('[462:32268] -A OUTPUT -j LIBVIRT_OUT\n', `[0:0] ${rule}\n[462:32268] -A OUTPUT -j LIBVIRT_OUT\n`)} : c)
    const {flow, d} = await egress6(withOutput('-A OUTPUT -p ipv6-icmp -m icmp6 --icmpv6-type 134 -j DROP'))
    expect([flow.verdict, flow.decidedBy?.name, flow.decidedBy?.intermittent]).toEqual(['indeterminate', expect.stringMatching(/^router advertisement from fe80::\S+$/), true])
    expect(d.findings.find((f) => f.id === 'guest-flow-indeterminate')?.entity.name).toBe('ip6tables -t filter -A OUTPUT -p ipv6-icmp -m icmp6 --icmpv6-type 134 -j DROP')
    // Must not: the same drop on another device, or of solicitations (a host sends none as a router).
    for (const rule of ['-A OUTPUT -o eth0 -p ipv6-icmp -m icmp6 --icmpv6-type 134 -j DROP', '-A OUTPUT -p ipv6-icmp -m icmp6 --icmpv6-type 133 -j DROP']) {
      expect([rule, (await egress6(withOutput(rule))).flow.verdict]).toEqual([rule, 'pass'])
    }
  })
  it("a network that hands out IPv6 addresses by DHCPv6: an input drop of its requests decides the guests' IPv6 (intermittent: their leases hold a while); without a DHCPv6 range it is not asked", async () => {
    const dhcp6 = (change: (c: CommandCapture) => CommandCapture) => (c: CommandCapture): CommandCapture =>
      change(c.argv.includes('net-dumpxml') ? {...c, output: c.output.replace("<ip family='ipv6' address='2001:db8:ca2:2::1' prefix='64'>", "<ip family='ipv6' address='2001:db8:ca2:2::1' prefix='64'><dhcp><range start='2001:db8:ca2:2::100' end='2001:db8:ca2:2::1ff'/></dhcp>")} : c)
    const drop = withInput('-A INPUT -i virbr0 -p udp -m udp --dport 547 -j DROP')
    const {flow} = await egress6(dhcp6(drop))
    expect([flow.verdict, flow.decidedBy?.name, flow.decidedBy?.intermittent]).toEqual(['indeterminate', 'DHCPv6 request to ff02::1:2 (input)', true])
    expect((await egress6(drop)).flow.verdict).toBe('pass')
    // libvirt's own accepts (LIBVIRT_INP 547, LIBVIRT_OUT 546) let the exchange through.
    expect((await egress6(dhcp6(withInput()))).flow.verdict).toBe('pass')
  })
  it("the network's IPv6 address on the bridge failed duplicate address detection, or is missing: the egress fails there; still tentative: undecided", async () => {
    const addr = (change: (a: Record<string, unknown>[]) => Record<string, unknown>[]) => (c: CommandCapture): CommandCapture => {
      if (c.argv[0] !== 'ip' || !c.argv.includes('addr')) return withInput()(c)
      const links = JSON.parse(c.output) as {ifname: string; addr_info: Record<string, unknown>[]}[]
      const bridge = links.find((l) => l.ifname === 'virbr0')!
      bridge.addr_info = change(bridge.addr_info)
      return {...c, output: JSON.stringify(links)}
    }
    const ours = (a: Record<string, unknown>) => a.local === '2001:db8:ca2:2::1'
    const failed = (await egress6(addr((list) => list.map((a) => (ours(a) ? {...a, dadfailed: true, tentative: true} : a))))).flow
    expect([failed.verdict, failed.decidedBy?.element?.text]).toEqual(['fail', 'virbr0: 2001:db8:ca2:2::1/64 dadfailed (another node holds it)'])
    const missing = (await egress6(addr((list) => list.filter((a) => !ours(a))))).flow
    expect([missing.verdict, missing.decidedBy?.element?.text]).toEqual(['fail', 'virbr0 lacks 2001:db8:ca2:2::1/64, the IPv6 gateway of network default'])
    // Put back as libvirt adds it: IPv6 has no broadcast (ip refuses one). The failed one gets no command.
    expect(missing.decidedBy?.element?.undo).toEqual(['ip address add 2001:db8:ca2:2::1/64 dev virbr0'])
    expect(failed.decidedBy?.element?.undo).toEqual([])
    const tentative = (await egress6(addr((list) => list.map((a) => (ours(a) ? {...a, tentative: true} : a))))).flow
    expect([tentative.verdict, tentative.decidedBy?.name]).toEqual(['indeterminate', 'gateway 2001:db8:ca2:2::1'])
  })
})
