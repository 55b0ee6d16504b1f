/**
 * Open vSwitch and traffic shaping as rules see them: each OVS bridge (fail mode, controllers,
 * flows, the guests on it), and per guest interface its OVS port (on which bridge, tag, interface
 * state, the uplinks and whether they carry its VLAN) and the shaping on its tap (libvirt's
 * <bandwidth>, the tc rates, qdisc drops that grew while kvmdoctor looked). Facts and joins only.
 */
import type {BandwidthLimit} from '../../probes/libvirt.js'
import type {OvsFacts} from '../../probes/ovs.js'
import type {TcFacts} from '../../probes/tc.js'
import {type ProbeResult, dataOf} from '../../probes/types.js'
import {guestUnicastFate, portCarries, portTrunks, portVlan, portVlans, uplinkPorts} from '../datapath/ovs.js'
import {type GrowingDrops, dropsGrowing, tcIndexOf} from '../datapath/tc.js'
import {type DeriveContext, type DomainInterface, isRunning} from './context.js'
import type {OvsBridgeView} from './types.js'
import {getOrCreate} from '../lib/collections.js'

/** The OVS facts, or why they are unknown. */
export function ovsOf(probes: Record<string, ProbeResult>): {ovs: OvsFacts | null; unknownBecause?: string} {
  const r = probes.ovs
  if (r?.ok) return {ovs: dataOf<OvsFacts>(r)!}
  return {ovs: null, unknownBecause: r ? `ovs: ${(r as {error: string}).error}` : 'ovs: not run'}
}

const tapsOfContext = new WeakMap<DeriveContext, Set<string>>()
/** The running guests' taps, once per derivation: every interface's view asks (n interfaces would cost n² scans). */
function runningTaps(ctx: DeriveContext): Set<string> {
  return getOrCreate(tapsOfContext, ctx, () => new Set(ctx.domains.filter(isRunning).flatMap((d) => d.interfaces.flatMap((i) => (i.target ? [i.target] : [])))))
}

export function ovsBridgeViews(ctx: DeriveContext): OvsBridgeView[] {
  const {ovs} = ovsOf(ctx.facts.probes)
  if (!ovs?.running) return []
  const taps = runningTaps(ctx)
  const guestOfTap = new Map(ctx.domains.filter(isRunning).flatMap((d) => d.interfaces.flatMap((i) => (i.target ? [[i.target, d.name] as const] : []))))
  return ovs.bridges.map((b): OvsBridgeView => {
    const guestPorts = b.ports.filter((p) => taps.has(p.name)).map((p) => p.name)
    const guests = [...new Set(guestPorts.map((p) => guestOfTap.get(p)!))].sort()
    // A guest's own IPv4 traffic is what the bridge is for: forwarded by one port is enough; one port left to the table miss is the miss's fault.
    const fates = guestPorts.map((p) => guestUnicastFate(b, p))
    const guestUnicast = fates.includes('forwarded') ? 'forwarded' : fates.includes('unknown') || fates.length === 0 ? null : fates.includes('table-miss') ? 'table-miss' : 'dropped-by-flow'
    const unread = `ovs-ofctl dump-flows ${b.name}: ${b.flowsUnread ?? 'not read'}`
    return {
      kind: 'link',
      name: b.name,
      context: {host: ctx.hostname, bridge: b.name, link: b.name, network: ctx.networkByBridge.get(b.name)?.name},
      affectedGuests: guests.length,
      failMode: b.failMode,
      datapathType: b.datapathType,
      controllers: b.controllers.map((c) => c.target),
      controllersConnected: b.controllers.filter((c) => c.connected).length,
      controllerErrors: b.controllers.filter((c) => !c.connected).map((c) => `${c.target}: ${c.state ?? 'not connected'}${c.lastError ? ` (${c.lastError})` : ''}`),
      flowCount: b.flows?.length ?? null,
      /** Flows whose actions send the frame somewhere (not drop). */
      forwardingFlows: b.flows ? b.flows.filter((f) => f.actions.length > 0).map((f) => f.text) : null,
      guestUnicastFate: guestUnicast,
      guestPorts,
      guests,
      ...(b.flows === null
        ? {unknownBecause: {forwardingFlows: unread, flowCount: unread, guestUnicastFate: unread}}
        : guestUnicast === null && guestPorts.length > 0
          ? {unknownBecause: {guestUnicastFate: `a match or action of ${b.name}'s flows that kvmdoctor does not evaluate decides a guest's IPv4 frame`}}
          : {}),
    }
  })
}

