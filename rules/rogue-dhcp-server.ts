import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'rogue-dhcp-server',
  severity: 'high',
  scope: 'interface',
  title: 'Guest {domain} got DHCP answers from {rogueDhcpServers}',
  requires: ['wire', 'libvirt'],
  conditions: {
    all: [
      {fact: 'entity', path: 'running', operator: 'equal', value: true},
      {fact: 'entity', path: 'rogueDhcpServers', operator: 'nonEmpty', value: true},
    ],
  },
  summary: "A DHCP server that is not {context.network}'s own answered {domain} ({mac}) on {target}: guests that take its offer get a wrong address, gateway and DNS, at random (whichever server answers first). Usually a test guest or a container running dnsmasq/udhcpd on the bridge, or a router plugged into a bridged LAN.",
  evidence: ['answers heard on {target}: {dhcpServersSeen}', "the network's own server: {dhcpOwnServers}"],
  fix: ['bridge fdb show | grep -i {rogueDhcpServerMac}'],
  note: ['the port it is learned on leads to the machine running it: stop its DHCP server (or isolate it), then renew the guests that took its offers'],
}
