/**
 * The safety contract of a fix, judged on its steps as data (issue 23) before `kvmdoctor fix --yes`
 * runs one of them: every command is one kvmdoctor knows as a fix; none widens the host's exposure
 * (a chain policy, a flush, a firewall manager's or libvirt's rule, a chain's catch-all); none stops,
 * restarts or re-plugs a network or guest the finding does not name; a step that cuts guests off is
 * followed by what brings them back; and what frees a resource comes before what takes it.
 * A deletion is judged against the host's own ruleset: `nft delete rule ... handle 21` is whatever
 * rule 21 is there.
 */
import type {PolicyRule, PolicyRuleFacts} from '../../probes/ip-rules.js'
import type {LibvirtDomain, LibvirtFacts} from '../../probes/libvirt.js'
import type {Link} from '../../probes/links.js'
import type {NetfilterFacts} from '../../probes/netfilter.js'
import type {OvsFacts} from '../../probes/ovs.js'
import {type ProcessFacts, dhcpdState} from '../../probes/processes.js'
import type {TcFacts} from '../../probes/tc.js'
import {type ProbeResult, dataOf} from '../../probes/types.js'
import {flowMatchText} from '../datapath/ovs.js'
import {physdevRules} from '../derive/incidents.js'
import {catchAllDrop, dropsPackets} from '../datapath/tc.js'
import {SHAPING_QDISCS} from '../lib/tc-qdiscs.js'
import {parseCidr, prefixRelation} from '../lib/ipv4.js'
import {type FixStep, nftOneCommand, nftWord, renderStep, virshPositional} from '../lib/fix.js'
import {type NfRule, type NfTable, catchAllText, chainOwnerOf, iptablesWords} from '../lib/netfilter.js'
import type {Finding} from '../result/findings.js'

/**
 * What the judge reads of the host: its rulesets, OVS flows and tc (for deletions), libvirt's networks and guests (for
 * names), its links (which device a link command touches), its policy rules (which one a deletion by priority removes).
 */
export interface FixHost {
  netfilter?: NetfilterFacts
  libvirt?: LibvirtFacts
  ovs?: OvsFacts
  links?: Link[]
  tc?: TcFacts
  ipRules?: PolicyRuleFacts
  processes?: ProcessFacts
}

/** What the judge reads, from a run's probe results (a probe that failed gives nothing: what needs it is refused). */
export function fixHostOf(facts: Record<string, ProbeResult>): FixHost {
  return {
    netfilter: dataOf<NetfilterFacts>(facts.netfilter),
    libvirt: dataOf<LibvirtFacts>(facts.libvirt),
    ovs: dataOf<OvsFacts>(facts.ovs),
    links: dataOf<Link[]>(facts.links),
    tc: dataOf<TcFacts>(facts.tc),
    ipRules: dataOf<PolicyRuleFacts>(facts['ip-rules']),
    processes: dataOf<ProcessFacts>(facts.processes),
  }
}

export interface StepProblem {
  /** The step's position in the fix, from 0. */
  step: number
  line: string
  why: string
}

type Named = Pick<Finding, 'entity' | 'context' | 'fixSteps'>

const IPTABLES = /^ip6?tables(-legacy|-nft)?$/
/** iptables options that change a policy, flush, delete, zero or rename a chain. */
const IPTABLES_WIDE = new Set(['-P', '--policy', '-F', '--flush', '-X', '--delete-chain', '-Z', '--zero', '-E', '--rename-chain', '-N', '--new-chain'])
/** Targets an added iptables rule may have: it lets traffic on or fixes a checksum; it never blocks. */
const ADDED_TARGETS = new Set(['ACCEPT', 'CHECKSUM'])
/**
 * What narrows an added accept to some traffic: a device, an address, a port, a connection state, a bridge port, a set.
 * An accept with none of them (or only "anywhere") takes everything that reaches it: the chain's drops after it stop nothing.
 */
const IPTABLES_NARROWING = new Set(['-i', '-o', '--in-interface', '--out-interface', '-s', '-d', '--source', '--destination', '--dport', '--dports', '--sport', '--sports', '--ctstate', '--state', '--physdev-in', '--physdev-out', '--match-set', '--dst-type', '--src-type'])
const NFT_NARROWING = new Set(['iifname', 'oifname', 'iif', 'oif', 'saddr', 'daddr', 'dport', 'sport', 'state', 'status'])
const ANYWHERE = new Set(['0.0.0.0/0', '::/0', '0/0', 'any'])
const OPENS_ALL = 'adds an accept that matches all traffic: it opens the chain, not only to the guests'

/** The one set literal an nft fix holds: the ports a DNS and DHCP accept opens. */
const NFT_PORT_SET = /^\{ \d+(, \d+)* \}$/
const VIRSH_FORBIDDEN = new Set(['destroy', 'reset', 'reboot', 'shutdown', 'undefine', 'suspend', 'managedsave', 'net-undefine', 'iface-destroy', 'detach-device'])
const VIRSH_NETWORK = new Set(['net-start', 'net-destroy', 'net-autostart', 'net-update', 'net-edit'])
const VIRSH_DOMAIN = new Set(['attach-interface', 'detach-interface', 'domif-setlink', 'edit'])
/** Services a fix restarts: libvirt's daemons, the firewall managers that re-create their rules, the host's DHCP server. */
const SERVICES = /^(libvirtd|virtnetworkd|virtqemud|firewalld|docker|isc-dhcp-server|dnsmasq|openvswitch-switch)(\.service)?$/
/** The external ids libvirt sets on a guest's OVS interface: a re-plugged port gets them back, nothing else. */
const OVS_GUEST_IDS = /^external-ids:(iface-id|attached-mac|vm-uuid|iface-status)=[^=]+$/

const wordsOf = (step: FixStep): string[] => ('argv' in step ? virshPositional(step.argv) : 'pipeline' in step ? step.pipeline.flat() : [])
const optionValue = (argv: string[], name: string) => {
  const at = argv.indexOf(name)
  return at >= 0 ? argv[at + 1] : undefined
}

/** The networks and guests a finding names: its entity, and the network and guest of its context. */
function namesOf(finding: Named): {networks: Set<string>; domains: Set<string>} {
  const networks = new Set<string>()
  const domains = new Set<string>()
  if (finding.entity.kind === 'network') networks.add(finding.entity.name)
  if (finding.entity.kind === 'domain') domains.add(finding.entity.name)
  if (finding.context?.network) networks.add(finding.context.network)
  if (finding.context?.domain) domains.add(finding.context.domain)
  return {networks, domains}
}

