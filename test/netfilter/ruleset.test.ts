import {describe, expect, it} from 'vitest'
import type {NfRuleset, NfTable} from '../../src/lib/netfilter.js'
import {detectIptablesVariant} from '../../probes/netfilter/iptables-save.js'
import {type IptablesSource, type RulesetSources, buildRuleset} from '../../probes/netfilter/ruleset.js'
import {renderRule} from '../../probes/netfilter/render.js'
import {type PrintedCounters, data, fixtureOutputs, outputsOf, printedCounters, saveOf} from './data.js'

const names = (rs: NfRuleset) => rs.tables.map((t) => `${t.backend} ${t.family} ${t.name}`)
function table(rs: NfRuleset, backend: string, family: string, name: string): NfTable {
  const t = rs.tables.find((x) => x.backend === backend && x.family === family && x.name === name)
  if (!t) throw new Error(`no table ${backend} ${family} ${name}`)
  return t
}
const allRules = (t: NfTable) => Object.values(t.chains).flatMap((c) => c.rules)

/** Everything the lab probe recorded of one fixture's packet filter; `ip6: false` leaves out ip6tables-save, as older probes did. */
function fixture(name: string, {ip6 = true} = {}): RulesetSources {
  const out = (re: RegExp) => {
    const found = outputsOf(name, re)
    expect(found.length, `${name} ${re.source}`).toBeLessThanOrEqual(1)
    return found[0]?.[1]
  }
  const iptables: IptablesSource[] = []
  const add = (text: string | undefined, family: 'ip' | 'ip6', backend?: 'iptables-legacy') => text !== undefined && iptables.push({text, family, ...(backend ? {backend} : {})})
  // As the probe gives them: the plain iptables-save is whichever variant the alternatives chose (its header says).
  add(out(saveOf('iptables')), 'ip')
  add(out(saveOf('iptables-legacy')), 'ip', 'iptables-legacy')
  if (ip6) {
    add(out(saveOf('ip6tables')), 'ip6')
    add(out(saveOf('ip6tables-legacy')), 'ip6', 'iptables-legacy')
  }
  return {iptables, nft: {json: out(/nft--j-list-ruleset\.txt$/)!, text: out(/nft--a-list-ruleset\.txt$/)}, ipset: out(/\d-command-ipset-list\.txt$/)}
}
const FIXTURES = fixtureOutputs(/nft--j-list-ruleset\.txt$/).map(([n]) => n.split('/')[0])

/** The handles nft printed for each chain's rules, in order, read from the JSON without the parser: "family table chain" -> handles. */
function nftHandles(json: string): Map<string, number[]> {
  const out = new Map<string, number[]>()
  for (const item of (JSON.parse(json) as {nftables: {rule?: {family: string; table: string; chain: string; handle: number}}[]}).nftables) {
    if (!item.rule) continue
    const key = `${item.rule.family} ${item.rule.table} ${item.rule.chain}`
    out.set(key, [...(out.get(key) ?? []), item.rule.handle])
  }
  return out
}

/** Each iptables-nft rule has nft's handle of its position, and the counters iptables-save -c printed on its own line. */
function expectFromBothListings(rs: NfRuleset, sources: RulesetSources, name: string): number {
  const handles = nftHandles(sources.nft!.json)
  const printed = new Map<string, PrintedCounters>()
  for (const s of sources.iptables ?? []) for (const [k, v] of printedCounters(s.text)) printed.set(`${detectIptablesVariant(s.text)} ${s.family} ${k}`, v)
  let checked = 0
  for (const t of rs.tables.filter((x) => x.backend === 'iptables-nft' || x.backend === 'iptables-legacy')) {
    for (const c of Object.values(t.chains)) {
      const where = `${name}: ${t.backend} ${t.family} ${t.name} ${c.name}`
      if (t.backend === 'iptables-nft') expect(c.rules.map((r) => r.ref.handle), where).toEqual(handles.get(`${t.family} ${t.name} ${c.name}`) ?? [])
      const own = printed.get(`${t.backend} ${t.family} ${t.name} ${c.name}`)
      // A table iptables-save calls incompatible is printed without its chains: they all come from nft.
      if (t.incompatible && own === undefined) continue
      expect(own, where).toBeDefined()
      expect(c.rules.map((r) => r.counters), where).toEqual(own!.rules)
      checked += c.rules.length
    }
  }
  return checked
}

