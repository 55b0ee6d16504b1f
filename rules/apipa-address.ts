import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'apipa-address',
  severity: 'high',
  scope: 'apipa',
  title: '{ip} is a self-assigned (169.254/16) address on {dev}: DHCP failed there',
  requires: ['apipa'],
  conditions: {
    all: [{fact: 'entity', path: 'alsoHasRealAddress', operator: 'equal', value: false}],
  },
  summary: '{ip} (MAC {mac}) was seen on {dev} ({seenBy}). A 169.254.x.x address is what a DHCP client assigns itself when no server answers; the cause is usually listed above this finding.',
  evidence: ['{ip} seen via {seenBy} on {dev}, MAC {mac}', 'guest: {domain}'],
  fix: ['virsh domif-setlink {domain} {mac} down && sleep 2 && virsh domif-setlink {domain} {mac} up'],
  // Only a guest of this host can be made to ask again from here.
  fixLines: (e) => (e.domain && e.mac ? [`virsh domif-setlink ${e.domain} ${e.mac} down && sleep 2 && virsh domif-setlink ${e.domain} ${e.mac} up`] : []),
  note: ['fix the DHCP failure listed above it first; flapping the link makes most DHCP clients ask again, or renew inside the guest (dhclient -v on Linux, ipconfig /renew on Windows)'],
}