/** What an interface view says about OVS and shaping. */
export interface InterfaceOvsAttributes {
  /** libvirt plugs it into Open vSwitch (<virtualport type='openvswitch'>, on it or its network), or its bridge is an OVS bridge. */
  ovs: boolean
  /** running, not-running, not-installed; null: unknown (the ovs probe failed) or not an OVS interface. */
  ovsState: 'running' | 'not-running' | 'not-installed' | null
  ovsReason: string | null
  ovsBridgeExists: boolean | null
  /** The OVS bridge its tap is a port of (none: null). */
  ovsPortOn: string | null
  ovsTag: number | null
  ovsInterfaceError: string | null
  ovsOfport: number | null
  ovsLinkState: string | null
  ovsAdminState: string | null
  /** The interface id libvirt gives OVS (<virtualport><parameters interfaceid/>): external_ids:iface-id. */
  ovsInterfaceId: string | null
  /** The VLANs libvirt's XML gives it (<vlan><tag/>). */
  libvirtVlanTags: number[]
  /** The bridge's uplinks (ports that are neither internal nor a guest's), whether each carries its VLAN, its VLANs in words, and whether it trunks (a list can gain a VLAN). */
  ovsUplinks: {name: string; tag: number | null; trunks: number[]; carries: boolean | null; vlans: string; trunk: boolean}[]
  /**
   * Whether its VLAN can leave the bridge: some uplink carries it (or there is no uplink: nothing to cross); false when
   * none does; null when a port's vlan_mode decides and was not read (a sosreport).
   */
  ovsVlanLeaves: boolean | null
  /** libvirt's <bandwidth>: average/peak in kilobytes per second, burst in kilobytes. */
  bandwidthInbound: BandwidthLimit | null
  bandwidthOutbound: BandwidthLimit | null
  /** Rates tc sets on its tap: htb classes and tbf (what the guest receives), policers (what it sends). Bits per second, bytes. */
  tapShaping: {what: string; direction: 'to guest' | 'from guest'; rate: number; burst: number | null; policer?: {attach: string; pref: number; policeOnly: boolean}}[]
  /** Qdiscs on its tap whose drop counter grew between tc's two reads (null: tc not read). */
  tapDropsGrowing: GrowingDrops[] | null
}

