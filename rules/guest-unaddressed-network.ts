import type {InterfaceView} from '../src/derive/index.js'
import {defineRule, line, probes, text, virshQuoted} from './kit.js'

export default defineRule<InterfaceView>({
  id: 'guest-unaddressed-network',
  kind: 'interface',
  severity: 'medium',
  needs: [probes.libvirt, probes.leases, probes.neighbours],
  known: ['networkHandsOutAddresses', 'networkSubnet'],
  appliesTo: (i) => i.running && i.type === 'network',
  conditions: (c) => c.all(c.eq('networkHandsOutAddresses', false), c.eq('ipv4Addresses.length', 0)),
  title: (i) => text`${i.domain} has no address, and network ${i.context.network} hands out none`,
  summary: (i) =>
    text`No source (DHCP lease, the host's neighbour table, the guest agent, arp-scan, the wire) shows an IPv4 address for ${i.domain} (${i.mac}), and its network ${i.context.network} has no DHCP range and no host entry for it: the guest has no address to talk from unless it is configured by hand.`,
  evidence: (i) => [line`network ${i.context.network}: subnet ${i.networkSubnet}, no <dhcp><range>, no <host> entry for ${i.mac}`, line`addresses seen for ${i.mac}: none`],
  // Whether the guest is meant to be static or the network to serve it is a person's choice: the notes give both ways.
  fix: () => [],
  note: (i) => [
    line`give the guest a static address of ${i.networkSubnet} inside the guest, or let the network hand one out: add a <dhcp> range, or a host entry for ${i.mac} (virsh net-update ${virshQuoted(['net-update'], i.context.network)} add ip-dhcp-host "<host mac='${i.mac}' ip='ADDR'/>" --live --config)`,
    "with --listen, the guest's own DHCP requests on its tap show whether it is asking for an address at all",
  ],
  // The flows it stops meet the network's missing addresses first: that element is this finding's.
  owns: [{kind: 'guest-address', covers: (i, el) => el.network === i.context.network, undo: () => []}],
})
