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

/** `--publish GUEST:PORT/PROTO`: a service the user expects a guest to offer from outside. */
export function parsePublish(text: string): {guest: string; port: number; proto: 'tcp' | 'udp'} | string {
  // The guest's name may hold colons: the port is after the last one.
  const m = /^(.+):(\d{1,5})\/(tcp|udp)$/i.exec(text.trim())
  if (!m) return `"${text}" is not GUEST:PORT/tcp|udp`
  const port = Number(m[2])
  if (port < 1 || port > 65535) return `port ${port} is out of range`
  return {guest: m[1], port, proto: m[3].toLowerCase() as 'tcp' | 'udp'}
}

/** `--inbound [HOST_ADDR:]PORT/PROTO`: a published port, optionally at one of the host's addresses. */
export function parseInbound(text: string): {port: number; proto: 'tcp' | 'udp'; hostAddress?: string} | string {
  const m = /^(?:([0-9.]+):)?(\d{1,5})\/(tcp|udp)$/i.exec(text.trim())
  if (!m) return `"${text}" is not [HOST_ADDR:]PORT/tcp|udp`
  if (m[1] !== undefined && parseIp(m[1])?.family !== 4) return `"${m[1]}" is not an IPv4 address`
  const port = Number(m[2])
  if (port < 1 || port > 65535) return `port ${port} is out of range`
  return {port, proto: m[3].toLowerCase() as 'tcp' | 'udp', ...(m[1] !== undefined ? {hostAddress: m[1]} : {})}
}
