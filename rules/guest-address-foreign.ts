import type {InterfaceView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

export default defineRule<InterfaceView>({
  id: 'guest-address-foreign',
  kind: 'interface',
  severity: 'high',
  needs: [probes.wire, probes.libvirt],
  conditions: (c) => c.all(c.eq('running', true), c.nonEmpty('wireForeign')),
  title: (i) => text`Guest ${i.domain} sends from ${i.wireForeign}, outside ${i.wireSubnets}`,
  summary: (i) =>
    text`${i.domain} (${i.mac}) uses ${i.wireForeign} on ${i.target}, an address its network (${i.wireSubnets}) cannot route: replies to it never come back, and nothing on the host leases or routes it. A static address from another subnet (a cloned or moved guest), or an answer from a rogue DHCP server.`,
  evidence: (i) => [line`addresses heard from ${i.mac} on ${i.target}: ${i.wireAddresses}`, line`network subnets: ${i.wireSubnets}`],
  fix: () => [],
  check: (i) => [cmd`virsh console ${i.domain}`],
  note: (i) => [line`inside the guest give it an address of ${i.wireSubnets} or use DHCP: \`ip addr flush dev eth0 && dhclient eth0\` (interface names vary)`],
})
