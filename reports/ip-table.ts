import {type AddressSeen, type IpInventory, type IpRow, type Verdict, unreadSources} from '../src/result/ip.js'
import {renderTable} from './layout.js'
import {wrapLine} from './layout.js'
import {PLAIN, type Style} from './style.js'

const addresses = (list: AddressSeen[]) => (list.length === 0 ? '-' : list.map((a) => `${a.ip} (${a.sources.join('+')})`).join(', '))
const HEALTH: Record<Verdict, 'ok' | 'warn' | 'fail' | 'off'> = {
  ok: 'ok',
  'no address': 'warn',
  unknown: 'warn',
  stale: 'warn',
  silent: 'warn',
  APIPA: 'fail',
  'foreign address': 'fail',
  'DHCP unanswered': 'fail',
  'gateway unanswered': 'fail',
  'wrong netmask': 'warn',
  conflict: 'fail',
  'shut off': 'off',
}

/**
 * One row per guest interface, fitted to `width`: the least telling columns go
 * first (IPV6, STATE, LEASE ENDS, IFACE, NETWORK, MAC), addresses fold; `wide`
 * keeps them all. Infinity (pipes) keeps every column whole.
 */
export function renderIpTable(inv: IpInventory, options: {width?: number; wide?: boolean; style?: Style} = {}): string {
  const style = options.style ?? PLAIN
  const width = options.width ?? Number.POSITIVE_INFINITY
  const columns = [
    {header: 'DOMAIN', priority: 1, min: 12},
    {header: 'STATE', priority: 6},
    {header: 'IFACE', priority: 4},
    {header: 'MAC', priority: 2},
    {header: 'NETWORK', priority: 3},
    {header: 'IPV4', priority: 1, min: 18},
    {header: 'IPV6', priority: 7, min: 20},
    {header: 'LEASE ENDS', priority: 5},
    {header: 'VERDICT', priority: 1, min: 10},
  ]
  const rows = inv.rows.map((r) => [
    r.domain,
    r.state,
    r.interface ?? '-',
    r.mac ?? '-',
    r.network ?? '-',
    addresses(r.ipv4),
    addresses(r.ipv6),
    r.leaseExpiry ? r.leaseExpiry.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-',
    style.health(HEALTH[r.verdict], r.verdict + verdictDetail(r)),
  ])
  const table = renderTable(columns, rows, {width, wide: options.wide, style})
  const unavailable = inv.probes.filter((p) => !p.ok && !p.skipped)
  const notes = [
    ...unavailable.map((p) => `note: ${p.id} unavailable (${p.error}): addresses from it are missing`),
    ...unreadSources(inv).flatMap((u) => (u.degraded !== undefined ? [`note: ${u.id} read in part (${u.degraded}): addresses from the rest are missing`] : [])),
  ]
  const arpSkipped = inv.probes.some((p) => p.id === 'arp-scan' && p.skipped)
  if (arpSkipped && inv.rows.some((r) => r.type !== 'network' && r.verdict === 'no address')) {
    notes.push('note: bridged guests have no lease on this host; kvmdoctor ip --active arp-scans their bridges to find them')
  }
  for (const r of inv.rows) {
    if (!r.wire || r.wire.rogueServers.length === 0) continue
    // Where the own server is not known (a bridged LAN), two answering is the fault and either may be the stranger.
    const whose = r.wire.ownDhcpServers?.length ? `not from its network's own server (${r.wire.ownDhcpServers.join(', ')})` : "more than one server on its LAN, and this host cannot know which is the LAN's own"
    notes.push(`note: ${r.domain} got DHCP answers from ${r.wire.rogueServers.join(', ')}: ${whose} (kvmdoctor diagnose --listen)`)
  }
  for (const r of inv.rows) notes.push(...requestNotes(r))
  if (table.hidden.length > 0) notes.push(`note: ${table.hidden.join(', ')} left out to fit ${width} columns; --wide shows every column`)
  return [...table.lines, ...(rows.length === 0 ? ['(no guests defined)'] : []), ...notes.flatMap((n) => wrapLine({label: 'note: ', text: n.slice('note: '.length)}, width))].join('\n')
}

/** What backs a verdict, in a few words: who else claims the address, what the wire heard. */
function verdictDetail(r: IpRow): string {
  if (r.conflictsWith.length > 0) return ` with ${r.conflictsWith.join(', ')}`
  if (!r.wire) return ''
  if (r.verdict === 'silent') return ` (not a frame in ${r.wire.seconds} s)`
  if (r.verdict === 'foreign address') return ` (${r.wire.foreign.join(', ')})`
  if (r.verdict === 'DHCP unanswered') return ` (${r.wire.dhcp.discovers} DISCOVERs in ${r.wire.seconds} s, no OFFER)`
  const q = r.wire.requests
  const gateways = q.gateways.length > 0 ? `; its network's: ${q.gateways.join(', ')}` : ''
  if (r.verdict === 'gateway unanswered') return ` (${q.gatewayUnanswered.map((g) => g.split(' ')[0]).join(', ')}: nobody answers${gateways})`
  if (r.verdict === 'wrong netmask') {
    const what = [...(q.offSubnetAsked.length > 0 ? [`ARPs for ${q.offSubnetAsked.join(', ')} beyond its subnet`] : []), ...(q.onSubnetViaGateway.length > 0 ? [`sends ${q.onSubnetViaGateway.join(', ')} on its subnet to the gateway`] : [])]
    return ` (${what.join('; ')})`
  }
  return ''
}

/** What the wire heard a guest ask for that nobody answered, beyond its own verdict: a line each. */
function requestNotes(r: IpRow): string[] {
  const q = r.wire?.requests
  if (!q) return []
  const dns = q.dnsServers.length > 0 ? ` (its network's: ${q.dnsServers.join(', ')})` : ''
  return [
    ...q.dnsUnanswered.map((d) => `note: ${r.domain} asks DNS server ${d}${dns}`),
    ...q.dhcpForeign.map((d) => `note: ${r.domain} asks DHCP to keep ${d}: an address of another network`),
    ...q.dadFailed.map((d) => `note: ${r.domain} cannot take IPv6 address ${d}: duplicate address detection failed`),
    ...q.answersForOthers.map((a) => `note: ${r.domain} answers ARP for ${a}, not its own`),
  ]
}
