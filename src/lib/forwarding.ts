/**
 * Whether a host enables IPv4 forwarding per device: ip_forward = 0 with some device's own net.ipv4.conf.DEV.forwarding
 * = 1 (all and default aside). The kernel asks the device a packet arrives by, and writing ip_forward sets every
 * device's key, so a hardened host sets it back on the few that should route (lab: ip-forward-per-device).
 */
export const forwardsIpv4PerDevice = (values: Readonly<Record<string, number | null>>): boolean =>
  values['net.ipv4.ip_forward'] === 0 &&
  Object.entries(values).some(([k, v]) => v === 1 && /^net\.ipv4\.conf\..+\.forwarding$/.test(k) && !/^net\.ipv4\.conf\.(all|default)\./.test(k))
