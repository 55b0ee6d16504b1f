/**
 * What the host's firewall does to guest traffic, derived from parsed rules:
 * which backend libvirt uses, whether its rules for a bridge are there, and
 * the verdict the FORWARD path gives a new packet from a bridge.
 */
import {type IptRule, type IptablesRuleset, chainRules} from '../../probes/iptables.js'
import type {NftChain, NftFacts} from '../../probes/nftables.js'
import {cidrContains, parseCidr} from './ipv4.js'

export type LibvirtFirewallBackend = 'iptables' | 'nftables' | 'none'

export const LIBVIRT_NFT_TABLE = 'libvirt_network'

/** libvirt >= 10 with the nftables backend keeps everything in `table ip libvirt_network`; older ones use LIBVIRT_* iptables chains. */
export function libvirtBackend(ipt: IptablesRuleset | undefined, nft: NftFacts | undefined): LibvirtFirewallBackend {
  if (nft?.tables.some((t) => t.name === LIBVIRT_NFT_TABLE)) return 'nftables'
  if (ipt && Object.values(ipt.tables).some((t) => Object.keys(t.chains).some((c) => c.startsWith('LIBVIRT_')))) return 'iptables'
  return 'none'
}

/** libvirt's own rules that mention a bridge (iptables LIBVIRT_* chains, or nft libvirt_network). */
export function libvirtRulesFor(bridge: string, ipt: IptablesRuleset | undefined, nft: NftFacts | undefined): string[] {
  const found: string[] = []
  for (const table of Object.values(ipt?.tables ?? {})) {
    for (const chain of Object.values(table.chains)) {
      if (!chain.name.startsWith('LIBVIRT_')) continue
      for (const r of chain.rules) if (r.inIface === bridge || r.outIface === bridge) found.push(`iptables -t ${table.name} ${r.text}`)
    }
  }
  for (const chain of nft?.chains ?? []) {
    if (chain.table !== LIBVIRT_NFT_TABLE) continue
    for (const r of chain.rules) if (r.iif === bridge || r.oif === bridge) found.push(`nft ${chain.family} ${chain.table} ${chain.name}: ${r.summary}`)
  }
  return found
}

export interface ForwardPacket {
  inIface: string
  outIface?: string
  /** A source address inside this subnet (NAT/routed guests); undefined for bridged frames. */
  source?: string
  /** Frame bridged between two ports of one bridge (br_netfilter), matched by physdev --physdev-is-bridged. */
  bridged: boolean
}

export interface ForwardVerdict {
  verdict: 'accept' | 'drop' | 'reject'
  /** The rule that decided, or the chain policy. */
  decidedBy: string
}

const TERMINAL: Record<string, ForwardVerdict['verdict']> = {ACCEPT: 'accept', DROP: 'drop', REJECT: 'reject'}

/** Whether a rule certainly matches a NEW packet; rules with other conditions do not count either way. */
function matches(rule: IptRule, p: ForwardPacket): boolean {
  const iface = (value: string | undefined, actual: string | undefined, negated: boolean) => {
    if (value === undefined) return true
    if (actual === undefined) return false
    const hit = value.endsWith('+') ? actual.startsWith(value.slice(0, -1)) : value === actual
    return negated ? !hit : hit
  }
  if (!iface(rule.inIface, p.inIface, rule.negated.includes('inIface'))) return false
  if (!iface(rule.outIface, p.outIface, rule.negated.includes('outIface'))) return false
  if (rule.source !== undefined) {
    const cidr = parseCidr(rule.source)
    if (!cidr || p.source === undefined) return false
    if (cidrContains(cidr, p.source) === rule.negated.includes('source')) return false
  }
  // A new connection is never RELATED,ESTABLISHED; protocol/port/destination matches cover only part of the traffic.
  if (rule.ctstate && !(rule.ctstate.includes('NEW') && !rule.negated.includes('ctstate'))) return false
  if (rule.protocol !== undefined || rule.destination !== undefined || rule.dport !== undefined || rule.sport !== undefined) return false
  if (rule.modules.includes('physdev')) return p.bridged && /--physdev-is-bridged/.test(rule.text) && !/!\s+--physdev-is-bridged/.test(rule.text)
  return rule.modules.every((m) => m === 'conntrack' || m === 'state' || m === 'comment')
}

/** Walks filter/FORWARD like the kernel would for one new packet. */
export function forwardVerdict(ipt: IptablesRuleset | undefined, p: ForwardPacket): ForwardVerdict | undefined {
  const forward = ipt?.tables.filter?.chains.FORWARD
  if (!forward) return undefined
  const walk = (chainName: string, depth: number): ForwardVerdict | 'return' => {
    if (depth > 32) return 'return'
    for (const rule of chainRules(ipt, 'filter', chainName)) {
      if (!rule.target || !matches(rule, p)) continue
      if (TERMINAL[rule.target]) return {verdict: TERMINAL[rule.target], decidedBy: `iptables -t filter ${rule.text}`}
      if (rule.target === 'RETURN') return 'return'
      if (ipt!.tables.filter.chains[rule.target]) {
        const sub = walk(rule.target, depth + 1)
        if (sub !== 'return') return sub
        if (rule.goto) return 'return'
      }
    }
    return 'return'
  }
  const result = walk('FORWARD', 0)
  if (result !== 'return') return result
  const policy = forward.policy === 'DROP' ? 'drop' : 'accept'
  return {verdict: policy, decidedBy: `iptables -t filter: chain FORWARD policy ${forward.policy ?? 'ACCEPT'}`}
}

/**
 * nftables base chains on the forward hook that drop by policy and never accept this bridge,
 * outside libvirt's own table. Every base chain on a hook must accept a packet, so such a
 * chain drops guest traffic whatever iptables says. iptables-nft's own `ip filter FORWARD`
 * is left to forward-policy-drop, which follows its jumps.
 */
export function nftDroppingForwardChains(nft: NftFacts | undefined, bridge: string, iptablesNftFilter: boolean): NftChain[] {
  if (!nft) return []
  const tablesAccepting = new Set(
    nft.chains.filter((c) => c.rules.some((r) => r.verdict === 'accept' && !r.negated.length && (r.iif === bridge || r.oif === bridge))).map((c) => `${c.family} ${c.table}`),
  )
  const isIptablesOwn = (c: NftChain) => iptablesNftFilter && c.family === 'ip' && c.table === 'filter' && c.name === 'FORWARD'
  return nft.chains.filter((c) => c.hook === 'forward' && c.policy === 'drop' && c.table !== LIBVIRT_NFT_TABLE && !isIptablesOwn(c) && !tablesAccepting.has(`${c.family} ${c.table}`))
}

/** CHECKSUM --checksum-fill for DHCP replies out of a bridge (mangle table). */
export function hasChecksumFill(ipt: IptablesRuleset | undefined, bridge: string): boolean {
  return Object.values(ipt?.tables.mangle?.chains ?? {}).some((c) => c.rules.some((r) => r.target === 'CHECKSUM' && r.outIface === bridge && r.dport === '68'))
}

/** What a ruleset does (rules, and built-in chains that drop by policy): an empty legacy table does nothing. */
export function ruleCount(ipt: IptablesRuleset | undefined): number {
  return Object.values(ipt?.tables ?? {}).reduce((n, t) => n + Object.values(t.chains).reduce((m, c) => m + c.rules.length + (c.policy === 'DROP' ? 1 : 0), 0), 0)
}
