import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'ip-forward-disabled',
  severity: 'critical',
  scope: 'host',
  appliesTo: (e) => Number(e.routedNetworkCount) > 0,
  title: 'IPv4 forwarding is off: NAT/routed guests cannot leave the host',
  requires: ['sysctl', 'libvirt'],
  needs: ['ipForward'],
  conditions: {
    all: [
      {fact: 'entity', path: 'ipForward', operator: 'equal', value: 0},
      {fact: 'entity', path: 'routedNetworkCount', operator: 'greaterThan', value: 0},
    ],
  },
  summary: 'net.ipv4.ip_forward = 0 while routed libvirt networks are active ({routedNetworks}); {routedGuests} running guest(s) reach the host and each other but not the outside.',
  evidence: ['net.ipv4.ip_forward = {ipForward}', 'active NAT/routed networks: {routedNetworks}'],
  fix: [
    'sysctl -w net.ipv4.ip_forward=1',
    "echo 'net.ipv4.ip_forward = 1' >> /etc/sysctl.d/90-kvmdoctor.conf",
  ],
  note: ['the second command keeps it across reboots; remove any line that sets it to 0 (grep -rn ip_forward /etc/sysctl.conf /etc/sysctl.d)'],
  claims: ['sysctl:net.ipv4.ip_forward'],
}
