/**
 * Published ports: what the host means to make reachable from outside, and where each one leads.
 * Found three ways: the ruleset's DNATs (iptables, nft with maps, a firewall manager's forward-ports
 * as they stand in the ruleset), libvirt hook scripts' forwards (read, never run), and `--publish
 * GUEST:PORT/PROTO` for a service the user expects. The same forward found several ways is one,
 * with each source; a hook's forward the ruleset lacks is kept (its rules are lost). Each target is
 * resolved to the running guest holding that address now, or, when none does, to the guest whose
 * MAC the host last saw there. Whether packets really reach it is the flows' question.
 */
import type {HookFacts} from '../../probes/libvirt-hooks.js'
import {type ForwardIntent, type RuleForward, rulesetForwards} from '../../probes/netfilter/forwards.js'
import {formatIp, parseIp} from '../lib/addr.js'
import type {NfRuleset} from '../lib/netfilter.js'

export interface PublishRequest {
  guest: string
  port: number
  proto: 'tcp' | 'udp'
}

export type ForwardSource =
  | {kind: 'rule'; rule: RuleForward['rule']; hook: RuleForward['hook']}
  | {kind: 'hook'; path: string; at: string; object?: string}
  | {kind: 'publish'; guest: string}

/** A guest interface as the forwards see it. */
export interface GuestRef {
  name: string
  iface: string
  mac?: string
}

export interface Forward {
  /** Stable: "tcp 8080 -> 192.168.122.10:80" (with the host address when the forward names one). */
  id: string
  proto: 'tcp' | 'udp'
  port: number
  hostAddress?: string
  inDevice?: string
  target: {addr: string; port: number}
  /** A DNAT to an address range: its last address (target.addr is its first); the kernel gives each client one of them. */
  targetEnd?: string
  /** A range's forward led to one of its addresses (rangeMembers): that address's index, the walk's pick. */
  member?: number
  /** No translation: the outside reaches the guest's own address (a routed or open network). */
  direct?: boolean
  sources: ForwardSource[]
  /** The running guest whose current address is the target. */
  guest?: GuestRef
  /** No running guest holds the target: the guest whose MAC the host last saw at it, and its address now. */
  formerHolder?: GuestRef & {now?: string}
  /** No running guest is known to hold the target: those on its network whose address no source reports (it may be theirs). */
  maybeHolders?: GuestRef[]
  /** The host address the hairpin flows connect to (the forward's own, else its in-device's), once they are followed. */
  hairpinAddress?: string
}

/** What the forwards ask of the host's view of its guests. */
export interface GuestBook {
  /** The running guest interface whose current IPv4 address this is. */
  holderOf(addr: string): GuestRef | undefined
  /** Running guest interfaces that claimed this address by some source (a neighbour entry, a lease) and hold another now. */
  formerHolderOf(addr: string): (GuestRef & {now?: string}) | undefined
  /** Running guest interfaces on a libvirt network whose subnet holds this address, whose own address no source reports. */
  unaddressedOn(addr: string): GuestRef[]
  /** A running guest: its (first) interface on a network, that interface's current address when one is known, and whether its network routes it untranslated. */
  running(guest: string): (GuestRef & {addr?: string; routed: boolean}) | undefined
}

/** What a forward no running guest holds points at, in words: its address, or the guest --publish named whose address is not known. */
export function unheldTarget(f: Pick<Forward, 'target' | 'sources'>): string {
  if (f.target.addr !== 'unknown') return `${f.target.addr} (no guest holds it)`
  const named = f.sources.find((s) => s.kind === 'publish')
  return named?.kind === 'publish' ? `${named.guest} (its address is not known)` : 'an address not known'
}

const idOf = (f: Pick<Forward, 'proto' | 'port' | 'hostAddress' | 'target' | 'direct'>) =>
  f.direct ? `${f.proto} ${f.target.addr}:${f.target.port} (routed)` : `${f.proto} ${f.hostAddress ? `${f.hostAddress}:` : ''}${f.port} -> ${f.target.addr}:${f.target.port}`

