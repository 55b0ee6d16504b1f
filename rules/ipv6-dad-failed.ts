import type {InterfaceView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

interface Dad {
  /** IPv6 addresses it probed for (duplicate address detection) that another MAC advertises on its segment. */
  dadFailedAddresses: string[]
  dadFailed: string[]
}

export default defineRule<InterfaceView, Dad>({
  id: 'ipv6-dad-failed',
  kind: 'interface',
  severity: 'medium',
  needs: [probes.wire, probes.libvirt],
  // Judged only where the capture took others' neighbour advertisements (the answer to its probe): never a pass without them.
  known: ['wireAnswersHeard'],
  derive: (i) => {
    const failed = i.wireRequests?.dadFailed ?? []
    return {dadFailedAddresses: failed.map((d) => d.ip), dadFailed: failed.map((d) => `${d.ip} (claimed by ${d.claimedBy.join(', ')})`)}
  },
  conditions: (c) => c.all(c.eq('running', true), c.nonEmpty('dadFailedAddresses')),
  title: (i) => text`Guest ${i.domain} cannot take IPv6 address ${i.dadFailedAddresses}: another machine holds it`,
  summary: (i) =>
    text`${i.domain} (${i.mac}) probed for ${i.dadFailedAddresses} on ${i.target} before taking it (duplicate address detection) and another MAC advertises that address on the same segment: the guest's kernel marks it dadfailed and does not use it, so whatever should reach ${i.domain} there reaches the other machine. Two guests configured with one static address (a clone, a copied configuration), or a guest given the host's address.`,
  evidence: (i) => [line`duplicate address detection on ${i.target}: ${i.dadFailed}`],
  fix: () => [],
  check: (i) => [cmd`virsh console ${i.domain}`],
  found: (i) => i.dadFailed,
  note: () => [
    'inside the guest `ip -6 addr show dadfailed` lists it: give one of the two another address (or use SLAAC/DHCPv6), then `ip -6 addr del ADDR dev IF && ip -6 addr add ADDR dev IF` retries',
  ],
})
