import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'macvtap-rx-filter-untrusted',
  severity: 'medium',
  scope: 'interface',
  title: 'Guest {domain} answers from another MAC on macvtap {source}, which filters it out',
  requires: ['libvirt', 'neighbours'],
  conditions: {
    all: [
      {fact: 'entity', path: 'isDirect', operator: 'equal', value: true},
      {fact: 'entity', path: 'trustGuestRxFilters', operator: 'equal', value: false},
      {fact: 'entity', path: 'macChanges', operator: 'nonEmpty', value: true},
    ],
  },
  summary: "{domain}'s macvtap interface on {source} was given {mac}, but the guest now uses another MAC (bonding, VRRP, MAC changes inside the guest). Without trustGuestRxFilters='yes' the macvtap device keeps filtering for {mac} and drops frames to the new one: the guest loses its network.",
  evidence: ['{macChanges}', "virsh dumpxml {domain}: <interface type='direct'> without trustGuestRxFilters='yes'"],
  fix: ['virsh edit {domain}'],
  note: ["in the editor: <interface type='direct' trustGuestRxFilters='yes'>, then shut the guest down and start it again (virsh shutdown {domain}; virsh start {domain})"],
}
