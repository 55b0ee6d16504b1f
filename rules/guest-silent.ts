import type {InterfaceView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

export default defineRule<InterfaceView>({
  id: 'guest-silent',
  kind: 'interface',
  severity: 'medium',
  needs: [probes.wire, probes.libvirt],
  conditions: (c) =>
    c.all(
      // Not paused (nor shutting down): only a guest whose CPUs run should be sending.
      c.eq('domainState', 'running'),
      // Not a frame in the whole listening time, from a capture that was not cut short.
      c.eq('wireSent', 0),
      c.eq('wireCapped', false),
    ),
  title: (i) => text`Guest ${i.domain} sent nothing on ${i.target} in ${i.listenSeconds} s`,
  summary: (i) =>
    text`${i.domain} is running, yet not one frame from ${i.mac} crossed its tap ${i.target} while kvmdoctor listened (${i.listenSeconds} s): no ARP, no DHCP, no IPv6 router solicitation. Its NIC is down inside, the OS has not booted (or hangs), or the interface inside is not the one on this tap.`,
  evidence: (i) => [line`listened ${i.listenSeconds} s on ${i.target} (MAC ${i.mac}): 0 frames from the guest`],
  fix: () => [],
  check: (i) => [cmd`virsh domif-getlink ${i.domain} ${i.target}`, cmd`virsh console ${i.domain}`],
  note: () => [
    "inside the guest: `ip link` (is the NIC up?), `ip addr`, and the DHCP client's log; a guest that is idle on purpose still answers ARP and renews its lease, so listen longer (--listen 60) before concluding",
  ],
})