const running = (state: string) => state === 'running' || state === 'paused' || state === 'blocked'

/** The running guests with an interface on a network, and their taps. */
function guestsOn(libvirt: LibvirtFacts | undefined, network: string) {
  return (libvirt?.domains ?? []).filter((d) => running(d.state)).flatMap((d) => d.interfaces.filter((i) => i.type === 'network' && i.source === network).map((i) => ({domain: d.name, tap: i.target})))
}

const bridgeOf = (libvirt: LibvirtFacts | undefined, network: string) => libvirt?.networks.find((n) => n.name === network)?.bridge

/** The rule an iptables deletion by specification removes, in the host's ruleset. */
function iptablesTarget(argv: string[], netfilter: NetfilterFacts | undefined): {table?: NfTable; rule?: NfRule; chain: string} {
  const at = argv.findIndex((w) => w === '-D' || w === '--delete')
  const chain = argv[at + 1]
  const tableName = optionValue(argv, '-t') ?? optionValue(argv, '--table') ?? 'filter'
  const family = argv[0].startsWith('ip6') ? 'ip6' : 'ip'
  const backend = argv[0].endsWith('-legacy') ? 'iptables-legacy' : argv[0].endsWith('-nft') ? 'iptables-nft' : undefined
  const spec = argv.slice(at + 2)
  const tables = (netfilter?.tables ?? []).filter((t) => t.family === family && t.name === tableName && t.backend.startsWith('iptables') && (!backend || t.backend === backend))
  for (const table of tables) {
    const rule = ruleOfSpec(table, chain, spec)
    if (rule) return {table, rule, chain}
  }
  return {table: tables[0], chain}
}

/** The rule of TABLE's CHAIN whose save line is "-A CHAIN" and SPEC: what a deletion by specification removes. */
function ruleOfSpec(table: NfTable | undefined, chain: string, spec: string[]): NfRule | undefined {
  return table?.chains[chain]?.rules.find((r) => {
    const ws = iptablesWords(r.text)
    return ws[0] === '-A' && ws[1] === chain && ws.slice(2).join('\u0000') === spec.join('\u0000')
  })
}

/**
 * A rule appended to iptables-nft that the host has, the same, in the same place of iptables-legacy: a move of a
 * rule that already acts on the packets (both backends' tables see them), not a new one.
 */
function movesLegacyRule(argv: string[], netfilter: NetfilterFacts | undefined): boolean {
  const at = argv.findIndex((w) => w === '-A' || w === '--append')
  if (at < 0 || !/^ip6?tables-nft$/.test(argv[0])) return false
  const asLegacyDelete = [argv[0].replace(/-nft$/, '-legacy'), ...argv.slice(1, at), '-D', ...argv.slice(at + 1)]
  return iptablesTarget(asLegacyDelete, netfilter).rule !== undefined
}

/** Why deleting this rule widens the host's exposure or removes what is not the admin's, if it does. */
function deletionProblem(owner: string, rule: NfRule | undefined, nftSyntax: boolean, read: boolean): string | undefined {
  if (rule === undefined) return read ? 'deletes a rule this host does not have (kvmdoctor cannot tell what it is)' : "deletes a rule, and the host's ruleset could not be read to tell what it is"
  if (owner !== 'admin') return `deletes a rule of ${owner}'s own (${owner === 'libvirt' ? 'libvirt re-creates it; the network is what to fix' : 'the manager restores it on reload; its catch-all guards every interface'})`
  if (catchAllText(rule.text, nftSyntax)) return `deletes the chain's catch-all (${rule.text}): that opens the chain to all traffic, not only the guests'`
  return undefined
}

/** The guest (running, by libvirt) whose tap is this OVS port, if any. */
/** The running guest with an interface that HAS it. */
const runningGuestWith = (libvirt: LibvirtFacts | undefined, has: (i: LibvirtDomain['interfaces'][number]) => boolean) => libvirt?.domains.find((d) => running(d.state) && d.interfaces.some(has))?.name
const guestOfTap = (libvirt: LibvirtFacts | undefined, tap: string) => runningGuestWith(libvirt, (x) => x.target === tap)
/** A port flag set back is safe only on the tap of a running guest the finding names. */
function guestPortProblem(host: FixHost, names: {domains: Set<string>} | 'any', tap: string): string | undefined {
  const guest = guestOfTap(host.libvirt, tap)
  if (guest === undefined) return `${tap} is not the tap of a guest libvirt runs`
  return names === 'any' || names.domains.has(guest) ? undefined : `${tap} is ${guest}'s port, a guest the finding does not name`
}

/**
 * An ovs-vsctl fix touches only the named guests' own ports: it re-plugs one (del-port and add-port back, its
 * VLAN and external ids set as libvirt sets them), re-tags it, or adds the guest's VLAN to an uplink's trunks. Anything
 * else (a bridge, a controller, a fail mode, another port) is not a fix kvmdoctor runs.
 */
function ovsVsctlProblem(args: string[], names: {networks: Set<string>; domains: Set<string>} | 'any', host: FixHost): string | undefined {
  const commands: string[][] = [[]]
  for (const w of args) if (w === '--') commands.push([]); else commands.at(-1)!.push(w)
  const bridges = new Set((host.ovs?.bridges ?? []).map((b) => b.name))
  const guestPort = (port: string | undefined): string | undefined => {
    if (port === undefined) return 'names no port'
    const guest = guestOfTap(host.libvirt, port)
    if (guest === undefined) return `${port} is not the tap of a guest libvirt runs`
    return names === 'any' || names.domains.has(guest) ? undefined : `${port} is ${guest}'s port, a guest the finding does not name`
  }
  const added = new Set(commands.filter((c) => c.filter((w) => !w.startsWith('--'))[0] === 'add-port').map((c) => c.filter((w) => !w.startsWith('--'))[2]))
  for (const command of commands) {
    const [verb, ...rest] = command.filter((w) => w !== '--if-exists' && w !== '--may-exist')
    if (verb === 'add-port' && rest.length === 2) {
      if (host.ovs && !bridges.has(rest[0])) return `adds a port to ${rest[0]}, not an OVS bridge of this host`
      const why = guestPort(rest[1])
      if (why) return why
    } else if (verb === 'del-port' && rest.length === 1) {
      if (!added.has(rest[0])) return `deletes port ${rest[0]} without adding it back`
      const why = guestPort(rest[0])
      if (why) return why
    } else if (verb === 'set' && rest[0] === 'Interface' && rest.length >= 3 && rest.slice(2).every((w) => OVS_GUEST_IDS.test(w))) {
      const why = guestPort(rest[1])
      if (why) return why
    } else if (verb === 'set' && rest[0] === 'Port' && rest.length === 3 && /^(tag=\d+|trunks=\d+(,\d+)*)$/.test(rest[2])) {
      const why = guestPort(rest[1])
      if (why) return why
    } else if (verb === 'add' && rest[0] === 'Port' && rest.length === 4 && rest[2] === 'trunks' && /^\d+$/.test(rest[3])) {
      // One VLAN more on an uplink's trunk list (a port that is no guest's): what it already carries stays.
      if (guestOfTap(host.libvirt, rest[1]) !== undefined) return `adds trunks to ${rest[1]}, a guest's port`
    } else {
      return `ovs-vsctl ${command.join(' ')} changes more than a named guest's port`
    }
  }
  return undefined
}

