import type {ElementView, EntityView} from '../src/derive/index.js'
import {DATAPATH, filterDrop, listChainOf, narrowAccept, netfilterUndo, nwfilterTap} from './datapath.js'
import {cmd, defineRule, line, text, virshQuoted} from './kit.js'

export default defineRule<ElementView>({
  id: 'guest-flow-blocked',
  kind: 'element',
  severity: 'critical',
  needs: DATAPATH,
  // Only where no more specific pattern owns the element.
  general: true,
  conditions: (c) => c.all(c.eq('verdict', 'fail')),
  // A qdisc that stops a guest's flows also counts the packets it drops: one fault, judged here.
  explains: [
    {
      rule: 'tc-policer-drops',
      via: 'link',
      onlyWhere: (child, cause) => {
        const qdisc = cause.kind === 'element' && cause.element.kind === 'tc-qdisc' ? cause.element.tcQdisc : undefined
        return qdisc !== undefined && child.kind === 'interface' && (child.tapDropsGrowing ?? []).some((d) => d.handle === qdisc.handle)
      },
      onlyWhereText: 'the qdisc that stops the flows is the one dropping',
    },
    // A published port whose round trip stops at the same element: undoing it mends both. Not a netfilter drop, whose
    // fixes are accepts as narrow as each flow (the guests' way out opens no published port).
    {
      rule: 'port-forward-blocked',
      via: 'host',
      onlyWhere: (child, cause) => child.kind === 'forward' && cause.kind === 'element' && child.element?.id === cause.element.id && !cause.element.kind.startsWith('nf-'),
      onlyWhereText: "the forward's round trip stops at the same element, one its undo mends (not a netfilter drop)",
    },
    // A guest left without a lease by the element its DHCP stops at: its self-assigned address, its unanswered requests.
    ...(['apipa-address', 'dhcp-no-offer'] as const).map((rule) => ({
      rule,
      via: 'host' as const,
      onlyWhere: (child: EntityView, cause: EntityView) => cause.kind === 'element' && child.context.domain !== undefined && cause.flows.some((f) => f.startsWith(`${child.context.domain} dhcp: `)),
      onlyWhereText: "the guest's DHCP request stops at the element",
    })),
  ],
  title: (e) => text`Guest traffic stops at ${e.hop}: ${e.name}`,
  summary: (e) => text`${e.affectedGuests} guest(s) on ${e.bridges}: ${e.detail}.`,
  evidence: (e) => [line`decided by: ${e.name}`, ...e.flows],
  // The element undone, by the rule that owns its kind.
  // A drop on the filter hooks: the narrowest accept. Elsewhere (a RETURN before the MASQUERADE, a
  // drop in raw or mangle) an accept would skip what follows it: the admin's own rule is undone.
  fix: (e, host, rules) => (filterDrop(e) ? narrowAccept(e, host, e.hook === 'input' ? 'input' : 'forward') : rules.undo(e.element)),
  note: (e) => {
    if (e.element.kind === 'link' && e.element.state === 'no-carrier') return [line`${e.element.device} is set up but has no carrier: check its cable and switch port (ethtool ${e.element.device}), or, for a veth or VLAN, its peer or lower device`]
    // Which VLAN a port is meant to be in is the admin's choice: the note says how to put the two ends in one.
    if (e.element.kind === 'bridge-vlan') return [line`check bridge vlan show: the guest's tap and ${e.element.master ?? 'the bridge'} (the bridge device, self) must share a VLAN, untagged where a guest or the host's address takes the frames, e.g. bridge vlan add dev TAP vid N pvid untagged, or bridge vlan add dev ${e.element.master ?? 'BRIDGE'} vid N pvid untagged self`]
    // An IPsec policy guards a tunnel the admin set up: deleting it may send in clear what it meant to protect.
    if (e.element.kind === 'xfrm-policy') return [line`an IPsec policy (${e.element.text}) takes the guests' packets: if it is not meant for them, narrow its selector to the traffic it protects (ip xfrm policy update ...), or exempt the guests' subnet with an allow policy of a lower priority number (ip xfrm policy add ... priority N action allow); kvmdoctor does not change IPsec policies`]
    // Port isolation keeps guests apart on purpose: which port should not be isolated is the admin's choice.
    // A locked port (802.1X, MAB) admits only the MACs its authenticator authorized: unlocking it admits every MAC on
    // that port, so the note says where the guest's MAC should be authorized instead.
    if (e.element.portFlag === 'locked') return [line`${e.element.device} is locked (bridge -d link show: locked on): it passes only frames from MACs with a static fdb entry on it, which its authenticator (hostapd, an 802.1X or MAB service) writes once a MAC is authorized; authorize the guest's MAC there, or, where the lock is not wanted on a guest's tap, bridge link set dev ${e.element.device} locked off; kvmdoctor does not lift a port lock`]
    if (e.element.portFlag === 'isolated') return [line`${e.element.device} and ${e.element.peer} are both isolated (bridge -d link show): isolated ports reach only ports that are not; where guests are kept apart from each other, their taps are isolated and the LAN's port is not (bridge link set dev PORT isolated off on the one that should reach everyone); kvmdoctor does not lift an isolation`]
    if (e.element.tcFilter?.catchAllDrop) return [line`${e.element.text}: it drops every packet on ${e.element.device}, a catch-all the admin set; narrow it to the traffic it is meant to stop (tc filter replace dev ${e.element.device} ...); kvmdoctor does not delete it`]
    if (e.element.tcQdisc?.unmodelled) return [line`${e.element.text}: kvmdoctor does not know it to drop this traffic; read tc -s qdisc show dev ${e.element.device} before changing it; kvmdoctor does not delete it`]
    // The network's definition is the admin's: the note says where the option lives and when guests take a change.
    if (e.element.kind === 'dhcp-option') return [line`${e.element.text}: correct or remove that <dnsmasq:option> (virsh net-edit ${virshQuoted(['net-edit'], e.element.network!)}); libvirt applies it when the network's dnsmasq restarts (virsh net-destroy and net-start, which cut every guest of the network off until their taps are attached again), and each guest takes it when it renews its lease; kvmdoctor does not edit a network's definition`]
    const tap = e.element.kind === 'nf-rule' || e.element.kind === 'nf-policy' ? nwfilterTap(e.element.chain) : undefined
    // libvirt rebuilds an nwfilter's rules from the domain's <filterref>: the filter or its parameters are what to change.
    if (tap) return [line`${e.element.chain} is libvirt's nwfilter for ${tap} (the domain's <filterref>): it drops what the filter does not allow, e.g. a source address other than its IP parameter (or the one it learned); compare virsh nwfilter-binding-dumpxml ${tap} with what the guest sends, then correct the filter or the guest`]
    return []
  },
  // The elements no specific pattern is about: netfilter drops elsewhere (a nat chain, a bridge hook), a guest's
  // link held down, a blackhole or unreachable route, a route missing for IPv6, a bridge port's flags, tc, a
  // permanent neighbour entry with another MAC, an fdb entry sending a guest's frames elsewhere, a bridge that answers no ARP (arp_ignore 8, ARP off, an arp chain's
  // drop) or lacks its gateway address.
  owns: [
    {kind: 'nf-rule', undo: netfilterUndo, lists: listChainOf},
    {kind: 'nf-policy', undo: netfilterUndo, lists: listChainOf},
    // No command: an IPsec policy is a security policy (see the note).
    {kind: 'xfrm-policy', undo: () => []},
    {kind: 'guest-link', undo: (el) => cmd`virsh domif-setlink ${el.domain} ${el.iface} up` ?? []},
    {
      kind: 'route',
      where: (el) => el.route !== undefined || el.ipFamily !== 4,
      // A blackhole/unreachable route, or a narrower route carved out of a guest subnet onto another device (it
      // takes only those guests' addresses): deleted exactly. A route the host itself uses is never touched.
      undo: (el) => {
        const r = el.route
        if (!r) return []
        const table = r.table !== 'main' ? ['table', r.table] : []
        // Only a route that exists to refuse is deleted by its type: a local or broadcast route is the kernel's, made
        // for an address of the host (deleting it takes that address from every guest and service that uses it).
        if (['blackhole', 'unreachable', 'prohibit', 'throw'].includes(r.type)) return cmd`ip route del ${r.type} ${r.dst} ${table}` ?? []
        if (r.type !== 'unicast') return []
        return r.carvedFrom && r.dev ? (cmd`ip route del ${r.dst} ${r.gateway ? ['via', r.gateway] : []} dev ${r.dev} ${table}` ?? []) : []
      },
    },
    // A port that neither learns nor floods unknown unicast: learning back on (flooding stays as the admin set it).
    // Isolated and locked ports: no command (see the note).
    // `bridge link set` has no proxy_arp option (iproute2 6.1 refuses it): the port's proxy_arp is set through ip's bridge_slave.
    {
      kind: 'bridge-port',
      undo: (el) =>
        (el.portFlag === 'bcast_flood' ? cmd`bridge link set dev ${el.device} bcast_flood on` : el.portFlag === 'flood' ? cmd`bridge link set dev ${el.device} learning on` : el.portFlag === 'proxy_arp' ? cmd`ip link set dev ${el.device} type bridge_slave proxy_arp off` : undefined) ?? [],
    },
    // An fdb entry that sends a guest's frames elsewhere: that entry deleted, nothing else (the bridge learns the MAC
    // again from the guest's next frame, or floods to it). An entry on a port is the bridge's (master); one on the
    // bridge device itself is deleted from the device.
    {
      kind: 'bridge-fdb',
      where: (el) => el.fdb !== undefined,
      undo: (el) => cmd`bridge fdb del ${el.fdb!.mac} dev ${el.device} ${el.device === el.master ? [] : ['master']} ${el.fdb!.vlan ? ['vlan', String(el.fdb!.vlan)] : []}` ?? [],
    },
    {kind: 'link', where: (el) => el.noArp === true, undo: (el) => cmd`ip link set ${el.device} arp on` ?? []},
    // Only a qdisc known to drop the packet is deleted, and never a filter that drops everything (the device's
    // catch-all, like a chain's): no command for those (see the note).
    {
      kind: 'tc-qdisc',
      undo: (el) => (el.tcQdisc && !el.tcQdisc.unmodelled ? (el.tcQdisc.parent === 'root' ? cmd`tc qdisc del dev ${el.device} root` : cmd`tc qdisc del dev ${el.device} parent ${el.tcQdisc.parent} handle ${el.tcQdisc.handle}`) : undefined) ?? [],
    },
    {
      kind: 'tc-filter',
      undo: (el) => (el.tcFilter && !el.tcFilter.catchAllDrop ? cmd`tc filter del dev ${el.device} ${el.tcFilter.attach === 'ingress' || el.tcFilter.attach === 'egress' ? [el.tcFilter.attach] : ['parent', el.tcFilter.attach]} pref ${el.tcFilter.pref}` : undefined) ?? [],
    },
    {kind: 'neighbour', undo: (el) => (el.permanent ? cmd`ip neigh del ${el.address} dev ${el.device}` : undefined) ?? []},
    {kind: 'sysctl', where: (el) => el.sysctl?.key.endsWith('.arp_ignore') === true, undo: (el) => cmd`sysctl -w ${el.sysctl!.key}=0` ?? []},
    // The address libvirt gave the bridge, put back as libvirt sets it (dnsmasq binds to it again by itself).
    // No command: a network's definition (see the note).
    {kind: 'dhcp-option', undo: () => []},
    // IPv6 has no broadcast (ip refuses one); an address that failed duplicate address detection has no prefix here:
    // re-adding it fails again while another node holds it (no command).
    {kind: 'gateway-address', undo: (el) => (el.prefix === undefined ? undefined : el.ipFamily === 6 ? cmd`ip address add ${`${el.address}/${el.prefix}`} dev ${el.device}` : cmd`ip address add ${`${el.address}/${el.prefix}`} broadcast + dev ${el.device}`) ?? []},
  ],
})
