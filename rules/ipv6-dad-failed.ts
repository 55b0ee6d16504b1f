import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'ipv6-dad-failed',
  severity: 'medium',
  scope: 'interface',
  title: 'Guest {domain} cannot take IPv6 address {ipv6DadFailedAddresses}: another machine holds it',
  requires: ['wire', 'libvirt'],
  conditions: {
    all: [
      {fact: 'entity', path: 'running', operator: 'equal', value: true},
      {fact: 'entity', path: 'ipv6DadFailedAddresses', operator: 'nonEmpty', value: true},
    ],
  },
  summary: "{domain} ({mac}) probed for {ipv6DadFailedAddresses} on {target} before taking it (duplicate address detection) and another MAC advertises that address on the same segment: the guest's kernel marks it dadfailed and does not use it, so whatever should reach {domain} there reaches the other machine. Two guests configured with one static address (a clone, a copied configuration), or a guest given the host's address.",
  evidence: ['duplicate address detection on {target}: {ipv6DadFailed}'],
  fix: ['virsh console {domain}'],
  note: ["inside the guest `ip -6 addr show dadfailed` lists it: give one of the two another address (or use SLAAC/DHCPv6), then `ip -6 addr del ADDR dev IF && ip -6 addr add ADDR dev IF` retries"],
}
