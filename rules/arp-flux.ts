import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'arp-flux',
  severity: 'low',
  scope: 'host',
  title: 'Two host interfaces share a subnet and answer ARP for each other',
  requires: ['sysctl', 'links'],
  conditions: {all: [{fact: 'entity', path: 'arpFluxCount', operator: 'greaterThan', value: 0}]},
  summary: 'With arp_ignore = 0 and arp_announce = 0 either interface answers ARP for both addresses, so neighbours (and guests) send to whichever answered first.',
  evidence: ['same subnet on: {arpFluxPairs}'],
  fix: ['sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2', "printf 'net.ipv4.conf.all.arp_ignore = 1\\nnet.ipv4.conf.all.arp_announce = 2\\n' >> /etc/sysctl.d/90-kvmdoctor.conf"],
  note: ['the second command keeps the setting across reboots'],
}
