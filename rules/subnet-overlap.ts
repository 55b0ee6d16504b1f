import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'subnet-overlap',
  severity: 'high',
  scope: 'network',
  title: 'Network {name} ({subnet}) overlaps a route on another device',
  requires: ['libvirt', 'routes'],
  conditions: {all: [{fact: 'entity', path: 'subnetOverlapCount', operator: 'greaterThan', value: 0}]},
  summary: '{subnet} is also reachable via {subnetOverlaps}: replies go the wrong way, and libvirt refuses to start the network ("Network is already in use by interface").',
  evidence: ['ip route: {subnetOverlaps}', 'network {name}: {subnet} on {bridge}', 'log: {host.logNetworkInUse}'],
  fix: ['virsh net-edit {name}', 'virsh net-destroy {name} && virsh net-start {name}'],
  note: ['in the editor move {name} off {subnet} to a subnet no route uses'],
  explains: [{rule: 'libvirt-network-inactive', via: 'network'}],
}
