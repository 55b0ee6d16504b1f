import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'guest-silent',
  severity: 'medium',
  scope: 'interface',
  title: 'Guest {domain} sent nothing on {target} in {listenSeconds} s',
  requires: ['wire', 'libvirt'],
  conditions: {
    all: [
      // Not paused (nor shutting down): only a guest whose CPUs run should be sending.
      {fact: 'entity', path: 'domainState', operator: 'equal', value: 'running'},
      {fact: 'entity', path: 'wireSilent', operator: 'equal', value: true},
    ],
  },
  summary: '{domain} is running, yet not one frame from {mac} crossed its tap {target} while kvmdoctor listened ({listenSeconds} s): no ARP, no DHCP, no IPv6 router solicitation. Its NIC is down inside, the OS has not booted (or hangs), or the interface inside is not the one on this tap.',
  evidence: ['listened {listenSeconds} s on {target} (MAC {mac}): 0 frames from the guest'],
  fix: ['virsh domif-getlink {domain} {target}', 'virsh console {domain}'],
  note: ["inside the guest: `ip link` (is the NIC up?), `ip addr`, and the DHCP client's log; a guest that is idle on purpose still answers ARP and renews its lease, so listen longer (--listen 60) before concluding"],
}
