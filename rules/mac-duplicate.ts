import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'mac-duplicate',
  severity: 'high',
  scope: 'interface',
  appliesTo: (e) => e.running === true && typeof e.mac === 'string',
  title: 'Guest {domain} shares MAC {mac} with {macSharedWith}',
  requires: ['libvirt'],
  conditions: {all: [{fact: 'entity', path: 'macSharedWith', operator: 'nonEmpty', value: true}]},
  summary: 'Two running guests use {mac}: the bridge delivers each one\'s frames to whichever spoke last, and dnsmasq gives both the same lease. Usually a copied domain XML.',
  evidence: ['running guests with {mac}: {domain}, {macSharedWith}'],
  fix: ['virsh edit {domain}', 'virsh destroy {domain} && virsh start {domain}'],
  note: ["in the editor delete the <mac address='{mac}'/> line so libvirt generates a new one (virt-clone does this for copies)"],
  explains: [{rule: 'ip-address-conflict', via: 'mac'}],
}
