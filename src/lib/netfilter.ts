/**
 * The netfilter IR: one lossless representation of the host's packet filter, whatever wrote it:
 * iptables-save (legacy or nft variant, IPv4 and IPv6), `nft -j list ruleset`
 * (native tables) and `ipset list`. Every match and statement of every rule is
 * kept: what the evaluator understands is typed, the rest is `opaque` with its
 * text, so nothing is dropped on the floor and nothing unknown reads as "no match".
 *
 * The model is nftables' own (iptables-translate shows the mapping): a rule is
 * a sequence of expressions, matches (`field op value`) and statements, read
 * left to right; a match that fails ends the rule, a verdict ends the chain.
 */

/**
 * Where a table lives: the same family/table name can exist in several of these at once. 'ebtables-legacy': the
 * kernel's own ebtables tables (ebtables-legacy-save), bridge family; ebtables-nft's are nft's.
 */
export type NfBackend = 'iptables-legacy' | 'iptables-nft' | 'nft' | 'ipset' | 'ebtables-legacy'

/**
 * The command that edits a table of BACKEND and FAMILY in save syntax ("-A CHAIN ..."): iptables or ip6tables of the
 * backend's variant (the nft variant's for a native table); for the kernel's own ebtables tables the table's
 * `command` (NfTable), else ebtables-legacy.
 */
export function saveSyntaxTool(backend: string | null | undefined, family: string | null | undefined, command?: string | null): string {
  if (backend === 'ebtables-legacy') return command ?? 'ebtables-legacy'
  const tool = family === 'ip6' ? 'ip6tables' : 'iptables'
  return backend === 'iptables-legacy' ? `${tool}-legacy` : tool
}
export type NfFamily = 'ip' | 'ip6' | 'inet' | 'bridge' | 'arp' | 'netdev'
export type NfHook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting' | 'ingress' | 'egress'
export type NfChainType = 'filter' | 'nat' | 'route'

export interface NfRuleRef {
  backend: NfBackend
  family: NfFamily
  table: string
  chain: string
  /** Position in the chain, from 0. */
  index: number
  /** nft rule handle, when known (native nft; iptables-nft rules when the nft listing was available). */
  handle?: number
}

export interface NfRuleset {
  tables: NfTable[]
  /** Named nft sets/maps (`${family} ${table} ${name}`) and ipsets (`ipset ${name}`). */
  sets: Record<string, NfSet>
  /** Things the parsers could not place (an unparseable line, an unknown top-level object), for evidence. */
  warnings: string[]
}

export interface NfTable {
  backend: NfBackend
  family: NfFamily
  name: string
  chains: Record<string, NfChain>
  /** iptables-save printed "# Table `X' is incompatible, use 'nft' tool.": its rules must come from nft. */
  incompatible?: boolean
  /**
   * Legacy ebtables: the command that edits it where that is not ebtables-legacy: `ebtables` itself where it is the
   * legacy tool and no ebtables-legacy is installed (RHEL/CentOS 7).
   */
  command?: 'ebtables'
  /** nf_tables table handle (per family, in order of creation), when the nft listing was read. */
  handle?: number
}

export interface NfBaseChain {
  type: NfChainType
  hook: NfHook
  /** Numeric priority (iptables: raw -300, mangle -150, nat prerouting -100, filter 0, security 50, nat postrouting/input 100). */
  priority: number
  policy: 'accept' | 'drop'
  /** netdev/ingress chains: the device. */
  device?: string
}

export interface NfChain {
  backend: NfBackend
  family: NfFamily
  table: string
  name: string
  /** Present for base chains (hooked into the kernel); user chains are only entered by jump/goto. */
  base?: NfBaseChain
  rules: NfRule[]
  /** Packet counters when the source printed them ([packets:bytes] of iptables-save -c / chain lines). */
  counters?: {packets: number; bytes: number}
}

export interface NfRule {
  ref: NfRuleRef
  /** The rule as its tool prints it: the iptables-save line ("-A FORWARD -i virbr0 -j ACCEPT") or nft syntax. */
  text: string
  exprs: NfExpr[]
  counters?: {packets: number; bytes: number}
  comment?: string
}

export type NfExpr = NfMatch | NfStatement

/**
 * Fields a match can read. Names follow nft; iptables options map onto them
 * (-i → iifname, -s → saddr, --dport → dport, -m conntrack --ctstate → ct state,
 * -m addrtype --dst-type → fib daddr type, -m physdev → physdev-*, -m mark → mark).
 */
