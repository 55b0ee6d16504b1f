/**
 * The kernel's IPsec policy check (xfrm): after routing, a forwarded packet meets the fwd policies and then the
 * out ones (ip_forward: xfrm4_policy_check, xfrm4_route_forward), a packet the host sends the out ones (at its
 * route lookup, and again after source NAT), one delivered to the host the in ones (at its socket). The matching
 * policy of the lowest priority number decides: block drops; allow without templates passes; allow with templates
 * encrypts or tunnels it (out: to the far end, beyond this host), or, for in and fwd, lets through only what arrived
 * so (a plain packet fails a required template). No policy matching: the default (accept unless set to block).
 */
import type {XfrmFacts, XfrmPolicy} from '../../probes/xfrm.js'
import {ipInPrefix} from '../lib/addr.js'
import type {Hop} from './flows.js'
import type {NfPacket} from './netfilter/packet.js'
import {protoNumber} from './netfilter/packet.js'

type Match = 'yes' | 'no' | 'maybe'

function selectorMatch(pol: XfrmPolicy, p: NfPacket, dev: string | undefined): Match {
  if (pol.family !== p.family) return 'no'
  // An xfrm interface's policy is met only by packets routed into it (if_id): never by a route to another device.
  if (pol.ifId) return 'no'
  let maybe = false
  for (const [addr, prefix] of [
    [p.src, pol.src],
    [p.dst, pol.dst],
  ]) {
    if (prefix.endsWith('/0')) continue
    if (addr === 'unknown') maybe = true
    else if (!ipInPrefix(addr, prefix)) return 'no'
  }
  if (pol.proto !== undefined) {
    if (protoNumber(pol.proto) !== protoNumber(p.l4proto)) return 'no'
    const fields: [number | undefined, number | undefined][] = [
      [pol.sport, p.sport],
      [pol.dport, p.dport],
      [pol.icmpType, p.icmpType],
      [pol.icmpCode, p.icmpCode],
    ]
    for (const [want, has] of fields) {
      if (want === undefined) continue
      if (has === undefined) maybe = true
      else if (want !== has) return 'no'
    }
  }
  if (pol.mark) {
    if (p.mark === 'unknown') maybe = true
    else if ((p.mark & pol.mark.mask) >>> 0 !== pol.mark.value >>> 0) return 'no'
  }
  if (pol.dev !== undefined && pol.dev !== dev) maybe = true
  // A sub policy is looked up before the main ones, where the kernel has them (CONFIG_XFRM_SUB_POLICY): not followed.
  return maybe || pol.ptype === 'sub' ? 'maybe' : 'yes'
}

/** `fromGuest`: the packet came from a guest's bridge, in clear (a guest does not speak IPsec to its host). */
function outcome(pol: XfrmPolicy, fromGuest: boolean): Hop['verdict'] {
  if (pol.action === 'block') return 'fail'
  if (pol.templates.length === 0) return 'pass'
  // Sent out transformed: where it goes from the tunnel's far end is not this host's to show.
  if (pol.dir === 'out') return 'indeterminate'
  if (pol.templates.every((t) => t.optional)) return 'pass'
  // A required template passes what the host decrypted: a reply from beyond may well have come through the tunnel.
  return fromGuest ? 'fail' : 'indeterminate'
}

const why = (pol: XfrmPolicy, verdict: Hop['verdict']): string =>
  pol.action === 'block'
    ? 'drops it (action block)'
    : pol.dir === 'out' && verdict === 'indeterminate'
      ? `sends it through IPsec (${pol.templates.map((t) => `${t.proto} ${t.mode} to ${t.dst}`).join(', ')}): whether it arrives is decided beyond this host`
      : verdict === 'pass'
        ? 'lets it through'
        : `lets through only packets that arrived through IPsec (a required template): ${verdict === 'fail' ? 'what a guest sends in clear is dropped' : 'whether this one came through the tunnel is decided beyond this host'}`

/**
 * The IPsec hop of one direction for a packet (its devices: `dev` the one routed out of, for out and fwd, else the
 * one it came in by); undefined when no policy or default touches it (the usual host: none at all).
 */
export function xfrmHop(facts: XfrmFacts | undefined, unread: string | undefined, dir: XfrmPolicy['dir'], p: NfPacket, dev: string | undefined, fromGuest: boolean): Hop | undefined {
  const name = `IPsec policy ${dir}`
  if (unread !== undefined) return {name, verdict: 'indeterminate', detail: `the IPsec policies could not be read (${unread}): whether one drops or captures the packet is not known`}
  if (!facts) return undefined
  let decider: XfrmPolicy | undefined
  const undecided: XfrmPolicy[] = []
  // Lowest priority number first; among equals the kernel's order is not the listing's: an equal with another outcome is undecided.
  for (const pol of facts.policies) {
    if (pol.dir !== dir) continue
    const m = selectorMatch(pol, p, dev)
    if (m === 'no') continue
    if (m === 'maybe') undecided.push(pol)
    else if (!decider || pol.priority < decider.priority) decider = pol
  }
  // No policy decides and the default could not be read: a default of block would drop it.
  const defaultUnknown = !decider && facts.defaultsUnread !== undefined
  const verdict = decider ? outcome(decider, fromGuest) : defaultUnknown ? 'indeterminate' : facts.defaults?.[dir] === 'block' ? 'fail' : 'pass'
  const rivals = undecided.filter((u) => (!decider || u.priority <= decider.priority) && outcome(u, fromGuest) !== verdict)
  const holder = decider ?? rivals[0]
  const element = (pol: XfrmPolicy) => ({id: `xfrm-policy:${pol.text}`, kind: 'xfrm-policy' as const, text: `ip xfrm policy ${pol.text}`, device: pol.dev})
  if (rivals.length > 0) {
    const named = rivals.map((r) => `ip xfrm policy ${r.text}`).join('; ')
    return {name, verdict: 'indeterminate', detail: `${named} may match the packet (a field it selects on is not known, or a sub policy): ${why(rivals[0], outcome(rivals[0], fromGuest))}`, element: element(holder!)}
  }
  if (defaultUnknown) return {name, verdict, detail: `no IPsec policy matches the packet, and the ${dir} default could not be read (${facts.defaultsUnread}): a default of block drops it`}
  if (!decider) return verdict === 'fail' ? {name, verdict, detail: `no IPsec policy matches and the ${dir} default is block: the packet is dropped`, element: {id: `xfrm-default:${dir}`, kind: 'xfrm-policy', text: `ip xfrm policy setdefault ${dir} block`}} : undefined
  const detail = `ip xfrm policy ${decider.text} (priority ${decider.priority}) ${why(decider, verdict)}`
  return verdict === 'pass' ? {name, verdict, detail} : {name, verdict, detail, element: element(decider)}
}

/**
 * Whether a device's disable_policy (noPolicy) or disable_xfrm (noXfrm), or `all`'s, spares a packet the kernel's
 * check: undefined when a setting that could was not read (no `bypass` at all: the recording predates the read).
 */
export function xfrmExempt(bypass: XfrmFacts['bypass'], key: 'noPolicy' | 'noXfrm', dev: string | undefined): boolean | undefined {
  if (!bypass) return undefined
  const all = bypass.all?.[key]
  const own = dev === undefined ? 0 : bypass[dev]?.[key]
  if (all === 1 || own === 1) return true
  return all === undefined || own === undefined ? undefined : false
}
