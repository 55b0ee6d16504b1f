/** What the DHCP pool rules share: a lease as people read it, and a range widened to twice its size. */
import {intToIpv4, ipv4ToInt, parseCidr} from '../src/lib/ipv4.js'
import type {NetworkView} from '../src/derive/index.js'
import {type Steps, cmd} from './kit.js'

export const leaseText = (l: NetworkView['staleLeases'][number]) => `${l.ip} ${l.mac}${l.hostname ? ` (${l.hostname})` : ''}`

/**
 * The first DHCP range at twice its size: grown upwards, else downwards, within the subnet,
 * never over the gateway, the network or broadcast address, or an address in use.
 * null when it cannot grow at all (the subnet itself is too small).
 */
export function widenedRange(n: Pick<NetworkView, 'subnet' | 'gateway' | 'dhcpRangeList' | 'addressesInSubnet'>): {from: string; to: string} | null {
  const subnet = n.subnet ? parseCidr(n.subnet) : undefined
  const r = n.dhcpRangeList[0]
  const start = r ? ipv4ToInt(r.start) : undefined
  const end = r ? ipv4ToInt(r.end) : undefined
  if (!subnet || !n.gateway || start === undefined || end === undefined || end < start) return null
  const inUse = new Set(n.addressesInSubnet)
  const first = subnet.network + 1
  const last = subnet.network + 2 ** (32 - subnet.prefix) - 2
  const gateway = ipv4ToInt(n.gateway)
  const blocked = (x: number) => x === gateway || inUse.has(intToIpv4(x))
  let grow = end - start + 1
  let newEnd = end
  while (grow > 0 && newEnd + 1 <= last && !blocked(newEnd + 1)) newEnd++, grow--
  let newStart = start
  while (grow > 0 && newStart - 1 >= first && !blocked(newStart - 1)) newStart--, grow--
  if (newStart === start && newEnd === end) return null
  return {from: `<range start='${r.start}' end='${r.end}'/>`, to: `<range start='${intToIpv4(newStart)}' end='${intToIpv4(newEnd)}'/>`}
}

/**
 * Widening a DHCP range: libvirt cannot modify a range in place ("dhcp ranges cannot be modified,
 * only added or deleted"), so the wider one is added, then the old one (inside it) deleted: should
 * either step be refused, the network still serves its old range (deleted first, a refused add left
 * every guest of the network without DHCP). No command when the subnet leaves no room to grow.
 */
export function widenRange(n: Pick<NetworkView, 'name' | 'subnet' | 'gateway' | 'dhcpRangeList' | 'addressesInSubnet'>): Steps[] {
  const w = widenedRange(n)
  if (!w) return []
  return [cmd`virsh net-update ${n.name} add ip-dhcp-range ${w.to} --live --config`, cmd`virsh net-update ${n.name} delete ip-dhcp-range ${w.from} --live --config`]
}