/** An ovs-ofctl fix deletes one drop flow (strictly: that match and priority only) that the host has and that matches a port, never a catch-all. */
function ovsOfctlProblem(args: string[], host: FixHost): string | undefined {
  if (args.length !== 4 || args[0] !== '--strict' || args[1] !== 'del-flows') return `ovs-ofctl ${args.join(' ')} is not one flow deleted strictly`
  const [, , bridgeName, spec] = args
  const bridge = host.ovs?.bridges.find((b) => b.name === bridgeName)
  if (!bridge?.flows) return "deletes a flow, and the bridge's flows could not be read to tell what it is"
  const fields = new Set(spec.split(','))
  const flow = bridge.flows.find((f) => {
    const own = flowMatchText(f).split(',')
    return own.length === fields.size && own.every((w) => fields.has(w))
  })
  if (!flow) return `deletes a flow ${bridgeName} does not have (kvmdoctor cannot tell what it is)`
  if (!(flow.actions.length === 0 || flow.actions.every((a) => a === 'drop'))) return `deletes a flow that forwards (${flow.text}): only a drop flow is deleted`
  if (!flow.match.some((m) => m.field === 'in_port')) return `deletes a drop flow of no one port (${flow.text}): a catch-all guards the whole bridge`
  return undefined
}

/**
 * dnsmasq's own tool frees one lease (dhcp_release BRIDGE IP MAC) on a libvirt network's bridge the finding names,
 * held by a MAC no guest libvirt defines: a guest that has the MAC would lose its address.
 */
function dhcpReleaseProblem(argv: string[], names: {networks: Set<string>} | 'any', libvirt: LibvirtFacts | undefined): string | undefined {
  if (argv.length !== 4) return 'a dhcp_release other than one lease (bridge, address, MAC)'
  const [, bridge, , mac] = argv
  if (!libvirt) return "frees a lease, and libvirt's guests could not be read to tell whose it is"
  const network = libvirt.networks.find((n) => n.bridge === bridge)
  if (!network) return `${bridge} is not the bridge of a libvirt network`
  if (names !== 'any' && !names.networks.has(network.name)) return `frees a lease on network ${network.name}, which the finding does not name`
  const owner = libvirt.domains.find((d) => d.interfaces.some((i) => i.mac?.toLowerCase() === mac.toLowerCase()))
  return owner ? `${mac} is ${owner.name}'s MAC: its guest would lose its address` : undefined
}

/** The bridges guests hang on: libvirt networks' own, and the host bridges of type=bridge interfaces. */
function guestBridges(libvirt: LibvirtFacts): Set<string> {
  const ofNetworks = libvirt.networks.flatMap((n) => (n.bridge ? [n.bridge] : []))
  const ofInterfaces = libvirt.domains.flatMap((d) => d.interfaces.flatMap((i) => (i.type === 'bridge' && i.source ? [i.source] : [])))
  return new Set([...ofNetworks, ...ofInterfaces])
}

/** A tap re-plugged is a running guest's, put on the bridge libvirt plugs it into (its network's, or its type=bridge source). */
function replugProblem(tap: string, bridge: string, libvirt: LibvirtFacts | undefined): string | undefined {
  if (!libvirt) return "libvirt's guests could not be read: kvmdoctor cannot tell which guest this re-plugs, or where"
  const iface = libvirt.domains.filter((d) => running(d.state)).flatMap((d) => d.interfaces).find((i) => i.target === tap)
  if (!iface) return `${tap} is not a tap of a guest libvirt runs`
  const own = iface.type === 'network' ? (bridgeOf(libvirt, iface.source ?? '') ?? iface.bridge) : iface.type === 'bridge' ? iface.source : undefined
  return own === bridge ? undefined : `puts ${tap} on ${bridge}, not on its own bridge ${own ?? '(libvirt names none)'}`
}

/** A link set up is a running guest's tap, a bridge guests use, or a port of one (its uplink): not a link the admin set down for another reason. */
function linkUpProblem(dev: string, host: FixHost): string | undefined {
  if (!host.libvirt) return `sets ${dev} up, and libvirt's guests could not be read to tell what it is`
  const bridges = guestBridges(host.libvirt)
  const master = host.links?.find((l) => l.name === dev)?.master
  if (guestOfTap(host.libvirt, dev) !== undefined || bridges.has(dev) || (master !== undefined && bridges.has(master))) return undefined
  return `sets ${dev} up, which is not a running guest's tap, a bridge guests use or a port of one`
}

/**
 * An MTU raised, never lowered, on a bridge guests use, a running guest's tap, or a port of such a bridge whose other
 * end already takes it (a veth): a physical uplink's other end is a switch kvmdoctor cannot see.
 */
function mtuProblem(dev: string, mtu: number, host: FixHost): string | undefined {
  if (!host.libvirt || !host.links) return `sets ${dev}'s MTU, and the host's links or libvirt's guests could not be read to tell what it is`
  const link = host.links.find((l) => l.name === dev)
  if (!link) return `${dev} is not a link of this host`
  if (mtu < link.mtu) return `lowers ${dev}'s MTU from ${link.mtu} to ${mtu}: frames its guests send at ${link.mtu} bytes no longer fit`
  const bridges = guestBridges(host.libvirt)
  if (bridges.has(dev) || guestOfTap(host.libvirt, dev) !== undefined) return undefined
  const peerMtu = host.links.find((l) => link.peer !== undefined && l.name === link.peer)?.mtu
  if (link.master !== undefined && bridges.has(link.master) && peerMtu !== undefined && peerMtu >= mtu) return undefined
  return `sets the MTU of ${dev}, which is not a bridge guests use, a guest's tap, or a port of one whose other end already takes ${mtu} bytes`
}

