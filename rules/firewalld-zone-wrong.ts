import {activeNetwork} from './applies.js'
import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'firewalld-zone-wrong',
  severity: 'high',
  scope: 'network',
  appliesTo: (e) => activeNetwork(e) && e.firewalldRunning === true,
  title: "firewalld has {bridge} in zone '{firewalldZone}', not 'libvirt'",
  requires: ['firewalld', 'libvirt'],
  conditions: {
    all: [
      {fact: 'entity', path: 'firewalldRunning', operator: 'equal', value: true},
      {fact: 'entity', path: 'active', operator: 'equal', value: true},
      {fact: 'entity', path: 'bridge', operator: 'notEqual', value: null},
      {fact: 'entity', path: 'firewalldZone', operator: 'notEqual', value: 'libvirt'},
    ],
  },
  summary: "firewalld filters {bridge} with zone '{firewalldZone}' rules, which usually reject DHCP and DNS from guests; libvirt expects its bridges in zone 'libvirt'.",
  evidence: ['firewall-cmd --get-zone-of-interface={bridge}: {firewalldZone}'],
  fix: ['firewall-cmd --permanent --zone=libvirt --change-interface={bridge} && firewall-cmd --reload'],
  explains: [
    {rule: 'apipa-address', via: 'network'},
    {rule: 'dhcp-no-offer', via: 'network'},
  ],
}