export type NfField =
  | 'iifname' // wildcard "virbr*" (iptables "virbr+") allowed in values
  | 'oifname'
  | 'ibrname' // bridge family: the bridge a port belongs to
  | 'obrname'
  | 'physdev-in' // iptables -m physdev (br_netfilter): the bridge port
  | 'physdev-out'
  | 'physdev-is-in' // value {t:'num', v: 1}
  | 'physdev-is-out'
  | 'physdev-is-bridged'
  | 'nfproto' // ipv4 | ipv6 (inet tables)
  | 'ether type' // bridge family: ip | ip6 | arp | vlan ...
  | 'l4proto' // tcp | udp | icmp | icmpv6 | sctp | number; iptables -p
  | 'saddr'
  | 'daddr'
  | 'ether saddr'
  | 'ether daddr'
  | 'sport'
  | 'dport'
  | 'icmp type'
  | 'icmp code'
  | 'icmpv6 type'
  | 'icmpv6 code'
  | 'tcp flags'
  | 'ct state' // new | established | related | invalid | untracked
  | 'ct status' // snat | dnat | confirmed | ...
  | 'ct direction' // original | reply
  // The connection's original tuple: its first packet as conntrack saw it, before any NAT (iptables --ctorigdst,
  // nft `ct original ip daddr`): what a forward's accept names the published address and port by.
  | 'ct original saddr'
  | 'ct original daddr'
  | 'ct original sport'
  | 'ct original dport'
  | 'ct mark'
  | 'mark'
  | 'fib saddr type' // local | unicast | broadcast | multicast | ... (iptables -m addrtype)
  | 'fib daddr type'
  // The device of the route to the address (nft `fib saddr . iif oif`, result oif or oifname): a name, '' when the
  // lookup finds none (`missing`; `exists` is != ''). With iface 'iif', only the input device counts (strict rp filter).
  | 'fib saddr oif'
  | 'fib daddr oif'
  // iptables -m rpfilter: value {t: 'flags'} of its options (loose, validmark, accept-local); --invert is op 'ne'.
  | 'rpfilter'
  | 'pkttype' // host | broadcast | multicast | other
  // The input/output device's kind (its rtnl_link_ops: "veth", "bridge", "tun" for a tap) and group (0 = default).
  | 'iifkind'
  | 'oifkind'
  | 'iifgroup'
  | 'oifgroup'
  // ip/ip6 dscp: set by the packet's sender (a guest's software, a server), never known to the host: always undecided.
  | 'dscp'

export type NfScalar = {t: 'str'; v: string} | {t: 'num'; v: number} | {t: 'addr'; v: string}

export type NfValue =
  | NfScalar
  /** Address prefix "192.168.122.0/24" (IPv4 or IPv6). */
  | {t: 'prefix'; v: string}
  /** Inclusive range of numbers or addresses. */
  | {t: 'range'; lo: NfScalar; hi: NfScalar}
  /** Flag list: ct state/status, tcp flags, fib types. Matches when the packet has any of them. */
  | {t: 'flags'; v: string[]}
  /** Anonymous set: matches when the packet's value equals/lies in any element. */
  | {t: 'set'; elems: NfValue[]}
  /** Concatenation (nft `ip saddr . tcp dport`), as set elements. */
  | {t: 'concat'; parts: NfValue[]}
  /** Named set or ipset: key into NfRuleset.sets. */
  | {t: 'setref'; name: string}

export type NfMatch =
  | {
      kind: 'cmp'
      field: NfField
      /** eq/ne against a set, range or prefix mean "in"/"not in". */
      op: 'eq' | 'ne' | 'lt' | 'gt' | 'le' | 'ge'
      value: NfValue
      /** Bitmask applied to the packet's value first (mark/ct mark "0x1/0xff", `meta mark & 0xff`). */
      mask?: number
      /** iptables -m set with several directions: the fields concatenated in order. */
      concat?: NfField[]
      /** fib lookups only: restricted to the packet's input/output interface (nft `fib daddr . iif`, iptables --limit-iface-in/out). */
      iface?: 'iif' | 'oif'
      /** fib route lookups only: the packet's mark takes part in the lookup (nft `fib saddr . mark`). */
      fibMark?: true
      /**
       * iptables -m addrtype (not nft's fib type): for IPv6 its types are a mask of tests (match_type6): UNICAST and
       * MULTICAST the address's class, which a local address has too, LOCAL a route lookup, all of them required.
       */
      addrtypeMask?: true
      /** Added by the parser, not written by the user: the dependency nft applies before a protocol match (`tcp dport` needs `meta l4proto tcp`). */
      implicit?: true
    }
  /**
   * Matches that depend on rates, randomness, time or history: the evaluator says "may match". `fills`: as for an effect
   * (a set statement whose element carries a limit, quota or ct count: `add @flood { ip saddr limit rate over 10/second }`).
   */
  | {kind: 'nondeterministic'; what: string; text: string; fills?: string}
  /** A match the evaluator does not model: the result is indeterminate if it matters. */
  | {kind: 'opaque'; text: string}

