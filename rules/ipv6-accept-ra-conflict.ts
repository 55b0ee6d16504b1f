import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'ipv6-accept-ra-conflict',
  severity: 'high',
  scope: 'link',
  // Only a link holding RA-learned routes can lose them; its accept_ra must be known there, nowhere else.
  appliesTo: (e) => Array.isArray(e.raRoutes) && e.raRoutes.length > 0,
  title: '{name} learns its IPv6 routes from router advertisements with accept_ra {acceptRa}: IPv6 forwarding drops them',
  requires: ['libvirt', 'links', 'sysctl', 'routes6'],
  needs: ['acceptRa'],
  conditions: {
    all: [
      {fact: 'entity', path: 'raRoutes', operator: 'nonEmpty', value: true},
      {fact: 'entity', path: 'acceptRa', operator: 'notEqual', value: 2},
      {fact: 'host', path: 'ipv6RoutedNetworks', operator: 'nonEmpty', value: true},
    ],
  },
  summary: 'libvirt turns IPv6 forwarding on for network(s) {host.ipv6RoutedNetworks}; with forwarding on, the kernel ignores router advertisements on an interface unless its accept_ra is 2, so the RA-learned routes of {name} expire. libvirt refuses to start such a network: "Check the host setup: enabling IPv6 forwarding with RA routes without accept_ra set to 2 is likely to cause routes loss".',
  evidence: ['net.ipv6.conf.{name}.accept_ra = {acceptRa}', 'RA-learned routes: {raRoutes}', 'networks routing IPv6: {host.ipv6RoutedNetworks}; net.ipv6.conf.all.forwarding = {host.ipv6Forwarding}'],
  fix: ['sysctl -w net.ipv6.conf.{name}.accept_ra=2'],
  note: ['persist it: echo "net.ipv6.conf.{name}.accept_ra = 2" > /etc/sysctl.d/60-accept-ra.conf (NetworkManager and systemd-networkd have an IPv6AcceptRA setting of their own)', 'then start the network again: virsh net-start NETWORK'],
}
