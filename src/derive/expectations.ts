/**
 * What the expectations file (kvmdoctor.yaml) asks of this host, beside what
 * the host holds: one view per network, guest and host setting it names (a
 * network or guest it names and the host lacks is a view too, "not defined").
 * The expect-* rules judge them.
 */
import {cidrContains, parseCidr} from '../lib/ipv4.js'
import type {DomainView, ExpectedGuestView, ExpectedHostView, ExpectedNetworkView, HostView, NetworkView} from './types.js'

/** The file's content (src/core/expectations.ts reads and validates it). */
export interface ExpectationSpec {
  networks: {name: string; active: boolean; autostart?: boolean; minFreeLeases?: number}[]
  guests: {name: string; subnet: string}[]
  forwarding?: boolean
}

export function expectedNetworkViews(spec: ExpectationSpec, networks: NetworkView[], host: HostView): ExpectedNetworkView[] {
  const byName = new Map(networks.map((n) => [n.name, n]))
  return spec.networks.map((want): ExpectedNetworkView => {
    const n = byName.get(want.name)
    const asked = {wantActive: want.active, wantAutostart: want.autostart === true, minFreeLeases: want.minFreeLeases ?? null}
    if (!n) {
      return {
        kind: 'network',
        name: want.name,
        context: {host: host.name, network: want.name},
        affectedGuests: 0,
        defined: false,
        state: 'not defined',
        active: false,
        autostart: null,
        freeLeases: null,
        ...asked,
        network: null,
      }
    }
    return {
      kind: 'network',
      name: n.name,
      context: n.context,
      affectedGuests: n.affectedGuests,
      defined: true,
      state: n.active ? 'active' : 'inactive',
      active: n.active,
      autostart: n.autostart,
      freeLeases: n.dhcpRangeSize - n.leasesInRange,
      ...asked,
      network: n,
    }
  })
}

export function expectedGuestViews(spec: ExpectationSpec, domains: DomainView[], host: HostView): ExpectedGuestView[] {
  const byName = new Map(domains.map((d) => [d.name, d]))
  return spec.guests.map((want): ExpectedGuestView => {
    const d = byName.get(want.name)
    const subnet = parseCidr(want.subnet)
    const addresses = d?.addresses ?? []
    return {
      kind: 'domain',
      name: want.name,
      context: d?.context ?? {host: host.name, domain: want.name},
      affectedGuests: d?.affectedGuests ?? 0,
      state: d?.state ?? 'not defined',
      running: d ? d.running : null,
      subnet: want.subnet,
      addresses,
      addressesInSubnet: subnet ? addresses.filter((a) => cidrContains(subnet, a)) : [],
    }
  })
}

export function expectedHostViews(spec: ExpectationSpec, host: HostView): ExpectedHostView[] {
  return spec.forwarding ? [{...host, wantForwarding: true}] : []
}
