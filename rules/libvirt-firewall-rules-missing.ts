import type {NetworkView} from '../src/derive/index.js'
import {activeNetwork} from './applies.js'
import {defineRule, line, probes, restartNetworkDaemon, text} from './kit.js'

export default defineRule<NetworkView>({
  id: 'libvirt-firewall-rules-missing',
  kind: 'network',
  severity: 'critical',
  needs: [probes.libvirt, probes.netfilter],
  known: ['libvirtRules'],
  appliesTo: (n) => activeNetwork(n) && n.routed,
  conditions: (c) => c.all(c.eq('libvirtRules.length', 0)),
  title: (n) => text`libvirt's firewall rules for ${n.name} (${n.bridge}) are gone`,
  summary: (n) =>
    text`Network ${n.name} is active but no LIBVIRT_* iptables chain and no nft table libvirt_network mentions ${n.bridge}: the NAT, forward accepts and DHCP/DNS input accepts libvirt installs are missing (firewall flushed or reloaded after libvirt started).`,
  evidence: (n) => [line`libvirt firewall backend seen: ${n.firewallBackend}`, line`no libvirt rule references ${n.bridge}`],
  fix: (_n, h) => [restartNetworkDaemon(h)],
  note: () => ['restarting libvirtd (or virtnetworkd on modular daemons) re-creates the rules', 'to keep them: start firewalld before libvirtd, and stop scripts that run iptables -F'],
  explains: [
    {rule: 'nat-masquerade-missing', via: 'network'},
    {rule: 'iptables-forward-drop', via: 'network'},
    {rule: 'dhcp-checksum-rule-missing', via: 'network'},
    {rule: 'apipa-address', via: 'network'},
  ],
})
