/**
 * Every catalogue rule's must-fire and must-not-fire inputs, as data: a lab recording (fixtures/) or a
 * named counterfactual edit of one ("same facts, one thing different"). test/rules/catalogue.test.ts
 * runs each rule on its inputs and asserts the outcome; the rule's own test file asserts the details
 * (evidence, fixes) and imports the edits it shares from here.
 */
import type {HostFacts} from '../../probes/host.js'
import type {LeaseFacts} from '../../probes/leases.js'
import type {LogFacts} from '../../probes/logs.js'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import type {Link} from '../../probes/links.js'
import type {Listener} from '../../probes/listeners.js'
import {type ModuleFacts, parseModulesBuiltin, parseProcModules} from '../../probes/modules.js'
import type {Neighbour} from '../../probes/neighbours.js'
import {parsePsStarts} from '../../probes/services.js'
import type {SysctlFacts} from '../../probes/sysctl.js'
import type {NfRuleset} from '../../src/lib/netfilter.js'
import {type Facts, alter, factsOf, rerunApipa, withIptablesRule, withProbeData} from '../helpers.js'
import {parseFlows} from '../../probes/ovs.js'
import type {TcFacts} from '../../probes/tc.js'
import type {WireFacts, WireInterface} from '../../probes/wire.js'
import {guestPort, ovsHost} from './ovs-host.js'
import {healthy as healthyInbound, hookFor, withForward} from '../inbound.js'
import type {HookFacts} from '../../probes/libvirt-hooks.js'

export interface RuleInput {
  /** What the input is, as a failure names it. */
  name: string
  facts: () => Promise<Facts>
  /** Must fire: the entities it fires on, in order (when pinned). */
  on?: string[]
  /**
   * Must not fire, and why when it is not that its conditions judged an entity and passed it:
   * 'excluded', its `appliesTo` excludes every entity; 'no entity', the model holds no entity of its
   * kind (the derivation makes one only where there is something to judge: a blocking element, an
   * address two MACs claim). Either only where no recording or plain edit gives the rule one it judges.
   */
  silentBecause?: 'excluded' | 'no entity'
}

export interface RuleCases {
  fires: RuleInput[]
  silent: RuleInput[]
  /** Must say "not checked" (never fire, never pass): a value it must know is missing there, its probe otherwise read. */
  unknown?: RuleInput[]
}

/** A lab recording, as recorded. */
export const recording = (fixture: string, on?: string[]): RuleInput => ({name: `recording ${fixture}`, facts: () => factsOf(fixture), ...(on ? {on} : {})})

/** A recording changed by `change`: the name says what differs. */
export const edit = (name: string, fixture: string, change: (facts: Facts) => Facts | Promise<Facts>, on?: string[]): RuleInput => ({
  name: `${fixture}, ${name}`,
  facts: async () => change(await factsOf(fixture)),
  ...(on ? {on} : {}),
})

const excluded = (input: RuleInput): RuleInput => ({...input, silentBecause: 'excluded'})
/** The inactive network's recording: the rules about a running network's config have it outside their scope. */
const inactive = () => excluded(recording('network-inactive'))
const noEntity = (input: RuleInput): RuleInput => ({...input, silentBecause: 'no entity'})

// The counterfactual edits shared with the rules' own tests.

/** The healthy host's default network with a `size`-address range (10 unless given) and `n` leases in it. */
export function poolWith(facts: Facts, n: number, size = 10): Facts {
  const base = alter<LibvirtFacts>(facts, 'libvirt', (l) => (l.networks[0].ips[0].dhcpRanges = [{start: '192.168.122.10', end: `192.168.122.${9 + size}`}]))
  return alter<LeaseFacts>(base, 'leases', (l) => {
    l.leases = Array.from({length: n}, (_, i) => ({source: 'libvirt', file: '/var/lib/libvirt/dnsmasq/virbr0.status', bridge: 'virbr0', ip: `192.168.122.${10 + i}`, mac: `52:54:00:00:00:${String(i).padStart(2, '0')}`, expiry: null, expired: false}))
  })
}

/** firewalld running with the bridge virbr0 in `zone` (null: in none). */
export const withFirewalldZone = (facts: Facts, zone: string | null): Facts => withProbeData(facts, 'firewalld', {running: true, zones: {virbr0: zone}})

/**
 * The lab kernel has no loadable modules (everything built in), so a missing module cannot be
 * recorded there: these are the module lists in the formats /proc/modules and modules.builtin have.
 */
const PROC_MODULES = [
  'nft_chain_nat 12288 0 - Live 0x0000000000000000',
  'nf_tables 372736 1 nft_chain_nat, Live 0x0000000000000000',
  'bridge 421888 0 - Live 0x0000000000000000',
  'stp 12288 1 bridge, Live 0x0000000000000000',
  'llc 16384 2 bridge,stp, Live 0x0000000000000000',
  'nf_conntrack 196608 0 - Live 0x0000000000000000',
].join('\n')
export const MODULES_BUILTIN = 'kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko\nkernel/net/netfilter/x_tables.ko\n'
export const modulesWithoutNat: ModuleFacts = {loadable: true, loaded: parseProcModules(PROC_MODULES), builtin: parseModulesBuiltin(MODULES_BUILTIN)}
export const modulesWithNat: ModuleFacts = {loadable: true, loaded: [...modulesWithoutNat.loaded, 'nf_nat', 'xt_MASQUERADE'], builtin: modulesWithoutNat.builtin}

