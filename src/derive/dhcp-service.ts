/** DHCP servers that are not libvirt's: an external ISC dhcpd (the seed article's setup). */
import {type Cidr, cidrContains, parseCidr} from '../lib/ipv4.js'
import {dhcpdState} from '../../probes/processes.js'
import type {DeriveContext} from './context.js'
import type {DhcpServiceView} from './types.js'

/** ISC dhcpd configured in /etc/dhcp/dhcpd.conf serves the host bridge whose address lies in one of its subnets. */
export function dhcpServiceViews(ctx: DeriveContext): DhcpServiceView[] {
  const {leases, processes, links} = ctx.facts
  if (!leases?.dhcpdConfigured) return []
  const subnets = leases.dhcpdSubnets.map((s) => parseCidr(s)).filter((c): c is Cidr => c !== undefined)
  const served = (links ?? []).find((l) => l.addresses.some((a) => a.family === 'inet' && subnets.some((c) => cidrContains(c, a.address))))
  const guests = served ? (ctx.portsOf.get(served.name) ?? []).filter((p) => p.kind === 'tap').length : 0
  const dhcpd = processes ? dhcpdState(processes) : undefined
  return [
    {
      kind: 'dhcp-service',
      name: 'isc-dhcp-server',
      context: {host: ctx.hostname, bridge: served?.name, link: served?.name},
      affectedGuests: guests,
      active: true,
      dhcpEnabled: true,
      dhcpRanges: leases.dhcpdSubnets,
      servedInterface: served?.name ?? null,
      // A stopped dhcpd (kill -STOP, a debugger) holds its socket and answers nothing: it serves no more than a dead one.
      dhcpServerRunning: dhcpd ? dhcpd.answers : null,
      dhcpdStopped: dhcpd?.stopped ?? [],
    },
  ]
}