const DEFAULT_DESTINATION = new Set(['default', '0.0.0.0/0', '::/0'])
/** The kernel's own policy rules: the local, main and default tables' lookups. */
const KERNEL_RULE_PRIORITIES = new Set(['0', '32766', '32767'])

/**
 * Routes and policy rules in the forms the rules emit: a default route added; one demoted (deleted, then added back
 * with another metric); a route that refuses traffic deleted, never a default one (a kill switch: deleting it sends
 * on what it refuses); a route carved out of a libvirt subnet onto another device deleted; a rule sending guests to
 * the main table added; a rule deleted by its priority, never the kernel's own.
 */
function routeProblem(words: string[], later: FixStep[], host: FixHost): string | undefined {
  const family = /^-[46]$/.test(words[0]) ? [words[0]] : []
  const [object, verb, ...rest] = words.slice(family.length)
  const spec = rest.join(' ')
  if (object === 'rule') {
    if (verb === 'add' && /^(iif|to) \S+ lookup main priority \d+$/.test(spec)) return undefined
    if (verb === 'del' && /^priority \d+$/.test(spec)) return ruleDeletionProblem(rest[1], family[0] === '-6' ? host.ipRules?.inet6 : host.ipRules?.inet, host.ipRules !== undefined)
    return `ip rule ${verb} ${spec} is not a rule to the main table added or one deleted by its priority`
  }
  if (family.length > 0) return `ip ${words.join(' ')} is not a route command kvmdoctor runs as a fix`
  if (verb === 'add' && /^default(?= via| dev)( via \S+)?( dev \S+)?( metric \d+)?$/.test(spec)) return undefined
  if (verb === 'del' && /^default(?= via| dev)( via \S+)?( dev \S+)? metric \d+$/.test(spec)) {
    const route = rest.slice(0, -2).join(' ')
    const readded = later.map(wordsOf).some((w) => w[0] === 'ip' && w[1] === 'route' && w[2] === 'add' && w.slice(3, -2).join(' ') === route && w.at(-2) === 'metric')
    return readded ? undefined : `deletes the default route ${route} without adding it back: the host loses its way out`
  }
  const refusing = /^(blackhole|unreachable|prohibit|throw) (\S+)( table \S+)?$/.exec(spec)
  if (verb === 'del' && refusing) return DEFAULT_DESTINATION.has(refusing[2]) ? `deletes a ${refusing[1]} default route, a catch-all: what it refuses would be sent on` : undefined
  const carved = /^(\S+)( via \S+)? dev (\S+)( table \S+)?$/.exec(spec)
  if (verb === 'del' && carved) {
    if (!host.libvirt) return "deletes a route, and libvirt's networks could not be read to tell whose subnet it is carved from"
    const own = parseCidr(carved[1])
    const from = own && host.libvirt.networks.find((n) => n.bridge !== carved[3] && n.ips.some((ip) => ip.family === 'ipv4' && prefixRelation(own, parseCidr(`${ip.address}/${ip.prefix}`)!) === 'inside'))
    return from ? undefined : `deletes the route to ${carved[1]}, which is not carved out of a libvirt network's subnet`
  }
  return `ip route ${verb} ${spec} is not a route command kvmdoctor runs as a fix`
}

/** A rule that refuses every packet that reaches it (no selector): a kill switch, like a chain's catch-all. */
const refusesAll = (r: PolicyRule) =>
  ['blackhole', 'unreachable', 'prohibit'].includes(r.action) && r.src === 'all' && r.dst === 'all' && !r.not && [r.iif, r.oif, r.fwmark, r.ipproto, r.sport, r.dport, r.uidRange, r.unread].every((x) => x === undefined)

/** `ip rule del priority N` removes the first rule at N: one the host has, an admin's (not the kernel's), not a catch-all. */
function ruleDeletionProblem(priority: string, rules: PolicyRule[] | null | undefined, read: boolean): string | undefined {
  if (KERNEL_RULE_PRIORITIES.has(priority)) return `deletes the kernel's own rule at priority ${priority} (a table's lookup every packet needs)`
  if (!rules) return read ? "deletes a policy rule, and this family's rules could not be read to tell what it is" : "deletes a policy rule, and the host's rules could not be read to tell what it is"
  const at = rules.filter((r) => String(r.priority) === priority)
  if (at.length === 0) return `deletes a policy rule this host does not have at priority ${priority} (kvmdoctor cannot tell what it is)`
  if (at.length > 1) return `${at.length} rules share priority ${priority}: ip deletes the first, and kvmdoctor cannot tell which is meant`
  return refusesAll(at[0]) ? `deletes the catch-all rule ${at[0].text}: what it refuses would be routed` : undefined
}

/**
 * A tc deletion read against the host's tc: a qdisc that only queues or shapes (deleting it leaves the default), none
 * with filters that drop under it (they go with it), never a hook qdisc (ingress, clsact); a filter, not a catch-all drop.
 */
function tcProblem(words: string[], tc: TcFacts | undefined): string | undefined {
  const spec = words.join(' ')
  const qdisc = /^qdisc del dev (\S+) (?:root|parent (\S+) handle (\S+))$/.exec(spec)
  const filter = /^filter del dev (\S+) (?:(ingress|egress)|parent (\S+)) pref (\d+)$/.exec(spec)
  if (!qdisc && !filter) return `tc ${spec} is not one qdisc or filter deleted`
  if (!tc) return "deletes traffic control, and the host's tc could not be read to tell what it is"
  const major = (handle: string) => handle.split(':')[0]
  if (qdisc) {
    const [, dev, parent, handle] = qdisc
    const q = tc.qdiscs.find((x) => x.dev === dev && (parent === undefined ? x.parent === 'root' : x.parent === parent && x.handle === handle))
    if (!q) return `deletes a qdisc ${dev} does not have (kvmdoctor cannot tell what it is)`
    if (!SHAPING_QDISCS.has(q.kind)) return `deletes qdisc ${q.kind} ${q.handle} of ${dev}, not one of the queues or shapers a fix removes (a hook qdisc takes its filters with it)`
    // The qdiscs under it (in its classes) go with it, and the filters of them all.
    const majors = new Set([major(q.handle)])
    for (let grew = true; grew; ) {
      const size = majors.size
      for (const x of tc.qdiscs) if (x.dev === dev && majors.has(major(x.parent))) majors.add(major(x.handle))
      grew = majors.size > size
    }
    const dropping = tc.filters.find((f) => f.dev === dev && majors.has(major(f.attach)) && f.actions.some(dropsPackets))
    return dropping ? `deletes qdisc ${q.kind} ${q.handle} of ${dev} and with it a filter that drops (pref ${dropping.pref} ${dropping.kind}): that lets through what it stops` : undefined
  }
  const [, dev, hook, parent, pref] = filter!
  const filters = tc.filters.filter((f) => f.dev === dev && f.attach === (hook ?? parent) && f.pref === Number(pref))
  if (filters.length === 0) return `deletes a filter ${dev} does not have (kvmdoctor cannot tell what it is)`
  const catchAll = filters.find(catchAllDrop)
  return catchAll ? `deletes a filter that drops every packet on ${dev} (pref ${pref} ${catchAll.kind}): that opens the device to all traffic, not only the guests'` : undefined
}

