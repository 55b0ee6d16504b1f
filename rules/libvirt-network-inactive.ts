import type {NetworkView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, reattachTaps, text} from './kit.js'

export default defineRule<NetworkView>({
  id: 'libvirt-network-inactive',
  kind: 'network',
  severity: 'critical',
  needs: [probes.libvirt],
  appliesTo: (n) => n.autostart || n.definedGuests.length > 0,
  conditions: (c) => c.all(c.eq('active', false), c.any(c.eq('autostart', true), c.gt('definedGuests.length', 0))),
  title: (n) => text`libvirt network ${n.name} is not running`,
  summary: (n) => text`Network ${n.name} is inactive, so it has no bridge, no DHCP/DNS (dnsmasq) and no firewall rules; guests using it (${n.definedGuests}) get no address and cannot start.`,
  evidence: (n) => [line`virsh net-list --all: ${n.name} inactive (autostart: ${n.autostart})`, line`guests referencing it: ${n.definedGuests}`],
  // Autostart is libvirt-network-not-autostart's: this fix starts what is down and changes nothing else.
  fix: (n) => [cmd`virsh net-start ${n.name}`, ...reattachTaps(n)],
  explains: [
    {rule: 'dhcp-server-not-running', via: 'network'},
    {rule: 'nat-masquerade-missing', via: 'network'},
    {rule: 'link-down', via: 'network'},
    {rule: 'tap-not-attached', via: 'network'},
    {rule: 'apipa-address', via: 'network'},
    {rule: 'dhcp-no-offer', via: 'network'},
  ],
})
