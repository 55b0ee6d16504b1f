/** Where a traced packet goes: "203.0.113.10", "203.0.113.10:80", "203.0.113.10:53/udp", "203.0.113.10/icmp". */
import {parseIp} from '../lib/addr.js'
import type {Destination} from './flows.js'

export function parseDestination(text: string): Destination | string {
  const m = /^(\[[^\]]+\]|[^:/]+|[0-9a-f:]+?)(?::(\d{1,5}))?(?:\/(tcp|udp|icmp))?$/i.exec(text.trim())
  const addr = m?.[1]?.replace(/^\[|\]$/g, '')
  if (!m || !addr || !parseIp(addr) || parseIp(addr)!.family !== 4) return `"${text}" is not ADDR[:PORT][/tcp|udp|icmp] with an IPv4 address`
  const proto = (m[3]?.toLowerCase() ?? 'tcp') as Destination['proto']
  const port = m[2] !== undefined ? Number(m[2]) : undefined
  if (port !== undefined && (port < 1 || port > 65535)) return `port ${port} is out of range`
  if (proto === 'icmp' && port !== undefined) return 'icmp has no port'
  return {addr, proto, ...(proto === 'icmp' ? {} : {port: port ?? (proto === 'udp' ? 53 : 443)})}
}