/** Forward modes whose bridge libvirt creates for the network's guests alone (the others use a host bridge or device). */
const OWN_BRIDGE_MODES = new Set(['nat', 'route', 'open', 'isolated'])

/** Why opening DEVICE to WHAT is not opening a libvirt network's own bridge: a host bridge carries its whole LAN. */
function libvirtBridgeProblem(device: string, libvirt: LibvirtFacts | undefined, what: string): string | undefined {
  if (!libvirt) return `opens ${device} to ${what}, and libvirt's networks could not be read to tell whose bridge it is`
  return libvirt.networks.some((n) => n.bridge === device && OWN_BRIDGE_MODES.has(n.forwardMode)) ? undefined : `opens ${device} to ${what}, and it is not a bridge libvirt made for a network: its whole LAN would be let through`
}

/**
 * ufw rules in the forms the fixes emit: what a libvirt network's bridge takes (its guests routed out, DHCP and DNS
 * in), frames a guest bridge forwards to itself, one published port of one address. A rule by device on another
 * interface, or from anywhere to anything, opens the host.
 */
function ufwProblem(args: string[], libvirt: LibvirtFacts | undefined): string | undefined {
  if (args[0] !== 'allow' && !(args[0] === 'route' && args[1] === 'allow')) return `ufw ${args[0]} removes or loosens ufw's configuration`
  const spec = args.join('\u0000')
  const same = /^route\u0000allow\u0000in\u0000on\u0000([^\u0000]+)\u0000out\u0000on\u0000([^\u0000]+)$/.exec(spec)
  if (same) {
    if (same[1] !== same[2]) return `ufw route allow from ${same[1]} to ${same[2]}: two interfaces, not frames a bridge forwards`
    return !libvirt ? `allows ${same[1]}'s forwarded frames, and libvirt's guests could not be read to tell what it is` : guestBridges(libvirt).has(same[1]) ? undefined : `${same[1]} is not a bridge guests use`
  }
  const routed = /^route\u0000allow\u0000in\u0000on\u0000([^\u0000]+)(?:\u0000from\u0000([^\u0000]+))?$/.exec(spec)
  if (routed) return libvirtBridgeProblem(routed[1], libvirt, "ufw's routing")
  const input = /^allow\u0000in\u0000on\u0000([^\u0000]+)\u0000to\u0000any\u0000port\u0000\d+(?:\u0000proto\u0000(?:udp|tcp))?$/.exec(spec)
  if (input) return libvirtBridgeProblem(input[1], libvirt, 'the host (a port let in)')
  const published = /^route\u0000allow\u0000proto\u0000(?:udp|tcp)\u0000from\u0000any\u0000to\u0000([^\u0000/]+)\u0000port\u0000\d+$/.exec(spec)
  if (published && published[1] !== 'any') return undefined
  return `ufw ${args.join(' ')} is not a rule kvmdoctor adds as a fix (a bridge's guests, or one published port)`
}

