import type {InterfaceView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text, virshQuoted} from './kit.js'

export default defineRule<InterfaceView>({
  id: 'macvtap-rx-filter-untrusted',
  kind: 'interface',
  severity: 'medium',
  needs: [probes.libvirt, probes.neighbours],
  // macChanges are only looked for on a direct (macvtap) interface: a bridge learns any MAC.
  conditions: (c) => c.all(c.eq('trustGuestRxFilters', false), c.nonEmpty('macChanges')),
  title: (i) => text`Guest ${i.domain} answers from another MAC on macvtap ${i.source}, which filters it out`,
  summary: (i) =>
    text`${i.domain}'s macvtap interface on ${i.source} was given ${i.mac}, but the guest now uses another MAC (bonding, VRRP, MAC changes inside the guest). Without trustGuestRxFilters='yes' the macvtap device keeps filtering for ${i.mac} and drops frames to the new one: the guest loses its network.`,
  evidence: (i) => [...i.macChanges, line`virsh dumpxml ${i.domain}: <interface type='direct'> without trustGuestRxFilters='yes'`],
  fix: (i) => [cmd`virsh edit ${i.domain}`],
  note: (i) => [line`in the editor: <interface type='direct' trustGuestRxFilters='yes'>, then shut the guest down and start it again (virsh shutdown ${virshQuoted(['shutdown'], i.domain)}; virsh start ${virshQuoted(['start'], i.domain)})`],
})
