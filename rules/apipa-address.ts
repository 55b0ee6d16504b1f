import type {ApipaView} from '../src/derive/index.js'
import {cmd, defineRule, disrupting, line, probes, text} from './kit.js'

export default defineRule<ApipaView>({
  id: 'apipa-address',
  kind: 'apipa',
  severity: 'high',
  needs: [probes.apipa],
  conditions: (c) => c.all(c.eq('alsoHasRealAddress', false)),
  title: (a) => text`${a.ip} is a self-assigned (169.254/16) address on ${a.dev}: DHCP failed there`,
  summary: (a) => text`${a.ip} (MAC ${a.mac}) was seen on ${a.dev} (${a.seenBy}). A 169.254.x.x address is what a DHCP client assigns itself when no server answers; the cause is usually listed above this finding.`,
  evidence: (a) => [line`${a.ip} seen via ${a.seenBy} on ${a.dev}, MAC ${a.mac}`, line`guest: ${a.domain}`],
  // Only a guest of this host can be made to ask again from here.
  fix: (a) => [disrupting(a.domain ? [a.domain] : [], cmd`virsh domif-setlink ${a.domain} ${a.mac} down`), cmd`sleep 2`, cmd`virsh domif-setlink ${a.domain} ${a.mac} up`],
  note: () => ['fix the DHCP failure listed above it first; flapping the link makes most DHCP clients ask again, or renew inside the guest (dhclient -v on Linux, ipconfig /renew on Windows)'],
})
