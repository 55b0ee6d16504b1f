import type {AddressSeen, IpInventory} from '../src/core/ip-service.js'

const addresses = (list: AddressSeen[]) => (list.length === 0 ? '-' : list.map((a) => `${a.ip} (${a.sources.join('+')})`).join(', '))

/** A plain aligned table: one row per guest interface. */
export function renderIpTable(inv: IpInventory): string {
  const header = ['DOMAIN', 'STATE', 'IFACE', 'MAC', 'NETWORK', 'IPV4', 'IPV6', 'LEASE ENDS', 'VERDICT']
  const rows = inv.rows.map((r) => [
    r.domain,
    r.state,
    r.interface ?? '-',
    r.mac ?? '-',
    r.network ?? '-',
    addresses(r.ipv4),
    addresses(r.ipv6),
    r.leaseExpiry ? r.leaseExpiry.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-',
    r.verdict + (r.conflictsWith.length > 0 ? ` with ${r.conflictsWith.join(', ')}` : ''),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ')
  const unavailable = inv.probes.filter((p) => !p.ok && !p.skipped)
  const notes = unavailable.map((p) => `note: ${p.id} unavailable (${p.error}): addresses from it are missing`)
  const arpSkipped = inv.probes.some((p) => p.id === 'arp-scan' && p.skipped)
  if (arpSkipped && inv.rows.some((r) => r.type !== 'network' && r.verdict === 'no address')) {
    notes.push('note: bridged guests have no lease on this host; kvmdoctor ip --active arp-scans their bridges to find them')
  }
  return [line(header), ...rows.map(line), ...(rows.length === 0 ? ['(no guests defined)'] : []), ...notes].join('\n')
}
