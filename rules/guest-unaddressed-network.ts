import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'guest-unaddressed-network',
  severity: 'medium',
  scope: 'interface',
  appliesTo: (e) => e.running === true && e.type === 'network',
  title: '{domain} has no address, and network {context.network} hands out none',
  requires: ['libvirt', 'leases', 'neighbours'],
  needs: ['networkHandsOutAddresses', 'networkSubnet'],
  conditions: {
    all: [
      {fact: 'entity', path: 'running', operator: 'equal', value: true},
      {fact: 'entity', path: 'networkHandsOutAddresses', operator: 'equal', value: false},
      {fact: 'entity', path: 'ipv4Addresses', operator: 'nonEmpty', value: false},
    ],
  },
  summary: 'No source (DHCP lease, the host\'s neighbour table, the guest agent, arp-scan, the wire) shows an IPv4 address for {domain} ({mac}), and its network {context.network} has no DHCP range and no host entry for it: the guest has no address to talk from unless it is configured by hand.',
  evidence: ['network {context.network}: subnet {networkSubnet}, no <dhcp><range>, no <host> entry for {mac}', 'addresses seen for {mac}: none'],
  fix: [],
  // Whether the guest is meant to be static or the network to serve it is a person's choice: the notes give both ways.
  fixLines: () => [],
  // The flows it stops meet the network's missing addresses first: that element is this finding's.
  claims: ['unaddressed:{context.network}'],
  note: [
    'give the guest a static address of {networkSubnet} inside the guest, or let the network hand one out: add a <dhcp> range, or a host entry for {mac} (virsh net-update {context.network} add ip-dhcp-host "<host mac=\'{mac}\' ip=\'ADDR\'/>" --live --config)',
    'with --listen, the guest\'s own DHCP requests on its tap show whether it is asking for an address at all',
  ],
}
