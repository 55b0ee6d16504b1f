/**
 * Random rulesets for the differential test, from a seed: iptables-nft, iptables-legacy and native nft
 * (ip, inet, bridge and netdev tables) at once, written as the tools' own input (iptables-restore, nft -f).
 * Every ruleset of one seed is the same on every run, so a disagreement replays with KDX_SEED.
 *
 * Rules are written the way real managers write theirs where the topology needs it: NAT rules name the
 * uplink or the public address (so they never touch bridged frames), marks are set and read in the IP
 * families only. Everything else is free: jumps, gotos, returns, policies, marks and connmarks, ct state,
 * sets, physdev, priorities that tie, chains of every family on every hook.
 */
import {type RandomGenerator, unsafeUniformIntDistribution, xoroshiro128plus} from 'pure-rand'

export const TOPOLOGY = {
  bridge: 'kbr0',
  ports: ['vnet0', 'vnet1'],
  uplink: 'up0',
  hostBridgeAddr: '192.168.150.1',
  hostUplinkAddr: '198.51.100.1',
  guests: ['192.168.150.11', '192.168.150.12'],
  outside: '198.51.100.2',
  internet: '203.0.113.10',
  subnet: '192.168.150.0/24',
  uplinkNet: '198.51.100.0/24',
  /** The same places in IPv6: a ULA for the guests (libvirt routes it, or NAT66 hides it), documentation space beyond. */
  v6: {
    hostBridgeAddr: 'fd00:150::1',
    hostUplinkAddr: '2001:db8:100::1',
    guests: ['fd00:150::11', 'fd00:150::12'],
    outside: '2001:db8:100::2',
    internet: '2001:db8:113::10',
    subnet: 'fd00:150::/64',
    uplinkNet: '2001:db8:100::/64',
  },
} as const

export class Rng {
  private readonly g: RandomGenerator
  constructor(seed: number) {
    this.g = xoroshiro128plus(seed)
  }
  int(lo: number, hi: number): number {
    return unsafeUniformIntDistribution(lo, hi, this.g)
  }
  chance(p: number): boolean {
    return this.int(0, 9999) < p * 10000
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(0, list.length - 1)]
  }
}

type Syntax = 'ipt' | 'nft'
/** Where a rule lives: what its matches may read there. */
interface Place {
  syntax: Syntax
  family: 'ip' | 'ip6' | 'inet' | 'bridge' | 'netdev'
  /** The IP family the rule's addresses are of (its place's, or drawn per rule where both pass: inet, bridge, netdev). */
  v?: 4 | 6
  hook: string
  table: string
  /** A prerouting chain that runs before conntrack's lookup (priority below -200): where a zone can be set. */
  beforeConntrack?: boolean
}

const T = TOPOLOGY
const V6 = T.v6
const addrsOf = (t: typeof T | typeof V6) => [t.guests[0], t.guests[1], t.subnet, t.internet, t.uplinkNet, t.hostUplinkAddr, t.hostBridgeAddr, t.outside, `${t.guests[0]}-${t.guests[1]}`]
const ADDRS = {4: addrsOf(T), 6: addrsOf(V6)}
/** The places' addresses in the rule's family. */
const fam = (at: Place) => (at.v === 6 ? V6 : T)
/** nft's address keyword, iptables' ICMP protocol, ipset and nft set of the rule's family. */
const ipKw = (at: Place) => (at.v === 6 ? 'ip6' : 'ip')
const icmpProto = (at: Place) => (at.v === 6 ? 'ipv6-icmp' : 'icmp')
/** An IPv6 address with a port is written in brackets. */
const withPort = (at: Place, addr: string, port: string | number) => (at.v === 6 ? `[${addr}]:${port}` : `${addr}:${port}`)
const IP_DEVS = [T.bridge, T.uplink, 'kbr+', 'up+', 'eth9']
const PORTS = [80, 53, 8080, 5353]

/** One match, in the syntax of its place; undefined when it cannot be written there. */
function match(rng: Rng, at: Place, marks: boolean): [string, string | undefined] {
  const kinds = ['saddr', 'daddr', 'proto', 'dport', 'dport', 'iif', 'oif', 'icmp', 'set']
  if (at.family !== 'bridge' && at.family !== 'netdev') kinds.push('ctstate', 'ctstate', 'ctdir', 'ctorig', 'addrtype', ...(marks ? ['mark', 'ctmark'] : []))
  // A payload match nothing in the host's state decides (-m string, nft raw payload): it must stay undecided.
  if ((at.family === 'ip' || at.family === 'ip6' || at.family === 'inet') && rng.chance(0.15)) kinds.push('payload')
  if (at.syntax === 'ipt' && at.hook !== 'output') kinds.push('physin', 'physbridged')
  // The devices' kind and group (every nft family reads them).
  if (at.syntax === 'nft') kinds.push('devkind')
  // Route lookups: nft's fib (ip and inet tables), iptables' rpfilter (raw and mangle PREROUTING only).
  if ((at.syntax === 'nft' && (at.family === 'ip' || at.family === 'ip6' || at.family === 'inet')) || (at.hook === 'prerouting' && (at.table === 'raw' || at.table === 'mangle'))) kinds.push('fib')
  const kind = rng.pick(kinds)
  return [kind, matchOf(rng, at, kind)]
}

