import type {InterfaceView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

interface ProxyArp {
  /** Addresses it answered ARP for that are not its own. */
  arpAnswersForAddresses: string[]
  /** The same, with whose they are. */
  arpAnswersForOthers: string[]
}

export default defineRule<InterfaceView, ProxyArp>({
  id: 'guest-proxy-arp',
  kind: 'interface',
  severity: 'medium',
  needs: [probes.wire, probes.libvirt],
  derive: (i) => {
    const others = i.wireRequests?.answersForOthers ?? []
    return {
      arpAnswersForAddresses: others.map((a) => a.ip),
      arpAnswersForOthers: others.map((a) => `${a.ip} (${a.holders.length > 0 ? a.holders.join(', ') : 'held by nobody the host knows'})`),
    }
  },
  conditions: (c) => c.all(c.eq('running', true), c.nonEmpty('arpAnswersForAddresses')),
  title: (i) => text`Guest ${i.domain} answers ARP for ${i.arpAnswersForAddresses}, not its own`,
  summary: (i) =>
    text`${i.domain} (${i.mac}) answers ARP requests on ${i.target} for ${i.arpAnswersForAddresses}, which it never sends from and which are not its own: whoever takes its answer sends that address's traffic to ${i.domain}. Proxy ARP left on (a router or VPN guest: net.ipv4.conf.*.proxy_arp), a floating address (VIP) still configured after it moved on, or a load balancer's real server without arp_ignore.`,
  evidence: (i) => [line`ARP replies from ${i.mac} on ${i.target} for: ${i.arpAnswersForOthers}`, line`addresses it sends from: ${i.wireAddresses}`],
  fix: () => [],
  check: (i) => [cmd`virsh console ${i.domain}`],
  found: (i) => i.arpAnswersForOthers,
  note: () => [
    'inside the guest: `sysctl net.ipv4.conf.all.proxy_arp net.ipv4.conf.eth0.proxy_arp` (set 0 where it is not meant to route), `ip addr` for an address that moved elsewhere (remove it; keepalived/pacemaker state), or for a direct-routing real server `sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2`',
  ],
})