/** Services by process age (no systemd): libvirtd started 2 h before the recording, firewalld `firewallAge` seconds before it. */
export const firewalldStarted = (facts: Facts, firewallAge: number): Facts =>
  withProbeData(facts, 'services', {systemd: false, events: parsePsStarts(`  812  7200 /usr/sbin/libvirtd --timeout 120\n 4242 ${firewallAge} /usr/bin/python3 -sP /usr/sbin/firewalld --nofork --nopid\n`, facts.capturedAt)})

/** The MAC of the lab's web01 (the healthy recording's guest, in every lab recording). */
export const WEB01_MAC = '52:54:00:6b:64:01'
export const MACVTAP_CONFIGURED_MAC = WEB01_MAC
export const MACVTAP_CHANGED_MAC = '02:00:5e:10:00:01'

/**
 * The lab's guests sit on a libvirt bridge, not macvtap (a macvtap guest cannot be reached from the
 * host that runs the lab): the healthy recording with the facts a macvtap guest would show, its
 * interface type direct (unless `direct: false`: it stays on its bridge), and its address answered by another MAC.
 */
export function macvtapGuest(facts: Facts, options: {trust: boolean; macChanged: boolean; direct?: boolean}): Facts {
  let changed = alter<LibvirtFacts>(facts, 'libvirt', (l) => {
    const iface = l.domains.find((d) => d.name === 'kdlab-web01')!.interfaces[0]
    if (options.direct === false) iface.trustGuestRxFilters = options.trust
    else Object.assign(iface, {type: 'direct', source: 'eth0', bridge: undefined, target: 'macvtap0', trustGuestRxFilters: options.trust})
  })
  if (options.macChanged) changed = alter<Neighbour[]>(changed, 'neighbours', (n) => n.filter((x) => x.mac === MACVTAP_CONFIGURED_MAC).forEach((x) => (x.mac = MACVTAP_CHANGED_MAC)))
  return changed
}

/** The lab's default network switched to another forward mode, and libvirt's MASQUERADE gone with NAT. */
export const forwardMode = (facts: Facts, mode: string): Facts =>
  alter<NfRuleset>(
    alter<LibvirtFacts>(facts, 'libvirt', (l) => (l.networks.find((n) => n.name === 'default')!.forwardMode = mode)),
    'netfilter',
    (rs) => {
      for (const t of rs.tables) for (const c of Object.values(t.chains)) c.rules = c.rules.filter((r) => !r.exprs.some((e) => e.kind === 'nat'))
    },
  )

export const snatTo = (to: string) => `-A POSTROUTING -s 192.168.122.0/24 ! -d 192.168.122.0/24 -j SNAT --to-source ${to}`

/**
 * A guest's IPv6 duplicate address detection, which no lab recording holds (the lab guest took no IPv6 address
 * when wire-gateway-unanswered was recorded): kdlab-wronggw01 probes for fd42::50 and, with `advertisedBy`,
 * web01's tap hears that MAC advertise it. Real DAD captures are in test/derive/wire-requests.test.ts.
 */
export const ipv6Probe = (facts: Facts, advertisedBy: string | undefined): Facts =>
  alter<WireFacts>(facts, 'wire', (w) => {
    w.interfaces.find((i) => i.domain === 'kdlab-wronggw01')!.ipv6.dad.push({ip: 'fd42::50', at: 100})
    if (advertisedBy) w.interfaces.find((i) => i.domain === 'kdlab-web01')!.ipv6.advertised.push({ip: 'fd42::50', mac: advertisedBy, at: 100.1})
  })

const kvmGuest = (facts: Facts, vhostNet: boolean | null) => alter<HostFacts>(alter<LibvirtFacts>(facts, 'libvirt', (l) => (l.domains[0].type = 'kvm')), 'host', (h) => (h.vhostNet = vhostNet))
const hostOnlyLinkLocal = (facts: Facts) =>
  rerunApipa(alter<Link[]>(facts, 'links', (links) => (links.find((l) => l.name === 'eth0')!.addresses = [{family: 'inet', address: '169.254.7.7', prefix: 16, scope: 'link'}])))

const allShutOff = (facts: Facts): Facts => alter<LibvirtFacts>(facts, 'libvirt', (l) => l.domains.forEach((d) => (d.state = 'shut off')))
/** The lab's default network with no bridge name in its definition. */
const noBridge = (facts: Facts): Facts => alter<LibvirtFacts>(facts, 'libvirt', (l) => (l.networks[0].bridge = undefined))
/** iptables' words when the kernel lacks the MASQUERADE target, as libvirtd logs them. */
export const MASQUERADE_MISSING_LOG = 'libvirtd[812]: internal error: Failed to apply firewall rules /usr/sbin/iptables -w --table nat --insert LIBVIRT_PRT --source 192.168.122.0/24 -j MASQUERADE: Extension MASQUERADE revision 0 not supported, missing kernel module?'

/** The OVS host's LAN guest with `<vlan><tag id=N/>` in its domain XML. */
const lan02Vlan = (facts: Facts, tag: number): Facts => alter<LibvirtFacts>(facts, 'libvirt', (l) => (l.domains.find((d) => d.name === 'kdlab-lan02')!.interfaces[0].vlanTags = [tag]))

