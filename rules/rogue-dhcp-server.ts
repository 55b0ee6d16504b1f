import type {InterfaceView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

interface Rogues {
  /** Servers that answered with an OFFER or ACK and are not its network's own; where the own one is not known (a bridged LAN), every one when two or more answered: "IP (MAC)". */
  rogueDhcpServers: string[]
  rogueDhcpWho: string
  rogueDhcpOwnUnknown: string[]
  rogueDhcpGrep: string[]
}

export default defineRule<InterfaceView, Rogues>({
  id: 'rogue-dhcp-server',
  kind: 'interface',
  severity: 'high',
  needs: [probes.wire, probes.libvirt],
  derive: (i) => {
    const answered = i.dhcpAnswers.filter((a) => a.message === 'offer' || a.message === 'ack')
    const own = i.dhcpOwnServers
    const rogue = own !== null ? answered.filter((a) => !own.includes(a.server)) : new Set(answered.map((a) => a.server)).size >= 2 ? answered : []
    const macs = [...new Set(rogue.map((a) => a.serverMac))]
    return {
      rogueDhcpServers: [...new Set(rogue.map((a) => `${a.server} (${a.serverMac})`))],
      // A bridged LAN's own server is not known on this host: two answering is the fault, and either may be the stranger.
      rogueDhcpWho: own !== null ? `A DHCP server that is not ${i.context.network}'s own` : 'More than one DHCP server',
      rogueDhcpOwnUnknown: own !== null ? [] : ["this host does not know which server is the LAN's own: keep the one meant to serve it, stop the others"],
      rogueDhcpGrep: macs.length === 1 ? macs : macs.flatMap((m) => ['-e', m]),
    }
  },
  conditions: (c) => c.all(c.eq('running', true), c.nonEmpty('rogueDhcpServers')),
  title: (i) => text`Guest ${i.domain} got DHCP answers from ${i.rogueDhcpServers}`,
  summary: (i) =>
    text`${i.rogueDhcpWho} answered ${i.domain} (${i.mac}) on ${i.target}: guests that take the wrong offer get a wrong address, gateway and DNS, at random (whichever server answers first). Usually a test guest or a container running dnsmasq/udhcpd on the bridge, or a router plugged into a bridged LAN.`,
  evidence: (i) => [line`answers heard on ${i.target}: ${i.dhcpServersSeen}`, line`the network's own server: ${i.dhcpOwnServers ?? []}`],
  fix: () => [],
  check: (i) => [cmd`bridge fdb show | grep -i ${i.rogueDhcpGrep}`],
  found: (i) => i.rogueDhcpServers,
  note: (i) => ['the port it is learned on leads to the machine running it: stop its DHCP server (or isolate it), then renew the guests that took its offers', ...i.rogueDhcpOwnUnknown],
})
