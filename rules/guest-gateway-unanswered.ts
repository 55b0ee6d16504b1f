import type {InterfaceView} from '../src/derive/index.js'
import type {UnansweredAsk} from '../src/derive/wire-requests.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

interface Gateway {
  /** Addresses on its subnet it asked for again and again, that nobody holds, while none of its traffic left the subnet. */
  gatewayAsked: string[]
  gatewayAsks: string[]
  /** Who would answer: the network's gateway as the host knows it and its DHCP servers hand out. */
  gatewayWho: string
  gateways: string[]
}

const asked = (u: UnansweredAsk) =>
  `${u.ip} (${u.asks} requests in ${u.seconds} s, no answer; ${u.holders.length > 0 ? `held by ${u.holders.join(', ')}` : 'nobody on its segment holds it'})`

export default defineRule<InterfaceView, Gateway>({
  id: 'guest-gateway-unanswered',
  kind: 'interface',
  severity: 'high',
  needs: [probes.wire, probes.libvirt],
  derive: (i) => {
    const r = i.wireRequests
    const gateways = r?.gateways ?? []
    return {
      gatewayAsked: r?.gatewayUnanswered.map((u) => u.ip) ?? [],
      gatewayAsks: r?.gatewayUnanswered.map(asked) ?? [],
      gateways,
      gatewayWho:
        gateways.length > 0
          ? `its network's gateway is ${gateways.join(', ')}`
          : 'this host knows no gateway for its network (an isolated network, or a LAN whose DHCP answers were not heard)',
    }
  },
  conditions: (c) => c.all(c.eq('running', true), c.nonEmpty('gatewayAsked')),
  title: (i) => text`Guest ${i.domain} asks for its gateway ${i.gatewayAsked} and nobody answers`,
  summary: (i) =>
    text`${i.domain} (${i.mac}) asked ARP for ${i.gatewayAsked} on ${i.target} again and again and nobody answered: nobody on its segment holds that address, and none of its traffic left its subnet while kvmdoctor listened. It is most likely the gateway set inside the guest (a template from another site, a typo), so nothing it sends beyond its subnet goes anywhere; ${i.gatewayWho}.`,
  evidence: (i) => [line`asked on ${i.target}: ${i.gatewayAsks}`, line`its subnet: ${i.wireOnLink}; none of its frames went beyond it`, i.gatewayWho],
  fix: () => [],
  check: (i) => [cmd`virsh console ${i.domain}`],
  found: (i) => i.gatewayAsked,
  note: (i) => [
    i.gateways.length > 0
      ? line`inside the guest: \`ip route replace default via ${i.gateways[0]}\`, and the same in its network configuration (netplan, ifcfg, NetworkManager, /etc/network/interfaces), or let DHCP give it`
      : 'inside the guest: set the default route to the LAN\'s router in its network configuration (netplan, ifcfg, NetworkManager, /etc/network/interfaces), or let DHCP give it',
  ],
})