export function interfaceOvsAttributes(ctx: DeriveContext, i: DomainInterface, expectedBridge: string | undefined, running: boolean): InterfaceOvsAttributes & {unknownBecause?: Record<string, string>} {
  const {ovs, unknownBecause} = ovsOf(ctx.facts.probes)
  const network = i.type === 'network' ? ctx.networkByName.get(i.source ?? '') : undefined
  const bridge = expectedBridge ? ovs?.bridges.find((b) => b.name === expectedBridge) : undefined
  const isOvs = i.virtualport?.type === 'openvswitch' || network?.virtualport === 'openvswitch' || bridge !== undefined
  const onBridge = i.target ? ovs?.bridges.find((b) => b.ports.some((p) => p.name === i.target)) : undefined
  const port = onBridge?.ports.find((p) => p.name === i.target)
  const iface = port?.interfaces[0]
  const tcFacts = dataOf<TcFacts>(ctx.facts.probes.tc)
  const tc = tcFacts ? tcIndexOf(tcFacts) : undefined
  const shaping: InterfaceOvsAttributes['tapShaping'] = []
  if (tc && i.target && running) {
    const classes = tc.classes.get(i.target) ?? []
    for (const c of classes) {
      if (c.rate === undefined || classes.some((x) => x.parent === c.classid)) continue
      // A leaf class may borrow up to its ceil, and no class beyond its parents' ceil (OVS's linux-htb QoS: a leaf of
      // 12 kbit/s under a 512 kbit/s parent, both ceil 512): what the guest can receive is the smallest ceil on the way up.
      let cap = c.ceil ?? c.rate
      for (let p = classes.find((x) => x.classid === c.parent), hops = 0; p && hops < 8; p = classes.find((x) => x.classid === p!.parent), hops++) {
        cap = Math.min(cap, p.ceil ?? p.rate ?? cap)
      }
      shaping.push({what: `${c.kind} class ${c.classid}`, direction: 'to guest', rate: cap, burst: c.burst ?? null})
    }
    for (const q of tc.qdiscs.get(i.target) ?? []) if (q.kind === 'tbf' && typeof q.options.rate === 'number') shaping.push({what: `tbf qdisc ${q.handle}`, direction: 'to guest', rate: (q.options.rate as number) * 8, burst: typeof q.options.burst === 'number' ? q.options.burst : null})
    for (const f of tc.filters.get(i.target) ?? []) {
      for (const a of f.actions) {
        if (a.police?.rate === undefined) continue
        const policer = {attach: f.attach, pref: f.pref, policeOnly: f.actions.every((x) => x.kind === 'police')}
        shaping.push({what: `police (filter ${f.attach} pref ${f.pref})`, direction: f.attach === 'ingress' ? 'from guest' : 'to guest', rate: a.police.rate * 8, burst: a.police.burst ?? null, policer})
      }
    }
  }
  const guestVlan = port ? portVlan(port) : null
  const uplinks = onBridge ? uplinkPorts(onBridge, runningTaps(ctx)).map((u) => ({name: u.name, tag: u.tag, trunks: u.trunks, carries: portCarries(u, guestVlan) ?? null, vlans: portVlans(u), trunk: portTrunks(u)})) : []
  const vlanLeaves = uplinks.length === 0 || uplinks.some((u) => u.carries === true) ? true : uplinks.some((u) => u.carries === null) ? null : false
  const attributes: InterfaceOvsAttributes = {
    ovs: isOvs,
    ovsState: !isOvs || !ovs ? null : ovs.running ? 'running' : ovs.installed ? 'not-running' : 'not-installed',
    ovsReason: isOvs && ovs && !ovs.running ? (ovs.reason ?? null) : null,
    ovsBridgeExists: !isOvs || !ovs ? null : bridge !== undefined,
    ovsPortOn: onBridge?.name ?? null,
    ovsTag: guestVlan,
    ovsInterfaceError: iface?.error ?? null,
    ovsOfport: iface?.ofport ?? null,
    ovsLinkState: iface?.linkState ?? null,
    ovsAdminState: iface?.adminState ?? null,
    ovsInterfaceId: i.virtualport?.interfaceId ?? null,
    libvirtVlanTags: i.vlanTags ?? [],
    ovsUplinks: uplinks,
    ovsVlanLeaves: vlanLeaves,
    bandwidthInbound: i.bandwidth?.inbound ?? null,
    bandwidthOutbound: i.bandwidth?.outbound ?? null,
    tapShaping: shaping,
    tapDropsGrowing: tc && i.target && tcFacts?.dropsLaterUnread === undefined ? dropsGrowing(tc, i.target) : null,
  }
  const dropsUnknown = tc && i.target && tcFacts?.dropsLaterUnread !== undefined ? {tapDropsGrowing: `whether a drop counter grows needs two reads of the qdiscs: ${tcFacts.dropsLaterUnread}`} : undefined
  if (isOvs && !ovs) return {...attributes, unknownBecause: {ovsState: unknownBecause!, ovsBridgeExists: unknownBecause!, ...dropsUnknown}}
  if (vlanLeaves === null) return {...attributes, unknownBecause: {...dropsUnknown, ovsVlanLeaves: `whether the uplinks (${uplinks.filter((u) => u.carries === null).map((u) => `${u.name}: ${u.vlans}`).join('; ')}) carry VLAN ${guestVlan ?? 'none'} depends on their vlan_mode, not read (${ovs?.showOnly ?? 'unknown'})`}}
  return dropsUnknown ? {...attributes, unknownBecause: dropsUnknown} : attributes
}
