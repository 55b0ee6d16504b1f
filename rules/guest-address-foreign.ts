import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'guest-address-foreign',
  severity: 'high',
  scope: 'interface',
  title: 'Guest {domain} sends from {wireForeign}, outside {wireSubnets}',
  requires: ['wire', 'libvirt'],
  conditions: {
    all: [
      {fact: 'entity', path: 'running', operator: 'equal', value: true},
      {fact: 'entity', path: 'wireForeign', operator: 'nonEmpty', value: true},
    ],
  },
  summary: "{domain} ({mac}) uses {wireForeign} on {target}, an address its network ({wireSubnets}) cannot route: replies to it never come back, and nothing on the host leases or routes it. A static address from another subnet (a cloned or moved guest), or an answer from a rogue DHCP server.",
  evidence: ['addresses heard from {mac} on {target}: {wireAddresses}', 'network subnets: {wireSubnets}'],
  fix: ['virsh console {domain}'],
  note: ['inside the guest give it an address of {wireSubnets} or use DHCP: `ip addr flush dev eth0 && dhclient eth0` (interface names vary)'],
}