describe('buildRuleset: iptables-nft, nft and ipset listings of one host', () => {
  const sources: RulesetSources = {
    iptables: [
      {text: data('kitchen.iptables-save.txt'), family: 'ip'},
      {text: data('kitchen.ip6tables-save.txt'), family: 'ip6'},
    ],
    nft: {json: data('kitchen.nft-j-list-ruleset.json'), text: data('kitchen.nft-a-list-ruleset.txt')},
    ipset: data('kitchen.ipset-list.txt'),
  }
  const rs = buildRuleset(sources)

  it('takes iptables-nft tables once, from iptables-save, in a stable order', () => {
    expect(rs.warnings).toEqual([])
    expect(names(rs)).toEqual([
      'iptables-nft ip filter',
      'iptables-nft ip mangle',
      'iptables-nft ip nat',
      'iptables-nft ip raw',
      'iptables-nft ip security',
      'iptables-nft ip6 filter',
      'iptables-nft ip6 mangle',
      'iptables-nft ip6 nat',
      'iptables-nft ip6 raw',
    ])
    const reordered = buildRuleset({...sources, iptables: [...sources.iptables!].reverse()})
    expect(JSON.stringify(reordered)).toBe(JSON.stringify(rs))
  })

  it('fills every rule handle (and counters) from nft by position', () => {
    const tables = rs.tables
    expect(tables.flatMap(allRules).every((r) => typeof r.ref.handle === 'number' && r.counters !== undefined)).toBe(true)
    const input = table(rs, 'iptables-nft', 'ip', 'filter').chains.INPUT.rules
    expect(input[0].ref).toEqual({backend: 'iptables-nft', family: 'ip', table: 'filter', chain: 'INPUT', index: 0, handle: 6})
    expect(input.at(-1)?.ref.handle).toBe(61)
    expect(table(rs, 'iptables-nft', 'ip6', 'filter').chains.INPUT.rules[0].ref.handle).toBeGreaterThan(0)
  })

  it('reads -m set with the ipset types and carries the sets', () => {
    expect(Object.keys(rs.sets)).toEqual(['ipset kd-block', 'ipset kd-empty', 'ipset kd-ifnets', 'ipset kd-list', 'ipset kd-pairs', 'ipset kd-ports', 'ipset kd-range', 'ipset kd-svc', 'ipset kd-v6'])
    const input = table(rs, 'iptables-nft', 'ip', 'filter').chains.INPUT.rules
    expect(renderRule(input.find((r) => r.text.includes('kd-svc'))!)).toBe('l4proto tcp daddr . l4proto . dport @ipset kd-svc accept')
    expect(renderRule(table(rs, 'iptables-nft', 'ip', 'filter').chains.FORWARD.rules.find((r) => r.text.includes('kd-ifnets'))!)).toBe('saddr . iifname @ipset kd-ifnets accept')
  })
})

