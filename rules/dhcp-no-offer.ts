import type {InterfaceView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, quoted, text} from './kit.js'

/** A DHCP client retries; one DISCOVER just before the end of the listening time may have its OFFER still on the way. */
const MIN_DISCOVERS_UNANSWERED = 2

interface Exchange {
  /** OFFERs and ACKs it got, from anyone. */
  dhcpOffers: number
  dhcpSegment: string
  dhcpServerWhose: string
}

export default defineRule<InterfaceView, Exchange>({
  id: 'dhcp-no-offer',
  kind: 'interface',
  severity: 'high',
  needs: [probes.wire, probes.libvirt],
  derive: (i) => {
    const {network, bridge} = i.context
    // A bridged guest has no libvirt network: no lease list on this host to read, its LAN's server is elsewhere.
    return {
      dhcpOffers: i.dhcpAnswers.filter((a) => a.message === 'offer' || a.message === 'ack').length,
      dhcpSegment: network ? `network: ${network}, bridge ${bridge}` : bridge ? `bridge ${bridge} (a bridged LAN: no libvirt network)` : 'no libvirt network, no bridge',
      dhcpServerWhose: network ? `network ${network}'s DHCP server (libvirt's dnsmasq)` : "the bridged LAN's DHCP server",
    }
  },
  // Only a running guest's tap is listened to: its wire facts say it runs.
  conditions: (c) => c.all(c.gte('dhcpDiscovers', MIN_DISCOVERS_UNANSWERED), c.eq('dhcpOffers', 0)),
  title: (i) => text`Guest ${i.domain} asks for DHCP and no server offers (${i.dhcpDiscovers} DISCOVERs in ${i.listenSeconds} s)`,
  summary: (i) =>
    text`${i.domain} (${i.mac}) broadcast ${i.dhcpDiscovers} DHCPDISCOVERs on ${i.target} and no OFFER came back while kvmdoctor listened: ${i.dhcpServerWhose} is down, out of addresses, or the host drops the exchange. The cause is usually listed above this finding.`,
  evidence: (i) => [line`on ${i.target}: ${i.dhcpDiscovers} DISCOVERs from ${i.mac}, no OFFER or ACK in ${i.listenSeconds} s`, i.dhcpSegment],
  fix: () => [],
  check: (i) => [cmd`virsh net-dhcp-leases ${i.context.network}`],
  note: (i) => [line`fix the cause listed above it first; without one, watch the exchange on the bridge: \`tcpdump -n -i ${quoted(i.context.bridge)} port 67 or port 68\``],
})
