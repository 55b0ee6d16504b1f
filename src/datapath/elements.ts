/**
 * The element that decides a hop: a netfilter rule or chain policy, a sysctl,
 * a link, a route or policy rule, a missing listener. Its id is stable across
 * guests (one element, many flows), so findings group by it, and other
 * derivations can say "this element is mine" (`elements` on their entities).
 */
import {LIBVIRT_NFT_TABLE, type NfHook, type NfRuleset} from '../lib/netfilter.js'
import type {LibvirtNetwork} from '../../probes/libvirt.js'
import type {TraceStep} from './netfilter/evaluate.js'

export type ElementKind =
  | 'nf-rule'
  | 'nf-policy'
  | 'nf-nat-missing'
  | 'nf-undecided'
  | 'sysctl'
  | 'rp-filter'
  | 'link'
  | 'link-master'
  | 'guest-link'
  | 'stp'
  | 'route'
  | 'policy-rule'
  | 'listener'
  | 'tc-qdisc'
  | 'tc-filter'
  | 'bridge-port'
  | 'bridge-vlan'
  | 'neighbour'
  | 'guest-address'
  | 'return-route'
  | 'snat-address'

export interface Element {
  id: string
  kind: ElementKind
  /** The element as a person reads it: the rule text with table and chain, "net.ipv4.ip_forward = 0", ... */
  text: string
  /** Exact commands that undo it (delete the rule, set the sysctl back, bring the link up). */
  undo: string[]
  /** Netfilter elements: the command that lists the chain it is in, with the tool that can read it. */
  listChain?: string
  /** Netfilter elements of an iptables-nft table iptables cannot print (read from nft instead). */
  incompatibleTable?: boolean
  /** Netfilter elements. */
  backend?: string
  family?: string
  nfTable?: string
  chain?: string
  /** The hooked chain the decision was made under (INPUT for a drop in ufw-user-input). */
  baseChain?: string
  hook?: NfHook
  priority?: number
  handle?: number
  /** The table or chain belongs to libvirt (nft table libvirt_network, iptables LIBVIRT_* chains). */
  libvirtOwned?: boolean
  sysctl?: {key: string; value: number}
  device?: string
  /** The address an element is about: a source NAT's target. */
  address?: string
  network?: string
  /** Policy rules: the routing table they send packets to, and their priority. */
  table?: string
  rulePriority?: number
}

function toolOf(backend: string, family: string): string {
  const six = family === 'ip6'
  if (backend === 'iptables-legacy') return six ? 'ip6tables-legacy' : 'iptables-legacy'
  return six ? 'ip6tables' : 'iptables'
}

/** The element a netfilter step stands for; `undecided` marks a rule whose match could not be told. */
export function elementForStep(s: TraceStep, rs: NfRuleset, undecided = false): Element {
  const c = s.chain
  const libvirtOwned = c.table === LIBVIRT_NFT_TABLE || c.chain.startsWith('LIBVIRT_')
  // iptables refuses every command on an iptables-nft table it cannot print: only nft reads and changes it.
  const incompatible = c.backend !== 'nft' && rs.tables.some((t) => t.incompatible && t.backend === c.backend && t.family === c.family && t.name === c.table)
  const nftSyntax = c.backend === 'nft' || incompatible
  const tool = toolOf(c.backend, c.family)
  const listChain = nftSyntax ? `nft -a list chain ${c.family} ${c.table} ${c.chain}` : `${tool} -t ${c.table} --list-rules ${c.chain}`
  const common = {backend: c.backend, family: c.family, nfTable: c.table, chain: c.chain, baseChain: c.base ?? c.chain, hook: s.hook, priority: c.priority, libvirtOwned, listChain, incompatibleTable: incompatible}
  if (s.event === 'policy' || !s.rule) {
    const where = nftSyntax ? `nft ${c.family} ${c.table} chain ${c.chain}` : `${tool} -t ${c.table} chain ${c.chain}`
    const undo = nftSyntax ? [`nft 'chain ${c.family} ${c.table} ${c.chain} { policy accept; }'`] : [`${tool} -t ${c.table} -P ${c.chain} ACCEPT`]
    return {id: `nf-policy:${c.backend} ${c.family} ${c.table} ${c.chain}`, kind: 'nf-policy', text: `${where} (hook ${s.hook}, priority ${c.priority ?? 0}) policy ${s.action ?? 'drop'}`, undo, ...common}
  }
  const ref = s.rule.ref
  const handle = ref.handle
  const id = `nf-rule:${c.backend} ${c.family} ${c.table} ${c.chain} ${handle !== undefined ? `handle ${handle}` : `#${ref.index + 1}`}`
  // iptables-save's "-A CHAIN ..." lines read as iptables; rules only nft could print read as nft.
  const saveLine = s.rule.text.startsWith('-A ')
  const text =
    c.backend === 'nft' || !saveLine
      ? `nft ${c.family} ${c.table} chain ${c.chain}: ${s.rule.text}${handle !== undefined ? ` (handle ${handle})` : ''}`
      : `${tool} -t ${c.table} ${s.rule.text}`
  const undo = nftSyntax
    ? handle !== undefined
      ? [`nft delete rule ${c.family} ${c.table} ${c.chain} handle ${handle}`]
      : [`nft -a list chain ${c.family} ${c.table} ${c.chain}   # then: nft delete rule ${c.family} ${c.table} ${c.chain} handle N`]
    : // Deleting by specification is iptables-save's line with -D.
      [`${tool} -t ${c.table} ${s.rule.text.replace(/^-A /, '-D ')}`]
  return {id, kind: undecided ? 'nf-undecided' : 'nf-rule', text, undo, ...(handle !== undefined ? {handle} : {}), ...common}
}

/**
 * No NAT on the way out of a NAT network. When a source-NAT rule for the subnet
 * exists but the packet never reaches it, the element is what stopped the walk
 * (a RETURN or ACCEPT earlier in the nat chains); otherwise it is the missing rule.
 */
export function natMissingElement(net: LibvirtNetwork, postroutingSteps: TraceStep[], rs: NfRuleset): Element {
  const natSteps = postroutingSteps.filter((s) => s.event === 'rule' && s.rule && (s.action === 'accept' || s.action === 'return'))
  const subnet = net.ips.find((ip) => ip.family === 'ipv4')
  const cidr = subnet ? `${subnet.address}/${subnet.prefix}` : 'the guest subnet'
  const hasSourceNat = rs.tables.some((t) => Object.values(t.chains).some((c) => c.rules.some((r) => r.exprs.some((e) => e.kind === 'nat' && (e.type === 'masquerade' || e.type === 'snat')))))
  const stopper = natSteps.find((s) => !s.chain.chain.startsWith('LIBVIRT_') && s.chain.table !== LIBVIRT_NFT_TABLE)
  if (hasSourceNat && stopper) {
    const e = elementForStep(stopper, rs)
    return {...e, text: `${e.text} (ends the nat chain before the MASQUERADE for ${cidr})`}
  }
  return {id: `nat:${net.name}`, kind: 'nf-nat-missing', text: `no MASQUERADE/SNAT for ${cidr} on the nat postrouting path`, undo: [`systemctl restart libvirtd   # or virtnetworkd: re-applies network ${net.name}'s NAT rules`], network: net.name}
}
