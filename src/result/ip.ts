/** `kvmdoctor ip`'s answer: every guest interface with its addresses and a verdict. */
import type {RequestLabels} from '../derive/wire-requests.js'
import type {ProbeStatus} from './diagnosis.js'

export type Verdict = 'ok' | 'no address' | 'unknown' | 'APIPA' | 'foreign address' | 'conflict' | 'silent' | 'DHCP unanswered' | 'gateway unanswered' | 'wrong netmask' | 'stale' | 'shut off'

/** What the guest did on the wire during --listen: null when it was not listened to. */
export interface WireRow {
  seconds: number
  /** Frames the guest sent. */
  sent: number
  silent: boolean
  dhcp: {discovers: number; requests: number; answers: string[]; unanswered: boolean}
  foreign: string[]
  rogueServers: string[]
  /** Its network's own DHCP servers; null where this host cannot know them (a bridged LAN, a network without DHCP). */
  ownDhcpServers: string[] | null
  ipv6LinkLocal: string[]
  capped: boolean
  /** What it asked for on the wire and who answered: its gateway, neighbours, DNS servers, DHCP, IPv6 DAD, ARP it answers. */
  requests: RequestLabels
}

export interface AddressSeen {
  ip: string
  sources: string[]
}

export interface IpRow {
  domain: string
  state: string
  interface: string | null
  mac: string | null
  /** libvirt network name, or the bridge / host device for bridge and direct interfaces. */
  network: string | null
  type: string
  ipv4: AddressSeen[]
  ipv6: AddressSeen[]
  /** ISO time the DHCP lease ends; null: no lease, or one that never expires. */
  leaseExpiry: string | null
  verdict: Verdict
  /** For conflicts: the other MACs (and their guests) claiming the same address. */
  conflictsWith: string[]
  wire: WireRow | null
}

export interface IpInventory {
  host: string
  capturedAt: string
  rows: IpRow[]
  probes: ProbeStatus[]
}

/**
 * The sources of addresses that could not be read whole: `error` when unavailable, `degraded` when read in part. What
 * they would have shown (a lease, a conflict, a stale address) is not seen, so no row is proven by them. Skipped by
 * design (arp-scan without --active, the wire without --listen) is not unread; nor is the host's name.
 */
export function unreadSources(inventory: Pick<IpInventory, 'probes'>): {id: string; error?: string; degraded?: string[]}[] {
  return inventory.probes.flatMap((p): {id: string; error?: string; degraded?: string[]}[] => (p.id === 'host' ? [] : !p.ok && !p.skipped ? [{id: p.id, error: p.error ?? 'unavailable'}] : p.ok && p.degraded ? [{id: p.id, degraded: p.degraded}] : []))
}