function matchOf(rng: Rng, at: Place, kind: string): string | undefined {
  const neg = rng.chance(0.15)
  const ipt = at.syntax === 'ipt'
  switch (kind) {
    case 'saddr':
    case 'daddr': {
      const a = rng.pick(ADDRS[at.v ?? 4])
      if (ipt) return a.includes('-') ? `-m iprange ${neg ? '! ' : ''}--${kind === 'saddr' ? 'src' : 'dst'}-range ${a}` : `${neg ? '! ' : ''}${kind === 'saddr' ? '-s' : '-d'} ${a}`
      return `${ipKw(at)} ${kind} ${neg ? '!= ' : ''}${a}`
    }
    case 'proto': {
      const p = rng.pick(['tcp', 'udp', icmpProto(at)])
      if (ipt) return `${neg ? '! ' : ''}-p ${p}`
      // IPv6's next header (no extension headers here: the same as l4proto).
      return at.v === 6 && rng.chance(0.3) ? `ip6 nexthdr ${neg ? '!= ' : ''}${p}` : `meta l4proto ${neg ? '!= ' : ''}${p}`
    }
    case 'dport': {
      const p = rng.pick(['tcp', 'udp'])
      const port = rng.chance(0.2) ? '1000-9000' : rng.chance(0.25) ? rng.pick(['set', 'set-ranges']) : String(rng.pick(PORTS))
      if (ipt) {
        if (port === 'set') return `-p ${p} -m multiport ${neg ? '! ' : ''}--dports 53,8080`
        // Ranges in a multiport list (50:60 holds 53, 5000:6000 holds 5353).
        if (port === 'set-ranges') return `-p ${p} -m multiport ${neg ? '! ' : ''}--dports ${rng.pick(['50:60,8080', '70:90,5000:6000', '1:52,54:79'])}`
        return `-p ${p} -m ${p} ${neg ? '! ' : ''}--dport ${port.replace('-', ':')}`
      }
      const set = port === 'set' ? '{ 53, 8080 }' : port === 'set-ranges' ? `{ ${rng.pick(['50-60, 8080', '70-90, 5000-6000', '1-52, 54-79'])} }` : port
      return `${p} dport ${neg ? '!= ' : ''}${set}`
    }
    case 'iif':
    case 'oif': {
      // Bridge chains see ports; ingress chains only have an input device, egress an output one.
      if (at.family === 'netdev') return undefined
      if ((kind === 'iif' && ['output', 'postrouting'].includes(at.hook) && ipt) || (kind === 'oif' && ['prerouting', 'input'].includes(at.hook) && ipt)) return undefined
      const dev = at.family === 'bridge' ? rng.pick([...T.ports, 'vnet+']) : rng.pick(IP_DEVS)
      if (ipt) return `${neg ? '! ' : ''}${kind === 'iif' ? '-i' : '-o'} ${dev}`
      return `${kind === 'iif' ? 'iifname' : 'oifname'} ${neg ? '!= ' : ''}"${dev.replace('+', '*')}"`
    }
    case 'icmp':
      if (at.v === 6) {
        const type = rng.pick(['echo-request', 'echo-request', 'echo-reply'])
        return ipt ? `-p ipv6-icmp -m icmp6 ${neg ? '! ' : ''}--icmpv6-type ${type}` : `icmpv6 type ${neg ? '!= ' : ''}${type}`
      }
      return ipt ? `-p icmp -m icmp ${neg ? '! ' : ''}--icmp-type echo-request` : `icmp type ${neg ? '!= ' : ''}echo-request`
    case 'set':
      // ipset kdxaddr (the test creates it) for iptables; the table's own named set for nft.
      if (ipt) return `-m set ${neg ? '! ' : ''}--match-set kdxaddr${at.v === 6 ? '6' : ''} ${rng.pick(['src', 'dst'])}`
      return `${ipKw(at)} ${rng.pick(['saddr', 'daddr'])} ${neg ? '!= ' : ''}@addrs${at.v === 6 ? '6' : ''}`
    case 'ctstate': {
      const st = rng.pick(['NEW', 'ESTABLISHED,RELATED', 'INVALID', 'ESTABLISHED'])
      if (ipt) return `-m conntrack ${neg ? '! ' : ''}--ctstate ${st}`
      return neg ? `ct state != ${st.split(',')[0].toLowerCase()}` : `ct state ${st.toLowerCase()}`
    }
    case 'ctdir': {
      const dir = rng.pick(['original', 'reply'])
      return ipt ? `-m conntrack --ctdir ${dir.toUpperCase()}` : `ct direction ${neg ? '!= ' : ''}${dir}`
    }
    case 'ctorig': {
      // The connection's original destination: the address a DNAT'd connection was opened to, or the guest's own.
      const a = rng.pick([fam(at).hostUplinkAddr, fam(at).guests[0], fam(at).internet, fam(at).subnet])
      return ipt ? `-m conntrack ${neg ? '! ' : ''}--ctorigdst ${a}` : `ct original ${ipKw(at)} daddr ${neg ? '!= ' : ''}${a}`
    }
    case 'addrtype': {
      // The kernel's own address classes (Docker's `-m addrtype --dst-type LOCAL`, nft's `fib daddr type local`).
      const side = rng.pick(['src', 'dst', 'dst'])
      // IPv6 has no broadcast (ip6tables refuses the type): multicast instead.
      const type = rng.pick(['LOCAL', 'LOCAL', 'UNICAST', at.v === 6 ? 'MULTICAST' : 'BROADCAST'])
      if (ipt) return `-m addrtype ${neg ? '! ' : ''}--${side}-type ${type}`
      if (!['prerouting', 'input', 'forward', 'output', 'postrouting'].includes(at.hook)) return undefined
      return `fib ${side === 'src' ? 'saddr' : 'daddr'} type ${neg ? '!= ' : ''}${type.toLowerCase()}`
    }
    case 'payload':
      return ipt ? `-m string --string kdx --algo bm` : `@th,64,32 ${neg ? '!= ' : ''}0x6b6478`
    case 'mark':
      return ipt ? `-m mark ${neg ? '! ' : ''}--mark 0x${rng.int(1, 2)}` : `meta mark ${neg ? '!= ' : ''}0x${rng.int(1, 2)}`
    case 'ctmark':
      return ipt ? `-m connmark ${neg ? '! ' : ''}--mark 0x${rng.int(1, 2)}` : `ct mark ${neg ? '!= ' : ''}0x${rng.int(1, 2)}`
    case 'devkind': {
      // veths (ports, uplink), the bridge, lo; the uplink is in group 5 (topology.ts), the rest in the default group.
      const side = rng.pick(['iif', 'oif'])
      if (rng.chance(0.5)) return `meta ${side}kind ${neg ? '!= ' : ''}"${rng.pick(['veth', 'bridge', 'tun'])}"`
      return `meta ${side}group ${neg ? '!= ' : ''}${rng.pick(['default', '5'])}`
    }
    case 'fib': {
      if (ipt) return `-m rpfilter${rng.pick(['', ' --loose', ' --validmark', ' --accept-local', ' --loose --accept-local'])}${neg ? ' --invert' : ''}`
      // nft takes a route lookup in prerouting, input and forward only (nft_fib_validate): a user chain's rule loses it (see nftTable).
      if (!['prerouting', 'input', 'forward'].includes(at.hook)) return undefined
      const iif = rng.chance(0.6) ? ' . iif' : ''
      const result = rng.pick(['missing', 'exists', `"${rng.pick([T.bridge, T.uplink])}"`])
      return `fib ${rng.pick(['saddr', 'daddr'])}${rng.chance(0.2) ? ' . mark' : ''}${iif} oif ${neg && result.startsWith('"') ? '!= ' : ''}${result}`
    }
    case 'physin':
      return `-m physdev ${neg ? '! ' : ''}--physdev-in ${rng.pick([...T.ports, 'vnet+'])}`
    case 'physbridged':
      return rng.chance(0.5) && ['forward', 'postrouting'].includes(at.hook) ? `-m physdev --physdev-is-bridged --physdev-out ${rng.pick(T.ports)}` : `-m physdev ${neg ? '! ' : ''}--physdev-is-bridged`
  }
  return undefined
}

