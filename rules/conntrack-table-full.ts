import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'conntrack-table-full',
  severity: 'medium',
  escalate: {when: 'conntrackHigh', severity: 'high'},
  scope: 'host',
  title: 'Connection tracking table is {conntrackPercent}% full ({conntrackCount}/{conntrackMax})',
  requires: ['sysctl'],
  needs: ['conntrackRatio'],
  conditions: {all: [{fact: 'entity', path: 'conntrackRatio', operator: 'greaterThanInclusive', value: 0.8}]},
  summary: 'When nf_conntrack_count reaches nf_conntrack_max the kernel drops new connections ("nf_conntrack: table full, dropping packet"): NAT guests see random timeouts.',
  evidence: ['net.netfilter.nf_conntrack_count = {conntrackCount}', 'net.netfilter.nf_conntrack_max = {conntrackMax}', 'log: {logConntrackFull}'],
  fix: ['sysctl -w net.netfilter.nf_conntrack_max=NEW_MAX   # and raise /sys/module/nf_conntrack/parameters/hashsize', 'find the flooding guest: conntrack -L -s GUEST_SUBNET | wc -l'],
}
