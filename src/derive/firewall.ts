/**
 * Static questions about the host's packet filter, asked of the one netfilter
 * ruleset (iptables of both variants, native nftables): which backend libvirt
 * uses, whether its rules for a bridge exist, whether a source NAT covers a
 * subnet. Whether a packet actually meets them is the datapath's question.
 */
import {type IpRange, parsePrefix, rangeWithin} from '../lib/addr.js'
import {LIBVIRT_NFT_TABLE, type NfBackend, type NfExpr, type NfRule, type NfRuleset, type NfTable, saveSyntaxTool} from '../lib/netfilter.js'

import type {LibvirtFirewallBackend} from './types.js'

export type {LibvirtFirewallBackend}

/** Every rule of a table with its chain's name, chain by chain (asked per network, of tables of tens of thousands of rules: not copied). */
function* rulesOf(t: NfTable, chainWanted: (name: string) => boolean = () => true): Generator<{chain: string; rule: NfRule}> {
  for (const c of Object.values(t.chains)) {
    if (!chainWanted(c.name)) continue
    for (const rule of c.rules) yield {chain: c.name, rule}
  }
}

/** libvirt >= 10 with the nftables backend keeps everything in `table ip libvirt_network`; older ones use LIBVIRT_* iptables chains. */
export function libvirtBackend(rs: NfRuleset): LibvirtFirewallBackend {
  if (rs.tables.some((t) => t.backend === 'nft' && t.name === LIBVIRT_NFT_TABLE)) return 'nftables'
  if (rs.tables.some((t) => t.backend !== 'nft' && Object.keys(t.chains).some((c) => c.startsWith('LIBVIRT_')))) return 'iptables'
  return 'none'
}

const ifaceIs = (e: NfExpr, field: 'iifname' | 'oifname', name: string) => e.kind === 'cmp' && e.field === field && e.op === 'eq' && e.value.t === 'str' && e.value.v === name

/** libvirt's own rules that mention a bridge (iptables LIBVIRT_* chains, or nft libvirt_network), as their tools print them. */
export function libvirtRulesFor(bridge: string, rs: NfRuleset): string[] {
  const found: string[] = []
  for (const t of rs.tables) {
    const own = t.backend === 'nft' ? t.name === LIBVIRT_NFT_TABLE : true
    if (!own) continue
    for (const {chain, rule} of rulesOf(t, (chain) => t.backend === 'nft' || chain.startsWith('LIBVIRT_'))) {
      if (rule.exprs.some((e) => ifaceIs(e, 'iifname', bridge) || ifaceIs(e, 'oifname', bridge))) found.push(ruleText(t, chain, rule))
    }
  }
  return found
}

export function ruleText(t: NfTable, chain: string, rule: NfRule): string {
  if (t.backend === 'nft') return `nft ${t.family} ${t.name} ${chain}: ${rule.text}`
  return `${saveSyntaxTool(t.backend, t.family, t.command)} -t ${t.name} ${rule.text}`
}

/** CHECKSUM --checksum-fill for DHCP replies out of a bridge (mangle table). */
export function hasChecksumFill(rs: NfRuleset, bridge: string): boolean {
  const fills = (rule: NfRule) =>
    rule.exprs.some((e) => ifaceIs(e, 'oifname', bridge)) &&
    rule.exprs.some((e) => e.kind === 'effect' && /CHECKSUM/.test(e.text)) &&
    rule.exprs.some((e) => e.kind === 'cmp' && e.field === 'dport' && e.value.t === 'num' && e.value.v === 68)
  return rs.tables.some((t) => {
    if (t.backend === 'nft' || t.name !== 'mangle') return false
    for (const {rule} of rulesOf(t)) if (fills(rule)) return true
    return false
  })
}

/** Chains a packet can reach from the table's base chains on a hook (following jumps and gotos). */
function reachableChains(t: NfTable, hook: string): Set<string> {
  const seen = new Set<string>()
  const visit = (name: string) => {
    const chain = t.chains[name]
    if (!chain || seen.has(name)) return
    seen.add(name)
    for (const rule of chain.rules) for (const e of rule.exprs) if (e.kind === 'jump' || e.kind === 'goto') visit(e.target)
  }
  for (const c of Object.values(t.chains)) if (c.base?.hook === hook) visit(c.name)
  return seen
}

/**
 * A source-NAT statement. iptables-nft's MASQUERADE/SNAT targets are xt targets to nft: read from nft
 * (a table iptables-save calls incompatible and prints none of), libvirt's MASQUERADE is only that.
 */
const sourceNats = (e: NfExpr) =>
  (e.kind === 'nat' && (e.type === 'masquerade' || e.type === 'snat')) || (e.kind === 'opaque-statement' && /^xt target (MASQUERADE|SNAT)$/.test(e.text))

/** Source-NAT rules reachable from a postrouting base chain whose source match (if any) covers the whole subnet. */
export function sourceNatRulesFor(rs: NfRuleset, subnet: string): string[] {
  const net = parsePrefix(subnet)
  if (!net) return []
  const found: string[] = []
  for (const t of rs.tables) {
    const reachable = reachableChains(t, 'postrouting')
    for (const {chain, rule} of rulesOf(t, (chain) => reachable.has(chain))) {
      if (!rule.exprs.some(sourceNats)) continue
      const sources = rule.exprs.filter((e): e is Extract<NfExpr, {kind: 'cmp'}> => e.kind === 'cmp' && e.field === 'saddr')
      if (sources.every((e) => e.op === 'eq' && covers(e.value, net))) found.push(ruleText(t, chain, rule))
    }
  }
  return found
}

function covers(v: Extract<NfExpr, {kind: 'cmp'}>['value'], net: IpRange): boolean {
  if (v.t === 'prefix' || v.t === 'addr') {
    const r = parsePrefix(v.v)
    return r !== undefined && rangeWithin(net, r)
  }
  if (v.t === 'set') return v.elems.some((e) => covers(e, net))
  return false
}

/** What a ruleset does (rules, and built-in chains that drop by policy): an empty legacy table does nothing. */
export function ruleCount(rs: NfRuleset, backend: NfBackend): number {
  return rs.tables.filter((t) => t.backend === backend).reduce((n, t) => n + Object.values(t.chains).reduce((m, c) => m + c.rules.length + (c.base?.policy === 'drop' ? 1 : 0), 0), 0)
}

/** The iptables filter table's chain, in the system's iptables variant (nft first, else legacy). */
export function iptablesChain(rs: NfRuleset, chain: string) {
  const filter = rs.tables.find((t) => t.backend === 'iptables-nft' && t.family === 'ip' && t.name === 'filter') ?? rs.tables.find((t) => t.backend === 'iptables-legacy' && t.family === 'ip' && t.name === 'filter')
  return filter?.chains[chain]
}
