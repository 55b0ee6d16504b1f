/** Guest views: each domain, and each of its interfaces with its tap, bridge, MAC and wire facts. */
import type {DomainInterface, LibvirtNetwork} from '../../probes/libvirt.js'
import {networkOf} from '../lib/addr.js'
import {getOrCreate, groupBy} from '../lib/collections.js'
import {type DeriveContext, isRunning} from './context.js'
import {macChangesOf} from './incidents.js'
import {interfaceOvsAttributes} from './ovs.js'
import {WIRE_ANSWERS_UNHEARD, type WireContext, clientIdOwners, clientIdSharers, wireContextFor, wireInterfaceAttributes} from './wire.js'
import {bridgeOfInterface, requestsOfGuests} from './wire-requests.js'
import type {DomainView, InterfaceView} from './types.js'

export function domainViews(ctx: DeriveContext): DomainView[] {
  return ctx.domains.map((d): DomainView => {
    const nets = [...new Set(d.interfaces.map(ctx.ifaceNetwork).filter((n): n is string => Boolean(n)))]
    const addresses = [...new Set(d.interfaces.flatMap((i) => (i.mac ? ctx.addressesByMac.get(i.mac) ?? [] : []).map((a) => a.ip)))].sort()
    return {
      kind: 'domain',
      name: d.name,
      context: {host: ctx.hostname, domain: d.name, network: nets[0], mac: d.interfaces[0]?.mac, bridge: d.interfaces[0]?.bridge},
      affectedGuests: isRunning(d) ? 1 : 0,
      state: d.state,
      running: isRunning(d),
      autostart: d.autostart,
      interfaceCount: d.interfaces.length,
      networks: nets,
      guestAgentChannel: d.guestAgentChannel,
      domainType: d.type,
      /** IPv4 addresses its MACs hold now: unexpired leases, live neighbour entries, arp-scan replies. */
      addresses,
    }
  })
}

type NetworkIp = LibvirtNetwork['ips'][number]
const fixedMacsOfIp = new WeakMap<NetworkIp, Set<string>>()
/** The MACs a network's DHCP gives a fixed address, once per network: each of its guests asks (n² otherwise). */
function fixedAddressMacs(ip: NetworkIp): Set<string> {
  return getOrCreate(fixedMacsOfIp, ip, () => new Set(ip.dhcpHosts.flatMap((h) => (h.ip !== undefined && h.mac !== undefined ? [h.mac.toLowerCase()] : []))))
}

