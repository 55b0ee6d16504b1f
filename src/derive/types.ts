/**
 * What rules are evaluated on: one typed view per entity kind, derived from
 * probe facts (one module per kind in src/derive/). A view holds facts and
 * plain joins, nothing else: no threshold, no prose, no command. Whether a
 * fact is a fault, and what to say and do about it, is the rules' (rules/*).
 */
import type {ProbeResult} from '../../probes/types.js'
import type {DatapathDerivation} from '../datapath/derive.js'
import type {Element} from '../datapath/elements.js'
import type {Destination} from '../datapath/flows.js'
import type {PublishRequest} from '../datapath/published.js'
import type {ModuleFacts} from '../../probes/modules.js'
import type {ExpectationSpec} from './expectations.js'
import type {InterfaceOvsAttributes} from './ovs.js'
import type {WireRequests} from './wire-requests.js'

export type EntityKind = 'host' | 'network' | 'link' | 'domain' | 'interface' | 'apipa' | 'address' | 'dhcp-service' | 'element' | 'forward'

/** Names that relate a finding to others (for root-cause grouping). */
export interface EntityContext {
  host?: string
  network?: string
  bridge?: string
  domain?: string
  mac?: string
  link?: string
}

interface ViewBase<K extends EntityKind> {
  kind: K
  name: string
  context: EntityContext
  /** Running guests this entity's failure would cut off (blast radius). */
  affectedGuests: number
  /** Why an attribute that is null is unknown (the failed read behind it), for "not checked" reasons. */
  unknownBecause?: Partial<Record<string, string>>
}

export interface HostView extends ViewBase<'host'> {
  ipForward: number | null
  /** Active NAT and routed libvirt networks. */
  routedNetworks: string[]
  /**
   * Those whose bridge is not known to forward on its own: the kernel routes what arrives on a device by that device's
   * net.ipv4.conf.DEV.forwarding, which ip_forward only sets (all of them, when written); not read counts as off.
   */
  routedNetworksNotForwarding: string[]
  /** The bridges of those (a network without a bridge is left out). */
  routedBridgesNotForwarding: string[]
  /** ip_forward = 0 with some device's own net.ipv4.conf.DEV.forwarding = 1: the host enables forwarding per device. */
  forwardsPerDevice: boolean
  runningGuests: number
  /** Running guests on those networks. */
  routedGuests: number
  /** Main-table IPv4 default routes as `ip route` prints them, first one first. */
  defaultRoutes: string[]
  defaultRouteList: {gateway: string | null; dev: string | null; metric: number}[]
  bridgeNfCallIptables: number | null
  conntrackCount: number | null
  conntrackMax: number | null
  /** The kernel's conntrack hash table size (sized from memory at boot; null: not read). */
  conntrackBuckets: number | null
  routedSubnets: string[]
  /** The host's own L3 interfaces that are not guest bridges: "eth0 10.0.0.5/24". */
  uplinkCandidates: string[]
  uplinkNames: string[]
  /** Default routes kept in other tables (a VPN's, a backup one): gateways the host names. */
  knownGateways: {gateway: string; dev: string; table: string}[]
  /** Two or more default-route devices, or a routed (not NATed) network. */
  multiHomed: boolean
  /** The host's L3 interfaces (no bridge ports, no loopback) with their effective rp_filter (max of conf/all and conf/IF). */
  l3Interfaces: {name: string; rpFilter: number | null}[]
  /** Whether rp-filter strictness is decided: null when no interface is known strict and one's rp_filter could not be read. */
  rpFilterDecided: true | null
  /** Pairs of those interfaces holding addresses of one subnet, with their effective arp_ignore and arp_announce. */
  sharedSubnets: {a: SubnetHolder; b: SubnetHolder}[]
  vhostNet: boolean | null
  /** Running KVM guests with virtio NICs. */
  kvmVirtioGuests: string[]
  firewallBackend: LibvirtFirewallBackend | null
  firewallBackendSetting: string | null
  iptablesVariant: string | null
  legacyTablesWarning: boolean
  /** Whether iptables-legacy-save could be read: without it the warning is the only sign of legacy rules. */
  legacyTablesListed: boolean
  legacyRuleCount: number
  /** Every rule in the iptables-legacy tables: where it is, its words after `-A CHAIN`, its target, and whether iptables-nft holds the same rule in the same place. */
  legacyRules: {family: 'ip' | 'ip6'; table: string; chain: string; spec: string[]; builtinChain: boolean; target: string | null; inNft: boolean}[]
  /** Whether the legacy tables' rules are known: null when iptables-nft warns of legacy tables and iptables-legacy-save was there to read and could not be. */
  legacyRulesKnown: true | null
  nftBackendRuleCount: number
  mainRuleCount: number
  forwardPolicy: string | null
  logNoAddressAvailable: string[]
  logConntrackFull: string[]
  logAddressInUse: string[]
  logNftIncompatible: string[]
  logNetworkInUse: string[]
  /** Log lines about missing netfilter extensions whose modules are still not in the kernel. */
  logModuleMissing: string[]
  /** The modules those lines name (iptables' MASQUERADE extension is xt_MASQUERADE). */
  modulesNamedInLog: string[]
  dockerUserChain: boolean
  /** Networks libvirt routes IPv6 for, started or not. */
  ipv6RoutedNetworks: string[]
  ipv6Forwarding: number | null
  /** Firewall services that started or reloaded after the libvirt daemon last started. */
  firewallAfterLibvirt: string[]
  libvirtStarted: string | null
  /** iptables-nft tables iptables-save cannot print ("ip nat"). */
  incompatibleTables: string[]
  /** Active NAT networks with no source-NAT rule for their subnet (unknown ones left out). */
  natNetworksWithoutSourceNat: string[]
  /** iptables rules match bridge ports (-m physdev). */
  physdevRules: boolean
  /** The kernel's modules, loaded and built in; null when they could not be read. */
  kernelModules: ModuleFacts | null
  /** systemd answered (services probe); false without it, null when not read. */
  systemd: boolean | null
  /** The daemon that runs libvirt's networks (their dnsmasq and firewall rules). */
  libvirtNetworkDaemon: 'libvirtd' | 'virtnetworkd'
}

