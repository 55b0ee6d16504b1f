import type {InterfaceView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

export default defineRule<InterfaceView>({
  id: 'dhcp-client-id-duplicate',
  kind: 'interface',
  severity: 'high',
  needs: [probes.leases, probes.libvirt],
  conditions: (c) => c.all(c.nonEmpty('clientIdSharedWith')),
  title: (i) => text`Guest ${i.domain} shares DHCP client id ${i.clientIds} with ${i.clientIdSharedWith}`,
  summary: (i) =>
    text`A DHCP server leases by client id when there is one: ${i.domain} (${i.mac}) and ${i.clientIdSharedWith} present the same id, so they get the same address in turn and their leases flap. Cloned guests with one /etc/machine-id (systemd-networkd derives its DUID from it).`,
  evidence: (i) => [line`client id ${i.clientIds}: ${i.mac} (${i.domain}), ${i.clientIdSharedWith}`],
  fix: () => [],
  check: (i) => [cmd`virsh console ${i.domain}`],
  note: () => [
    'inside the clone: `rm /etc/machine-id && systemd-machine-id-setup` (or virt-sysprep before the first boot), or identify by MAC: ClientIdentifier=mac (systemd-networkd), dhcp-identifier: mac (netplan)',
  ],
  // The server hands the clones one address: the conflict is theirs.
  explains: [{rule: 'ip-address-conflict', via: 'mac'}],
})
