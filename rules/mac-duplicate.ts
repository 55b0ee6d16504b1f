import type {InterfaceView} from '../src/derive/index.js'
import {defineRule, line, probes, text} from './kit.js'

export default defineRule<InterfaceView>({
  id: 'mac-duplicate',
  kind: 'interface',
  severity: 'high',
  needs: [probes.libvirt],
  appliesTo: (i) => i.running && typeof i.mac === 'string',
  conditions: (c) => c.all(c.nonEmpty('macSharedWith')),
  title: (i) => text`Guest ${i.domain} shares MAC ${i.mac} with ${i.macSharedWith}`,
  summary: (i) => text`Two running guests use ${i.mac}: the bridge delivers each one's frames to whichever spoke last, and dnsmasq gives both the same lease. Usually a copied domain XML.`,
  evidence: (i) => [line`running guests with ${i.mac}: ${i.domain}, ${i.macSharedWith}`],
  fix: (i) => [line`virsh edit ${i.domain}`, line`virsh destroy ${i.domain} && virsh start ${i.domain}`],
  note: (i) => [line`in the editor delete the <mac address='${i.mac}'/> line so libvirt generates a new one (virt-clone does this for copies)`],
  explains: [{rule: 'ip-address-conflict', via: 'mac'}],
})