export function interfaceViews(ctx: DeriveContext): InterfaceView[] {
  const {links, leases, neighbours, arpScan} = ctx.facts
  const configuredMacs = new Set(ctx.domainByMac.keys())
  const {wire, libvirt} = ctx.facts
  // The bridge a guest's DHCP goes out on: its network's, or the host bridge it is plugged into.
  const bridgeOfMac = (mac: string) => {
    const i = ctx.domainByMac.get(mac)?.iface
    return i ? bridgeOfInterface(i, libvirt) : undefined
  }
  const domainOfMac = (mac: string) => ctx.domainByMac.get(mac)?.domain.name
  const clientIds = clientIdOwners(wire, leases, bridgeOfMac)
  // Interfaces on one network or bridge share their wire context.
  const wireContexts = new Map<string, WireContext>()
  const wireContextOf = (i: DomainInterface) => {
    const key = `${i.type}\u0000${i.source ?? ''}\u0000${i.bridge ?? ''}`
    return wireContexts.get(key) ?? wireContexts.set(key, wireContextFor(i, libvirt, links, leases, ctx.facts.routes)).get(key)!
  }
  const requestsOf = requestsOfGuests({wire, libvirt, links, leases, neighbours, addressesByMac: ctx.addressesByMac, contextOf: wireContextOf})
  const runningByMac = groupBy(
    ctx.domains.filter(isRunning).flatMap((d) => d.interfaces.map((i) => ({domain: d.name, mac: i.mac, id: d.id}))),
    (x) => x.mac,
  )
  return ctx.domains.flatMap((d) =>
    d.interfaces.map((i, index): InterfaceView => {
      const network = i.type === 'network' ? ctx.networkByName.get(i.source ?? '') : undefined
      const expectedBridge = i.type === 'bridge' ? i.source : network?.bridge ?? i.bridge
      const tap = i.target ? ctx.linkByName.get(i.target) : undefined
      const running = isRunning(d)
      const v4 = network?.ips.find((ip) => ip.family === 'ipv4')
      const ovs = interfaceOvsAttributes(ctx, i, expectedBridge, running)
      const wireAttributes = wireInterfaceAttributes(wire, i, running, wireContextOf(i), i.mac ? clientIdSharers(clientIds, i.mac, domainOfMac) : {ids: [], sharers: []}, (heard) => requestsOf(i, heard))
      const unknownBecause = {...ovs.unknownBecause, ...(wireAttributes.wireAnswersHeard === null ? {wireAnswersHeard: WIRE_ANSWERS_UNHEARD} : {})}
      // One literal that opens with its own keys and spreads after them: every view then shares one hidden class.
      // Opening with a spread gave each view a hidden-class chain of its own (~50 KB of maps per view); Object.assign
      // onto {} left each in dictionary mode (a ~3 KB property table per view, 30 MB at 10,000 guests).
      const view: InterfaceView = {
        kind: 'interface' as const,
        name: `${d.name}/${i.target ?? i.mac ?? `net${index}`}`,
        context: {host: ctx.hostname, domain: d.name, network: ctx.ifaceNetwork(i), bridge: expectedBridge, mac: i.mac, link: i.target},
        affectedGuests: running ? 1 : 0,
        domain: d.name,
        running,
        /** running, paused, in shutdown...: a paused guest sends nothing by design. */
        domainState: d.state,
        type: i.type,
        source: i.source ?? null,
        mac: i.mac ?? null,
        target: i.target ?? null,
        linkState: i.linkState,
        expectedBridge: expectedBridge ?? null,
        // Only taps of running guests on a bridge can be checked against the link table, and only when
        // that table shows the bridge (or its network is down): otherwise we see another namespace.
        // An Open vSwitch port is not enslaved to its bridge in the link table (OVS's own port list says).
        tapCheckable:
          !ovs.ovs &&
          running &&
          links !== undefined && (i.type === 'network' || i.type === 'bridge') && i.target !== undefined && expectedBridge !== undefined &&
          (ctx.linkByName.has(expectedBridge) || network?.active === false),
        tapExists: tap !== undefined,
        tapMaster: tap?.master ?? null,
        macSharedWith: running && i.mac ? (runningByMac.get(i.mac) ?? []).filter((x) => x.domain !== d.name).map((x) => x.domain) : [],
        // The guest started first (the lowest domain id) keeps a shared MAC: the later one is the copy.
        macKept:
          running && i.mac
            ? (runningByMac.get(i.mac) ?? []).every((x) => x.domain === d.name || (d.id ?? Infinity) < (x.id ?? Infinity) || ((d.id ?? Infinity) === (x.id ?? Infinity) && d.name < x.domain))
            : true,
        model: i.model ?? null,
        isDirect: i.type === 'direct',
        trustGuestRxFilters: i.trustGuestRxFilters ?? null,
        macChanges: macChangesOf(i, leases, neighbours, arpScan, configuredMacs),
        /** IPv4 addresses any source reports for its MAC (leases, neighbours, arp-scan, the wire), APIPA included. */
        ipv4Addresses: i.mac ? [...new Set((ctx.addressesByMac.get(i.mac) ?? []).map((a) => a.ip))].sort() : [],
        /** Its libvirt network's IPv4 subnet, and whether the network gives it an address (a DHCP range, or a host entry for its MAC). */
        networkSubnet: v4 ? networkOf(`${v4.address}/${v4.prefix}`) : null,
        networkHandsOutAddresses: v4 ? v4.dhcpRanges.length > 0 || (i.mac !== undefined && fixedAddressMacs(v4).has(i.mac.toLowerCase())) : null,
        ...ovs,
        ...wireAttributes,
        ...(Object.keys(unknownBecause).length > 0 ? {unknownBecause} : {}),
      }
      return view
    }),
  )
}
