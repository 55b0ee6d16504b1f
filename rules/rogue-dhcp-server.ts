import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'rogue-dhcp-server',
  severity: 'high',
  scope: 'interface',
  title: 'Guest {domain} got DHCP answers from {rogueDhcpServers}',
  requires: ['wire', 'libvirt'],
  derive: (e) => {
    const own = (e.dhcpOwnServers ?? []) as string[]
    const macs = (e.rogueDhcpServerMacs ?? []) as string[]
    return {
      // A bridged LAN's own server is not known on this host: two answering is the fault, and either may be the stranger.
      rogueDhcpWho: own.length > 0 ? `A DHCP server that is not ${String((e.context as {network?: string}).network)}'s own` : 'More than one DHCP server',
      rogueDhcpOwnUnknown: own.length > 0 ? [] : ["this host does not know which server is the LAN's own: keep the one meant to serve it, stop the others"],
      rogueDhcpGrep: macs.length === 1 ? macs[0] : macs.map((m) => `-e ${m}`).join(' '),
    }
  },
  conditions: {
    all: [
      {fact: 'entity', path: 'running', operator: 'equal', value: true},
      {fact: 'entity', path: 'rogueDhcpServers', operator: 'nonEmpty', value: true},
    ],
  },
  summary: '{rogueDhcpWho} answered {domain} ({mac}) on {target}: guests that take the wrong offer get a wrong address, gateway and DNS, at random (whichever server answers first). Usually a test guest or a container running dnsmasq/udhcpd on the bridge, or a router plugged into a bridged LAN.',
  evidence: ['answers heard on {target}: {dhcpServersSeen}', "the network's own server: {dhcpOwnServers}"],
  fix: ['bridge fdb show | grep -i {rogueDhcpGrep}'],
  note: ['the port it is learned on leads to the machine running it: stop its DHCP server (or isolate it), then renew the guests that took its offers', '{rogueDhcpOwnUnknown}'],
}
