/**
 * Derivations: probe facts joined into the entities rules are evaluated on, one
 * module per entity kind over one shared context, with the datapath beside them.
 */
import type {ProbeResult} from '../../probes/types.js'
import {deriveDatapath} from '../datapath/derive.js'
import {addressViews, apipaViews} from './addresses.js'
import {buildContext, readFacts} from './context.js'
import {dhcpServiceViews} from './dhcp-service.js'
import {elementViews} from './elements.js'
import {forwardViews} from './forwards.js'
import {expectedGuestViews, expectedHostViews, expectedNetworkViews} from './expectations.js'
import {ipv6AddressesByMac} from './incidents.js'
import {domainViews, interfaceViews} from './guest.js'
import {wireOf} from './wire.js'
import {hostView} from './host.js'
import {linkViews} from './link.js'
import {ovsBridgeViews} from './ovs.js'
import {dhcpPools, networkViews} from './network.js'
import type {Flow} from '../datapath/flows.js'
import type {EntityView, Model, ModelOptions} from './types.js'

export type * from './types.js'
export {type GuestNic, guestTaps, stableName} from './identity.js'
export type {ExpectationSpec} from './expectations.js'

export function buildModel(probes: Record<string, ProbeResult>, capturedAt: Date, options: ModelOptions = {}): Model {
  const ctx = buildContext(readFacts(probes))
  const pools = dhcpPools(ctx)
  const ipv6ByMac = ipv6AddressesByMac(ctx.facts.neighbours)
  const datapath = deriveDatapath(
    probes,
    {
      guestAddress: (mac) => ctx.addressesByMac.get(mac)?.find((a) => !a.ip.startsWith('169.254.'))?.ip,
      guestAddress6: (mac) => ipv6ByMac.get(mac),
      addressConflict: (mac) => ctx.addressesByMac.get(mac)?.find((a) => (ctx.claims.get(a.ip)?.size ?? 0) > 1)?.ip,
      addressClaimants: (addr) => [...(ctx.claims.get(addr)?.keys() ?? [])],
      // What the guest was heard asking for names, else what its DHCP answer told it to ask.
      guestResolvers: (mac) => {
        const heard = wireOf(ctx.facts.wire, mac)
        if (!heard) return undefined
        const asked = heard.dns.map((q) => q.server)
        const given = heard.dhcp.answers.filter((a) => a.message === 'ack').flatMap((a) => a.dnsServers ?? [])
        const servers = asked.length > 0 ? asked : given
        return servers.length > 0 ? [...new Set(servers)] : undefined
      },
      dhcpConfigured: (mac) => ctx.addressesByMac.get(mac)?.some((a) => a.source === 'lease') === true,
      // Heard on its tap sending frames, none from an IPv4 address, no DHCP request: the guest has no IPv4 address.
      heardWithoutAddress: (mac) => {
        const heard = wireOf(ctx.facts.wire, mac)
        if (!heard || heard.sent === 0 || heard.capped || heard.addresses.length > 0 || heard.dhcp.discovers + heard.dhcp.requests > 0) return undefined
        return `heard ${heard.sent} frame${heard.sent === 1 ? '' : 's'} from it on ${heard.tap} in ${ctx.facts.wire!.seconds} s, none from an IPv4 address, no DHCP request`
      },
      // A full range still serves the MACs that hold a lease in it, and those a host entry reserves an address for.
      dhcpPoolFullFor: (network, mac) => {
        const pool = pools.get(network)
        if (pool === undefined || pool.size === 0 || pool.holders.has(mac) || pool.reserved.has(mac.toLowerCase())) return false
        if (pool.leasedInRange >= pool.size) return true
        return pool.unread !== undefined ? {unread: pool.unread} : false
      },
    },
    options,
  )
  const all = datapath.ok ? datapath.datapath.flows : []
  // Inbound flows are judged on their forwards (a failed round trip, a hairpin); an element of a guest's own flows
  // stays theirs. What leaves an inbound flow undecided no forward rule judges: it joins the elements, as the upstream
  // route of a routed network does both ways, so an undecided published port is never an OK.
  const flows = all.filter((f) => !f.forward || f.verdict === 'indeterminate' || f.decidedBy?.element?.kind === 'return-route')
  const networks = networkViews(ctx, pools)
  const host = hostView(ctx, networks)
  const domains = domainViews(ctx)
  const expected = options.expectations
  const entities: Model['entities'] = {
      host: [host],
      network: networks,
      link: linkViews(ctx, flows, datapath.ok),
      domain: domains,
      interface: interfaceViews(ctx),
      apipa: apipaViews(ctx, ctx.facts.apipa),
      address: addressViews(ctx),
      'dhcp-service': dhcpServiceViews(ctx),
      'ovs-bridge': ovsBridgeViews(ctx),
      element: elementViews(ctx, flows, datapath.ok ? datapath.datapath.forwards : []),
      forward: forwardViews(ctx, datapath),
      'expected-network': expected ? expectedNetworkViews(expected, networks, host) : [],
      'expected-guest': expected ? expectedGuestViews(expected, domains, host) : [],
      'expected-host': expected ? expectedHostViews(expected, host) : [],
  }
  if (datapath.ok) countCutOff(entities, flows)
  return {capturedAt, hostname: ctx.hostname, probes, entities, datapath}
}

/**
 * A network's or a bridge's blast radius is the guests on it whose flows fail, not every guest it serves: a
 * full DHCP range that leaves one guest without an address cuts off one guest, not the three it serves.
 * Guest-level findings keep their guest (a conflict hurts it whatever the host's path says); elements
 * count the flows they decide already.
 */
function countCutOff(entities: Model['entities'], flows: Flow[]): void {
  const failing = flows.filter((f) => f.verdict === 'fail')
  const guestsWhere = (keep: (f: Flow) => boolean) => new Set(failing.filter(keep).map((f) => f.guest)).size
  for (const v of [...entities.network, ...entities.link] as EntityView[]) {
    const c = v.context
    if (v.affectedGuests === 0 || c.domain !== undefined) continue
    const cut = v.kind === 'network' ? guestsWhere((f) => f.network === v.name) : c.bridge !== undefined ? guestsWhere((f) => f.bridge === c.bridge) : undefined
    if (cut !== undefined) v.affectedGuests = Math.min(v.affectedGuests, cut)
  }
}