export type NfStatement =
  | {kind: 'verdict'; verdict: 'accept' | 'drop' | 'reject' | 'return' | 'continue' | 'queue'; text?: string}
  | {kind: 'jump' | 'goto'; target: string}
  | {
      kind: 'nat'
      type: 'masquerade' | 'snat' | 'dnat' | 'redirect'
      /** Address (or first of a range) to translate to; absent for masquerade/redirect, and for snat/dnat whose address comes from a map (see text). */
      addr?: string
      addrEnd?: string
      port?: number
      portEnd?: number
      /** The port is picked at random in its range (--random, --random-fully; nft `random`, `fully-random`): not kept, not the first. */
      random?: true
      /** The family an inet table's NAT was written for (`snat ip6 to`): a packet of the other passes it untranslated (nft_nat_inet_eval). */
      family?: 4 | 6
      /**
       * The address (and port) looked up in a map keyed by packet fields (`dnat to tcp dport map { 8080 : 10.0.0.2 }`,
       * `dnat ip addr . port to ip daddr . tcp dport map @fwd`): a packet with no entry is not translated and the
       * rule ends there (the lookup breaks it); entries are an inline map or a named one in NfRuleset.sets.
       */
      map?: {field: NfField; concat?: NfField[]; entries: NatMapEntry[] | {t: 'setref'; name: string}}
      text: string
    }
  /** op 'set' with a mask: mark = (mark & ~mask) ^ value (iptables --set-xmark value/mask); without: mark = value, mark & value, ... */
  | {kind: 'mark'; what: 'mark' | 'ct mark'; op: 'set' | 'and' | 'or' | 'xor'; value: number; mask?: number; text: string}
  /**
   * A mark set from a map of the packet's fields (`meta mark set ip saddr map { 192.168.122.0/24 : 0x1 }`): the entry
   * the packet's key selects gives the mark; no entry breaks the rule (the mark stays).
   */
  | {kind: 'mark-map'; what: 'mark' | 'ct mark'; field: NfField; concat?: NfField[]; entries: {key: NfValue; value: number}[] | {t: 'setref'; name: string}; text: string}
  /**
   * A mark set to a value the evaluator does not compute (`numgen`, a hash, a map it cannot read, MARK with options
   * not read): from here on the mark is unknown, so a rule reading it is undecided, never skipped.
   */
  | {kind: 'mark-unknown'; what: 'mark' | 'ct mark'; text: string}
  /**
   * The conntrack zone a packet is looked up and tracked in (iptables -t raw -j CT --zone N, nft `ct zone set N` before
   * conntrack): a reply looked up in another zone than its connection's finds no entry. `dir`: the zone holds for that
   * direction's tuple only (--zone-orig/--zone-reply, `ct original zone set`), the other's is zone 0. 'unknown': from
   * the mark, or a map.
   */
  | {kind: 'ct-zone'; zone: number | 'unknown'; dir?: 'original' | 'reply'; text: string}
  /**
   * Copy between packet mark and connection mark (CONNMARK --save/--restore-mark, `ct mark set meta mark`). With masks,
   * some bits only: to = (to & ~toMask) ^ (from & fromMask) (xt_CONNMARK: --nfmask/--ctmask, `meta mark set ct mark and 0x1`).
   */
  | {kind: 'mark-copy'; from: 'mark' | 'ct mark'; to: 'mark' | 'ct mark'; fromMask?: number; toMask?: number; text: string}
  /** nft verdict map: `meta iifname vmap { "virbr0" : accept, ... }`. */
  | {kind: 'vmap'; field: NfField; concat?: NfField[]; map: {key: NfValue; then: NfStatement}[] | {t: 'setref'; name: string}; text: string}
  /** Untracked packets skip NAT and are "ct state untracked" (iptables -t raw -j NOTRACK / CT --notrack). */
  | {kind: 'notrack'; text: string}
  /**
   * Statements that neither decide nor change what later rules see: counter, log, CHECKSUM, TCPMSS, NFLOG ... `fills`:
   * the set (its NfRuleset.sets key) the statement adds the packet's key to (nft add/update @set, iptables -j SET --add-set).
   */
  | {kind: 'effect'; text: string; fills?: string}
  /** A target the evaluator does not model; it may or may not end the chain. `note`: why, where more is known than that. */
  | {kind: 'opaque-statement'; text: string; terminal: boolean | 'unknown'; note?: string}

