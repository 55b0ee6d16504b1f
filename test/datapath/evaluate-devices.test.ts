/**
 * nft matches on the devices' kind and group (meta iifkind/oifkind/iifgroup/oifgroup), decided from the links
 * kvmdoctor reads (ip -j -d addr show), and ct count, which stays undecided: it reads the live connection table.
 * Observed in a namespace: a veth's kind is "veth"; lo (no rtnl_link_ops) matches neither "veth" nor != "veth";
 * `ip link set DEV group 5` prints "group":"5", and the default group is "default".
 */
import {describe, expect, it} from 'vitest'
import {parseIpAddr} from '../../probes/links.js'
import {parseNftRuleExprs, renderNftJson} from '../../probes/netfilter/nft-json.js'
import {parseRuleText} from '../../probes/netfilter/nft-text.js'
import {compile} from '../../src/datapath/netfilter/compile.js'
import {type EvalContext, nftDevice, runHook, startBranch} from '../../src/datapath/netfilter/evaluate.js'
import {type NfPacket, newPacket} from '../../src/datapath/netfilter/packet.js'
import type {NfExpr} from '../../src/lib/netfilter.js'
import {nft, ruleset} from './builders.js'

// The links as ip -j -d prints them: a tap (info_kind tun, type tap), a bridge in group 5, a NIC without linkinfo, lo.
const LINKS = parseIpAddr(
  JSON.stringify([
    {ifindex: 1, ifname: 'lo', flags: ['LOOPBACK', 'UP'], mtu: 65536, operstate: 'UNKNOWN', group: 'default', link_type: 'loopback', addr_info: []},
    {ifindex: 2, ifname: 'eth0', flags: ['UP'], mtu: 1500, operstate: 'UP', group: 'default', link_type: 'ether', addr_info: []},
    {ifindex: 3, ifname: 'virbr0', flags: ['UP'], mtu: 1500, operstate: 'UP', group: '5', link_type: 'ether', linkinfo: {info_kind: 'bridge', info_data: {stp_state: 0, forward_delay: 0}}, addr_info: []},
    {ifindex: 4, ifname: 'vnet0', flags: ['UP'], mtu: 1500, operstate: 'UNKNOWN', group: 'default', link_type: 'ether', master: 'virbr0', linkinfo: {info_kind: 'tun', info_data: {type: 'tap'}}, addr_info: []},
    {ifindex: 5, ifname: 'eth9', flags: ['UP'], mtu: 1500, operstate: 'UP', group: 'uplinks', link_type: 'ether', addr_info: []},
  ]),
)
const byName = new Map(LINKS.map((l) => [l.name, l]))
const ctx: EvalContext = {addressType: () => ['unicast'], addressOf: () => undefined, device: (name) => nftDevice(byName.get(name))}
const MATCH = ['drop']
const MISS = ['accept']
const UNDECIDED = ['accept', 'drop']

const rule = (text: string): NfExpr[] => parseNftRuleExprs(parseRuleText(text).expr, {family: 'inet', table: 't'}).exprs
const tcp = (over: Partial<NfPacket> = {}): NfPacket => newPacket({family: 4, iifname: 'virbr0', oifname: 'eth0', src: '192.168.122.50', dst: '203.0.113.10', l4proto: 'tcp', sport: 40000, dport: 80, ...over})

function verdict(text: string, packet: NfPacket, context: EvalContext = ctx): string[] {
  const table = nft('inet', 't', {c: {base: {hook: 'forward'}, rules: [rule(text)]}})
  return runHook(compile(ruleset([table])), 'forward', 'ip', [startBranch(packet)], context)
    .map((b) => b.status)
    .sort()
}

describe('meta iifkind / oifkind', () => {
  it('the kind of the device: a bridge, a tap (the tun driver\'s kind), none for a NIC without linkinfo or lo', () => {
    expect(verdict('meta iifkind "bridge" drop', tcp())).toEqual(MATCH)
    expect(verdict('meta iifkind "veth" drop', tcp())).toEqual(MISS)
    expect(verdict('meta iifkind { "tun", "veth" } drop', tcp({iifname: 'vnet0'}))).toEqual(MATCH)
    // No kind: the rule breaks whichever way it is written.
    expect(verdict('meta oifkind "bridge" drop', tcp())).toEqual(MISS)
    expect(verdict('meta oifkind != "bridge" drop', tcp())).toEqual(MISS)
    expect(verdict('meta iifkind != "veth" drop', tcp({iifname: 'lo'}))).toEqual(MISS)
    expect(verdict('meta oifkind != "veth" drop', tcp({oifname: 'vnet0'}))).toEqual(MATCH)
  })

  it('a device the links do not show, or no links read: undecided', () => {
    expect(verdict('meta iifkind "bridge" drop', tcp({iifname: 'ghost0'}))).toEqual(UNDECIDED)
    expect(verdict('meta iifkind "bridge" drop', tcp(), {addressType: () => ['unicast'], addressOf: () => undefined})).toEqual(UNDECIDED)
  })
})

describe('meta iifgroup / oifgroup', () => {
  it('the group by number, "default" being 0', () => {
    expect(verdict('meta iifgroup 5 drop', tcp())).toEqual(MATCH)
    expect(verdict('meta oifgroup default drop', tcp())).toEqual(MATCH)
    expect(verdict('meta oifgroup != 0 drop', tcp())).toEqual(MISS)
    expect(verdict('meta iifgroup 0 drop', tcp())).toEqual(MISS)
  })

  it('a group by another name (its number is in /etc/iproute2/group, not read): undecided, on either side', () => {
    expect(verdict('meta iifgroup 7 drop', tcp({iifname: 'eth9'}))).toEqual(UNDECIDED)
    expect(rule('meta iifgroup "uplinks" drop')[0].kind).toBe('opaque')
  })
})

describe('ip dscp', () => {
  it("is the sender's choice (systemd-networkd's DHCP client sends CS6, most software CS0): undecided, saying so", () => {
    const walked = runHook(compile(ruleset([nft('inet', 't', {c: {base: {hook: 'forward'}, rules: [rule('ip dscp cs6 drop')]}})])), 'forward', 'ip', [startBranch(tcp())], ctx)
    expect(walked.map((b) => b.status).sort()).toEqual(UNDECIDED)
    expect(walked[0].steps.find((s) => s.event === 'maybe')?.note).toMatch(/DSCP is set by its sender/)
  })
})

describe('ct count', () => {
  it('reads how many connections conntrack holds at that moment: never decided, the reason said', () => {
    const exprs = rule('ct count over 2 drop')
    expect(exprs[0]).toMatchObject({kind: 'nondeterministic', what: expect.stringContaining('connections conntrack holds')})
    expect(verdict('ct count over 2 drop', tcp())).toEqual(UNDECIDED)
    expect(renderNftJson({'ct count': {val: 2, inv: true}})).toBe('ct count over 2')
  })
})