/** What is wrong with one step by itself (LATER: the steps after it): unknown, or widening the host's exposure. */
function stepProblem(step: FixStep, names: {networks: Set<string>; domains: Set<string>} | 'any', host: FixHost, later: FixStep[]): string | undefined {
  if ('write' in step) return /^\/etc\/sysctl\.d\/[^/]+\.conf$/.test(step.write.path) ? undefined : `writes ${step.write.path}, not a sysctl.d file`
  if ('pipeline' in step) {
    // The one pipeline a fix runs: libvirt's own qemu hook given the guest's XML, as libvirtd runs it on reconnect.
    const [first, second, ...more] = [virshPositional(step.pipeline[0] ?? []), ...step.pipeline.slice(1)]
    const rerun = more.length === 0 && first?.[0] === 'virsh' && first[1] === 'dumpxml' && first.length === 3 && second?.[0] === '/etc/libvirt/hooks/qemu' && second[1] === first[2] && second.slice(2).join(' ') === 'reconnect begin -'
    if (!rerun) return 'a pipeline is a check, not a fix'
    return names === 'any' || names.domains.has(first[2]) ? undefined : `reruns the qemu hook for guest ${first[2]}, which the finding does not name`
  }
  const argv = virshPositional(step.argv)
  const [tool, sub] = argv
  if (tool === 'virsh') {
    if (VIRSH_FORBIDDEN.has(sub)) return `virsh ${sub} powers off or removes a guest or network`
    if (VIRSH_NETWORK.has(sub)) return names === 'any' || names.networks.has(argv[2]) ? undefined : `virsh ${sub} on network ${argv[2]}, which the finding does not name`
    if (VIRSH_DOMAIN.has(sub)) return names === 'any' || names.domains.has(argv[2]) ? undefined : `virsh ${sub} on guest ${argv[2]}, which the finding does not name`
    return `virsh ${sub} is not a command kvmdoctor runs as a fix`
  }
  if (IPTABLES.test(tool)) {
    if (argv.some((w) => IPTABLES_WIDE.has(w))) return 'changes a chain policy, flushes, zeroes, renames or deletes a chain'
    if (argv.includes('-D') || argv.includes('--delete')) {
      const {rule, chain, table} = iptablesTarget(argv, host.netfilter)
      if (chainOwnerOf(table?.name, chain) !== 'admin') return deletionProblem(chainOwnerOf(table?.name, chain), rule, false, host.netfilter !== undefined)
      const jumps = rule?.exprs.find((e) => e.kind === 'jump' || e.kind === 'goto') as {target: string} | undefined
      if (jumps && chainOwnerOf(table?.name, jumps.target) !== 'admin') return `deletes the jump into ${jumps.target}, which is not the admin's`
      return deletionProblem('admin', rule, false, host.netfilter !== undefined)
    }
    if (argv.includes('-I') || argv.includes('-A') || argv.includes('--insert') || argv.includes('--append')) {
      const target = optionValue(argv, '-j') ?? optionValue(argv, '--jump')
      // A DNAT in nat OUTPUT rewrites only connections the host itself opens (a hairpin to a published port): nothing from outside gets in.
      if (target === 'DNAT' && optionValue(argv, '-t') === 'nat' && (optionValue(argv, '-I') ?? optionValue(argv, '-A')) === 'OUTPUT') return undefined
      if (movesLegacyRule(argv, host.netfilter)) return undefined
      if (!target || !ADDED_TARGETS.has(target)) return `adds a rule with target ${target ?? '(none)'}: a fix adds accepts only`
      return target === 'ACCEPT' && !argv.some((w, i) => IPTABLES_NARROWING.has(w) && !ANYWHERE.has(argv[i + 1])) ? OPENS_ALL : undefined
    }
    return 'an iptables command kvmdoctor does not run as a fix'
  }
  // Legacy ebtables' own command: ebtables-legacy, or ebtables where that is the legacy tool (NfTable.command). An
  // ebtables that is the nft variant edits nft's bridge tables: not a command a fix runs.
  const editsLegacy = (t: NfTable) => t.backend === 'ebtables-legacy' && (t.command ?? 'ebtables-legacy') === tool
  if (tool === 'ebtables-legacy' || (tool === 'ebtables' && host.netfilter?.tables.some(editsLegacy))) {
    // Only one rule deleted by its specification (`-t TABLE -D CHAIN spec`), the admin's own, that the host has.
    const at = argv.indexOf('-D')
    const tableName = argv[1] === '-t' ? argv[2] : 'filter'
    if (at !== (argv[1] === '-t' ? 3 : 1) || argv.some((w) => IPTABLES_WIDE.has(w))) return `an ${tool} command other than one rule deleted`
    const chain = argv[at + 1]
    const rule = ruleOfSpec(host.netfilter?.tables.find((t) => editsLegacy(t) && t.name === tableName), chain, argv.slice(at + 2))
    const jumps = rule?.exprs.find((e) => e.kind === 'jump') as {target: string} | undefined
    if (jumps && chainOwnerOf(tableName, jumps.target) !== 'admin') return `deletes the jump into ${jumps.target}, which is not the admin's`
    return deletionProblem(chainOwnerOf(tableName, chain), rule, false, host.netfilter !== undefined)
  }
  if (tool === 'nft') {
    // nft parses its joined arguments: a word it would split could hide a second command (`;flush ruleset`).
    const split = argv.slice(1).find((w) => !nftWord(w) && !NFT_PORT_SET.test(w))
    if (split !== undefined || !nftOneCommand(argv.slice(1).join(' '))) return `${JSON.stringify(split ?? argv.slice(1).join(' '))} is more than one word to nft, which parses its arguments joined: the step could run more than it shows`
    if ((sub === 'insert' || sub === 'add') && argv[2] === 'rule') {
      if (argv.at(-1) !== 'accept') return 'adds an nft rule that is not an accept'
      // The words after family, table and chain (and a position): the rule's own match.
      return argv.slice(6).some((w, i, match) => NFT_NARROWING.has(w) && !ANYWHERE.has(match[i + 1] ?? '')) ? undefined : OPENS_ALL
    }
    if (sub === 'delete' && argv[2] === 'rule' && argv[6] === 'handle') {
      const [family, tableName, chain, handle] = [argv[3], argv[4], argv[5], Number(argv[7])]
      const table = host.netfilter?.tables.find((t) => t.family === family && t.name === tableName && (t.backend === 'nft' || t.backend === 'iptables-nft'))
      const rule = table?.chains[chain]?.rules.find((r) => r.ref.handle === handle)
      const jumps = rule?.exprs.find((e) => e.kind === 'jump' || e.kind === 'goto') as {target: string} | undefined
      if (jumps && chainOwnerOf(tableName, jumps.target) !== 'admin') return `deletes the jump into ${jumps.target}, which is not the admin's`
      return deletionProblem(chainOwnerOf(tableName, chain), rule, table?.backend === 'nft', host.netfilter !== undefined)
    }
    return `nft ${argv.slice(1, 3).join(' ')} changes more than one accept or one admin rule`
  }
  if (tool === 'firewall-cmd') {
    const rest = argv.slice(1).filter((w) => w !== '--permanent')
    const moved = rest.length === 2 && rest[0] === '--zone=libvirt' ? /^--(?:change|add)-interface=([\s\S]*)$/.exec(rest[1])?.[1] : undefined
    if (moved === undefined) return 'a firewall-cmd change other than putting a bridge in the libvirt zone'
    return libvirtBridgeProblem(moved, host.libvirt, 'the libvirt zone (it forwards and lets in DHCP, DNS and SSH from its interfaces)')
  }
  if (tool === 'ufw') return ufwProblem(argv.slice(1), host.libvirt)
  if (tool === 'sysctl') {
    const settings = argv.slice(1).filter((w) => w !== '-w' && w !== '-q')
    if (!argv.includes('-w') || settings.some((w) => !/^[\w./-]+=\S+$/.test(w))) return 'a sysctl command that is not a setting written'
    const docker = (host.netfilter?.tables ?? []).some((t) => Object.keys(t.chains).some((c) => c === 'DOCKER-USER'))
    const bridgeNfOff = settings.some((w) => /^net\.bridge\.bridge-nf-call-ip6?tables=0$/.test(w))
    if (docker && bridgeNfOff) return 'turns bridge netfilter off, which Docker relies on to filter its bridges'
    if (bridgeNfOff && physdevRules(host.netfilter)) return "turns bridge netfilter off, and rules that match bridge ports (-m physdev: libvirt's nwfilter, the admin's) see bridged frames only through it: they would stop filtering"
    return undefined
  }
  if (tool === 'ip') {
    const rest = argv.slice(1).join(' ')
    const up = /^link set (\S+) up$/.exec(rest)
    if (up) return linkUpProblem(up[1], host)
    const replug = /^link set (\S+) master (\S+) up$/.exec(rest)
    if (replug) return replugProblem(replug[1], replug[2], host.libvirt)
    const mtu = /^link set (\S+) mtu (\d+)$/.exec(rest)
    if (mtu) return mtuProblem(mtu[1], Number(mtu[2]), host)
    if (/^link set \S+ type bridge forward_delay \d+$|^link set \S+ arp on$/.test(rest)) return undefined
    // A named guest's bridge port given back the kernel's default proxy_arp (off): bridge link set has no such option.
    const port = /^link set dev (\S+) type bridge_slave proxy_arp off$/.exec(rest)
    if (port) return guestPortProblem(host, names, port[1])
    if (/^(-[46] )?(route|rule) /.test(rest)) return routeProblem(argv.slice(1), later, host)
    // A libvirt network's gateway address put back on its own bridge (what libvirt gave it), nothing else.
    const gateway = /^address add (\S+)\/(\d+)(?: broadcast \+)? dev (\S+)$/.exec(rest)
    if (gateway) {
      const [, address, prefix, dev] = gateway
      const own = host.libvirt?.networks.some((n) => n.bridge === dev && n.ips.some((ip) => ip.address === address && String(ip.prefix) === prefix))
      return own ? undefined : `adds ${address}/${prefix} to ${dev}, which is not that libvirt network's gateway on its bridge`
    }
    return `ip ${argv.slice(1, 3).join(' ')} is not a command kvmdoctor runs as a fix`
  }
  // A named guest's own bridge port given back what the kernel gives every port: learning, flooding, no 802.1X lock;
  // or one fdb entry for a named guest's MAC deleted (the bridge learns it again, or floods to it).
  if (tool === 'bridge') {
    if (sub === 'fdb') {
      const entry = /^fdb del ([0-9a-f]{2}(?::[0-9a-f]{2}){5}) dev (\S+)(?: master)?(?: vlan \d+)?$/.exec(argv.slice(1).join(' '))
      if (!entry) return `bridge ${argv.slice(1).join(' ')} is not one fdb entry deleted`
      const guest = runningGuestWith(host.libvirt, (x) => x.mac?.toLowerCase() === entry[1])
      if (guest === undefined) return `${entry[1]} is not the MAC of a guest libvirt runs`
      return names === 'any' || names.domains.has(guest) ? undefined : `${entry[1]} is ${guest}'s MAC, a guest the finding does not name`
    }
    if (sub !== 'link' || argv[2] !== 'set' || argv[3] !== 'dev' || argv.length !== 7 || !/^(learning on|flood on|bcast_flood on)$/.test(argv.slice(5).join(' '))) return `bridge ${argv.slice(1).join(' ')} is not a port flag set back`
    return guestPortProblem(host, names, argv[4])
  }
  if (tool === 'ovs-vsctl') return ovsVsctlProblem(argv.slice(1), names, host)
  if (tool === 'ovs-ofctl') return ovsOfctlProblem(argv.slice(1), host)
  // The switch's daemons started (not restarted): ports and flows come back from its database.
  if (tool === '/usr/share/openvswitch/scripts/ovs-ctl' && argv.length === 2 && sub === 'start') return undefined
  if (tool === 'tc') return tcProblem(argv.slice(1), host.tc)
  if (tool === 'systemctl') return ['restart', 'try-restart', 'start'].includes(sub) && argv.slice(2).every((u) => SERVICES.test(u)) ? undefined : `systemctl ${argv.slice(1).join(' ')} is not a service kvmdoctor restarts`
  if (tool === 'kill' && sub === '-CONT') return resumeProblem(argv.slice(2), host.processes)
  if (tool === 'kill') {
    if (argv.length !== 2 || !/^\d+$/.test(sub)) return 'a kill other than of one process'
    if (Number(sub) <= 1) return `kill ${sub} signals init, which holds what it holds for every service`
    // What frees a port for a network is another process: a libvirt network's own dnsmasq serves its guests' leases.
    const served = host.processes?.dnsmasq.find((d) => d.pid === Number(sub) && d.libvirtNetwork !== undefined)?.libvirtNetwork
    return served === undefined ? undefined : `kills the dnsmasq of network ${served}: its guests' DHCP and DNS stop`
  }
  if (tool === 'timeout' && argv[2] === 'tail' && /^--pid=\d+$/.test(argv[3] ?? '')) return undefined
  if (tool === 'sleep' && argv.length === 2 && /^\d+$/.test(sub)) return undefined
  if (tool === 'dhcp_release') return dhcpReleaseProblem(argv, names, host.libvirt)
  if (/(^|\/)dnsmasq$/.test(tool) && /^--conf-file=\/var\/lib\/libvirt\/dnsmasq\/[^/]+\.conf$/.test(sub ?? '')) return undefined
  return `${tool} is not a command kvmdoctor runs as a fix`
}