export interface SubnetHolder {
  name: string
  cidr: string
  arpIgnore: number | null
  arpAnnounce: number | null
}

export type LibvirtFirewallBackend = 'iptables' | 'nftables' | 'none'

export interface NetworkView extends ViewBase<'network'> {
  active: boolean
  autostart: boolean
  persistent: boolean
  forwardMode: string
  forwardDev: string | null
  bridge: string | null
  bridgeExists: boolean | null
  subnet: string | null
  gateway: string | null
  prefix: number | null
  dhcpEnabled: boolean
  /** "start-end" of each IPv4 DHCP range. */
  dhcpRanges: string[]
  dhcpRangeList: {start: string; end: string}[]
  /** Addresses in the ranges. */
  dhcpRangeSize: number
  /** IPv4 addresses of the subnet something answers from or holds a lease on (a widened range must stop short of them). */
  addressesInSubnet: string[]
  /** null: the process list could not be read. */
  dhcpServerRunning: boolean | null
  dnsmasqPids: number[]
  /** The network's dnsmasq processes in a stop state (T; traced: stopped by a debugger; frozen: by its cgroup, the freezer file). */
  dnsmasqStopped: {pid: number; traced: boolean; frozen?: string}[]
  /** Source-NAT rules reachable from postrouting that cover the subnet, as their tools print them; null when the ruleset is unknown. */
  sourceNatRules: string[] | null
  definedGuests: string[]
  runningGuests: number
  /** The running guests' taps on the network: what a network restart detaches (libvirt does not re-plug them). */
  runningTaps: {domain: string; tap: string}[]
  autostartGuests: string[]
  /** Whether which guests start at boot was read (null: not, see unknownBecause). */
  guestAutostartRead: true | null
  /** Unexpired leases on the bridge, and those inside the DHCP ranges. */
  leases: number
  leasesInRange: number
  /** Unexpired leases held by MACs no defined domain has. */
  staleLeases: {ip: string; mac: string; hostname: string | null}[]
  forwardDevState: 'present' | 'absent' | 'none' | null
  forwardDevIsDefaultRoute: boolean | null
  defaultRouteDevs: string[]
  /** Forward mode nat or route. */
  routed: boolean
  /** libvirt's own rules naming the bridge; null when the ruleset is unknown. */
  libvirtRules: string[] | null
  firewallBackend: LibvirtFirewallBackend | null
  checksumFill: boolean | null
  /** Other processes listening where dnsmasq must (ports 53, 67); null when sockets could not be listed. */
  portConflicts: string[] | null
  /** The pids of those processes, where ss named them. */
  portHolderPids: number[]
  /** Whether ss named the process of every listener in portConflicts (it does not without the right to see it). */
  portHoldersKnown: boolean
  /** Main-table routes over another device covering part of the subnet. */
  subnetOverlaps: string[]
  firewalldRunning: boolean | null
  /** The bridge's firewalld zone ('no zone' when in none); null when firewalld does not run or there is no bridge. */
  firewalldZone: string | null
}

