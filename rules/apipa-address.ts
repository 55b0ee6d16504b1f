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
  fix: ['fix the DHCP failure listed above it, then renew inside the guest: dhclient -v eth0 (Linux) or ipconfig /renew (Windows)'],
}
