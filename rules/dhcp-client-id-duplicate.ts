import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'dhcp-client-id-duplicate',
  severity: 'high',
  scope: 'interface',
  title: 'Guest {domain} shares DHCP client id {clientIds} with {clientIdSharedWith}',
  requires: ['leases', 'libvirt'],
  conditions: {all: [{fact: 'entity', path: 'clientIdSharedWith', operator: 'nonEmpty', value: true}]},
  summary: 'A DHCP server leases by client id when there is one: {domain} ({mac}) and {clientIdSharedWith} present the same id, so they get the same address in turn and their leases flap. Cloned guests with one /etc/machine-id (systemd-networkd derives its DUID from it).',
  evidence: ['client id {clientIds}: {mac} ({domain}), {clientIdSharedWith}'],
  fix: ['virsh console {domain}'],
  // The server hands the clones one address: the conflict is theirs.
  explains: [{rule: 'ip-address-conflict', via: 'mac'}],
  note: ['inside the clone: `rm /etc/machine-id && systemd-machine-id-setup` (or virt-sysprep before the first boot), or identify by MAC: ClientIdentifier=mac (systemd-networkd), dhcp-identifier: mac (netplan)'],
}