interface ChainSpec {
  name: string
  /** Chains this one may jump or go to (created after it: no loops). */
  targets: string[]
}

/** One rule: up to three matches and an action, in the syntax of its place. */
function rule(rng: Rng, place: Place, chain: ChainSpec, nat: 'dnat' | 'snat' | undefined, marks: boolean): string {
  const at: Place = {...place, v: place.family === 'ip' ? 4 : place.family === 'ip6' ? 6 : rng.chance(0.4) ? 6 : 4}
  const ipt = at.syntax === 'ipt'
  const t6 = fam(at)
  const matches: string[] = []
  const used = new Set<string>()
  const n = rng.pick([0, 1, 1, 2, 2, 3])
  for (let i = 0; i < n; i++) {
    const [kind, m] = match(rng, at, marks)
    // One match of a kind (iptables takes one -s, one -i ...), one protocol per rule (a port or icmp type brings its own).
    const group = ['proto', 'dport', 'icmp'].includes(kind) ? 'proto' : kind.startsWith('phys') ? 'phys' : kind
    if (m && !used.has(group)) {
      used.add(group)
      matches.push(m)
    }
  }
  if (nat) {
    // NAT as libvirt and Docker write it: naming the uplink or the public address.
    if (nat === 'dnat') {
      // An address range (the kernel hashes each client to one: the model computes which) and port ranges, one
      // that keeps the port asked for (8080 in 79-8081) and one that gives its first (80-90); now and then a port
      // the kernel picks at random in the range (--random, nft `random`).
      // IPv6: one address (the hash an IPv6 range is picked by is not modelled by this test: see kernelRangePick).
      const guest = at.v === 4 && rng.chance(0.25) ? `${T.guests[0]}-${T.guests[1]}` : rng.pick(t6.guests)
      const ports = rng.pick(['first', 'first', 'range-first', 'range-kept'])
      const [proto, port, to] = rng.chance(0.5)
        ? ['tcp', 8080, withPort(at, guest, {first: '80', 'range-first': '80-90', 'range-kept': '79-8081'}[ports]!)]
        : ['udp', 5353, withPort(at, guest, {first: '53', 'range-first': '53-60', 'range-kept': '5000-5400'}[ports]!)]
      const target = rng.chance(0.2) ? withPort(at, t6.hostBridgeAddr, proto === 'tcp' ? 80 : 53) : to
      const random = ports !== 'first' && rng.chance(0.3)
      // nat OUTPUT: the host's own connections to the internet's 8080 (or 5353) sent to a guest instead, as a
      // forward for local clients is written (the packet is routed again after the translation).
      const dst = at.hook === 'output' ? t6.internet : t6.hostUplinkAddr
      if (ipt) return [`-d ${dst} -p ${proto} -m ${proto} --dport ${port}`, ...matches.filter((m) => !/-p |--dport|icmp|multiport|^(! )?-d |dst-range|--ctorigdst/.test(m)), `-j DNAT --to-destination ${target}${random ? ' --random' : ''}`].join(' ')
      return [`${ipKw(at)} daddr ${dst} ${proto} dport ${port}`, ...matches.filter((m) => !/l4proto|nexthdr|dport|icmp|@th/.test(m)), `dnat ${at.family === 'inet' ? `${ipKw(at)} ` : ''}to ${target}${random ? ' random' : ''}`].join(' ')
    }
    // Masquerade as libvirt writes it (ports 1024-65535 for TCP and UDP, its own subnet left out with ! -d), with
    // a random port (--random-fully), or SNAT to one of the host's addresses.
    const how = rng.pick(['masq', 'masq', 'masq-ports', 'masq-random', 'snat-up', 'snat-br'])
    const l4 = rng.pick(['tcp', 'udp'])
    const own = rng.chance(0.3) ? (ipt ? `-s ${t6.subnet} ! -d ${t6.subnet}` : `${ipKw(at)} saddr ${t6.subnet} ${ipKw(at)} daddr != ${t6.subnet}`) : ''
    const ports = how === 'masq-ports' ? (ipt ? `-p ${l4}` : `meta l4proto ${l4}`) : ''
    const masq = {masq: '', 'masq-ports': ipt ? ' --to-ports 1024-65535' : ' to :1024-65535', 'masq-random': ipt ? ' --random-fully' : ' fully-random'}
    const to = how === 'snat-up' ? t6.hostUplinkAddr : t6.hostBridgeAddr
    const target = how.startsWith('masq') ? (ipt ? `-j MASQUERADE${masq[how as keyof typeof masq]}` : `masquerade${masq[how as keyof typeof masq]}`) : ipt ? `-j SNAT --to-source ${to}` : `snat ${at.family === 'inet' ? `${ipKw(at)} ` : ''}to ${to}`
    const kept = matches.filter((m) => !/-o |oifname|physdev/.test(m) && !(own && /(^| )-[sd] |[sd]addr|-range /.test(m)) && !(ports && /-p |l4proto|nexthdr|dport|icmp|@th/.test(m)))
    return [ipt ? `-o ${T.uplink}` : `oifname "${T.uplink}"`, own, ports, ...kept, target].filter((x) => x !== '').join(' ')
  }
  const actions = ['accept', 'accept', 'drop', 'drop', 'reject', 'return', 'none']
  if (chain.targets.length > 0) actions.push('jump', 'jump', 'goto', ...(marks && at.family !== 'bridge' && at.family !== 'netdev' && !ipt ? ['markgoto'] : []))
  // Verdict maps (intervals, concatenations) in nft; every family reads addresses and ports.
  if (!ipt && at.family !== 'netdev') actions.push('vmap')
  if (marks && at.family !== 'bridge' && at.family !== 'netdev') actions.push('mark', 'ctmark', 'ctsave', 'ctrestore')
  // Conntrack zones, set before conntrack's lookup: iptables' raw PREROUTING, nft prerouting below -200.
  if ((ipt && at.table === 'raw' && at.hook === 'prerouting') || at.beforeConntrack) actions.push('zone')
  const a = rng.pick(actions)
  const t = chain.targets.length > 0 ? rng.pick(chain.targets) : ''
  // REJECT: the filter table's INPUT, FORWARD and OUTPUT for iptables, those hooks of ip/inet for nft.
  const rejectable = at.family !== 'netdev' && at.family !== 'bridge' && ['input', 'forward', 'output'].includes(at.hook) && (!ipt || at.table === 'filter')
  const verdict = {
    accept: ipt ? '-j ACCEPT' : 'accept',
    drop: ipt ? '-j DROP' : 'drop',
    reject: rejectable ? (ipt ? '-j REJECT' : 'reject') : ipt ? '-j DROP' : 'drop',
    return: ipt ? '-j RETURN' : 'return',
    none: ipt ? '' : 'counter',
    jump: ipt ? `-j ${t}` : `jump ${t}`,
    goto: ipt ? `-g ${t}` : `goto ${t}`,
    mark: ipt ? `-j MARK --set-xmark 0x${rng.int(1, 2)}/0xffffffff` : `meta mark set 0x${rng.int(1, 2)}`,
    ctmark: ipt ? `-j CONNMARK --set-xmark 0x${rng.int(1, 2)}/0xffffffff` : `ct mark set 0x${rng.int(1, 2)}`,
    // Copies of some bits only (--mask, --nfmask/--ctmask), as well as of the whole mark.
    ctsave: ipt ? `-j CONNMARK --save-mark${rng.pick(['', '', ' --mask 0x1', ' --nfmask 0x3 --ctmask 0x1'])}` : rng.pick(['ct mark set meta mark', 'ct mark set meta mark and 0x1']),
    ctrestore: ipt ? `-j CONNMARK --restore-mark${rng.pick(['', '', ' --mask 0x1', ' --nfmask 0x1 --ctmask 0x3'])}` : rng.pick(['meta mark set ct mark', 'meta mark set ct mark and 0x1']),
    markgoto: `meta mark set 0x${rng.int(1, 2)} goto ${t}`,
    vmap: vmapOf(rng, at, used.has('proto')),
    zone: ipt ? `-j CT --zone ${rng.int(1, 2)}` : `ct zone set ${rng.int(1, 2)}`,
  }[a]!
  const text = [...matches, verdict].filter((x) => x !== '').join(' ')
  return ipt ? text : text === '' ? 'counter' : text
}

