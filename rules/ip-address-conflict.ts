import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'ip-address-conflict',
  severity: 'high',
  scope: 'address',
  title: '{ip} is claimed by {macCount} different MACs',
  requires: ['neighbours', 'leases'],
  conditions: {all: [{fact: 'entity', path: 'macCount', operator: 'greaterThanInclusive', value: 2}]},
  summary: 'Two machines answer for {ip}: traffic for it goes to whichever answered ARP last, so connections to it break and flap. Usually a static address inside the DHCP range that dnsmasq also leases out.',
  evidence: ['claims on {ip}: {claims}'],
  fix: ["virsh net-update {network} add ip-dhcp-host \"<host mac='{leaseMac}' ip='{ip}'/>\" --live --config"],
  note: [
    'this reserves {ip} for the lease holder {leaseMac}',
    'inside the other machine ({otherMac}, {otherDomain}) remove {ip}/{prefix} from its interface and give it an address outside the DHCP range',
  ],
  claims: ['conflict:{name}'],
}
