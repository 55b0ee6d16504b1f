import type {InterfaceView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

interface Netmask {
  /** Addresses beyond its network's subnet it ARPed for directly, as if on its link (a prefix too short). */
  offSubnetAsked: string[]
  /** Addresses on its subnet it sent to the gateway's MAC, as if beyond its link (a prefix too long). */
  onSubnetViaGateway: string[]
  netmaskSigns: string
}

export default defineRule<InterfaceView, Netmask>({
  id: 'guest-netmask-wrong',
  kind: 'interface',
  severity: 'medium',
  needs: [probes.wire, probes.libvirt],
  derive: (i) => {
    const beyond = i.wireRequests?.offSubnetAsked ?? []
    const within = i.wireRequests?.onSubnetViaGateway ?? []
    return {
      offSubnetAsked: beyond,
      onSubnetViaGateway: within,
      netmaskSigns: [
        ...(beyond.length > 0 ? [`it ARPs itself for ${beyond.join(', ')}, beyond it (a prefix too short)`] : []),
        ...(within.length > 0 ? [`it sends ${within.join(', ')}, on it, to the gateway (a prefix too long)`] : []),
      ].join('; '),
    }
  },
  conditions: (c) => c.all(c.eq('running', true), c.any(c.nonEmpty('offSubnetAsked'), c.nonEmpty('onSubnetViaGateway'))),
  title: (i) => text`Guest ${i.domain}'s netmask does not fit its network ${i.wireOnLink}: ${i.netmaskSigns}`,
  summary: (i) =>
    text`${i.domain} (${i.mac}) takes strangers for neighbours or neighbours for strangers on ${i.target}: ${i.netmaskSigns}. Its network's subnet is ${i.wireOnLink}: with a prefix too short the guest never reaches those addresses (nobody on the link is them, its gateway is never asked); with one too long its neighbours' traffic makes a detour through the host, or is dropped where the host does not route it back.`,
  evidence: (i) => [
    line`its network: ${i.wireOnLink}`,
    line`ARP requests from ${i.mac} on ${i.target} for addresses beyond it: ${i.offSubnetAsked}`,
    line`frames from ${i.mac} to addresses on it sent to the gateway's MAC: ${i.onSubnetViaGateway}`,
    line`addresses it uses: ${i.wireAddresses}`,
  ],
  fix: () => [],
  check: (i) => [cmd`virsh console ${i.domain}`],
  found: (i) => [...i.offSubnetAsked, ...i.onSubnetViaGateway],
  note: (i) => [
    line`inside the guest \`ip -4 addr\` shows its prefix: give its address the prefix of ${i.wireOnLink} (\`ip addr replace ADDR/PREFIX dev eth0\`, and in its network configuration), or let DHCP configure it`,
  ],
})