export interface LinkView extends ViewBase<'link'> {
  linkKind: string
  master: string | null
  operstate: string
  flags: string
  adminUp: boolean
  /** Lost its carrier (a bridge: its ports are up and it is not; a tap never). */
  carrierLost: boolean
  down: boolean
  /** The active libvirt network whose bridge it is. */
  bridgeOfNetwork: string | null
  /** The guest bridge it is the uplink of. */
  uplinkOf: string | null
  defaultRouteDevice: boolean
  portCount: number
  mtu: number
  isGuestBridge: boolean
  guestPortCount: number
  /** A bridge libvirt did not make for a network of its own (nat, route, open, isolated): its guests' frames are bridged to a LAN. */
  plainBridge: boolean
  /** br_netfilter for this bridge's frames: the host-wide sysctl, or 1 by the bridge's own nf_call_iptables. */
  bridgeNfCallIptables: number | null
  /** bridgeNfCallIptables is 1 by the bridge's own nf_call_iptables (ip link set BR type bridge nf_call_iptables 1), the sysctl being 0. */
  bridgeNfCallOwn?: boolean
  /** Whether the datapath was followed at all. */
  datapathFollowed: boolean
  /** The element that drops guest traffic on this bridge in the forward path (routed, or bridged through br_netfilter). */
  forwardDrop: string | null
  /** That element itself (where an accept for the bridge's frames goes). */
  forwardDropElement: Element | null
  /** The rules that accept the guests' traffic on this bridge in the forward path, when every flow that meets it passes by one (null: some pass by a chain's policy only, or none is followed). */
  forwardAcceptedBy: string | null
  stpState: number | null
  forwardDelayCs: number | null
  forwardDelaySeconds: number | null
  portsInTransition: string[]
  /** Every port with its MTU, whether it is a guest's (tap, macvtap) or an uplink, and a veth's peer's MTU on this host (null: not a veth, or its peer is elsewhere). */
  ports: {name: string; mtu: number; guest: boolean; peerMtu: number | null}[]
  portMtus: string[]
  rpFilter: number | null
  acceptRa: number | null
  /** RA-learned IPv6 routes (proto ra), as `ip -6 route` prints them. */
  raRoutes: string[]
}

export interface DomainView extends ViewBase<'domain'> {
  state: string
  running: boolean
  autostart: boolean
  interfaceCount: number
  networks: string[]
  guestAgentChannel: boolean
  domainType: string
  /** IPv4 addresses its MACs hold now: unexpired leases, live neighbour entries, arp-scan replies. */
  addresses: string[]
}