/** One entry of a NAT map: the key the packet must match, and the address (and port) it is translated to. */
export interface NatMapEntry {
  key: NfValue
  addr?: string
  port?: number
}

export interface NfSet {
  backend: NfBackend
  family?: NfFamily
  table?: string
  name: string
  /** nft key type(s) (ipv4_addr, inet_service, ifname; several for concatenations) or ipset type (hash:net). */
  type: string[]
  flags: string[]
  /** Elements (set) or keys (map); a concatenation element is {t:'concat'}. */
  elems: NfValue[]
  /** Maps: data per element, same order as elems (a verdict for vmaps). */
  data?: (NfValue | NfStatement)[]
  /** ipset "nomatch" entries: a packet whose most specific matching entry is one of these is not in the set. */
  nomatch?: NfValue[]
  /** False when the elements could not all be read (ipset list failed, unknown element syntax). */
  complete: boolean
  /**
   * A rule that adds packets' keys to the set as they pass (its text): the listing holds the set as it stood then, not
   * the keys a packet adds on its way, its own included, so a key it does not hold may be there when the packet comes.
   */
  filledBy?: string
}

/** The table libvirt >= 10 keeps its network rules in with its nftables backend. */
export const LIBVIRT_NFT_TABLE = 'libvirt_network'

/** The words of an iptables-save rule line: double-quoted values unescaped, as iptables itself reads them. */
export function iptablesWords(ruleText: string): string[] {
  return [...ruleText.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]))
}

/** Who owns a netfilter chain: a firewall manager rewrites it on reload, libvirt re-creates its own; the rest is the admin's. */
export type ChainOwner = 'libvirt' | 'firewalld' | 'ufw' | 'docker' | 'admin'

/**
 * libvirt's nwfilter (a domain's <filterref>): per tap, ebtables chains libvirt-I-TAP / libvirt-O-TAP (J, P while
 * it swaps them) and their sub-chains I-TAP-ipv4-ip..., iptables chains libvirt-in, libvirt-out, libvirt-in-post,
 * libvirt-host-in and FI-TAP, FO-TAP, HI-TAP (fi-, fo-, hi- while swapping). libvirt rebuilds them from the filter's
 * XML: the filter (or its parameters) is what to change, never a rule of them.
 */
const NWFILTER_CHAIN = /^libvirt-[IOJP]-|^[IOJP]-[^-]+-|^libvirt-(in|out|in-post|host-in)$|^(FI|FO|HI|fi|fo|hi)-/

/** The tap whose nwfilter chain this is (libvirt-I-vnet2, I-vnet2-ipv4-ip, FI-vnet2); undefined for another chain. */
export function nwfilterTap(chain: string | undefined): string | undefined {
  return /^(?:libvirt-[IOJP]|[IOJP]|FI|FO|HI|fi|fo|hi)-([^-]+)/.exec(chain ?? '')?.[1]
}

export function chainOwnerOf(table: string | undefined, chain: string | undefined, libvirtOwned = false): ChainOwner {
  const name = chain ?? ''
  if (libvirtOwned || /^LIBVIRT_/.test(name) || /^libvirt/.test(table ?? '') || NWFILTER_CHAIN.test(name)) return 'libvirt'
  if (table === 'firewalld' || /^(IN|FWDI|FWDO|FWD|OUT|PRE|POST)_|_(ZONES|ZONES_SOURCE|POLICIES|direct)$/.test(name)) return 'firewalld'
  if (/^ufw6?-/.test(name)) return 'ufw'
  if (/^DOCKER/.test(name)) return 'docker'
  return 'admin'
}

/**
 * A rule that stops everything that reaches it (no match narrows it: counters, comments and logging
 * aside): a chain's catch-all. Deleting one opens the chain to all traffic, not only the guests'.
 */
export function catchAllText(ruleText: string, nftSyntax: boolean): boolean {
  if (nftSyntax) {
    const rest = ruleText.replace(/\bcounter( packets \d+ bytes \d+)?/g, '').replace(/\blog( prefix "[^"]*")?( level \w+)?/g, '').replace(/comment "[^"]*"/g, '').trim()
    return /^(drop|reject( with .*)?)$/.test(rest)
  }
  const words = ruleText.trim().split(/\s+/)
  if (words[0] !== '-A' && words[0] !== '-I') return false
  const spec = words.slice(2).join(' ').replace(/-m comment --comment ("[^"]*"|\S+)/g, '').trim()
  return /^-j (DROP|REJECT)( --reject-with \S+)?$/.test(spec)
}