/** The forwards of the ruleset, the hooks and the user's --publish, merged and resolved to guests. */
export function collectForwards(rs: NfRuleset, hooks: HookFacts | null | undefined, publish: PublishRequest[], guests: GuestBook): Forward[] {
  const byKey = new Map<string, Forward>()
  const keyOf = (f: ForwardIntent) => `${f.proto} ${f.port} ${f.target.addr}:${f.target.port}`
  const add = (intent: ForwardIntent, source: ForwardSource, prefer: boolean) => {
    const key = keyOf(intent)
    const seen = byKey.get(key)
    if (seen) {
      seen.sources.push(source)
      // The arriving packets' rule (prerouting) says where the outside comes from; the host's own (output) only fills gaps.
      if (prefer) {
        if (intent.hostAddress) seen.hostAddress = intent.hostAddress
        if (intent.inDevice) seen.inDevice = intent.inDevice
      }
      return
    }
    byKey.set(key, {id: '', proto: intent.proto, port: intent.port, ...(intent.hostAddress ? {hostAddress: intent.hostAddress} : {}), ...(intent.inDevice ? {inDevice: intent.inDevice} : {}), target: intent.target, ...(intent.targetEnd ? {targetEnd: intent.targetEnd} : {}), sources: [source]})
  }
  const fromRules = rulesetForwards(rs).sort((a, b) => (a.hook === b.hook ? 0 : a.hook === 'prerouting' ? -1 : 1))
  for (const f of fromRules) add(f, {kind: 'rule', rule: f.rule, hook: f.hook}, f.hook === 'prerouting')
  for (const script of hooks?.scripts ?? []) {
    for (const f of script.forwards) add(f, {kind: 'hook', path: script.path, at: f.at, ...(f.object ? {object: f.object} : {})}, false)
  }
  for (const p of publish) {
    const own = guests.running(p.guest)
    const match = [...byKey.values()].find((f) => own?.addr && f.proto === p.proto && f.target.addr === own.addr && f.target.port === p.port)
    if (match) {
      match.sources.push({kind: 'publish', guest: p.guest})
      continue
    }
    // A routed guest is reached at its own address; a NAT guest needs a forward, which nothing makes yet.
    const f: Forward = {id: '', proto: p.proto, port: p.port, target: {addr: own?.addr ?? 'unknown', port: p.port}, sources: [{kind: 'publish', guest: p.guest}], ...(own?.routed && own.addr ? {direct: true, hostAddress: own.addr} : {})}
    byKey.set(`publish ${p.guest} ${p.proto} ${p.port}`, f)
  }
  const out = [...byKey.values()]
  for (const f of out) {
    f.id = idOf(f)
    resolveTarget(f, guests)
  }
  return out.sort((a, b) => a.id.localeCompare(b.id))
}

/** The guest a forward leads to: the running one holding its target now, else the one the user named; else its former holder and the running guests of no known address that might hold it. */
function resolveTarget(f: Forward, guests: GuestBook): void {
  const publishedFor = f.sources.find((s): s is Extract<ForwardSource, {kind: 'publish'}> => s.kind === 'publish')?.guest
  const holder = f.target.addr === 'unknown' ? undefined : guests.holderOf(f.target.addr)
  if (holder) f.guest = holder
  else if (publishedFor && f.target.addr === 'unknown') {
    // The guest the user named, whose address nothing reports (or that does not run: no guest).
    const named = guests.running(publishedFor)
    if (named) f.guest = {name: named.name, iface: named.iface, ...(named.mac ? {mac: named.mac} : {})}
  } else if (f.target.addr !== 'unknown') {
    const former = guests.formerHolderOf(f.target.addr)
    if (former) f.formerHolder = former
    const maybe = guests.unaddressedOn(f.target.addr)
    if (maybe.length > 0) f.maybeHolders = maybe
  }
}

/** More addresses of a DNAT range than this are not each followed. */
export const MAX_RANGE_MEMBERS = 64

/**
 * A forward to a DNAT address range, once per address (the kernel gives each client one): the same forward led to
 * that address and its guest. Undefined past MAX_RANGE_MEMBERS addresses.
 */
export function rangeMembers(f: Forward, guests: GuestBook): Forward[] | undefined {
  const lo = parseIp(f.target.addr)
  const hi = f.targetEnd ? parseIp(f.targetEnd) : undefined
  if (!lo || !hi || lo.family !== hi.family || hi.value < lo.value) return [f]
  if (hi.value - lo.value >= BigInt(MAX_RANGE_MEMBERS)) return undefined
  return Array.from({length: Number(hi.value - lo.value) + 1}, (_, k) => {
    if (k === 0) return f
    const {guest: _guest, formerHolder: _former, maybeHolders: _maybe, ...rest} = f
    const member: Forward = {...rest, target: {...f.target, addr: formatIp(lo.family, lo.value + BigInt(k))}, member: k}
    resolveTarget(member, guests)
    return member
  })
}
