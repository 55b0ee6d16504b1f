import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'macvtap-host-isolation',
  severity: 'info',
  scope: 'interface',
  appliesTo: (e) => e.isDirect === true,
  title: 'Guest {domain} uses macvtap on {source}: the host cannot reach it',
  requires: ['libvirt'],
  conditions: {all: [{fact: 'entity', path: 'isDirect', operator: 'equal', value: true}]},
  summary: 'A type=direct (macvtap) interface talks to the LAN through {source}, but by design not to the host itself: pings from the host to {domain} fail while the LAN reaches it.',
  evidence: ["virsh dumpxml {domain}: <interface type='direct'> source dev {source}, MAC {mac}"],
  fix: ['virsh edit {domain}'],
  note: ["only if the host must reach the guest: in the editor turn <interface type='direct'> into a bridge (type='bridge'), or add a second NIC on a libvirt network"],
}
