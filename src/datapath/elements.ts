/**
 * The element that decides a hop: a netfilter rule or chain policy, a sysctl,
 * a link, a route or policy rule, a missing listener. Its id is stable across
 * guests (one element, many flows), so findings group by it. It names what it
 * is and where, nothing more: the rule that owns its kind judges it and writes
 * the commands that change it (rules/*).
 */
import {LIBVIRT_NFT_TABLE, type NfHook, type NfRuleset, saveSyntaxTool} from '../lib/netfilter.js'
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
  /** An XDP program on a device the frame enters (its BPF code is not read: undecided). */
  | 'xdp'
  /** An IPsec policy (ip xfrm policy) that drops or captures the packet, or a default of block. */
  | 'xfrm-policy'
  | 'listener'
  | 'tc-qdisc'
  | 'tc-filter'
  /** A WireGuard device on the way out or in, whose peers' AllowedIPs decide (not read). */
  | 'wireguard'
  | 'bridge-port'
  /** A bridge's fdb entry that sends a guest's frames elsewhere (or an fdb not read). */
  | 'bridge-fdb'
  | 'bridge-vlan'
  | 'neighbour'
  | 'guest-address'
  | 'return-route'
  | 'snat-address'
  | 'gateway-address'
  /** A libvirt network's own dnsmasq option that gives its guests another router or DNS server, or none. */
  | 'dhcp-option'
  /** Inbound: a DNAT to an address no running guest holds. */
  | 'dnat-target'
  /** Inbound: the forward's DNAT rule does not translate the packet the outside sends. */
  | 'dnat-unmatched'
  /** Inbound: a --publish that nothing forwards. */
  | 'dnat-missing'
  /** Inbound: a hook's forward the ruleset lacks. */
  | 'hook-lost'
  /** Inbound: a forward the host or other guests cannot use by the published address. */
  | 'hairpin'
  | 'ovs-port'
  | 'ovs-interface'
  | 'ovs-flow'
  | 'ovs-vlan'
  | 'ovs-controller'

