import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'dhcp-request-foreign',
  severity: 'medium',
  scope: 'interface',
  title: 'Guest {domain} asks DHCP to keep {dhcpForeignAddresses}, an address of another network',
  requires: ['wire', 'libvirt'],
  conditions: {
    all: [
      {fact: 'entity', path: 'running', operator: 'equal', value: true},
      {fact: 'entity', path: 'dhcpForeignRequests', operator: 'nonEmpty', value: true},
    ],
  },
  summary: "{domain} ({mac}) sends DHCPREQUESTs on {target} for {dhcpForeignAddresses}, outside its network {wireOnLink}: it remembers a lease from where it was before (moved between networks or hosts, restored from a snapshot, cloned) and asks to keep it. Its network's server refuses (NAK) or says nothing, and the guest has an address only after its client gives up and starts over with a DISCOVER: a boot that hangs on DHCP, or no address at all with a client that does not start over.",
  evidence: ['on {target}: {dhcpForeignRequests}', 'its network: {wireOnLink}'],
  fix: ['virsh console {domain}'],
  note: ['inside the guest drop the remembered lease and ask anew: `dhclient -r IF && dhclient IF` (ISC), `nmcli device reapply IF` or `nmcli connection up ID` (NetworkManager), `networkctl renew IF` (systemd-networkd); remove stale lease files (/var/lib/dhcp/, /var/lib/NetworkManager/) from templates'],
}
