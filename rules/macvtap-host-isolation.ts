import type {InterfaceView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

export default defineRule<InterfaceView>({
  id: 'macvtap-host-isolation',
  kind: 'interface',
  severity: 'info',
  needs: [probes.libvirt],
  appliesTo: (i) => i.isDirect,
  conditions: (c) => c.all(c.eq('isDirect', true)),
  title: (i) => text`Guest ${i.domain} uses macvtap on ${i.source}: the host cannot reach it`,
  summary: (i) => text`A type=direct (macvtap) interface talks to the LAN through ${i.source}, but by design not to the host itself: pings from the host to ${i.domain} fail while the LAN reaches it.`,
  evidence: (i) => [line`virsh dumpxml ${i.domain}: <interface type='direct'> source dev ${i.source}, MAC ${i.mac}`],
  fix: (i) => [cmd`virsh edit ${i.domain}`],
  note: () => ["only if the host must reach the guest: in the editor turn <interface type='direct'> into a bridge (type='bridge'), or add a second NIC on a libvirt network"],
})