export interface Element {
  id: string
  kind: ElementKind
  /** The element as a person reads it: the rule text with table and chain, "net.ipv4.ip_forward = 0", ... */
  text: string
  /** Link elements: what is wrong with the device (no tap at all: missing, without a device). */
  state?: 'missing' | 'down' | 'no-carrier'
  /** Tap elements (link-master): the bridge it belongs to; a port too small for its bridge (link, with `mtu`): that bridge. */
  master?: string
  /** A port too small for its bridge: the MTU that makes it fit. */
  mtu?: number
  /**
   * Bridge ports: the port flag that stops the frame (locked, broadcast flooding off, unknown unicast not flooded to a
   * port that does not learn, proxy_arp: nothing flooded, isolated: nothing between two isolated ports; `peer`, the other).
   */
  portFlag?: 'locked' | 'bcast_flood' | 'flood' | 'proxy_arp' | 'isolated'
  /** An isolated port's isolated peer (portFlag isolated). */
  peer?: string
  /** fdb entries (bridge-fdb): the MAC and VLAN of the entry; its port in `device`, its bridge in `master`. */
  fdb?: {mac: string; vlan?: number}
  /** Link elements: ARP is off on the device (NOARP). */
  noArp?: true
  /** Neighbour entries: a permanent one (its address in `address`), rather than one that failed. */
  permanent?: boolean
  /**
   * Open vSwitch flows: the bridge, the flow's table, priority and match as ovs-ofctl takes them, whether it drops (else
   * it is one not evaluated), and the guest's port its in_port names (one libvirt plugged: its external ids), if any.
   */
  ovsFlow?: {bridge: string; match: string; drops: boolean; guestPort?: string}
  /** Open vSwitch ports of a guest: how libvirt plugs it (its <vlan> tags, the interface's iface-id and MAC). */
  ovsPlug?: {vlanTags: number[]; ifaceId?: string; mac?: string}
  /**
   * tc elements: a qdisc's parent and handle (`unmodelled`: not known to drop the packet, only not followed), a
   * filter's attach point and preference (`catchAllDrop`: it matches every packet and drops it).
   */
  tcQdisc?: {parent: string; handle: string; unmodelled?: true}
  tcFilter?: {attach: string; pref: number; catchAllDrop?: true}
  /** Guest elements (guest-link): the domain and its interface (tap name, else MAC). */
  domain?: string
  iface?: string
  /**
   * Route elements: the route that decides (absent: there is no route at all); `carvedFrom`: a libvirt network
   * whose subnet holds the route's narrower prefix, on another device (it takes those guests' addresses away).
   */
  route?: {type: string; dst: string; table: string; dev?: string; gateway?: string; carvedFrom?: string}
  /** Listener elements: the service missing (dhcp, dns), the host DHCP server not running, a full pool, or an address two MACs claim. */
  service?: 'dhcp' | 'dns'
  /** Routes and policy rules: the IP version they are about. */
  ipFamily?: 4 | 6
  server?: string
  pool?: boolean
  /** A listener element: its process is stopped (traced: by a debugger, which alone resumes it) ... */
  stoppedPid?: number
  traced?: boolean
  /** ... or frozen by its cgroup's freezer: the file that froze it (SIGCONT does not resume it, thawing does). */
  frozen?: string
  /** A listener element: the network serves no DNS (<dns enable='no'/>), so its guests' resolver is their own. */
  dnsDisabled?: boolean
  /** Netfilter elements of an iptables-nft table iptables cannot print (read from nft instead). */
  incompatibleTable?: boolean
  /** Netfilter elements: only nft can change it (a native table, or an iptables-nft table iptables cannot print). */
  nftSyntax?: boolean
  /** Netfilter rules: the rule as its tool printed it (iptables-save's "-A CHAIN ..." line, or nft's). */
  ruleText?: string
  /** Legacy ebtables: the command that edits its table where that is not ebtables-legacy (NfTable.command). */
  command?: 'ebtables'
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
  /**
   * Netfilter rules and policies: the rule of the element's chain an accept goes just before to take only what reaches
   * the element (its number as iptables counts, from 1; its nft handle): the rule itself, or for a policy the chain's
   * first return (what returns from a base chain meets the policy there). A policy without one: the chain's end.
   */
  acceptBefore?: {rule: number; handle?: number}
  /** The table or chain belongs to libvirt (nft table libvirt_network, iptables LIBVIRT_* chains). */
  libvirtOwned?: boolean
  /** buckets: for nf_conntrack_max, the kernel's hash table size (net.netfilter.nf_conntrack_buckets), when read. */
  sysctl?: {key: string; value: number; buckets?: number}
  device?: string
  /** The address an element is about: a source NAT's target, a neighbour entry's, an address two MACs claim. */
  address?: string
  /** dhcp-option elements: the `<dnsmasq:option value=…/>` (or those, joined) that gives it. */
  dnsmasqOption?: string
  /** Gateway elements: the prefix length the address belongs on its bridge with. */
  prefix?: number
  network?: string
  /** Policy rules: the routing table they send packets to, and their priority. */
  table?: string
  rulePriority?: number
}

