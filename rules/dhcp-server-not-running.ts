import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'dhcp-server-not-running',
  severity: 'critical',
  scope: 'network',
  title: "No dnsmasq serves DHCP on libvirt network {name}",
  requires: ['libvirt', 'processes'],
  needs: ['dnsmasqRunning'],
  conditions: {
    all: [
      {fact: 'entity', path: 'active', operator: 'equal', value: true},
      {fact: 'entity', path: 'dhcpEnabled', operator: 'equal', value: true},
      {fact: 'entity', path: 'dnsmasqRunning', operator: 'equal', value: false},
    ],
  },
  summary: 'Network {name} is active with a DHCP range ({dhcpRanges}) but no dnsmasq runs with --conf-file=/var/lib/libvirt/dnsmasq/{name}.conf: guests that boot or renew now get no address (and fall back to 169.254.x.x).',
  evidence: ['network {name} active, DHCP range {dhcpRanges}', 'no process with --conf-file=/var/lib/libvirt/dnsmasq/{name}.conf'],
  fix: ['virsh net-destroy {name} && virsh net-start {name}   # respawns dnsmasq; running guests then need their taps re-attached (restart libvirtd)'],
  explains: [{rule: 'apipa-address', via: 'network'}],
}
