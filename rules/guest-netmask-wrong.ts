import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'guest-netmask-wrong',
  severity: 'medium',
  scope: 'interface',
  title: "Guest {domain}'s netmask does not fit its network {wireOnLink}: {wireNetmaskSigns}",
  requires: ['wire', 'libvirt'],
  derive: (e) => {
    const beyond = (e.wireOffSubnetAsked ?? []) as string[]
    const within = (e.wireOnSubnetViaGateway ?? []) as string[]
    return {
      wireNetmaskSigns: [
        ...(beyond.length > 0 ? [`it ARPs itself for ${beyond.join(', ')}, beyond it (a prefix too short)`] : []),
        ...(within.length > 0 ? [`it sends ${within.join(', ')}, on it, to the gateway (a prefix too long)`] : []),
      ].join('; '),
    }
  },
  conditions: {
    all: [
      {fact: 'entity', path: 'running', operator: 'equal', value: true},
      {
        any: [
          {fact: 'entity', path: 'wireOffSubnetAsked', operator: 'nonEmpty', value: true},
          {fact: 'entity', path: 'wireOnSubnetViaGateway', operator: 'nonEmpty', value: true},
        ],
      },
    ],
  },
  summary: "{domain} ({mac}) takes strangers for neighbours or neighbours for strangers on {target}: {wireNetmaskSigns}. Its network's subnet is {wireOnLink}: with a prefix too short the guest never reaches those addresses (nobody on the link is them, its gateway is never asked); with one too long its neighbours' traffic makes a detour through the host, or is dropped where the host does not route it back.",
  evidence: ['its network: {wireOnLink}', 'ARP requests from {mac} on {target} for addresses beyond it: {wireOffSubnetAsked}', 'frames from {mac} to addresses on it sent to the gateway ({wireGateways}): {wireOnSubnetViaGateway}', 'addresses it uses: {wireAddresses}'],
  fix: ['virsh console {domain}'],
  note: ['inside the guest `ip -4 addr` shows its prefix: give its address the prefix of {wireOnLink} (`ip addr replace ADDR/PREFIX dev eth0`, and in its network configuration), or let DHCP configure it'],
}