/** SIGCONT ends nothing; it is sent only to a DHCP server (a libvirt network's dnsmasq, dhcpd) the facts show stopped (not frozen: SIGCONT does not thaw it), never to another process. */
function resumeProblem(pids: string[], processes: ProcessFacts | undefined): string | undefined {
  if (pids.length === 0) return 'kill -CONT of no process'
  const servers = processes ? [...processes.dnsmasq.filter((d) => d.libvirtNetwork !== undefined).map((d) => d.pid), ...dhcpdState(processes).stopped.map((p) => p.pid)] : []
  const resumable = (pid: string) => /^\d+$/.test(pid) && servers.includes(Number(pid)) && processes?.stopped?.some((p) => p.pid === Number(pid) && !p.traced && !p.frozen)
  const other = pids.filter((pid) => !resumable(pid))
  return other.length === 0 ? undefined : `kill -CONT of ${other.join(' ')}: not a stopped DHCP server (a libvirt network's dnsmasq, dhcpd)`
}

/** A resource a step frees, takes or needs, for the order check. */
interface Effects {
  frees: string[]
  takes: string[]
}

function effectsOf(step: FixStep, host: FixHost): Effects {
  const w = wordsOf(step)
  const [tool, sub] = w
  if (tool === 'virsh' && sub === 'net-destroy') return {frees: [`network:${w[2]}`], takes: []}
  if (tool === 'virsh' && sub === 'net-start') {
    const bridge = bridgeOf(host.libvirt, w[2])
    // A network starting binds its dnsmasq's port and creates its bridge.
    return {frees: bridge ? [`bridge:${bridge}`] : [], takes: [`network:${w[2]}`, 'port:dns']}
  }
  // SIGCONT frees nothing: the process resumes holding what it held.
  if (tool === 'kill' && sub === '-CONT') return {frees: [], takes: []}
  if (tool === 'kill') return {frees: ['port:dns', `pid:${sub}`], takes: []}
  if (tool === 'timeout' && w[2] === 'tail') return {frees: [], takes: [`pid:${w[3].slice('--pid='.length)}`]}
  if (tool === 'ip' && sub === 'link' && w[4] === 'master') return {frees: [], takes: [`bridge:${w[5]}`]}
  if (tool === 'virsh' && sub === 'detach-interface') return {frees: [`interface:${w[2]}`], takes: []}
  if (tool === 'virsh' && sub === 'attach-interface') return {frees: [], takes: [`interface:${w[2]}`]}
  if (tool === 'virsh' && sub === 'domif-setlink') return w[4] === 'down' ? {frees: [`link:${w[2]}`], takes: []} : {frees: [], takes: [`link:${w[2]}`]}
  if (tool === 'virsh' && sub === 'net-update') {
    // libvirt refuses only a range equal to one the network has (ranges may overlap: a wider one is added before the
    // old is deleted); a host entry clashes with another of the same MAC or address, so any host entry is one resource.
    const resource = w[4] === 'ip-dhcp-range' ? `${w[4]}:${w[2]}:${w[5]}` : `${w[4]}:${w[2]}`
    return w[3] === 'delete' ? {frees: [resource], takes: []} : {frees: [], takes: [resource]}
  }
  return {frees: [], takes: []}
}

