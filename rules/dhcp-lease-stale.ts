import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'dhcp-lease-stale',
  severity: 'info',
  scope: 'network',
  appliesTo: (e) => e.dhcpEnabled === true,
  title: '{staleLeaseCount} unexpired lease(s) on {name} belong to no defined domain',
  requires: ['libvirt', 'leases'],
  conditions: {all: [{fact: 'entity', path: 'staleLeaseCount', operator: 'greaterThan', value: 0}]},
  summary: 'Leases held by MACs that no domain on this host has (guests deleted or re-created with new MACs) keep addresses out of the pool until they expire.',
  evidence: ['stale leases: {staleLeases}'],
  fix: ['{staleLeaseReleases}'],
  note: ['they expire on their own; dhcp_release (package dnsmasq-utils) asks dnsmasq to free each one now'],
}
