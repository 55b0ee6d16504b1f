import type {InterfaceView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

interface Foreign {
  /** Addresses outside its network it asked DHCP to keep (a lease remembered from elsewhere), NAKed or met with silence. */
  dhcpForeignAddresses: string[]
  dhcpForeignRequests: string[]
}

export default defineRule<InterfaceView, Foreign>({
  id: 'dhcp-request-foreign',
  kind: 'interface',
  severity: 'medium',
  needs: [probes.wire, probes.libvirt],
  derive: (i) => {
    const requests = i.wireRequests?.dhcpForeign ?? []
    return {
      dhcpForeignAddresses: [...new Set(requests.map((f) => f.address))],
      dhcpForeignRequests: requests.map((f) => `${f.address} (${f.state}): ${f.answer}`),
    }
  },
  conditions: (c) => c.all(c.eq('running', true), c.nonEmpty('dhcpForeignAddresses')),
  title: (i) => text`Guest ${i.domain} asks DHCP to keep ${i.dhcpForeignAddresses}, an address of another network`,
  summary: (i) =>
    text`${i.domain} (${i.mac}) sends DHCPREQUESTs on ${i.target} for ${i.dhcpForeignAddresses}, outside its network ${i.wireOnLink}: it remembers a lease from where it was before (moved between networks or hosts, restored from a snapshot, cloned) and asks to keep it. Its network's server refuses (NAK) or says nothing, and the guest has an address only after its client gives up and starts over with a DISCOVER: a boot that hangs on DHCP, or no address at all with a client that does not start over.`,
  evidence: (i) => [line`on ${i.target}: ${i.dhcpForeignRequests}`, line`its network: ${i.wireOnLink}`],
  fix: () => [],
  check: (i) => [cmd`virsh console ${i.domain}`],
  found: (i) => i.dhcpForeignRequests,
  note: () => [
    'inside the guest drop the remembered lease and ask anew: `dhclient -r IF && dhclient IF` (ISC), `nmcli device reapply IF` or `nmcli connection up ID` (NetworkManager), `networkctl renew IF` (systemd-networkd); remove stale lease files (/var/lib/dhcp/, /var/lib/NetworkManager/) from templates',
  ],
})
