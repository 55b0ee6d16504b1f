import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'dns-port-conflict',
  severity: 'critical',
  scope: 'network',
  title: "Another process holds the DNS/DHCP ports libvirt's dnsmasq needs for {name}",
  requires: ['libvirt', 'processes', 'listeners'],
  needs: ['portConflictCount'],
  conditions: {all: [{fact: 'entity', path: 'portConflictCount', operator: 'greaterThan', value: 0}]},
  summary: "{portConflicts} listens where libvirt's dnsmasq for {name} must: the network fails to start ('Address already in use'), or starts without DNS/DHCP.",
  evidence: ['ss -H -lunpt: {portConflicts}', 'log: {host.logAddressInUse}'],
  fix: ['virsh net-start {name}'],
  note: [
    'first free the ports: stop that process, or for another dnsmasq add bind-interfaces and except-interface={bridge} to its config and restart it',
    "or disable DNS on the network: <dns enable='no'/> (virsh net-edit {name})",
  ],
  explains: [
    {rule: 'libvirt-network-inactive', via: 'network'},
    {rule: 'dhcp-server-not-running', via: 'network'},
  ],
}
