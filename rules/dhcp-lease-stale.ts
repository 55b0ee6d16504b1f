import type {NetworkView} from '../src/derive/index.js'
import {leaseText} from './dhcp-pool.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

export default defineRule<NetworkView>({
  id: 'dhcp-lease-stale',
  kind: 'network',
  severity: 'info',
  needs: [probes.libvirt, probes.leases],
  appliesTo: (n) => n.dhcpEnabled,
  conditions: (c) => c.all(c.gt('staleLeases.length', 0)),
  title: (n) => text`${n.staleLeases.length} unexpired lease(s) on ${n.name} belong to no defined domain`,
  summary: () => 'Leases held by MACs that no domain on this host has (guests deleted or re-created with new MACs) keep addresses out of the pool until they expire.',
  evidence: (n) => [line`stale leases: ${n.staleLeases.map(leaseText)}`],
  fix: (n) => n.staleLeases.map((l) => cmd`dhcp_release ${n.bridge} ${l.ip} ${l.mac}`),
  note: () => ['they expire on their own; dhcp_release (package dnsmasq-utils) asks dnsmasq to free each one now'],
})
