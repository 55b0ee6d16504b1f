import type {NetworkView} from '../src/derive/index.js'
import {dhcpNetwork} from './applies.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

export default defineRule<NetworkView>({
  id: 'dhcp-checksum-rule-missing',
  kind: 'network',
  severity: 'low',
  needs: [probes.netfilter, probes.libvirt],
  known: ['checksumFill'],
  // libvirt adds no firewall rule at all for a network of forward mode open: the admin's firewall is meant to do it all.
  appliesTo: (n) => dhcpNetwork(n) && n.firewallBackend === 'iptables' && n.forwardMode !== 'open',
  conditions: (c) => c.all(c.eq('checksumFill', false)),
  title: (n) => text`No CHECKSUM --checksum-fill for DHCP replies on ${n.bridge}`,
  summary: (n) => text`DHCP replies to guests on ${n.bridge} leave with an offloaded (unfilled) UDP checksum; old DHCP clients that verify it (dhclient before 4.x, some PXE ROMs) drop them.`,
  evidence: (n) => [line`iptables -t mangle: no CHECKSUM --checksum-fill for -o ${n.bridge} udp dport 68 (backend ${n.firewallBackend})`],
  fix: (n) => [cmd`iptables -t mangle -A POSTROUTING -o ${n.bridge} -p udp --dport 68 -j CHECKSUM --checksum-fill`],
})