export interface InterfaceView extends ViewBase<'interface'>, InterfaceOvsAttributes {
  domain: string
  running: boolean
  /** running, paused, in shutdown...: a paused guest sends nothing by design. */
  domainState: string
  type: string
  source: string | null
  mac: string | null
  target: string | null
  linkState: string | undefined
  expectedBridge: string | null
  /** The link table can tell whether its tap is on its bridge (it shows the bridge, or its network is down). */
  tapCheckable: boolean
  tapExists: boolean
  tapMaster: string | null
  /** Other running guests with the same MAC. */
  macSharedWith: string[]
  /** It keeps its MAC where others share it (started first); false for the copies. */
  macKept: boolean
  /** The device model the guest sees (virtio, e1000e...), when the XML names one. */
  model: string | null
  isDirect: boolean
  trustGuestRxFilters: boolean | null
  /** Addresses its own MAC held, now answered by a MAC of no defined guest. */
  macChanges: string[]
  /** IPv4 addresses any source reports for its MAC (leases, neighbours, arp-scan, the wire), APIPA included. */
  ipv4Addresses: string[]
  /** Its libvirt network's IPv4 subnet (null: not on a libvirt network with IPv4). */
  networkSubnet: string | null
  /** Whether its network gives it an address: a DHCP range, or a host entry for its MAC (null: no libvirt IPv4 network). */
  networkHandsOutAddresses: boolean | null
  /** The wire (--listen): whether it was listened to, and what it sent. */
  listened: boolean
  listenSeconds: number | null
  wireSent: number | null
  /** The capture was cut short (a silent guest is only silent when it was not). */
  wireCapped: boolean | null
  wireAddresses: string[]
  /** The subnets its network routes. */
  wireSubnets: string[]
  /** The subnets on its link (its network's own prefixes, not the ones routed through it). */
  wireOnLink: string[]
  /** Addresses it sent from that its network cannot route (neither its subnets nor APIPA). */
  wireForeign: string[]
  dhcpDiscovers: number | null
  /** DHCP answers it got: server address and MAC, and the message. */
  dhcpAnswers: {server: string; serverMac: string; message: string}[]
  /** Every server that answered: "IP (MAC)". */
  dhcpServersSeen: string[]
  /** The DHCP servers of its network; null when not known (a bridged LAN, a network without DHCP). */
  dhcpOwnServers: string[] | null
  clientIds: string[]
  /** Other MACs presenting one of its client ids on its segment: "MAC (guest) via wire, lease". */
  clientIdSharedWith: string[]
  /** What it asked for on the wire, and who on its segment holds or answered it (null: not listened to). */
  wireRequests: WireRequests | null
  /**
   * Its capture took the answers it gets (DNS replies, ICMP errors, others' neighbour advertisements): false
   * where it was not listened to; null where it was heard without them (a recording made before kvmdoctor took them).
   */
  wireAnswersHeard: boolean | null
}

export interface ApipaView extends ViewBase<'apipa'> {
  ip: string
  dev: string
  mac: string | null
  domain: string | null
  onGuest: boolean
  seenBy: string[]
  alsoHasRealAddress: boolean
}

export interface AddressView extends ViewBase<'address'> {
  ip: string
  macCount: number
  /** "MAC (guest) via lease, neighbour". */
  claims: string[]
  network: string | null
  prefix: number | null
  leaseMac: string | null
  otherMac: string
  otherDomain: string | null
}

export interface DhcpServiceView extends ViewBase<'dhcp-service'> {
  active: boolean
  dhcpEnabled: boolean
  /** The subnets dhcpd.conf declares. */
  dhcpRanges: string[]
  servedInterface: string | null
  dhcpServerRunning: boolean | null
  /** The dhcpd processes in a stop state (T; traced: stopped by a debugger; frozen: by its cgroup, the freezer file). */
  dhcpdStopped: {pid: number; traced: boolean; frozen?: string}[]
}

/** An Open vSwitch bridge (reported as the link of its name). */
export interface OvsBridgeView {
  kind: 'link'
  name: string
  context: EntityContext
  affectedGuests: number
  unknownBecause?: Partial<Record<string, string>>
  /** standalone, secure; null: unset (OVS behaves as standalone). */
  failMode: string | null
  datapathType: string | null
  controllers: string[]
  controllersConnected: number
  /** Controllers not connected, with OVS's state and last error. */
  controllerErrors: string[]
  flowCount: number | null
  /** Flows whose actions send frames on (not drop), as ovs-ofctl prints them; null: flows not read. */
  forwardingFlows: string[] | null
  /**
   * What the flows do with a guest's IPv4 unicast frame: forwarded (by some guest port), left to the table miss (by
   * some port, none undecided), dropped by a flow (at every port); null: the flows do not say.
   */
  guestUnicastFate: 'forwarded' | 'dropped-by-flow' | 'table-miss' | null
  /** Its ports that are running guests' taps, and those guests. */
  guestPorts: string[]
  guests: string[]
}

