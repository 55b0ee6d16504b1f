import type {ExpectedGuestView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

const addressesText = (g: ExpectedGuestView) => (g.addresses.length > 0 ? g.addresses.join(', ') : 'none')

export default defineRule<ExpectedGuestView>({
  id: 'expect-guest-address',
  kind: 'expected-guest',
  severity: 'high',
  needs: [probes.libvirt],
  askedFor: () => true,
  conditions: (c) => c.all(c.eq('addressesInSubnet.length', 0)),
  title: (g) => text`Guest ${g.name} holds no address in ${g.subnet}`,
  summary: (g) => text`kvmdoctor.yaml requires ${g.name} to hold an IPv4 address in ${g.subnet}; it holds ${addressesText(g)} (state ${g.state}).`,
  evidence: (g) => [line`addresses seen for ${g.name} (leases, neighbour table, arp-scan): ${addressesText(g)}`],
  fix: (g) => (g.running === false ? [cmd`virsh start ${g.name}`] : []),
  check: (g) => (g.running === false ? [] : [cmd`kvmdoctor trace ${g.name}`]),
  note: () => ['the other findings of this report say why it has no address'],
})