/** Guests a step cuts off must be named, brought back by later steps, and only guests of the network it names. */
function disruptionProblems(finding: Named, host: FixHost): StepProblem[] {
  const steps = finding.fixSteps
  const out: StepProblem[] = []
  const names = namesOf(finding)
  steps.forEach((step, i) => {
    const w = wordsOf(step)
    const problem = (why: string) => out.push({step: i, line: renderStep(step), why})
    const later = steps.slice(i + 1).map(wordsOf)
    if (!host.libvirt && w[0] === 'virsh' && w[1] === 'net-destroy') problem("libvirt's guests could not be read: kvmdoctor cannot tell which guests this cuts off")
    if (w[0] === 'virsh' && w[1] === 'net-destroy') {
      const network = w[2]
      if (!later.some((x) => x[0] === 'virsh' && x[1] === 'net-start' && x[2] === network)) problem(`network ${network} is destroyed and not started again`)
      const guests = guestsOn(host.libvirt, network)
      const labelled = new Set('argv' in step ? (step.disrupts ?? []) : [])
      const unlabelled = [...new Set(guests.map((g) => g.domain))].filter((d) => !labelled.has(d))
      if (unlabelled.length > 0) problem(`cuts off running guests it does not name: ${unlabelled.join(', ')}`)
      const bridge = bridgeOf(host.libvirt, network)
      for (const g of guests) {
        if (g.tap && !later.some((x) => x[0] === 'ip' && x[3] === g.tap && x[4] === 'master' && x[5] === bridge)) problem(`${g.domain}'s tap ${g.tap} is not put back on ${bridge ?? 'its bridge'}`)
      }
    }
    if (w[0] === 'virsh' && w[1] === 'detach-interface' && !later.some((x) => x[1] === 'attach-interface' && x[2] === w[2])) problem(`${w[2]}'s interface is detached and not attached again`)
    if (w[0] === 'virsh' && w[1] === 'domif-setlink' && w[4] === 'down' && !later.some((x) => x[1] === 'domif-setlink' && x[2] === w[2] && x[4] === 'up')) problem(`${w[2]}'s link is set down and not up again`)
    if ('argv' in step) {
      for (const d of step.disrupts ?? []) {
        const onNamedNetwork = [...names.networks].some((n) => guestsOn(host.libvirt, n).some((g) => g.domain === d))
        if (!names.domains.has(d) && !onNamedNetwork) problem(`disrupts ${d}, a guest neither named by the finding nor on a network it names`)
      }
    }
    // A tap re-plugged (onto its own bridge: stepProblem) belongs to a guest on a network the finding names, to the guest it names, or to the bridge it names.
    if (w[0] === 'ip' && w[1] === 'link' && w[4] === 'master' && host.libvirt) {
      const owner = host.libvirt.domains.flatMap((d) => d.interfaces.filter((x) => x.target === w[3]).map((x) => ({domain: d.name, network: x.type === 'network' ? x.source : undefined})))[0]
      if (owner && !names.domains.has(owner.domain) && !(owner.network && names.networks.has(owner.network)) && !(finding.entity.kind === 'link' && finding.entity.name === w[5])) problem(`re-plugs ${owner.domain}'s tap ${w[3]}, a guest the finding does not name`)
    }
  })
  return out
}

/** What frees a resource (a network, a port, a bridge, an interface) comes before what takes it. */
function orderProblems(finding: Named, host: FixHost): StepProblem[] {
  const effects = finding.fixSteps.map((s) => effectsOf(s, host))
  const out: StepProblem[] = []
  effects.forEach((e, i) => {
    for (const r of e.takes) {
      const freer = effects.findIndex((x, j) => j > i && x.frees.includes(r))
      if (freer >= 0) out.push({step: i, line: renderStep(finding.fixSteps[i]), why: `takes ${r} before step ${freer + 1} (${renderStep(finding.fixSteps[freer])}) frees or makes it`})
    }
  })
  return out
}

/** Every problem of a finding's fix: empty when every step is known and safe, in order. */
export function judgeFixSteps(finding: Named, host: FixHost): StepProblem[] {
  const names = namesOf(finding)
  const own = finding.fixSteps.flatMap((step, i) => {
    const why = stepProblem(step, names, host, finding.fixSteps.slice(i + 1))
    return why ? [{step: i, line: renderStep(step), why}] : []
  })
  return [...own, ...disruptionProblems(finding, host), ...orderProblems(finding, host)].sort((a, b) => a.step - b.step)
}

/** The undo of one datapath element (the trace's, about the element's own guest or network): each step known and safe by itself. */
export function judgeUndoSteps(steps: FixStep[], host: FixHost): StepProblem[] {
  return steps.flatMap((step, i) => {
    const why = stepProblem(step, 'any', host, steps.slice(i + 1))
    return why ? [{step: i, line: renderStep(step), why}] : []
  })
}