export interface ElementView extends ViewBase<'element'> {
  /** The datapath element itself (what it is and where). */
  element: Element
  elementId: string
  elementKind: Element['kind']
  /** fail / indeterminate: the flows' deciding hop; divert: a policy rule routes them elsewhere. */
  verdict: 'fail' | 'indeterminate' | 'divert'
  hop: string
  detail: string
  hook: string | null
  backend: string | null
  nfFamily: string | null
  nfTable: string | null
  incompatibleTable: boolean
  chain: string | null
  libvirtOwned: boolean
  sysctlKey: string | null
  routeTable: string | null
  rulePriority: number | null
  baseChain: string | null
  device: string | null
  /** The address an element is about (a source NAT's target). */
  address: string | null
  /** "GUEST KIND: description" of every flow it decides. */
  flows: string[]
  flowKinds: string[]
  /** The published ports ([HOST_ADDR:]PORT/proto) whose inbound round trips it decides: what `trace --inbound` follows. */
  inbound: string[]
  /** Only IPv6 flows stop here: IPv4 passes. */
  ipv6Only: boolean
  guests: string[]
  bridges: string[]
  networks: string[]
  /** The subnets of those networks in the element's address family (192.168.122.0/24): where packets to the guests go. */
  subnets: string[]
  /** Each bridge's libvirt subnets, IPv4 and IPv6 (empty for a bridge whose guests are on no libvirt network): what its guests send from. */
  bridgeSubnets: Record<string, string[]>
  /** Every flow it decides is a frame the bridge forwards, met by br_netfilter (never routed by the host). */
  bridgedOnly: boolean
  /** Its bridges whose own nf_call_iptables passes their frames to iptables, the host-wide sysctl being 0 (that switch applies, not the sysctl). */
  ownBridgeNf: string[]
  /** Indeterminate netfilter hops: each undecidable rule and what follows either way. */
  undecided: string[]
  /** A rule that matches by chance, rate or time decides between passing and dropping: some packets pass, the others are dropped. */
  intermittent: boolean
}

/** A published port (a DNAT of the ruleset, a libvirt hook's forward, a --publish) and its inbound round trips. */
export interface ForwardView extends ViewBase<'forward'> {
  proto: string
  port: number
  hostAddress: string | null
  inDevice: string | null
  /** The host address the hairpin flows were judged for: the forward's own, else its in-device's; null when none was. */
  hairpinAddress: string | null
  targetAddress: string
  targetPort: number
  /** The guest is reached at its own address (a routed or open network): no translation. */
  direct: boolean
  /** Where it was found: rule, hook, publish. */
  foundBy: string[]
  /** The ruleset's rules that make it, as their tool lists them. */
  rules: string[]
  hookFiles: string[]
  hookObject: string | null
  hookObjectRunning: boolean | null
  /** What the hooks behind it add that the ruleset lacks now; null when the hooks were not read. */
  hookRulesMissing: string[] | null
  published: boolean
  /** The rule outside packets meet (nat prerouting, else the host's nat output). */
  rule: ForwardRule | null
  /** Every rule of the ruleset that makes this forward (the outside's first, then the host's own nat output). */
  dnatRules: ForwardRule[]
  targetNetwork: string | null
  subnet: string | null
  targetGuest: string | null
  /** The target is one of the host's own addresses (a service on the host, e.g. the network's gateway): no guest is to hold it. null: the host's addresses are unread. */
  targetIsHost: boolean | null
  /** Who the forward leads to, in words: the guest (or the one last seen at its target), else what it points at. */
  targetHolder: string
  targetMac: string | null
  formerHolder: string | null
  formerHolderMac: string | null
  formerHolderNow: string | null
  /** No running guest is known to hold the target: the running guests on its network whose address no source reports. */
  targetMaybeHeldBy: string[]
  /** The MAC a static DHCP host of the target's network (<host mac ip>) gives the target address, lower case. */
  targetPinnedTo: string | null
  bridge: string | null
  /** The round trip from outside: its verdict and, where it does not pass, the flow, hop and element that decide. */
  outsideVerdict: 'pass' | 'fail' | 'indeterminate' | null
  outsideFlow: string | null
  outsideHop: string | null
  outsideDetail: string | null
  /** The element that decides the outside round trip, when it does not pass. */
  element: Element | null
  /**
   * How that element's netfilter chain sees the failing flow's packets (null for other elements): with the forward's
   * translation applied (after the DNAT; for the reply, before its source is put back), after conntrack has attached
   * the connection, and which of the input and output devices are known at its hook.
   */
  chainSees: {translated: boolean; tracked: boolean; inDevice: boolean; outDevice: boolean} | null
  elementKind: Element['kind'] | null
  elementText: string | null
  hostHairpinVerdict: 'pass' | 'fail' | 'indeterminate' | null
  hostHairpinDetail: string | null
  guestHairpinVerdict: 'pass' | 'fail' | 'indeterminate' | null
  guestHairpinDetail: string | null
  /** Another guest's packet to the published address is translated to the target (the DNAT applies to it). */
  guestHairpinTranslated: boolean
  /** The managers whose rules stand in the ruleset: firewalld, ufw, docker. */
  firewallManagers: string[]
  firewalldZone: string | null
  flows: string[]
  assumptions: string[]
}

