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
import {expectedGuestViews, expectedHostViews, expectedNetworkViews} from './expectations.js'
import {ipv6AddressesByMac} from './incidents.js'
import {domainViews, interfaceViews} from './guest.js'
import {wireOf} from './wire.js'
import {hostView} from './host.js'
import {linkViews} from './link.js'
import {dhcpPools, networkViews} from './network.js'
import type {Model, ModelOptions} from './types.js'

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
      addressConflict: (mac) => ctx.addressesByMac.get(mac)?.find((a) => (ctx.claimsOf.get(a.ip)?.size ?? 0) > 1)?.ip,
      // What the guest was heard asking for names, else what its DHCP answer told it to ask.
      guestResolvers: (mac) => {
        const heard = wireOf(ctx.facts.wire, mac)
        if (!heard) return undefined
        const asked = heard.dns.map((q) => q.server)
        const given = heard.dhcp.answers.filter((a) => a.message === 'ack').flatMap((a) => a.dnsServers ?? [])
        const servers = asked.length > 0 ? asked : given
        return servers.length > 0 ? [...new Set(servers)] : undefined
      },
      // A full range still serves the MACs that hold a lease in it.
      dhcpPoolFullFor: (network, mac) => {
        const pool = pools.get(network)
        return pool !== undefined && pool.size > 0 && pool.leasedInRange >= pool.size && !pool.holders.has(mac)
      },
    },
    options,
  )
  const flows = datapath.ok ? datapath.datapath.flows : []
  const networks = networkViews(ctx, pools)
  const host = hostView(ctx, networks)
  const domains = domainViews(ctx)
  const expected = options.expectations
  return {
    capturedAt,
    hostname: ctx.hostname,
    probes,
    entities: {
      host: [host],
      network: networks,
      link: linkViews(ctx, flows, datapath.ok),
      domain: domains,
      interface: interfaceViews(ctx),
      apipa: apipaViews(ctx, ctx.facts.apipa),
      address: addressViews(ctx),
      'dhcp-service': dhcpServiceViews(ctx),
      element: elementViews(ctx, flows),
      'expected-network': expected ? expectedNetworkViews(expected, networks, host) : [],
      'expected-guest': expected ? expectedGuestViews(expected, domains, host) : [],
      'expected-host': expected ? expectedHostViews(expected, host) : [],
    },
    datapath,
  }
}
