import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'dhcp-no-offer',
  severity: 'high',
  scope: 'interface',
  title: 'Guest {domain} asks for DHCP and no server offers ({dhcpDiscovers} DISCOVERs in {listenSeconds} s)',
  requires: ['wire', 'libvirt'],
  conditions: {
    all: [
      {fact: 'entity', path: 'running', operator: 'equal', value: true},
      {fact: 'entity', path: 'dhcpUnanswered', operator: 'equal', value: true},
    ],
  },
  summary: "{domain} ({mac}) broadcast {dhcpDiscovers} DHCPDISCOVERs on {target} and no OFFER came back while kvmdoctor listened: its network's DHCP server is down, out of addresses, or the host drops the exchange. The cause is usually listed above this finding.",
  evidence: ['on {target}: {dhcpDiscovers} DISCOVERs from {mac}, no OFFER or ACK in {listenSeconds} s', 'network: {context.network}, bridge {context.bridge}'],
  fix: ['virsh net-dhcp-leases {context.network}'],
  note: ['fix the cause listed above it first; without one, watch the exchange on the bridge: `tcpdump -n -i {context.bridge} port 67 or port 68`'],
}
