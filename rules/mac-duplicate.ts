import type {InterfaceView} from '../src/derive/index.js'
import {cmd, defineRule, disrupting, line, probes, text} from './kit.js'

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
  // The copy (the guest started later) gets a new MAC: its interface is detached and attached again
  // without one (libvirt generates it), live and in its config. The original keeps running untouched.
  fix: (i) =>
    i.macKept || (i.type !== 'network' && i.type !== 'bridge')
      ? []
      : [
          disrupting([i.domain], cmd`virsh detach-interface ${i.domain} ${i.type} --mac ${i.mac} --live --config`),
          cmd`virsh attach-interface ${i.domain} ${i.type} ${i.source} ${i.model ? ['--model', i.model] : []} --live --config`,
        ],
  note: (i) =>
    i.macKept
      ? [line`${i.domain} started first and keeps ${i.mac}: the fix is on ${i.macSharedWith}`]
      : [line`${i.domain} sees a new network card with a new MAC and asks DHCP again; ${i.macSharedWith} keep running untouched (virt-clone gives copies new MACs)`],
  explains: [{rule: 'ip-address-conflict', via: 'mac'}],
})