/** An nft verdict map: on an address (intervals), a port, or an address and port together. */
function vmapOf(rng: Rng, at: Place, addressOnly: boolean): string {
  const t = fam(at)
  const ip = ipKw(at)
  const verdict = () => rng.pick(['accept', 'drop', 'drop', 'return', 'continue'])
  const l4 = rng.pick(['tcp', 'udp'])
  // A rule that names its protocol already keys on addresses only (one protocol per rule).
  switch (addressOnly ? 'addr' : rng.pick(['addr', 'port', 'concat'])) {
    case 'addr':
      return `${ip} ${rng.pick(['saddr', 'daddr'])} vmap { ${t.subnet} : ${verdict()}, ${t.internet} : ${verdict()}, ${t.hostUplinkAddr}-${t.outside} : ${verdict()} }`
    case 'port':
      return `meta l4proto ${l4} th dport vmap { 50-60 : ${verdict()}, 8080 : ${verdict()}, 5000-6000 : ${verdict()} }`
    default:
      return `${ip} saddr . ${l4} dport vmap { ${t.subnet} . 53 : ${verdict()}, ${t.uplinkNet} . 1-9000 : ${verdict()}, ${t.guests[0]} . 80 : ${verdict()} }`
  }
}

/** iptables keeps the nat table from filtering and marking: such a target there becomes a RETURN. */
const natSafe = (text: string) => text.replace(/-j (DROP|REJECT|MARK|CONNMARK)\b.*$/, '-j RETURN')

