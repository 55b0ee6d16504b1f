/**
 * Whether a host enables IPv4 forwarding per device: ip_forward = 0 with some device's own net.ipv4.conf.DEV.forwarding
 * = 1 (all and default aside). The kernel asks the device a packet arrives by, and writing ip_forward sets every
 * device's key, so a hardened host sets it back on the few that should route (lab: ip-forward-per-device).
 */
export const forwardsIpv4PerDevice = (values: Readonly<Record<string, number | null>>): boolean =>
  values['net.ipv4.ip_forward'] === 0 &&
  Object.entries(values).some(([k, v]) => v === 1 && /^net\.ipv4\.conf\..+\.forwarding$/.test(k) && !/^net\.ipv4\.conf\.(all|default)\./.test(k))

/** Whether a host forwards IPv6 per device: net.ipv6.conf.all.forwarding = 0 with some device's force_forwarding = 1. */
export const forwardsIpv6PerDevice = (values: Readonly<Record<string, number | null>>): boolean =>
  values['net.ipv6.conf.all.forwarding'] === 0 && Object.entries(values).some(([k, v]) => v === 1 && /^net\.ipv6\.conf\..+\.force_forwarding$/.test(k) && !/^net\.ipv6\.conf\.(all|default)\./.test(k))

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
  const forceKey = `net.ipv6.conf.${iif}.force_forwarding`
  const force = values[forceKey]
  if (force === undefined) return {forwards: 'unknown', key: forceKey}
  return force ? {forwards: true, key: forceKey, value: force} : {forwards: false, key, value: 0}
}