/** The element a netfilter step stands for; `undecided` marks a rule whose match could not be told. */
export function elementForStep(s: TraceStep, rs: NfRuleset, undecided = false): Element {
  const c = s.chain
  const libvirtOwned = c.table === LIBVIRT_NFT_TABLE || c.chain.startsWith('LIBVIRT_')
  // iptables refuses every command on an iptables-nft table it cannot print: only nft reads and changes it.
  const incompatible = c.backend !== 'nft' && rs.tables.some((t) => t.incompatible && t.backend === c.backend && t.family === c.family && t.name === c.table)
  const nftSyntax = c.backend === 'nft' || incompatible
  const command = c.backend === 'ebtables-legacy' ? rs.tables.find((t) => t.backend === c.backend && t.name === c.table)?.command : undefined
  const tool = saveSyntaxTool(c.backend, c.family, command)
  const common = {backend: c.backend, family: c.family, ...(command ? {command} : {}), nfTable: c.table, chain: c.chain, baseChain: c.base ?? c.chain, hook: s.hook, priority: c.priority, libvirtOwned, incompatibleTable: incompatible, nftSyntax}
  if (s.event === 'policy' || !s.rule) {
    const where = nftSyntax ? `nft ${c.family} ${c.table} chain ${c.chain}` : `${tool} -t ${c.table} chain ${c.chain}`
    const rules = rs.tables.find((t) => t.backend === c.backend && t.family === c.family && t.name === c.table)?.chains[c.chain]?.rules ?? []
    const returns = rules.find((r) => r.exprs.some((e) => e.kind === 'verdict' && e.verdict === 'return'))
    const acceptBefore = returns ? {acceptBefore: {rule: returns.ref.index + 1, ...(returns.ref.handle !== undefined ? {handle: returns.ref.handle} : {})}} : {}
    return {id: `nf-policy:${c.backend} ${c.family} ${c.table} ${c.chain}`, kind: 'nf-policy', text: `${where} (hook ${s.hook}, priority ${c.priority ?? 0}) policy ${s.action ?? 'drop'}`, ...common, ...acceptBefore}
  }
  const ref = s.rule.ref
  const handle = ref.handle
  const id = `nf-rule:${c.backend} ${c.family} ${c.table} ${c.chain} ${handle !== undefined ? `handle ${handle}` : `#${ref.index + 1}`}`
  // iptables-save's "-A CHAIN ..." lines read as iptables; rules only nft could print read as nft.
  const saveLine = s.rule.text.startsWith('-A ') || c.backend === 'ebtables-legacy'
  // The stand-in for legacy ebtables tables that could not be read says so itself.
  const text =
    c.backend === 'ebtables-legacy' && !/^-[AP] /.test(s.rule.text)
      ? s.rule.text
      : c.backend === 'nft' || !saveLine
      ? `nft ${c.family} ${c.table} chain ${c.chain}: ${s.rule.text}${handle !== undefined ? ` (handle ${handle})` : ''}`
      : `${tool} -t ${c.table} ${s.rule.text}`
  return {id, kind: undecided ? 'nf-undecided' : 'nf-rule', text, ruleText: s.rule.text, ...(handle !== undefined ? {handle} : {}), acceptBefore: {rule: ref.index + 1, ...(handle !== undefined ? {handle} : {})}, ...common}
}

/**
 * No NAT on the way out of a NAT network. When a source-NAT rule for the subnet
 * exists but the packet never reaches it, the element is what stopped the walk
 * (a RETURN or ACCEPT earlier in the nat chains); otherwise it is the missing rule.
 */
export function natMissingElement(net: LibvirtNetwork, postroutingSteps: TraceStep[], rs: NfRuleset, family: 4 | 6 = 4): Element {
  const natSteps = postroutingSteps.filter((s) => s.event === 'rule' && s.rule && (s.action === 'accept' || s.action === 'return'))
  const subnet = net.ips.find((ip) => ip.family === (family === 6 ? 'ipv6' : 'ipv4'))
  const cidr = subnet ? `${subnet.address}/${subnet.prefix}` : 'the guest subnet'
  const hasSourceNat = rs.tables.some((t) => Object.values(t.chains).some((c) => c.rules.some((r) => r.exprs.some((e) => e.kind === 'nat' && (e.type === 'masquerade' || e.type === 'snat')))))
  const stopper = natSteps.find((s) => !s.chain.chain.startsWith('LIBVIRT_') && s.chain.table !== LIBVIRT_NFT_TABLE)
  if (hasSourceNat && stopper) {
    const e = elementForStep(stopper, rs)
    return {...e, text: `${e.text} (ends the nat chain before the MASQUERADE for ${cidr})`}
  }
  // One element per network and family: libvirt adds (and loses) each family's rules with its own command.
  return {id: `nat${family === 6 ? '6' : ''}:${net.name}`, kind: 'nf-nat-missing', text: `no MASQUERADE/SNAT for ${cidr} on the nat postrouting path`, network: net.name}
}
