import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'guest-proxy-arp',
  severity: 'medium',
  scope: 'interface',
  title: 'Guest {domain} answers ARP for {arpAnswersForAddresses}, not its own',
  requires: ['wire', 'libvirt'],
  conditions: {
    all: [
      {fact: 'entity', path: 'running', operator: 'equal', value: true},
      {fact: 'entity', path: 'arpAnswersForAddresses', operator: 'nonEmpty', value: true},
    ],
  },
  summary: "{domain} ({mac}) answers ARP requests on {target} for {arpAnswersForAddresses}, which it never sends from and which are not its own: whoever takes its answer sends that address's traffic to {domain}. Proxy ARP left on (a router or VPN guest: net.ipv4.conf.*.proxy_arp), a floating address (VIP) still configured after it moved on, or a load balancer's real server without arp_ignore.",
  evidence: ['ARP replies from {mac} on {target} for: {arpAnswersForOthers}', 'addresses it sends from: {wireAddresses}'],
  fix: ['virsh console {domain}'],
  note: ['inside the guest: `sysctl net.ipv4.conf.all.proxy_arp net.ipv4.conf.eth0.proxy_arp` (set 0 where it is not meant to route), `ip addr` for an address that moved elsewhere (remove it; keepalived/pacemaker state), or for a direct-routing real server `sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2`'],
}