const IPT_TABLES: Record<string, string[]> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
}

/** An iptables-restore input: some tables, each with its built-in chains and a few user chains. */
function iptablesRuleset(rng: Rng, prefix: string, family: 'ip' | 'ip6' = 'ip'): string {
  const out: string[] = []
  for (const table of Object.keys(IPT_TABLES)) {
    if (!rng.chance(table === 'filter' ? 0.7 : 0.4)) continue
    const users = Array.from({length: rng.int(0, 2)}, (_, i) => `${prefix}${i}`)
    out.push(`*${table}`)
    const builtins = IPT_TABLES[table].filter(() => rng.chance(0.7))
    for (const c of builtins) out.push(`:${c} ${table === 'filter' && rng.chance(0.2) ? 'DROP' : 'ACCEPT'} [0:0]`)
    for (const u of users) out.push(`:${u} - [0:0]`)
    for (const c of builtins) {
      const hook = c.toLowerCase()
      const at: Place = {syntax: 'ipt', family, hook, table}
      const nat = table === 'nat' ? (c === 'PREROUTING' || c === 'OUTPUT' ? 'dnat' : c === 'POSTROUTING' ? 'snat' : undefined) : undefined
      for (let i = rng.int(0, 3); i > 0; i--) {
        const text = table === 'nat' && nat && rng.chance(0.6) ? rule(rng, at, {name: c, targets: []}, nat, false) : rule(rng, at, {name: c, targets: users}, undefined, table === 'mangle' || table === 'filter')
        // Only a nat rule's own translation belongs in nat; other actions there are accept/return/jump.
        out.push(`-A ${c} ${table === 'nat' ? natSafe(text) : text}`.trimEnd())
      }
    }
    users.forEach((u, i) => {
      // A user chain is reached from any hook: only matches valid everywhere (no devices, no physdev).
      const at: Place = {syntax: 'ipt', family, hook: 'output', table}
      for (let n = rng.int(1, 3); n > 0; n--) {
        const text = rule(rng, at, {name: u, targets: users.slice(i + 1)}, undefined, table !== 'nat' && table !== 'raw')
        out.push(`-A ${u} ${table === 'nat' ? natSafe(text) : text.replace(/-j REJECT/, '-j DROP')}`.trimEnd())
      }
    })
    out.push('COMMIT')
  }
  return out.length > 0 ? `${out.join('\n')}\n` : ''
}