/** A netfilter rule, where it is. */
export interface ForwardRule {
  backend: string
  family: string
  table: string
  chain: string
  /** Its 1-based position in the chain. */
  position: number
  handle: number | null
  text: string
}

/** A network the expectations file names: whether it must be active, autostart, keep free leases. */
export interface ExpectedNetworkView {
  kind: 'network'
  name: string
  context: EntityContext
  affectedGuests: number
  unknownBecause?: undefined
  defined: boolean
  /** active, inactive, or not defined. */
  state: string
  active: boolean
  autostart: boolean | null
  wantActive: boolean
  wantAutostart: boolean
  minFreeLeases: number | null
  /** Addresses of the DHCP ranges not leased; null when the network is not defined. */
  freeLeases: number | null
  /** The network's own view, when it is defined. */
  network: NetworkView | null
}

/** A guest the expectations file names, with the subnet it must hold an address in. */
export interface ExpectedGuestView {
  kind: 'domain'
  name: string
  context: EntityContext
  affectedGuests: number
  unknownBecause?: undefined
  state: string
  /** null: not defined. */
  running: boolean | null
  subnet: string
  addresses: string[]
  /** Its addresses inside the subnet. */
  addressesInSubnet: string[]
}

/** The host, when the expectations file requires forwarding. */
export interface ExpectedHostView extends HostView {
  wantForwarding: boolean
}

export type EntityView = HostView | NetworkView | LinkView | DomainView | InterfaceView | ApipaView | AddressView | DhcpServiceView | ElementView | ForwardView | ExpectedNetworkView | ExpectedGuestView | OvsBridgeView

/**
 * The views rules run on, by scope: each entity kind, and what the expectations file names
 * (reported as the network, guest or host they are about).
 */
export interface ViewOf {
  host: HostView
  network: NetworkView
  link: LinkView
  domain: DomainView
  interface: InterfaceView
  apipa: ApipaView
  address: AddressView
  'dhcp-service': DhcpServiceView
  element: ElementView
  forward: ForwardView
  'ovs-bridge': OvsBridgeView
  'expected-network': ExpectedNetworkView
  'expected-guest': ExpectedGuestView
  'expected-host': ExpectedHostView
}

export type Scope = keyof ViewOf

export interface Model {
  capturedAt: Date
  hostname: string
  probes: Record<string, ProbeResult>
  entities: {[S in Scope]: ViewOf[S][]}
  /** Every running guest's flows through the host, or why they could not be followed. */
  datapath: DatapathDerivation
}

export interface ModelOptions {
  /** What stands for the internet in egress flows (and for the outside in inbound ones). */
  internet?: Destination
  /** Services the user expects reachable from outside (--publish GUEST:PORT/PROTO). */
  publish?: PublishRequest[]
  /** What the expectations file (kvmdoctor.yaml) asks of the host. */
  expectations?: ExpectationSpec
}