describe('buildRuleset: tables iptables-save cannot print', () => {
  const rs = buildRuleset({
    iptables: [{text: data('incompatible.iptables-save.txt'), family: 'ip', backend: 'iptables-nft'}],
    nft: {json: data('incompatible.nft-j-list-ruleset.json'), text: data('incompatible.nft-a-list-ruleset.txt')},
  })

  it('takes an incompatible table from nft, keeping what iptables-save could decode', () => {
    expect(names(rs)).toEqual(['iptables-nft ip filter', 'iptables-nft ip nat', 'nft ip filter2'])
    const nat = table(rs, 'iptables-nft', 'ip', 'nat')
    expect(nat.incompatible).toBe(true)
    expect(Object.keys(nat.chains)).toEqual(['POSTROUTING', 'weird'])
    expect(nat.chains.weird).toEqual({backend: 'iptables-nft', family: 'ip', table: 'nat', name: 'weird', base: {type: 'nat', hook: 'prerouting', priority: -90, policy: 'accept'}, rules: []})
    const [masq, vmap] = nat.chains.POSTROUTING.rules
    expect(masq).toMatchObject({text: '-A POSTROUTING -s 10.9.0.0/24 -j MASQUERADE', ref: {handle: 2, index: 0}})
    expect(masq.exprs.at(-1)).toEqual({kind: 'nat', type: 'masquerade', text: '-j MASQUERADE'})
    // iptables-save printed a bare "-A POSTROUTING" for the nft-native rule: it is read from nft instead.
    expect(vmap.ref).toEqual({backend: 'iptables-nft', family: 'ip', table: 'nat', chain: 'POSTROUTING', index: 1, handle: 5})
    expect(vmap.text).toBe('ip saddr { 10.8.0.1, 10.8.0.2 } oifname vmap { "eth0" : accept, "eth1" : drop }')
    expect(vmap.exprs.map((e) => e.kind)).toEqual(['cmp', 'vmap'])
    expect(rs.warnings).toEqual([
      'iptables-nft ip nat POSTROUTING rule 2: iptables-save printed "-A POSTROUTING" for nft rule "ip saddr { 10.8.0.1, 10.8.0.2 } oifname vmap { "eth0" : accept, "eth1" : drop }"; taken from nft',
    ])
  })

  it('catches the bare rule without the incompatible marker too', () => {
    const save = data('incompatible.iptables-save.txt').replace(/^# Table `nat'.*\n/m, '')
    const json = JSON.parse(data('incompatible.nft-j-list-ruleset.json')) as {nftables: Record<string, {name?: string; chain?: string}>[]}
    json.nftables = json.nftables.filter((i) => i.chain?.name !== 'weird')
    const rs2 = buildRuleset({iptables: [{text: save, family: 'ip'}], nft: {json: JSON.stringify(json)}})
    const nat = table(rs2, 'iptables-nft', 'ip', 'nat')
    expect(nat.incompatible).toBeUndefined()
    // iptables-save printed all four built-in chains; nf_tables has POSTROUTING alone.
    expect(Object.keys(nat.chains)).toEqual(['POSTROUTING'])
    expect(nat.chains.POSTROUTING.rules[1].exprs.at(-1)).toMatchObject({kind: 'vmap', field: 'oifname'})
    expect(rs2.warnings).toHaveLength(1)
  })
})

/** Recordings whose two listings disagree, each on purpose: what buildRuleset must say of them. */
/** A legacy host's iptables-save and iptables-legacy-save print the same tables: the second listing is ignored. */
const LEGACY_TWICE = [/^iptables-save: a second iptables-legacy ip listing ignored$/, /^ip6tables-save: a second iptables-legacy ip6 listing ignored$/]
const EXPECTED_WARNINGS: Record<string, RegExp[]> = {
  'legacy-backend-healthy': LEGACY_TWICE,
  'legacy-backend-masquerade-removed': LEGACY_TWICE,
  'iptables-nft-set-lookup': [/^iptables-nft ip filter FORWARD rule 1: iptables-save printed "-A FORWARD -j DROP" for nft rule "ip daddr .*", leaving out its daddr match; taken from nft$/],
}

describe('buildRuleset: recorded lab hosts', () => {
  it('healthy: every table once, iptables-nft from iptables-save -c with nft handles, the empty legacy tables kept', () => {
    const sources = fixture('healthy')
    const rs = buildRuleset(sources)
    // The nft tables once each; the legacy tables are whichever the lab host's modules had made (all empty).
    expect(names(rs).filter((n) => !n.startsWith('iptables-legacy '))).toEqual([
      'iptables-nft ip filter',
      'iptables-nft ip mangle',
      'iptables-nft ip nat',
      'iptables-nft ip6 filter',
      'iptables-nft ip6 mangle',
      'iptables-nft ip6 nat',
    ])
    expect(names(rs)).toEqual(expect.arrayContaining(['iptables-legacy ip filter', 'iptables-legacy ip nat']))
    expect(rs.warnings).toEqual([])
    for (const t of rs.tables.filter((x) => x.backend === 'iptables-legacy')) expect(allRules(t), `${t.family} ${t.name}`).toEqual([])
    const fwi = table(rs, 'iptables-nft', 'ip', 'filter').chains.LIBVIRT_FWI.rules[0]
    expect(fwi.text).toBe('-A LIBVIRT_FWI -d 192.168.122.0/24 -o virbr0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT')
    expect(fwi.ref.handle).toBeGreaterThan(0)
    expect(fwi.counters).toBeDefined()
    const ip6Forward = table(rs, 'iptables-nft', 'ip6', 'filter').chains.FORWARD.rules
    expect(ip6Forward.map((r) => r.text)).toEqual(['-A FORWARD -j LIBVIRT_FWX', '-A FORWARD -j LIBVIRT_FWI', '-A FORWARD -j LIBVIRT_FWO'])
    // Every rule line of the three outputs is in the ruleset once: 26 ip and 7 ip6 (the legacy tables have none).
    const ruleLines = sources.iptables!.flatMap((s) => s.text.match(/^(\[\d+:\d+\] )?-A /gm) ?? []).length
    expect(ruleLines).toBe(33)
    expect(expectFromBothListings(rs, sources, 'healthy')).toBe(ruleLines)
  })

  it('healthy without its ip6tables-save output: the ip6 tables only nft saw are labelled iptables-nft', () => {
    const rs = buildRuleset(fixture('healthy', {ip6: false}))
    // The same tables, bar the legacy IPv6 ones (their ip6tables-legacy-save output is left out too).
    expect(names(rs)).toEqual(names(buildRuleset(fixture('healthy'))).filter((n) => !n.startsWith('iptables-legacy ip6 ')))
    expect([...rs.warnings].sort()).toEqual([
      'ip6 filter: an iptables-nft table read from nft alone (no ip6tables-save output given): its xt matches and targets are opaque',
      'ip6 mangle: an iptables-nft table read from nft alone (no ip6tables-save output given): its xt matches and targets are opaque',
      'ip6 nat: an iptables-nft table read from nft alone (no ip6tables-save output given): its xt matches and targets are opaque',
    ])
    const forward = table(rs, 'iptables-nft', 'ip6', 'filter').chains.FORWARD.rules
    expect(forward.map((r) => r.ref.backend)).toEqual(['iptables-nft', 'iptables-nft', 'iptables-nft'])
    expect(forward.every((r) => r.ref.handle !== undefined && r.counters !== undefined)).toBe(true)
  })

  it('nft-forward-drop: the native inet table next to the iptables-nft ones', () => {
    const rs = buildRuleset(fixture('nft-forward-drop'))
    expect(names(rs).filter((n) => !n.startsWith('iptables-legacy '))).toEqual([
      'iptables-nft ip filter',
      'iptables-nft ip mangle',
      'iptables-nft ip nat',
      'iptables-nft ip6 filter',
      'iptables-nft ip6 mangle',
      'iptables-nft ip6 nat',
      'nft inet kdlab_fw',
    ])
    expect(table(rs, 'nft', 'inet', 'kdlab_fw').chains.forward.base).toEqual({type: 'filter', hook: 'forward', priority: 10, policy: 'drop'})
  })

  it('firewall-backend-mismatch: legacy MASQUERADE and the iptables-nft tables both kept', () => {
    const rs = buildRuleset(fixture('firewall-backend-mismatch'))
    expect(table(rs, 'iptables-legacy', 'ip', 'nat').chains.POSTROUTING.rules.map((r) => renderRule(r))).toEqual(['saddr 10.250.0.0/24 -j MASQUERADE'])
    expect(table(rs, 'iptables-nft', 'ip', 'nat').chains.POSTROUTING.base?.priority).toBe(100)
  })

  it('iptables-nft-set-lookup: the rule iptables-save printed as "-A FORWARD -j DROP" is a set lookup added by nft, read from nft', () => {
    const rs = buildRuleset(fixture('iptables-nft-set-lookup'))
    const [lookup, ...libvirt] = table(rs, 'iptables-nft', 'ip', 'filter').chains.FORWARD.rules
    expect(lookup.ref).toMatchObject({backend: 'iptables-nft', table: 'filter', chain: 'FORWARD', index: 0})
    expect(lookup.text).toMatch(/^ip daddr \{ 192\.0\.2\.1, 192\.0\.2\.2 \} counter .*drop$/)
    expect(lookup.exprs[0]).toEqual({kind: 'cmp', field: 'daddr', op: 'eq', value: {t: 'set', elems: [{t: 'addr', v: '192.0.2.1'}, {t: 'addr', v: '192.0.2.2'}]}})
    // iptables-save's -c counters stay the rule's: nothing matched it.
    expect(lookup.counters).toEqual({packets: 0, bytes: 0})
    expect(libvirt.map((r) => r.text)).toEqual(['-A FORWARD -j LIBVIRT_FWX', '-A FORWARD -j LIBVIRT_FWI', '-A FORWARD -j LIBVIRT_FWO'])
    expect(rs.warnings).toEqual([`iptables-nft ip filter FORWARD rule 1: iptables-save printed "-A FORWARD -j DROP" for nft rule "${lookup.text}", leaving out its daddr match; taken from nft`])
  })

  it('legacy-backend-healthy: libvirt\'s chains in the legacy tables (both families), nothing in nf_tables', () => {
    const rs = buildRuleset(fixture('legacy-backend-healthy'))
    expect(names(rs)).toEqual(['iptables-legacy ip filter', 'iptables-legacy ip mangle', 'iptables-legacy ip nat', 'iptables-legacy ip6 filter', 'iptables-legacy ip6 mangle', 'iptables-legacy ip6 nat'])
    const nat = table(rs, 'iptables-legacy', 'ip', 'nat')
    expect(nat.chains.POSTROUTING.rules.map((r) => r.text)).toEqual(['-A POSTROUTING -j LIBVIRT_PRT'])
    expect(nat.chains.LIBVIRT_PRT.rules.filter((r) => r.exprs.some((e) => e.kind === 'nat' && e.type === 'masquerade'))).toHaveLength(3)
    expect(table(rs, 'iptables-legacy', 'ip', 'filter').chains.FORWARD.rules.map((r) => r.text)).toEqual(['-A FORWARD -j LIBVIRT_FWX', '-A FORWARD -j LIBVIRT_FWI', '-A FORWARD -j LIBVIRT_FWO'])
  })

  it('every fixture builds without warnings; every iptables-nft rule has its nft handle, every iptables rule its -c counters', () => {
    expect(FIXTURES.length).toBeGreaterThanOrEqual(48)
    let rules = 0
    for (const name of FIXTURES) {
      const sources = fixture(name)
      const rs = buildRuleset(sources)
      const expected = EXPECTED_WARNINGS[name] ?? []
      expect(rs.warnings.length, `${name}: ${rs.warnings.join('; ')}`).toBe(expected.length)
      rs.warnings.forEach((w, i) => expect(w, name).toMatch(expected[i]))
      expect(rs.tables.filter((t) => t.backend === 'iptables-nft').flatMap(allRules).every((r) => r.ref.handle !== undefined), name).toBe(true)
      rules += expectFromBothListings(rs, sources, name)
    }
    // The 48 recordings hold 1637 iptables rules: 1328 iptables-save, 308 ip6tables-save, 1 legacy.
    expect(rules).toBeGreaterThanOrEqual(1637)
  })
})

describe('buildRuleset: sources that overlap or lack a header', () => {
  it('ignores a second listing of the same backend and family (iptables-save is legacy on this host)', () => {
    const ufw = data('ufw.iptables-legacy-save.txt')
    const rs = buildRuleset({iptables: [{text: ufw, family: 'ip', backend: 'iptables-nft'}, {text: ufw, family: 'ip', backend: 'iptables-legacy'}]})
    expect(names(rs)).toEqual(['iptables-legacy ip filter'])
    expect(rs.warnings).toEqual(['iptables-save: expected iptables-nft output, the header says iptables-legacy', 'iptables-save: a second iptables-legacy ip listing ignored'])
  })

  it('skips tables of an output without a header, and empty outputs silently', () => {
    const rs = buildRuleset({iptables: [{text: '*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n', family: 'ip'}, {text: '', family: 'ip6', backend: 'iptables-legacy'}]})
    expect(rs).toEqual({tables: [], sets: {}, warnings: ['iptables-save: output has tables but no "# Generated by" header naming its variant; skipped']})
  })

  it('Docker host: counts agree, handles filled, FORWARD policy drop kept', () => {
    const rs = buildRuleset({iptables: [{text: data('docker.iptables-save.txt'), family: 'ip'}], nft: {json: data('docker.nft-j-list-ruleset.json')}})
    expect(rs.warnings).toEqual([])
    const filter = table(rs, 'iptables-nft', 'ip', 'filter')
    expect(filter.chains.FORWARD.base?.policy).toBe('drop')
    expect(allRules(filter).every((r) => r.ref.handle !== undefined)).toBe(true)
  })
})

describe('buildRuleset: base chains are the ones the kernel registers', () => {
  // Captured in a namespace: iptables-nft added one rule to mangle POSTROUTING and one to filter FORWARD.
  // iptables-nft-save prints every built-in chain of both tables; nf_tables holds (and hooks) only the two.
  const sources = {
    iptables: [{text: data('lazy-builtins.iptables-save.txt'), family: 'ip' as const}],
    nft: {json: data('lazy-builtins.nft-j-list-ruleset.json'), text: data('lazy-builtins.nft-a-list-ruleset.txt')},
  }
  it('walks only the built-in chains nft lists, not every one iptables-nft-save prints', () => {
    const rs = buildRuleset(sources)
    const bases = rs.tables.flatMap((t) => Object.values(t.chains).filter((c) => c.base).map((c) => `${t.backend} ${t.name} ${c.name}`))
    expect(bases).toEqual(['iptables-nft filter FORWARD', 'iptables-nft mangle POSTROUTING'])
  })
  it('iptables-legacy tables register all their built-in chains', () => {
    const legacy = data('lazy-builtins.iptables-save.txt').replace(/v1\.8\.9 \(nf_tables\)/g, 'v1.8.9 (legacy)')
    const rs = buildRuleset({iptables: [{text: legacy, family: 'ip'}]})
    expect(Object.values(table(rs, 'iptables-legacy', 'ip', 'mangle').chains).filter((c) => c.base)).toHaveLength(5)
  })
})