const NFT_HOOKS = ['prerouting', 'input', 'forward', 'output', 'postrouting']
const PRIORITIES = [-300, -200, -150, -100, -50, 0, 0, 0, 10, 50, 100, 150]

function nftChainBody(rng: Rng, at: Place, chain: ChainSpec, nat: 'dnat' | 'snat' | undefined, count: number): string[] {
  const lines: string[] = []
  // Marks are set and read in the IP families only (the bridge and netdev hooks' order around them is not the point here).
  const marks = at.family === 'ip' || at.family === 'ip6' || at.family === 'inet'
  for (let i = 0; i < count; i++) lines.push(nat && rng.chance(0.6) ? rule(rng, at, chain, nat, false) : rule(rng, at, chain, undefined, marks).replace(/ reject$/, nat ? ' return' : ' reject'))
  return lines
}

/** A native nft table of one family: base chains on random hooks and priorities, user chains, a set. */
function nftTable(rng: Rng, family: 'ip' | 'ip6' | 'inet' | 'bridge' | 'netdev', name: string): string {
  const lines = [`table ${family} ${name} {`]
  lines.push(`  set addrs { type ipv4_addr; flags interval; elements = { ${rng.pick([T.guests[0], T.subnet, T.internet])}, ${rng.pick([T.outside, T.hostUplinkAddr])} } }`)
  lines.push(`  set addrs6 { type ipv6_addr; flags interval; elements = { ${rng.pick([V6.guests[0], V6.subnet, V6.internet])}, ${rng.pick([V6.outside, V6.hostUplinkAddr])} } }`)
  const users = family === 'netdev' ? [] : Array.from({length: rng.int(0, 2)}, (_, i) => `u${i}`)
  const bases = rng.int(1, 3)
  for (let b = 0; b < bases; b++) {
    let hook: string
    let head: string
    let nat: 'dnat' | 'snat' | undefined
    if (family === 'netdev') {
      hook = rng.pick(['ingress', 'ingress', 'egress'])
      const dev = hook === 'ingress' ? rng.pick([T.ports[0], T.ports[1], T.uplink, T.bridge]) : rng.pick([T.uplink, T.ports[1], T.bridge])
      head = `type filter hook ${hook} device "${dev}" priority ${rng.pick([-10, 0, 0, 10])}; policy accept;`
    } else if (family === 'bridge') {
      hook = rng.pick(['prerouting', 'input', 'forward', 'output', 'postrouting'])
      head = `type filter hook ${hook} priority ${rng.pick([-300, -200, 0, 0, 100])}; policy ${rng.chance(0.05) ? 'drop' : 'accept'};`
    } else {
      const natChain = rng.chance(0.25)
      hook = natChain ? rng.pick(['prerouting', 'prerouting', 'output', 'postrouting', 'postrouting']) : rng.pick(NFT_HOOKS)
      nat = natChain ? (hook === 'postrouting' ? 'snat' : 'dnat') : undefined
      head = natChain ? `type nat hook ${hook} priority ${rng.pick([-100, -100, 0, 100, 100, 50])}; policy accept;` : `type filter hook ${hook} priority ${rng.pick(PRIORITIES)}; policy ${rng.chance(0.12) ? 'drop' : 'accept'};`
    }
    const before = (family === 'ip' || family === 'ip6' || family === 'inet') && hook === 'prerouting' && / priority -300;/.test(head)
    const at: Place = {syntax: 'nft', family, hook, table: name, ...(before ? {beforeConntrack: true} : {})}
    lines.push(`  chain b${b} {`, `    ${head}`)
    for (const r of nftChainBody(rng, at, {name: `b${b}`, targets: nat ? [] : users}, nat, rng.int(0, 4))) lines.push(`    ${r}`)
    lines.push('  }')
  }
  users.forEach((u, i) => {
    lines.push(`  chain ${u} {`)
    const at: Place = {syntax: 'nft', family, hook: 'forward', table: name}
    for (let n = rng.int(1, 3); n > 0; n--) {
      // Devices and reject depend on the hook that reaches a user chain: leave them to base chains.
      const text = rule(rng, at, {name: u, targets: users.slice(i + 1)}, undefined, family !== 'bridge')
      lines.push(`    ${text.replace(/(iif|oif)name (!= )?"[^"]*" ?/g, '').replace(/fib \S+( \. \S+)* oif (!= )?\S+ ?/g, '').replace(/(^| )reject$/, '$1drop') || 'counter'}`)
    }
    lines.push('  }')
  })
  lines.push('}')
  return lines.join('\n')
}

