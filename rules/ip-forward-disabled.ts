import type {HostView} from '../src/derive/index.js'
import {appendLines, cmd, defineRule, line, probes, SYSCTL_DROP_IN, text} from './kit.js'

/** The sysctls that turn forwarding off: the host-wide IPv4 one, a device's own, IPv6's. */
const FORWARDING = /(^net\.ipv4\.ip_forward|\.forwarding|\.force_forwarding)$/

export default defineRule<HostView>({
  id: 'ip-forward-disabled',
  kind: 'host',
  severity: 'critical',
  needs: [probes.sysctl, probes.libvirt],
  known: ['ipForward'],
  appliesTo: (h) => h.routedNetworks.length > 0,
  // ip_forward = 0 with the routed bridges' own forwarding set back to 1 (per device, as hardened hosts do) routes them.
  // On such a host a device left off is the datapath's finding, naming its own key: ip_forward = 1 would turn on every
  // device, the uplink to the world included.
  conditions: (c) => c.all(c.eq('ipForward', 0), c.nonEmpty('routedNetworksNotForwarding'), c.eq('forwardsPerDevice', false)),
  title: () => 'IPv4 forwarding is off: NAT/routed guests cannot leave the host',
  summary: (h) => text`net.ipv4.ip_forward = 0 while routed libvirt networks are active (${h.routedNetworks}); ${h.routedGuests} running guest(s) reach the host and each other but not the outside.`,
  evidence: (h) => [line`net.ipv4.ip_forward = ${h.ipForward}`, line`active NAT/routed networks: ${h.routedNetworks}`],
  fix: () => [cmd`sysctl -w net.ipv4.ip_forward=1`, appendLines(SYSCTL_DROP_IN, ['net.ipv4.ip_forward = 1'])],
  note: () => ['the second command keeps it across reboots; remove any line that sets it to 0 (grep -rn ip_forward /etc/sysctl.conf /etc/sysctl.d)'],
  fileToChange: () => 'etc/sysctl.d/90-kvmdoctor.conf',
  // Forwarding off where the datapath stops guests: the host-wide switch is this finding; a device's own is the general one's, undone the same way.
  owns: [
    {
      kind: 'sysctl',
      where: (el) => el.sysctl !== undefined && FORWARDING.test(el.sysctl.key),
      covers: (_h, el) => el.sysctl?.key === 'net.ipv4.ip_forward',
      undo: (el) => cmd`sysctl -w ${el.sysctl!.key}=1` ?? [],
    },
  ],
})
