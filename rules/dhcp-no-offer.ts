import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'dhcp-no-offer',
  severity: 'high',
  scope: 'interface',
  title: 'Guest {domain} asks for DHCP and no server offers ({dhcpDiscovers} DISCOVERs in {listenSeconds} s)',
  requires: ['wire', 'libvirt'],
  derive: (e) => {
    const {network, bridge} = (e.context ?? {}) as {network?: string; bridge?: string}
    // A bridged guest has no libvirt network: no lease list on this host to read, its LAN's server is elsewhere.
    return {
      dhcpSegment: network ? `network: ${network}, bridge ${bridge}` : bridge ? `bridge ${bridge} (a bridged LAN: no libvirt network)` : 'no libvirt network, no bridge',
      dhcpLeaseLists: network ? [`virsh net-dhcp-leases ${network}`] : [],
      dhcpServerWhose: network ? `network ${network}'s DHCP server (libvirt's dnsmasq)` : "the bridged LAN's DHCP server",
    }
  },
  conditions: {
    all: [
      {fact: 'entity', path: 'running', operator: 'equal', value: true},
      {fact: 'entity', path: 'dhcpUnanswered', operator: 'equal', value: true},
    ],
  },
  summary: "{domain} ({mac}) broadcast {dhcpDiscovers} DHCPDISCOVERs on {target} and no OFFER came back while kvmdoctor listened: {dhcpServerWhose} is down, out of addresses, or the host drops the exchange. The cause is usually listed above this finding.",
  evidence: ['on {target}: {dhcpDiscovers} DISCOVERs from {mac}, no OFFER or ACK in {listenSeconds} s', '{dhcpSegment}'],
  fix: ['{dhcpLeaseLists}'],
  note: ['fix the cause listed above it first; without one, watch the exchange on the bridge: `tcpdump -n -i {context.bridge} port 67 or port 68`'],
}