/** Priorities the generated policy rules take (the topology deletes rules there before loading the next ruleset). */
export const RULE_PRIORITIES = [100, 150, 200, 250]

/**
 * Policy routing for the host: `ip` commands (rules, and routes of table 100) as a VPN, a multi-homed host or a
 * hand-written diversion writes them. Table 100 only ends a flow or sends it where main would (no loops through
 * the outside): unreachable, prohibit, blackhole, throw, and main's own routes. Rules select by source, destination,
 * input device, mark (with a mask), protocol and destination port (ranges), inverted now and then; they look table
 * 100 up, end the search, do nothing (nop), or go to a priority that may hold no rule (unresolved).
 */
function policyRouting(rng: Rng, v: 4 | 6 = 4): string[] {
  const t = v === 6 ? V6 : T
  const routes = [`unreachable ${t.internet}`, `prohibit ${t.guests[1]}`, `blackhole ${v === 6 ? '2001:db8:113::/64' : '203.0.113.0/24'}`, `throw ${t.subnet}`, `throw ${t.internet}`, `default via ${t.outside} dev ${T.uplink}`, `${t.subnet} dev ${T.bridge}`]
  const out = routes.filter(() => rng.chance(0.4)).map((r) => `route replace ${r} table 100`)
  const selectors = [`from ${t.guests[0]}`, `from ${t.subnet}`, `to ${t.internet}`, `to ${t.guests[1]}`, `to ${t.subnet}`, `iif ${T.bridge}`, `iif ${T.uplink}`, 'iif lo', 'fwmark 0x1', 'fwmark 0x2/0x3', 'ipproto udp', 'ipproto tcp dport 80', 'dport 50-60', 'dport 8000-8100']
  for (const priority of RULE_PRIORITIES) {
    if (!rng.chance(0.4)) continue
    const chosen = [...new Set(Array.from({length: rng.int(0, 2)}, () => rng.pick(selectors)))]
    // One of each keyword (ip takes one from, one to ...).
    const picked = chosen.filter((x, i) => !chosen.slice(0, i).some((y) => y.split(' ')[0] === x.split(' ')[0]) && !(x.includes('dport') && chosen.slice(0, i).some((y) => y.includes('dport'))))
    const later = RULE_PRIORITIES.filter((p) => p > priority)
    const action = rng.pick(['lookup 100', 'lookup 100', 'lookup 100', 'unreachable', 'prohibit', 'blackhole', 'nop', ...(later.length > 0 ? ['goto'] : [])])
    const act = action === 'goto' ? `goto ${rng.chance(0.5) ? rng.pick(later) : priority + 25}` : action
    out.push(`rule add priority ${priority} ${rng.chance(0.15) ? 'not ' : ''}${picked.join(' ')} ${act}`.replace(/ +/g, ' '))
  }
  return out
}

