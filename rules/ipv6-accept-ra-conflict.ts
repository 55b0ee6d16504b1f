import type {LinkView} from '../src/derive/index.js'
import {cmd, defineRule, deviceKey, line, probes, stepText, text} from './kit.js'

export default defineRule<LinkView>({
  id: 'ipv6-accept-ra-conflict',
  kind: 'link',
  severity: 'high',
  needs: [probes.libvirt, probes.links, probes.sysctl, probes.routes6],
  known: ['acceptRa'],
  // Only a link holding RA-learned routes can lose them; its accept_ra must be known there, nowhere else.
  appliesTo: (l) => l.raRoutes.length > 0,
  conditions: (c) => c.all(c.ne('acceptRa', 2), c.host.nonEmpty('ipv6RoutedNetworks')),
  title: (l) => text`${l.name} learns its IPv6 routes from router advertisements with accept_ra ${l.acceptRa}: IPv6 forwarding drops them`,
  summary: (l, h) =>
    text`libvirt turns IPv6 forwarding on for network(s) ${h.ipv6RoutedNetworks}; with forwarding on, the kernel ignores router advertisements on an interface unless its accept_ra is 2, so the RA-learned routes of ${l.name} expire. libvirt refuses to start such a network: "Check the host setup: enabling IPv6 forwarding with RA routes without accept_ra set to 2 is likely to cause routes loss".`,
  evidence: (l, h) => [
    line`${deviceKey('ipv6', l.name, 'accept_ra')} = ${l.acceptRa}`,
    line`RA-learned routes: ${l.raRoutes}`,
    line`networks routing IPv6: ${h.ipv6RoutedNetworks}; net.ipv6.conf.all.forwarding = ${h.ipv6Forwarding}`,
  ],
  fix: (l) => [cmd`sysctl -w ${deviceKey('ipv6', l.name, 'accept_ra')}=2`],
  note: (l) => [
    line`persist it: ${stepText({write: {path: '/etc/sysctl.d/60-accept-ra.conf', content: `${deviceKey('ipv6', l.name, 'accept_ra')} = 2\n`, append: false}})} (NetworkManager and systemd-networkd have an IPv6AcceptRA setting of their own)`,
    'then start the network again: virsh net-start NETWORK',
  ],
})
