/**
 * The lab's host state (test/lab/host-state.ts) compared by meaning: tables, chains, sets and rules by
 * name and content, whatever order the tools list them in; a chain registered that was not, or a rule
 * moved within its chain, is a difference. Pure (no root): states are built here.
 */
import {describe, expect, it} from 'vitest'
import {type HostState, diffHostState} from './lab/host-state.js'

type Item = Record<string, Record<string, unknown>>
const table = (family: string, name: string): Item => ({table: {family, name, handle: 1}})
const chain = (family: string, t: string, name: string, base?: {hook: string; prio: number; type?: string}, handle = 1): Item => ({chain: {family, table: t, name, handle, ...(base ? {type: base.type ?? 'filter', hook: base.hook, prio: base.prio, policy: 'accept'} : {})}})
const rule = (family: string, t: string, c: string, expr: unknown[], handle = 10, packets = 0): Item => ({rule: {family, table: t, chain: c, handle, expr: [{counter: {packets, bytes: packets * 60}}, ...expr]}})
const set = (elems: string[]): Item => ({set: {family: 'inet', table: 'own', name: 'trusted', type: 'ipv4_addr', handle: 3, elem: elems}})
const accept = {accept: null}
const iif = (dev: string) => ({match: {op: '==', left: {meta: {key: 'iifname'}}, right: dev}})

function state(items: Item[], extra: Partial<HostState> = {}): HostState {
  return {bootId: 'b', takenAt: '', iptables: {'iptables-save': ''}, nftJson: JSON.stringify({nftables: [{metainfo: {version: '1.0.6'}}, ...items]}), nftTables: {}, ipsets: '', sysctls: {}, libvirtNetworks: {}, ipRules: '', routes: '', ...extra}
}

const NAT = [table('ip', 'nat'), chain('ip', 'nat', 'POSTROUTING', {hook: 'postrouting', prio: 100, type: 'nat'}, 2), chain('ip', 'nat', 'LIBVIRT_PRT', undefined, 3), rule('ip', 'nat', 'POSTROUTING', [{jump: {target: 'LIBVIRT_PRT'}}])]
const OWN = [table('inet', 'own'), chain('inet', 'own', 'input', {hook: 'input', prio: 0}), rule('inet', 'own', 'input', [iif('lo'), accept], 5), rule('inet', 'own', 'input', [iif('virbr0'), accept], 6), set(['10.1.0.0/16', '10.2.0.0/16'])]

describe('host state by meaning', () => {
  it('listing order, handles and counters are not differences', () => {
    const shuffled = [OWN[4], OWN[0], OWN[2], OWN[1], OWN[3], ...NAT.reverse()].map((i) => structuredClone(i))
    ;(shuffled[0].set as {elem: string[]}).elem.reverse()
    ;(shuffled[2].rule as {handle: number}).handle = 99
    ;(shuffled[2].rule as {expr: {counter?: {packets: number}}[]}).expr[0].counter!.packets = 1234
    const before = state([...NAT, ...OWN], {routes: 'default via 10.0.0.1 dev eth0\n10.0.0.0/24 dev eth0', ipRules: '0: from all lookup local\n32766: from all lookup main'})
    const after = state(shuffled, {routes: '10.0.0.0/24 dev eth0\ndefault via 10.0.0.1 dev eth0', ipRules: '32766: from all lookup main\n0: from all lookup local'})
    expect(diffHostState(before, after)).toEqual([])
  })

  it('a built-in chain registered that was not (what iptables-restore does) is named, by table and chain', () => {
    const registered = [...NAT, chain('ip', 'nat', 'INPUT', {hook: 'input', prio: 100, type: 'nat'}, 7)]
    expect(diffHostState(state(NAT), state(registered))).toEqual([expect.stringMatching(/^nft table ip nat chain INPUT: new \(.*"hook":"input"/)])
    expect(diffHostState(state(registered), state(NAT))).toEqual([expect.stringMatching(/^nft table ip nat chain INPUT: gone/)])
  })

  it('rules are compared in their chain, in order; a set by its elements; a new table by its parts', () => {
    const swapped = [...OWN.slice(0, 2), rule('inet', 'own', 'input', [iif('virbr0'), accept], 5), rule('inet', 'own', 'input', [iif('lo'), accept], 6), OWN[4]]
    expect(diffHostState(state(OWN), state(swapped))).toEqual([expect.stringMatching(/^nft table inet own chain input: line 2 was .*lo.*, now .*virbr0/)])
    const grown = [...OWN.slice(0, 4), set(['10.1.0.0/16', '10.2.0.0/16', '10.9.0.0/16'])]
    expect(diffHostState(state(OWN), state(grown))).toEqual([expect.stringMatching(/^nft table inet own set trusted: /)])
    expect(diffHostState(state(NAT), state([...NAT, ...OWN]))).toEqual(['nft table inet own: new (chain input, set trusted, table)'])
  })

  it("iptables listings by table and chain: a chain's policy or rules, not the order chains are printed in", () => {
    const save = (...lines: string[]) => ['*filter', ...lines, 'COMMIT', ''].join('\n')
    const a = state([], {iptables: {'iptables-save': save(':INPUT ACCEPT [5:300]', ':FORWARD DROP [0:0]', ':DOCKER-USER - [0:0]', '[3:180] -A FORWARD -j DOCKER-USER', '-A DOCKER-USER -j RETURN')}})
    const b = state([], {iptables: {'iptables-save': save(':DOCKER-USER - [0:0]', ':FORWARD DROP [9:900]', ':INPUT ACCEPT [0:0]', '-A DOCKER-USER -j RETURN', '-A FORWARD -j DOCKER-USER')}})
    expect(diffHostState(a, b)).toEqual([])
    const c = state([], {iptables: {'iptables-save': save(':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':DOCKER-USER - [0:0]', '-A FORWARD -j DOCKER-USER', '-A DOCKER-USER -j RETURN')}})
    expect(diffHostState(a, c)).toEqual(['iptables-save filter chain FORWARD: line 1 was "policy DROP", now "policy ACCEPT"'])
  })

  it('routes gone or new are named as lines', () => {
    expect(diffHostState(state([], {routes: 'default via 10.0.0.1 dev eth0\n203.0.113.10 via 198.51.100.2 dev kdlab-up0'}), state([], {routes: 'default via 10.0.0.1 dev eth0'}))).toEqual(['routes: gone "203.0.113.10 via 198.51.100.2 dev kdlab-up0"'])
  })
})
