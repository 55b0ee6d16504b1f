import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'guest-gateway-unanswered',
  severity: 'high',
  scope: 'interface',
  title: 'Guest {domain} asks for its gateway {wireGatewayUnanswered} and nobody answers',
  requires: ['wire', 'libvirt'],
  derive: (e) => {
    const gateways = (e.wireGateways ?? []) as string[]
    return {
      // Who would answer: the host (a libvirt network's address), or the router the LAN's DHCP servers hand out.
      wireGatewayWho: gateways.length > 0 ? `its network's gateway is ${gateways.join(', ')}` : 'this host knows no gateway for its network (an isolated network, or a LAN whose DHCP answers were not heard)',
    }
  },
  conditions: {
    all: [
      {fact: 'entity', path: 'running', operator: 'equal', value: true},
      {fact: 'entity', path: 'wireGatewayUnanswered', operator: 'nonEmpty', value: true},
    ],
  },
  summary: "{domain} ({mac}) asked ARP for {wireGatewayUnanswered} on {target} again and again and nobody answered: nobody on its segment holds that address, and none of its traffic left its subnet while kvmdoctor listened. It is most likely the gateway set inside the guest (a template from another site, a typo), so nothing it sends beyond its subnet goes anywhere; {wireGatewayWho}.",
  evidence: ['asked on {target}: {wireGatewayAsks}', 'its subnet: {wireOnLink}; none of its frames went beyond it', '{wireGatewayWho}'],
  fix: ['virsh console {domain}'],
  note: ['inside the guest: `ip route replace default via {wireGateways}`, and the same in its network configuration (netplan, ifcfg, NetworkManager, /etc/network/interfaces), or let DHCP give it'],
}