export interface GeneratedRuleset {
  seed: number
  /** br_netfilter on (bridge-nf-call-iptables=1) for this ruleset. */
  brnf: boolean
  legacy: string
  iptablesNft: string
  nft: string
  /** A native rule added behind iptables-nft's back (its table becomes "incompatible"), or empty. */
  incompatible: string
  /** The ipset kdxaddr members. */
  ipset: string[]
  /** `ip` commands for the host's policy routing (rules at RULE_PRIORITIES, table 100), or none. */
  routing: string[]
  /** The same for IPv6 (`ip -6`). */
  routing6: string[]
  /** ip6tables-restore inputs, as legacy and iptablesNft. */
  legacy6: string
  ip6tablesNft: string
  /** IPv6 forwarding sysctls, written in this order (net.ipv6.conf.all.forwarding first). */
  forwarding6: string[]
}

/**
 * IPv6 forwarding as hosts set it: on for all (most), on for all but off on a device (IPv6 forwards by conf/all:
 * the device's own key makes it a host or a router for RAs), off (perhaps on for a device alone), and, on kernels that
 * have it (6.17 on), off with one device's force_forwarding on (it forwards what arrives there).
 */
function forwarding6(rng: Rng, forceForwarding: boolean): string[] {
  const dev = rng.pick([T.bridge, T.uplink])
  const reset = forceForwarding ? [T.bridge, T.uplink].map((d) => `net.ipv6.conf.${d}.force_forwarding=0`) : []
  const pick = rng.pick(['on', 'on', 'on', 'on', 'on', 'device-off', 'off', 'off-device-on', ...(forceForwarding ? ['force', 'force'] : [])])
  const all = `net.ipv6.conf.all.forwarding=${pick === 'on' || pick === 'device-off' ? 1 : 0}`
  const extra = {on: [], 'device-off': [`net.ipv6.conf.${dev}.forwarding=0`], off: [], 'off-device-on': [`net.ipv6.conf.${dev}.forwarding=1`], force: [`net.ipv6.conf.${dev}.force_forwarding=1`]}[pick]!
  return [...reset, all, ...extra]
}

export function generate(seed: number, brnfAvailable: boolean, forceForwarding = false): GeneratedRuleset {
  const rng = new Rng(seed)
  const legacy = rng.chance(0.35) ? iptablesRuleset(rng, 'L') : ''
  const iptablesNft = rng.chance(0.6) ? iptablesRuleset(rng, 'N') : ''
  const legacy6 = rng.chance(0.3) ? iptablesRuleset(rng, 'L', 'ip6') : ''
  const ip6tablesNft = rng.chance(0.45) ? iptablesRuleset(rng, 'N', 'ip6') : ''
  const tables: string[] = []
  if (rng.chance(0.5)) tables.push(nftTable(rng, 'inet', 'kf'))
  if (rng.chance(0.35)) tables.push(nftTable(rng, 'ip', 'kn'))
  if (rng.chance(0.35)) tables.push(nftTable(rng, 'ip6', 'k6'))
  if (rng.chance(0.3)) tables.push(nftTable(rng, 'bridge', 'kb'))
  if (rng.chance(0.25)) tables.push(nftTable(rng, 'netdev', 'kd'))
  const incompatible = /^\*filter\n(:.*\n)*:FORWARD /m.test(iptablesNft) && rng.chance(0.05) ? `add rule ip filter FORWARD ip saddr ${rng.pick([T.guests[0], T.internet])} ct state new counter drop\n` : ''
  return {
    seed,
    brnf: brnfAvailable && rng.chance(0.5),
    legacy,
    iptablesNft,
    nft: tables.join('\n') + (tables.length > 0 ? '\n' : ''),
    incompatible,
    ipset: [rng.pick([T.guests[0], T.guests[1], T.internet]), rng.pick([T.outside, T.hostUplinkAddr, T.hostBridgeAddr]), rng.pick([V6.guests[0], V6.guests[1], V6.internet]), rng.pick([V6.outside, V6.hostUplinkAddr, V6.hostBridgeAddr])],
    routing: rng.chance(0.4) ? policyRouting(rng) : [],
    routing6: rng.chance(0.3) ? policyRouting(rng, 6) : [],
    legacy6,
    ip6tablesNft,
    forwarding6: forwarding6(rng, forceForwarding),
  }
}