/** The recording with one guest's wire facts changed (what was heard on its tap). */
const heard = (name: string, fixture: string, domain: string, change: (w: WireInterface) => void, on?: string[]): RuleInput =>
  edit(name, fixture, (f) => alter<WireFacts>(f, 'wire', (w) => change(w.interfaces.find((i) => i.domain === domain)!)), on)
/** The recording with one guest in another state (paused, shut off). */
const guestState = (facts: Facts, domain: string, state: string): Facts => alter<LibvirtFacts>(facts, 'libvirt', (l) => (l.domains.find((d) => d.name === domain)!.state = state))

/** kdlab-br0 as ovs-secure-no-controller fires on it (fail mode secure, br-sec's lost controller, only a drop flow), one thing changed. */
const secureBridge = (name: string, change: {failMode?: string; connected?: boolean; flows?: string | null}): RuleInput => ({
  name,
  facts: () =>
    ovsHost((ovs) => {
      const br = ovs.bridges.find((b) => b.name === 'kdlab-br0')!
      const controllers = structuredClone(ovs.bridges.find((b) => b.name === 'br-sec')!.controllers)
      if (change.connected !== undefined) for (const c of controllers) c.connected = change.connected
      const flows = change.flows === undefined ? ' priority=10,in_port=LOCAL actions=drop\n' : change.flows
      Object.assign(br, {failMode: change.failMode ?? 'secure', controllers, flows: flows === null ? null : parseFlows(flows), ...(flows === null ? {flowsUnread: 'simulated: ovs-ofctl dump-flows failed'} : {})})
    }),
  on: ['kdlab-br0'],
})

/** The recording with virbr0's bridge attributes (STP state, forward delay) changed. */
const virbr0Bridge = (facts: Facts, change: Partial<NonNullable<Link['bridge']>>): Facts =>
  alter<Link[]>(facts, 'links', (links) => Object.assign(links.find((l) => l.name === 'virbr0')!.bridge!, change))

/** The recording with one sysctl unreadable (permission denied), the rest of the probe read. */
const sysctlUnreadable = (fixture: string, key: string): RuleInput =>
  edit(`${key} unreadable`, fixture, (f) =>
    alter<SysctlFacts>(f, 'sysctl', (s) => {
      delete s.values[key]
      s.unreadable[key] = 'simulated: permission denied'
    }),
  )

/** The healthy recording with a libvirt hook made from web01's address, and then `change`d: the name says how. */
const hooked = (name: string, hook: (web: string) => Promise<HookFacts>, change: (facts: Facts, web: string) => Facts = (f) => f): RuleInput => ({
  name: `healthy, ${name}`,
  facts: async () => {
    const {facts, web} = await healthyInbound()
    return change(withProbeData(facts, 'libvirt-hooks', await hook(web)), web)
  },
})

