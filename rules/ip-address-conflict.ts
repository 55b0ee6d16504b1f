import type {AddressView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

export default defineRule<AddressView>({
  id: 'ip-address-conflict',
  kind: 'address',
  severity: 'high',
  needs: [probes.neighbours, probes.leases],
  conditions: (c) => c.all(c.gte('macCount', 2)),
  title: (a) => text`${a.ip} is claimed by ${a.macCount} different MACs`,
  summary: (a) => text`Two machines answer for ${a.ip}: traffic for it goes to whichever answered ARP last, so connections to it break and flap. Usually a static address inside the DHCP range that dnsmasq also leases out.`,
  evidence: (a) => [line`claims on ${a.ip}: ${a.claims}`],
  fix: (a) => [cmd`virsh net-update ${a.network} add ip-dhcp-host ${a.leaseMac && a.ip ? `<host mac='${a.leaseMac}' ip='${a.ip}'/>` : undefined} --live --config`],
  note: (a) => [line`this reserves ${a.ip} for the lease holder ${a.leaseMac}`, line`inside the other machine (${a.otherMac}, ${a.otherDomain}) remove ${a.ip}/${a.prefix} from its interface and give it an address outside the DHCP range`],
  // The datapath cannot tell which machine answers a guest whose address two MACs claim: this finding says why.
  owns: [{kind: 'listener', where: (el) => el.address !== undefined, covers: (a, el) => el.address === a.ip, undo: () => []}],
})
