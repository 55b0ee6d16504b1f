/** Element views: one per datapath element that stops (or leaves undecided, or diverts) guest flows. */
import {elementImpacts} from '../datapath/derive.js'
import {type Flow, bridgeOwnSwitchActs} from '../datapath/flows.js'
import {flowSubject} from '../lib/flow-subject.js'
import type {LibvirtNetwork} from '../../probes/libvirt.js'
import type {Forward} from '../datapath/published.js'
import {networkOf} from '../lib/addr.js'
import type {DeriveContext} from './context.js'
import type {ElementView} from './types.js'

/**
 * Whether every netfilter hop where the element acts is br_netfilter's, for a bridged frame (other hops may name it as
 * the cause: a guest left without an address by a dropped DHCP exchange).
 */
function bridgedOnly(id: string, flows: Flow[]): boolean {
  const at = flows.flatMap((f) => f.hops.filter((h) => h.element?.id === id && h.steps !== undefined))
  return at.length > 0 && at.every((h) => h.bridged === true)
}

/** A network's subnets, of one family (ipv4, ipv6) or both. */
const subnetsOf = (n: LibvirtNetwork, only?: string) => n.ips.filter((ip) => only === undefined || ip.family === only).map((ip) => networkOf(`${ip.address}/${ip.prefix}`))

export function elementViews(ctx: DeriveContext, flows: Flow[], forwards: Forward[]): ElementView[] {
  const published = new Map(forwards.map((f) => [f.id, `${f.hostAddress ? `${f.hostAddress}:` : ''}${f.port}/${f.proto}`]))
  return elementImpacts(flows).map(({element, verdict, hop, flows: hit}): ElementView => {
    // A forward no guest is behind stops no guest: its flows name none.
    const guests = [...new Set(hit.map((f) => f.guest).filter(Boolean))].sort()
    const bridges = [...new Set(hit.map((f) => f.bridge).filter((b): b is string => Boolean(b)))].sort()
    const networks = [...new Set(hit.map((f) => f.network).filter((n): n is string => Boolean(n)))].sort()
    const family = element.ipFamily === 6 ? 'ipv6' : 'ipv4'
    const subnets = [...new Set(ctx.networks.filter((n) => networks.includes(n.name)).flatMap((n) => subnetsOf(n, family)))].sort()
    // A bridge's guests' subnets, both families; none where a guest on it belongs to no libvirt network (a LAN's bridge).
    const bridgeSubnets: Record<string, string[]> = {}
    for (const br of bridges) {
      const on = hit.filter((f) => f.bridge === br)
      const nets = on.every((f) => f.network) ? ctx.networks.filter((n) => on.some((f) => f.network === n.name)) : []
      bridgeSubnets[br] = [...new Set(nets.flatMap((n) => subnetsOf(n)))].sort()
    }
    return {
      kind: 'element' as const,
      name: element.text,
      context: {host: ctx.hostname, bridge: bridges[0], network: networks[0], domain: guests[0], link: element.device},
      affectedGuests: guests.length,
      element,
      elementId: element.id,
      elementKind: element.kind,
      verdict,
      hop: hop.name,
      detail: hop.detail,
      hook: element.hook ?? null,
      backend: element.backend ?? null,
      nfFamily: element.family ?? null,
      nfTable: element.nfTable ?? null,
      incompatibleTable: element.incompatibleTable ?? false,
      chain: element.chain ?? null,
      libvirtOwned: element.libvirtOwned ?? false,
      sysctlKey: element.sysctl?.key ?? null,
      routeTable: element.table ?? null,
      rulePriority: element.rulePriority ?? null,
      baseChain: element.baseChain ?? null,
      device: element.device ?? null,
      /** The address an element is about (a source NAT's target). */
      address: element.address ?? null,
      flows: hit.map((f) => `${flowSubject(f)} ${f.kind}: ${f.description}`),
      flowKinds: [...new Set(hit.map((f) => f.kind))].sort(),
      inbound: [...new Set(hit.flatMap((f) => (f.forward && published.has(f.forward) ? [published.get(f.forward)!] : [])))].sort(),
      /** Only IPv6 flows stop here: IPv4 passes. */
      ipv6Only: hit.every((f) => f.kind === 'egress6' || f.kind === 'egress6-reply'),
      guests,
      bridges,
      networks,
      subnets,
      bridgeSubnets,
      bridgedOnly: bridgedOnly(element.id, hit),
      ownBridgeNf: bridges.filter((br) => bridgeOwnSwitchActs(ctx.sysctlValue('net.bridge.bridge-nf-call-iptables'), ctx.linkByName.get(br)?.bridge?.nfCallIptables)),
      undecided: (hop.undecided ?? []).map((u) => `${u.rule}${u.note ? ` (${u.note})` : ''}: if it matches, ${u.ifMatches}; if not, ${u.ifNot}`),
      // The evaluator's "may match" is a match by chance, rate or time (statistic, limit, numgen): not a fact the host hides.
      intermittent: hop.intermittent === true || (hop.undecided ?? []).some((u) => u.note?.startsWith('may match') === true && [u.ifMatches, u.ifNot].some((o) => o === 'passes') && [u.ifMatches, u.ifNot].some((o) => o.startsWith('dropped'))),
    }
  })
}
