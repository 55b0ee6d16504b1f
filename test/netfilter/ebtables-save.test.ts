import {describe, expect, it} from 'vitest'
import type {NfRule, NfTable} from '../../src/lib/netfilter.js'
import {parseEbtablesSaveIR} from '../../probes/netfilter/ebtables-save.js'
import {buildRuleset} from '../../probes/netfilter/ruleset.js'
import {netfilterData} from '../helpers.js'

const LEGACY = netfilterData('ebtables.ebtables-legacy-save-c.txt')
const NFT_SAVE = netfilterData('ebtables.ebtables-nft-save.txt')

function ruleWith(tables: NfTable[], table: string, chain: string, needle: string): NfRule {
  const r = tables.find((t) => t.name === table)?.chains[chain]?.rules.find((x) => x.text.includes(needle))
  if (!r) throw new Error(`no rule with ${needle} in ${table} ${chain}`)
  return r
}

describe('legacy ebtables save format (real output: test/data/netfilter/ebtables.*)', () => {
  const tables = parseEbtablesSaveIR(LEGACY)

  it('reads tables filter and nat as bridge-family tables hooked where the kernel hooks ebtables (filter -200/200, nat -300/100/300)', () => {
    expect(tables.map((t) => [t.backend, t.family, t.name])).toEqual([['ebtables-legacy', 'bridge', 'filter'], ['ebtables-legacy', 'bridge', 'nat']])
    const bases = tables.flatMap((t) => Object.values(t.chains).filter((c) => c.base).map((c) => `${t.name} ${c.name} ${c.base!.hook} ${c.base!.priority}`))
    expect(bases).toEqual(['filter INPUT input -200', 'filter FORWARD forward -200', 'filter OUTPUT output 200', 'nat PREROUTING prerouting -300', 'nat OUTPUT output 100', 'nat POSTROUTING postrouting 300'])
    expect(tables[1].chains['libvirt-J-vnet0'].base).toBeUndefined()
  })

  it("reads an admin's DNS drop as the nft listing of the same ebtables-nft rule reads (iifname, ether type ip, l4proto, dport), counters apart from its text", () => {
    const rule = ruleWith(tables, 'filter', 'INPUT', '--ip-dport 53')
    expect(rule.text).toBe('-A INPUT -p IPv4 -i vnet0 --ip-proto udp --ip-dport 53 -j DROP')
    expect(rule.counters).toEqual({packets: 0, bytes: 0})
    expect(rule.exprs).toEqual([
      {kind: 'cmp', field: 'ether type', op: 'eq', value: {t: 'str', v: 'ip'}},
      {kind: 'cmp', field: 'iifname', op: 'eq', value: {t: 'str', v: 'vnet0'}},
      {kind: 'cmp', field: 'l4proto', op: 'eq', value: {t: 'str', v: 'udp'}},
      {kind: 'cmp', field: 'dport', op: 'eq', value: {t: 'num', v: 53}},
      {kind: 'verdict', verdict: 'drop', text: '-j DROP'},
    ])
    expect(ruleWith(tables, 'filter', 'FORWARD', '1.2.3.4').exprs).toContainEqual({kind: 'cmp', field: 'saddr', op: 'eq', value: {t: 'addr', v: '1.2.3.4'}})
    expect(ruleWith(tables, 'filter', 'FORWARD', '52:54').exprs).toContainEqual({kind: 'cmp', field: 'ether saddr', op: 'eq', value: {t: 'str', v: '52:54:00:0a:0b:0c'}})
  })

  it('reads negations ("--ip-sport ! 1024", "-p ! IPv4"), port ranges, prefixes and jumps into user chains', () => {
    const tcp = ruleWith(tables, 'filter', 'admin-guests', '--ip-sport')
    expect(tcp.exprs).toContainEqual({kind: 'cmp', field: 'sport', op: 'ne', value: {t: 'num', v: 1024}})
    expect(tcp.exprs).toContainEqual({kind: 'cmp', field: 'dport', op: 'eq', value: {t: 'range', lo: {t: 'num', v: 20}, hi: {t: 'num', v: 30}}})
    expect(ruleWith(tables, 'filter', 'admin-guests', 'fe80').exprs[1]).toEqual({kind: 'cmp', field: 'saddr', op: 'eq', value: {t: 'prefix', v: 'fe80::/64'}})
    const logged = ruleWith(tables, 'filter', 'admin-guests', '--log-prefix')
    expect(logged.exprs[0]).toEqual({kind: 'cmp', field: 'ether type', op: 'ne', value: {t: 'str', v: 'ip'}})
    expect(logged.exprs.filter((e) => e.kind === 'effect')).toHaveLength(2)
    expect(ruleWith(tables, 'filter', 'FORWARD', 'admin-guests').exprs).toEqual([{kind: 'cmp', field: 'oifname', op: 'eq', value: {t: 'str', v: 'vnet1'}}, {kind: 'jump', target: 'admin-guests'}])
  })

  it('keeps what it does not model opaque (arp matches, a MAC under a mask, ip-tos, -p Length): such a rule is undecided, never skipped', () => {
    expect(ruleWith(tables, 'filter', 'admin-guests', '--arp-ip-src').exprs).toContainEqual({kind: 'opaque', text: '! --arp-ip-src 192.168.122.5'})
    expect(ruleWith(tables, 'nat', 'libvirt-J-vnet0', 'ff:ff:ff:00:00:00').exprs[0]).toEqual({kind: 'opaque', text: '-s 01:02:03:00:00:00/ff:ff:ff:00:00:00'})
    expect(ruleWith(tables, 'nat', 'libvirt-J-vnet0', '--ip-tos').exprs).toContainEqual({kind: 'opaque', text: '--ip-tos 0x3F'})
    expect(ruleWith(tables, 'nat', 'libvirt-P-vnet0', 'Length').exprs[0]).toEqual({kind: 'opaque', text: '-p Length'})
    const [among] = parseEbtablesSaveIR('*nat\n:PREROUTING ACCEPT\n-A PREROUTING -i vnet1 --among-src 52:54:0:0:0:1 -j DROP\n-A PREROUTING -p ARP -j arpreply --arpreply-mac 52:54:00:00:00:01\n').map((t) => t.chains.PREROUTING.rules)
    expect(among[0].exprs[1]).toEqual({kind: 'opaque', text: '--among-src 52:54:0:0:0:1'})
    expect(among[1].exprs.at(-1)).toEqual({kind: 'opaque-statement', text: '-j arpreply --arpreply-mac 52:54:00:00:00:01', terminal: 'unknown'})
  })

  it("ends a user chain with its policy (ebtables' default ACCEPT, or DROP), never for RETURN", () => {
    expect(tables[0].chains['admin-guests'].rules.at(-1)).toMatchObject({text: '-P admin-guests DROP', exprs: [{kind: 'verdict', verdict: 'drop'}]})
    expect(tables[1].chains['libvirt-J-vnet0'].rules.at(-1)!.exprs).toEqual([{kind: 'verdict', verdict: 'accept', text: '-P libvirt-J-vnet0 ACCEPT'}])
    const [returning] = parseEbtablesSaveIR('*filter\n:FORWARD ACCEPT\n:mine RETURN\n-A mine -j DROP\n')
    expect(returning.chains.mine.rules.map((r) => r.text)).toEqual(['-A mine -j DROP'])
  })

  it("broute's DROP (route the frame, not bridge it) is no drop: undecided", () => {
    const [broute] = parseEbtablesSaveIR('*broute\n:BROUTING ACCEPT\n-A BROUTING -p IPv4 -i eth1 -j DROP\n')
    expect(broute.chains.BROUTING.base).toMatchObject({hook: 'prerouting', priority: -2147483648})
    expect(broute.chains.BROUTING.rules[0].exprs.at(-1)).toMatchObject({kind: 'opaque-statement', terminal: 'unknown'})
  })

  it("reads ebtables-nft-save's format the same ([p:b] counters before the rule): the rules are the legacy listing's", () => {
    const strip = (ts: NfTable[]) => ts.map((t) => Object.values(t.chains).map((c) => [c.name, c.base, c.rules.map((r) => [r.text, r.exprs])]))
    const nftSaved = parseEbtablesSaveIR(NFT_SAVE.replace(/^-A /gm, '[3:180] -A '))
    expect(strip(nftSaved)).toEqual(strip(tables))
    expect(nftSaved[0].chains.INPUT.rules[0].counters).toEqual({packets: 3, bytes: 180})
  })

  it('joins the ruleset as its own backend; a line it cannot place is a gap (rules unseen), not silence', () => {
    const gaps: string[] = []
    const rs = buildRuleset({ebtables: LEGACY, gaps})
    expect(rs.tables.map((t) => `${t.backend} ${t.family} ${t.name}`)).toEqual(['ebtables-legacy bridge filter', 'ebtables-legacy bridge nat'])
    expect(gaps).toEqual([])
    buildRuleset({ebtables: '*filter\n:INPUT ACCEPT\n-A NOSUCH -j DROP\n', gaps})
    expect(gaps).toEqual(['ebtables-save filter: line not read: "-A NOSUCH -j DROP"; skipped'])
  })
})