/** Rule id → its inputs. Every catalogue rule has an entry with both lists non-empty (the catalogue test checks). */
export const RULE_CASES: Record<string, RuleCases> = {
  'ip-forward-disabled': {fires: [recording('ip-forward-off'), recording('flushed-and-forward-off')], silent: [inactive(), recording('healthy'), recording('ip-forward-per-device'), recording('ip-forward-per-device-uplink-off')], unknown: [sysctlUnreadable('ip-forward-off', 'net.ipv4.ip_forward')]},
  'nat-masquerade-missing': {fires: [recording('masquerade-removed', ['default']), recording('legacy-backend-masquerade-removed')], silent: [inactive(), recording('healthy')]},
  'nat-masquerade-wrong-interface': {
    fires: [recording('nat-pinned-missing-dev', ['kdlab-pinned']), edit("dev= a device that is not the default route's", 'healthy', (f) => alter<LibvirtFacts>(f, 'libvirt', (l) => (l.networks[0].forwardDev = 'lo')), ['default'])],
    silent: [inactive(), edit("dev= the default route's device", 'healthy', (f) => alter<LibvirtFacts>(f, 'libvirt', (l) => (l.networks[0].forwardDev = 'eth0')))],
  },
  'ip-address-conflict': {fires: [recording('static-ip-collision'), recording('wire-client-id-duplicate')], silent: [noEntity(recording('mac-duplicate'))]},
  'apipa-address': {
    fires: [recording('dnsmasq-killed'), recording('wire-apipa-only'), edit("eth0's only IPv4 address link-local", 'healthy', hostOnlyLinkLocal, ['eth0 169.254.7.7'])],
    silent: [noEntity(edit('apipa probe rerun', 'healthy', rerunApipa))],
  },
  'default-route-missing': {fires: [recording('default-route-missing')], silent: [inactive(), recording('healthy')]},
  'default-route-multiple': {fires: [recording('default-route-multiple')], silent: [recording('healthy'), recording('rp-filter-strict')]},
  'link-down': {fires: [recording('bridge-down')], silent: [recording('healthy')]},
  'dhcp-server-not-running': {fires: [recording('dhcpd-stopped'), recording('dnsmasq-killed')], silent: [inactive(), recording('healthy')]},
  'dhcp-range-exhausted': {fires: [recording('dhcp-range-exhausted'), edit('a 1-address range, leased', 'healthy', (f) => poolWith(f, 1, 1), ['default'])], silent: [inactive(), recording('healthy'), edit('9 of 10 addresses leased', 'healthy', (f) => poolWith(f, 9)), edit('a reversed range (.10 to .9: no address), nothing leased', 'healthy', (f) => poolWith(f, 0, 0))]},
  'dhcp-pool-nearly-full': {
    fires: [edit('9 of 10 addresses leased', 'healthy', (f) => poolWith(f, 9), ['default'])],
    silent: [inactive(), edit('8 of 10 addresses leased', 'healthy', (f) => poolWith(f, 8)), edit('10 of 10 addresses leased', 'healthy', (f) => poolWith(f, 10))],
  },
  'dhcp-lease-stale': {
    fires: [edit('no domain defined', 'healthy', (f) => alter<LibvirtFacts>(f, 'libvirt', (l) => (l.domains = [])), ['default'])],
    silent: [
      recording('healthy'),
      edit('its guests shut off', 'healthy', allShutOff),
      // Leases left in the file of a network that no longer hands any out: nothing to hand out again.
      excluded(edit('no domain defined, no DHCP range', 'healthy', (f) => alter<LibvirtFacts>(f, 'libvirt', (l) => ((l.domains = []), (l.networks[0].ips[0].dhcpRanges = []))))),
    ],
  },
  'libvirt-network-inactive': {fires: [recording('network-inactive')], silent: [recording('healthy'), recording('ra-routes-accept-ra')]},
  'libvirt-network-not-autostart': {
    fires: [recording('network-not-autostart')],
    silent: [
      inactive(),
      edit('the network autostarts too', 'network-not-autostart', (f) => alter<LibvirtFacts>(f, 'libvirt', (l) => (l.networks[0].autostart = true))),
      // Not running at all is libvirt-network-inactive's.
      edit('the network inactive too', 'network-not-autostart', (f) => alter<LibvirtFacts>(f, 'libvirt', (l) => (l.networks[0].active = false))),
    ],
  },
  'libvirt-firewall-rules-missing': {fires: [recording('firewall-flushed')], silent: [inactive(), recording('healthy')], unknown: [edit('the network with no bridge named', 'firewall-flushed', noBridge)]},
  'iptables-forward-drop': {
    fires: [recording('bridged-forward-drop'), recording('forward-reject-subnet'), recording('docker-user-drop'), recording('ipset-forward-drop')],
    silent: [
      noEntity(edit('a physdev-is-bridged ACCEPT first', 'bridged-forward-drop', (f) => withIptablesRule(f, 'filter', '-A FORWARD -m physdev --physdev-is-bridged -j ACCEPT'))),
      noEntity(edit('bridge-nf-call-iptables 0', 'bridged-forward-drop', (f) => alter<SysctlFacts>(f, 'sysctl', (s) => (s.values['net.bridge.bridge-nf-call-iptables'] = 0)))),
      noEntity(recording('docker-forward-drop-nat-ok')),
      excluded(recording('dhcp-input-drop')),
    ],
  },
  'bridge-netfilter-enabled': {fires: [recording('bridged-forward-drop', ['kdlab-br0'])], silent: [recording('bridged-healthy')], unknown: [sysctlUnreadable('bridged-forward-drop', 'net.bridge.bridge-nf-call-iptables')]},
  'nft-forward-drop': {
    fires: [recording('nft-forward-drop'), recording('nft-forward-daddr-drop')],
    silent: [noEntity(recording('firewalld-style-healthy')), noEntity(recording('healthy')), excluded(recording('bridged-forward-drop'))],
  },
  'firewall-backend-mismatch': {fires: [recording('firewall-backend-mismatch')], silent: [recording('healthy')]},
  'firewalld-zone-wrong': {
    fires: [edit('virbr0 in zone public', 'healthy', (f) => withFirewalldZone(f, 'public'), ['default']), edit('virbr0 in no zone', 'healthy', (f) => withFirewalldZone(f, null), ['default'])],
    silent: [inactive(), edit('virbr0 in zone libvirt', 'healthy', (f) => withFirewalldZone(f, 'libvirt')), edit('virbr0 in zone public, the network with no bridge named', 'healthy', (f) => noBridge(withFirewalldZone(f, 'public')))],
  },
  'dns-port-conflict': {
    fires: [
      recording('dns-port-conflict'),
      // One socket is enough: the foreign dnsmasq on udp 0.0.0.0:53 alone.
      edit('the other process on udp 0.0.0.0:53 alone', 'dns-port-conflict', (f) => alter<Listener[]>(f, 'listeners', (ls) => void ls.splice(0, ls.length, ...ls.filter((l) => l.pid !== 1829 || (l.proto === 'udp' && l.address === '0.0.0.0' && l.port === 53)))), ['default']),
    ],
    silent: [recording('healthy')],
  },
  'subnet-overlap': {fires: [recording('subnet-overlap')], silent: [recording('healthy')]},
  // default-route-missing's link table was read where virbr0 is not: its guest's tap cannot be checked.
  'tap-not-attached': {fires: [recording('tap-detached')], silent: [recording('healthy'), excluded(recording('default-route-missing'))]},
  'mac-duplicate': {fires: [recording('mac-duplicate')], silent: [recording('healthy'), excluded(edit('its guests shut off', 'mac-duplicate', allShutOff))]},
  'mtu-mismatch': {fires: [recording('mtu-mismatch')], silent: [recording('healthy'), excluded(recording('arp-flux'))]},
  'stp-forward-delay': {
    fires: [
      recording('stp-forward-delay'),
      edit('a copy of virbr0 that carries no guest beside it', 'stp-forward-delay', (f) => alter<Link[]>(f, 'links', (links) => void links.push({...structuredClone(links.find((l) => l.name === 'virbr0')!), name: 'kdlab-idle0', index: 999})), ['virbr0']),
      // Just over the kernel's 2 s minimum that libvirt's delay='0' gives.
      edit("virbr0's forward delay 201 cs", 'stp-forward-delay', (f) => virbr0Bridge(f, {forwardDelayCs: 201}), ['virbr0']),
    ],
    silent: [recording('healthy'), excluded(recording('arp-flux')), edit('STP off on virbr0', 'stp-forward-delay', (f) => virbr0Bridge(f, {stpState: 0})), edit("virbr0's forward delay 200 cs", 'stp-forward-delay', (f) => virbr0Bridge(f, {forwardDelayCs: 200}))],
  },
  'macvtap-host-isolation': {
    fires: [edit('a type=direct interface added', 'healthy', (f) => alter<LibvirtFacts>(f, 'libvirt', (l) => void l.domains[0].interfaces.push({type: 'direct', mac: '52:54:00:aa:aa:aa', source: 'eth0', target: 'macvtap0', linkState: 'up'})), ['kdlab-web01/macvtap0'])],
    silent: [excluded(recording('healthy'))],
  },
  'guest-agent-missing': {
    fires: [recording('healthy', ['kdlab-web01'])],
    silent: [edit('the agent channel added', 'healthy', (f) => alter<LibvirtFacts>(f, 'libvirt', (l) => (l.domains[0].guestAgentChannel = true))), excluded(edit('its guests shut off', 'healthy', allShutOff))],
  },
  'vhost-net-missing': {
    fires: [edit('a KVM guest without vhost-net', 'healthy', (f) => kvmGuest(f, false))],
    silent: [edit('a KVM guest with vhost-net', 'healthy', (f) => kvmGuest(f, true)), excluded(recording('healthy'))],
    unknown: [edit('a KVM guest, /dev/vhost-net unreadable', 'healthy', (f) => kvmGuest(f, null))],
  },
  'conntrack-table-full': {
    fires: [recording('conntrack-full'), edit('the table at 80 % exactly (800 of 1000)', 'conntrack-full', (f) => alter<SysctlFacts>(f, 'sysctl', (s) => Object.assign(s.values, {'net.netfilter.nf_conntrack_count': 800, 'net.netfilter.nf_conntrack_max': 1000})))],
    silent: [recording('healthy')],
    unknown: [sysctlUnreadable('conntrack-full', 'net.netfilter.nf_conntrack_count'), sysctlUnreadable('conntrack-full', 'net.netfilter.nf_conntrack_max')],
  },
  'rp-filter-strict': {
    fires: [recording('rp-filter-strict'), edit('rp_filter 1 on kdlab-nh0 alone', 'rp-filter-strict', (f) => alter<SysctlFacts>(f, 'sysctl', (s) => Object.assign(s.values, {'net.ipv4.conf.all.rp_filter': 0, 'net.ipv4.conf.kdlab-nh0.rp_filter': 1, 'net.ipv4.conf.kdlab-nh1.rp_filter': 0})))],
    silent: [recording('default-route-multiple'), excluded(recording('arp-flux'))],
  },
  'arp-flux': {fires: [recording('arp-flux')], silent: [recording('healthy')]},
  'dhcp-checksum-rule-missing': {fires: [recording('firewall-flushed')], silent: [inactive(), recording('healthy')], unknown: [edit('the network with no bridge named', 'firewall-flushed', noBridge)]},
  'host-input-blocks-dhcp-dns': {
    fires: [recording('dhcp-input-drop'), recording('nft-input-dns-drop'), recording('ufw-style-dhcp-drop'), recording('firewalld-style-public-zone')],
    silent: [noEntity(recording('healthy')), noEntity(recording('ufw-style-healthy')), noEntity(recording('firewalld-style-healthy')), recording('notrack-guest-subnet'), excluded(recording('bridged-forward-drop')),
      // Dropping half the DHCP requests at random: whether this one passes cannot be told (guest-flow-indeterminate's).
      excluded(edit('a random DROP of DHCP on the input hook', 'healthy', (f) => withIptablesRule(f, 'filter', '-A INPUT -i virbr0 -p udp -m udp --dport 67 -m statistic --mode random --probability 0.5 -j DROP'))),
    ],
  },
  'firewall-service-order': {
    fires: [
      edit('firewalld younger than libvirtd (process ages)', 'firewall-flushed', (f) => firewalldStarted(f, 60), ['default']),
      // Partial: libvirt's other rules stand, the NAT network's MASQUERADE is gone.
      edit('firewalld younger than libvirtd, MASQUERADE gone', 'masquerade-removed', (f) => firewalldStarted(f, 60), ['default']),
      edit('firewalld younger than libvirtd, a routed (mode route) network without its rules', 'firewall-flushed', (f) => firewalldStarted(forwardMode(f, 'route'), 60), ['default']),
    ],
    silent: [
      recording('network-inactive'),
      edit('firewalld younger than libvirtd, the network inactive', 'network-inactive', (f) => firewalldStarted(f, 60)),
      edit('firewalld older than libvirtd (process ages)', 'firewall-flushed', (f) => firewalldStarted(f, 9000)),
      edit('firewalld younger than libvirtd, rules in place', 'healthy', (f) => firewalldStarted(f, 60)),
      // Mode route has no NAT to lose; mode open, no libvirt rules at all.
      edit('firewalld younger than libvirtd, mode route with its rules', 'healthy', (f) => firewalldStarted(forwardMode(f, 'route'), 60)),
      edit('firewalld younger than libvirtd, mode open (libvirt adds no rules)', 'firewall-flushed', (f) => firewalldStarted(forwardMode(f, 'open'), 60)),
    ],
    unknown: [edit('firewalld younger than libvirtd, the network with no bridge named', 'firewall-flushed', (f) => firewalldStarted(noBridge(f), 60))],
  },
  'ipv6-accept-ra-conflict': {
    fires: [recording('ra-routes-accept-ra', ['kdlab-ra0'])],
    silent: [
      edit('no libvirt network with IPv6', 'ra-routes-accept-ra', (f) => alter<LibvirtFacts>(f, 'libvirt', (l) => l.networks.forEach((n) => (n.ips = n.ips.filter((ip) => ip.family !== 'ipv6'))))),
      edit('accept_ra 2 on kdlab-ra0', 'ra-routes-accept-ra', (f) => alter<SysctlFacts>(f, 'sysctl', (s) => (s.values['net.ipv6.conf.kdlab-ra0.accept_ra'] = 2))),
    ],
    unknown: [sysctlUnreadable('ra-routes-accept-ra', 'net.ipv6.conf.kdlab-ra0.accept_ra')],
  },
  'dhcp-client-id-duplicate': {fires: [recording('wire-client-id-duplicate')], silent: [recording('healthy')]},
  'policy-route-diverts-guests': {fires: [recording('policy-route-unreachable'), recording('reply-policy-blackhole')], silent: [noEntity(recording('healthy')), excluded(recording('bridged-forward-drop'))]},
  'netfilter-module-missing': {
    fires: [
      edit('nf_nat and xt_MASQUERADE neither loaded nor built in', 'firewall-flushed', (f) => withProbeData(f, 'modules', modulesWithoutNat)),
      edit('nf_nat neither loaded nor built in, xt_MASQUERADE loaded', 'firewall-flushed', (f) => withProbeData(f, 'modules', {...modulesWithoutNat, loaded: [...modulesWithoutNat.loaded, 'xt_MASQUERADE']})),
      edit("iptables' own words in the log, the module lists unreadable", 'firewall-flushed', (f) =>
        alter<LogFacts>(withProbeData(f, 'modules', {loadable: false, loaded: [], builtin: null} satisfies ModuleFacts), 'logs', (l) => void l.notable.push({id: 'netfilter-extension-missing', source: 'journalctl', line: MASQUERADE_MISSING_LOG})),
      ),
    ],
    silent: [edit('the NAT modules loaded', 'firewall-flushed', (f) => withProbeData(f, 'modules', modulesWithNat)), edit('no NAT module loaded, MASQUERADE in place', 'healthy', (f) => withProbeData(f, 'modules', modulesWithoutNat))],
  },
  'macvtap-rx-filter-untrusted': {
    fires: [edit('macvtap guest answered by another MAC', 'healthy', (f) => macvtapGuest(f, {trust: false, macChanged: true}), ['kdlab-web01/macvtap0'])],
    silent: [
      edit('macvtap guest answered by another MAC, trustGuestRxFilters', 'healthy', (f) => macvtapGuest(f, {trust: true, macChanged: true})),
      edit('macvtap guest keeps its MAC', 'healthy', (f) => macvtapGuest(f, {trust: false, macChanged: false})),
      // A bridge learns whatever MAC the guest uses: trustGuestRxFilters='no' there filters nothing.
      edit("bridged guest answered by another MAC, trustGuestRxFilters='no'", 'healthy', (f) => macvtapGuest(f, {trust: false, macChanged: true, direct: false})),
    ],
  },
  'ipv6-forward-drop': {fires: [recording('ipv6-forward-drop')], silent: [recording('bridged-forward-drop'), excluded(recording('dhcp-input-drop'))]},
  'iptables-nft-incompatible': {fires: [recording('iptables-nft-incompatible')], silent: [recording('healthy')]},
  'guest-flow-blocked': {fires: [recording('bridge-forwarding-off'), recording('dhcp-input-drop'), recording('ip-forward-per-device-uplink-off'), recording('uplink-arp-off')], silent: [recording('conntrack-full'), recording('bridge-arp-ignore-never')]},
  'guest-flow-indeterminate': {fires: [recording('mark-random-drop'), recording('snat-address-not-local'), recording('bridge-arp-ignore-never')], silent: [recording('bridge-down')]},
  'guest-silent': {
    fires: [recording('wire-silent')],
    silent: [
      recording('bridged-forward-drop'),
      edit('kdlab-quiet01 paused', 'wire-silent', (f) => guestState(f, 'kdlab-quiet01', 'paused')),
      heard("kdlab-quiet01's capture cut at its cap", 'wire-silent', 'kdlab-quiet01', (w) => (w.capped = true)),
    ],
  },
  'dhcp-no-offer': {
    // Two unanswered DISCOVERs are enough (a client retries within seconds); one may be answered yet.
    fires: [recording('dhcpd-stopped'), recording('dhcp-range-exhausted'), heard('kdlab-lan03 sent 2 DISCOVERs', 'dhcpd-stopped', 'kdlab-lan03', (w) => (w.dhcp.discovers = 2), ['kdlab-lan03/vnet3'])],
    silent: [recording('wire-apipa-only'), heard('kdlab-lan03 sent 1 DISCOVER', 'dhcpd-stopped', 'kdlab-lan03', (w) => (w.dhcp.discovers = 1)), edit('kdlab-lan03 shut off', 'dhcpd-stopped', (f) => guestState(f, 'kdlab-lan03', 'shut off'))],
  },
  'rogue-dhcp-server': {fires: [recording('wire-rogue-dhcp'), recording('wire-bridged-rogue-dhcp')], silent: [recording('bridged-forward-drop')]},
  'guest-address-foreign': {fires: [recording('wire-foreign-address')], silent: [recording('bridged-forward-drop')]},
  'snat-address-not-local': {
    fires: [
      recording('snat-address-not-local'),
      edit('SNAT to 203.0.113.99', 'healthy', (f) => withIptablesRule(f, 'nat', snatTo('203.0.113.99'))),
      // The kernel picks an address of the range per connection: the first is the host's, the others are not.
      edit('SNAT to a range of which only the first address is the host\'s', 'healthy', (f) => withIptablesRule(f, 'nat', snatTo('198.51.100.1-198.51.100.3'))),
    ],
    silent: [
      noEntity(edit('SNAT to an address of the host', 'healthy', (f) => withIptablesRule(f, 'nat', snatTo('198.51.100.1')))),
      noEntity(edit('SNAT to a range of addresses all the host\'s', 'healthy', (f) => withIptablesRule(f, 'nat', snatTo('198.51.100.1-198.51.100.1:1024-65535')))),
      excluded(recording('bridged-forward-drop')),
    ],
  },
  'guest-unaddressed-network': {
    fires: [recording('unaddressed-network')],
    silent: [recording('healthy'), recording('wire-dhcp-unanswered'), recording('static-guest-no-dhcp-network'), recording('bridged-healthy')],
  },
  'routed-network-no-return-route': {
    fires: [edit('forward mode route', 'healthy', (f) => forwardMode(f, 'route')), edit('forward mode open', 'healthy', (f) => forwardMode(f, 'open'))],
    silent: [noEntity(recording('healthy')), excluded(recording('bridged-forward-drop'))],
  },
  // Open vSwitch and shaping (section G): bridged-healthy's LAN guest on a real OVS state (./ovs-host.ts), and the tbf recording.
  'ovs-secure-no-controller': {
    fires: [secureBridge("kdlab-br0 in fail mode secure, br-sec's lost controller, only a drop flow", {})],
    silent: [
      {name: 'the recorded OVS host (standalone)', facts: () => ovsHost()},
      secureBridge('as it fires, but fail mode standalone', {failMode: 'standalone'}),
      secureBridge('as it fires, but its controller connected', {connected: true}),
      secureBridge('as it fires, but a NORMAL flow beside the drop', {flows: ' priority=10,in_port=LOCAL actions=drop\n priority=0 actions=NORMAL\n'}),
    ],
    unknown: [secureBridge('as it fires, but its flows could not be dumped', {flows: null})],
  },
  'ovs-port-missing': {
    fires: [{name: 'the guest tap not a port of kdlab-br0', facts: () => ovsHost((ovs) => {
      const br = ovs.bridges.find((b) => b.name === 'kdlab-br0')!
      br.ports = br.ports.filter((p) => p.name !== 'vnet2')
    }), on: ['kdlab-lan02/vnet2']}],
    silent: [{name: 'the recorded OVS host', facts: () => ovsHost()}],
  },
  'ovs-vlan-mismatch': {
    fires: [
      {name: "the guest port tagged 20, which the uplink's trunk lacks", facts: () => ovsHost((ovs) => (guestPort(ovs).tag = 20))},
      // The uplink carries 10 and 30: only the domain XML disagrees.
      {name: 'the domain XML asks VLAN 30, the port has tag 10', facts: async () => lan02Vlan(await ovsHost(), 30), on: ['kdlab-lan02/vnet2']},
    ],
    silent: [{name: 'the recorded OVS host', facts: () => ovsHost()}, excluded(recording('bridged-forward-drop')), {name: 'the domain XML asks VLAN 10, the port has tag 10', facts: async () => lan02Vlan(await ovsHost(), 10)}],
  },
  'ovs-flow-drop': {
    fires: [{name: "a drop flow on the guest's port", facts: () => ovsHost((ovs) => (ovs.bridges.find((b) => b.name === 'kdlab-br0')!.flows = parseFlows(' priority=300,ip,in_port=1 actions=drop\n priority=0 actions=NORMAL\n')))}],
    silent: [noEntity({name: "the recorded flows (their drop is another port's)", facts: () => ovsHost()}), excluded(recording('bridged-forward-drop'))],
  },
  'ovs-interface-error': {
    fires: [
      {name: 'the guest interface in error, ofport -1', facts: () => ovsHost((ovs) => Object.assign(guestPort(ovs).interfaces[0], {error: 'could not open network device vnet2 (No such device)', ofport: -1}))},
      {name: 'the guest interface in error, its ofport kept', facts: () => ovsHost((ovs) => Object.assign(guestPort(ovs).interfaces[0], {error: 'could not add network device vnet2 to ofproto (File exists)'}))},
      {name: 'the guest interface at ofport -1 alone', facts: () => ovsHost((ovs) => Object.assign(guestPort(ovs).interfaces[0], {ofport: -1}))},
      {name: 'the guest interface with link_state down', facts: () => ovsHost((ovs) => Object.assign(guestPort(ovs).interfaces[0], {linkState: 'down'}))},
    ],
    silent: [{name: 'the recorded OVS host', facts: () => ovsHost()}, excluded(recording('bridged-forward-drop'))],
  },
  'guest-bandwidth-limited': {fires: [recording('tc-tap-tbf-burst')], silent: [recording('healthy'), excluded(edit('its guests shut off', 'tc-tap-tbf-burst', allShutOff))]},
  'tc-policer-drops': {
    fires: [edit("the tap's tbf drops grew by 5 between the two reads", 'tc-tap-tbf-burst', (f) => {
      const tap = (f.results.libvirt as {data: LibvirtFacts}).data.domains[0].interfaces[0].target!
      return alter<TcFacts>(f, 'tc', (tc) => {
        const q = tc.qdiscs.find((x) => x.dev === tap && x.kind === 'tbf')!
        tc.dropsLater[`${tap} ${q.handle}`] = q.stats!.drops + 5
      })
    })],
    silent: [recording('tc-tap-tbf-burst'), excluded(edit('its guests shut off', 'tc-tap-tbf-burst', allShutOff))],
  },
  // Inbound (section H): the lab's port-forward recordings, each with its guest serving tcp 80 behind 198.51.100.1:8080.
  'dnat-target-stale': {
    fires: [recording('inbound-dnat-stale')],
    // A target outside every libvirt network is no lease of this host's to go stale.
    silent: [recording('inbound-forward-ok'), excluded(edit('a forward to 203.0.113.5, in no network of the host', 'healthy', (f) => withForward(f, '203.0.113.5')))],
  },
  'port-forward-blocked': {fires: [recording('inbound-forward-blocked'), recording('inbound-ufw-route'), recording('inbound-firewalld-forward-port')], silent: [recording('inbound-forward-ok'), recording('inbound-dnat-stale')]},
  'hairpin-missing': {fires: [recording('inbound-hairpin-missing')], silent: [recording('inbound-forward-ok'), recording('inbound-ufw-route')]},
  // The healthy host with a qemu hook (./inbound.ts): the rule judges a hook's forward whose rules are gone, when its guest runs or its address is a running guest's.
  'hook-rules-lost': {
    fires: [
      recording('inbound-hook-rules-lost'),
      hooked("web01's hook, forwarding to an address no guest holds, its rules gone", async () => hookFor('kdlab-web01', '192.168.122.77')),
      hooked("a hook of kdlab-db01 (not running) forwarding to web01's address, its rules gone", async (web) => hookFor('kdlab-db01', web)),
      hooked("web01's hook with its DNAT alone (no accept), gone", async (web) => ({scripts: hookFor('kdlab-web01', web).scripts.map((sc) => ({...sc, accepts: []}))})),
    ],
    silent: [
      excluded(recording('inbound-forward-ok')),
      hooked("web01's hook, its DNAT and accept in place", async (web) => hookFor('kdlab-web01', web), (f, web) => withForward(f, web)),
      hooked('a hook of kdlab-db01 (not running) forwarding to an address no guest holds', async () => hookFor('kdlab-db01', '192.168.122.77')),
    ],
  },
  // What guests ask for on the wire that nobody answers (section H, --listen): the lab's wire request recordings.
  'guest-gateway-unanswered': {fires: [recording('wire-gateway-unanswered')], silent: [recording('wire-netmask-wrong'), recording('wire-dns-unanswered')]},
  'guest-netmask-wrong': {fires: [recording('wire-netmask-wrong')], silent: [recording('wire-gateway-unanswered'), recording('wire-dns-unanswered')]},
  'guest-dns-unanswered': {fires: [recording('wire-dns-unanswered')], silent: [recording('wire-gateway-unanswered'), recording('wire-proxy-arp')]},
  'dhcp-request-foreign': {fires: [recording('wire-dhcp-request-foreign')], silent: [recording('wire-gateway-unanswered'), recording('wire-rogue-dhcp')]},
  'ipv6-dad-failed': {
    fires: [edit("wronggw01 probes for fd42::50, web01's tap hears it advertised", 'wire-gateway-unanswered', (f) => ipv6Probe(f, WEB01_MAC))],
    silent: [edit('wronggw01 probes for fd42::50, nobody advertises it', 'wire-gateway-unanswered', (f) => ipv6Probe(f, undefined)), recording('wire-dhcp-request-foreign')],
  },
  'guest-proxy-arp': {fires: [recording('wire-proxy-arp')], silent: [recording('wire-gateway-unanswered'), recording('wire-dns-unanswered')]},
}
