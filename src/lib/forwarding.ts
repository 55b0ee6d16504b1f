import {deviceKey} from './sysctl-key.js'
/**
 * Whether a host enables IPv4 forwarding per device: ip_forward = 0 with some device's own net.ipv4.conf.DEV.forwarding
 * = 1 (all and default aside). The kernel asks the device a packet arrives by, and writing ip_forward sets every
 * device's key, so a hardened host sets it back on the few that should route (lab: ip-forward-per-device).
 */
export const forwardsIpv4PerDevice = (values: Readonly<Record<string, number | null>>): boolean => forwardsPerDevice(values, 'net.ipv4.ip_forward', 'ipv4', 'forwarding')

/** Whether a host forwards IPv6 per device: net.ipv6.conf.all.forwarding = 0 with some device's force_forwarding = 1. */
export const forwardsIpv6PerDevice = (values: Readonly<Record<string, number | null>>): boolean => forwardsPerDevice(values, 'net.ipv6.conf.all.forwarding', 'ipv6', 'force_forwarding')

/** GLOBAL at 0 while some device's own net.FAMILY.conf.DEV.KEY is 1 (all and default aside). */
function forwardsPerDevice(values: Readonly<Record<string, number | null>>, global: string, family: 'ipv4' | 'ipv6', key: string): boolean {
  const prefix = `net.${family}.conf.`
  const suffix = `.${key}`
  return values[global] === 0 && Object.entries(values).some(([k, v]) => v === 1 && k.startsWith(prefix) && k.endsWith(suffix) && k.length > prefix.length + suffix.length && !k.startsWith(`${prefix}all.`) && !k.startsWith(`${prefix}default.`))
}

/**
 * Whether the kernel forwards IPv6 arriving on `iif` (ip6_forward): net.ipv6.conf.all.forwarding, or else the arriving
 * device's force_forwarding (Linux 6.17 on). A device's own forwarding key does not forward: it only makes the device act
 * as a host or a router (RAs). `key`: the sysctl that decided, or could not be read (undefined: not read; null: the kernel
 * or the device has none, which forwards nothing).
 */
export function ipv6Forwarding(values: Readonly<Record<string, number | null | undefined>>, iif: string): {forwards: boolean | 'unknown'; key: string; value?: number} {
  const key = 'net.ipv6.conf.all.forwarding'
  const all = values[key]
  if (all === undefined || all === null) return {forwards: 'unknown', key}
  if (all !== 0) return {forwards: true, key, value: all}
  const forceKey = deviceKey('ipv6', iif, 'force_forwarding')
  const force = values[forceKey]
  if (force === undefined) return {forwards: 'unknown', key: forceKey}
  return force ? {forwards: true, key: forceKey, value: force} : {forwards: false, key, value: 0}
}
