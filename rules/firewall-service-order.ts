import type {NetworkView} from '../src/derive/index.js'
import {defineRule, line, probes, restartNetworkDaemon, text} from './kit.js'

export default defineRule<NetworkView>({
  id: 'firewall-service-order',
  kind: 'network',
  severity: 'high',
  needs: [probes.libvirt, probes.netfilter, probes.services],
  known: ['libvirtRules'],
  conditions: (c) =>
    c.all(
      c.eq('active', true),
      c.eq('routed', true),
      // Missing, or partial: the NAT of a NAT network gone while some rules remain.
      c.any(c.eq('libvirtRules.length', 0), c.all(c.eq('forwardMode', 'nat'), c.eq('sourceNatRules.length', 0))),
      c.host.nonEmpty('firewallAfterLibvirt'),
    ),
  title: (n) => text`A firewall service (re)applied its rules after libvirt: network ${n.name} lost its own`,
  summary: (n) =>
    text`Network ${n.name} is active but its firewall rules are gone, and a firewall service started or reloaded after the libvirt daemon last applied them: a firewall that flushes on (re)load (firewalld's iptables backend, iptables/netfilter-persistent restoring a saved set, ufw) removes libvirt's rules, and libvirt does not re-add them by itself.`,
  evidence: (n, h) => [line`libvirt daemon: ${h.libvirtStarted}`, line`after it: ${h.firewallAfterLibvirt}`, line`libvirt rules naming ${n.bridge}: ${n.libvirtRules}`, line`NAT rules for ${n.subnet}: ${n.sourceNatRules ?? []}`],
  fix: (_n, h) => [restartNetworkDaemon(h)],
  note: () => [
    'or virtnetworkd on hosts with the modular daemons: either re-applies the rules of every active network',
    'to keep the order: `systemctl edit libvirtd` (or virtnetworkd) and add After=firewalld.service (or the firewall unit you use) under [Unit]',
  ],
  explains: [
    {rule: 'libvirt-firewall-rules-missing', via: 'network'},
    {rule: 'nat-masquerade-missing', via: 'network'},
    {rule: 'dhcp-checksum-rule-missing', via: 'network'},
    {rule: 'apipa-address', via: 'network'},
  ],
})
