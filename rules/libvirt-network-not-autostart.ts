import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'libvirt-network-not-autostart',
  severity: 'medium',
  scope: 'network',
  appliesTo: (e) => Array.isArray(e.autostartGuests) && e.autostartGuests.length > 0,
  title: 'Network {name} is not autostarted, but autostart guests use it',
  requires: ['libvirt'],
  conditions: {
    all: [
      {fact: 'entity', path: 'active', operator: 'equal', value: true},
      {fact: 'entity', path: 'autostart', operator: 'equal', value: false},
      {fact: 'entity', path: 'autostartGuests', operator: 'nonEmpty', value: true},
    ],
  },
  summary: 'After the next reboot {name} stays down and its autostart guests ({autostartGuests}) fail to start.',
  evidence: ['virsh net-list --all: {name} autostart no', 'autostart guests on it: {autostartGuests}'],
  fix: ['virsh net-autostart {name}'],
}
