import type {InterfaceView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

interface Dns {
  /** DNS servers (not its network's own) that never answered it. */
  dnsUnansweredServers: string[]
  dnsUnanswered: string[]
  dnsWho: string
  dnsServers: string[]
}

export default defineRule<InterfaceView, Dns>({
  id: 'guest-dns-unanswered',
  kind: 'interface',
  severity: 'high',
  needs: [probes.wire, probes.libvirt],
  // Judged only where the capture took what comes back to the guest (DNS answers, ICMP errors): never a pass without them.
  known: ['wireAnswersHeard'],
  derive: (i) => {
    const r = i.wireRequests
    const own = r?.dnsServers ?? []
    return {
      dnsUnansweredServers: r?.dnsUnanswered.map((d) => d.server) ?? [],
      dnsUnanswered: r?.dnsUnanswered.map((d) => `${d.server} (${d.queries} queries in ${d.seconds} s, no answer: ${d.why})`) ?? [],
      dnsServers: own,
      dnsWho: own.length > 0 ? `its network's DNS server is ${own.join(', ')}` : 'no DNS server is known for its network: neither a libvirt network nor a DHCP answer heard names one',
    }
  },
  conditions: (c) => c.all(c.eq('running', true), c.nonEmpty('dnsUnansweredServers')),
  title: (i) => text`Guest ${i.domain} asks DNS server ${i.dnsUnansweredServers} and gets no answer`,
  summary: (i) =>
    text`${i.domain} (${i.mac}) sends DNS queries to ${i.dnsUnansweredServers} on ${i.target} and no answer comes back: names do not resolve inside the guest, so nearly everything it does by name fails, while its address and routes may be fine. A resolver of another site kept from a template or an old network, one that is down, or one its network cannot reach; ${i.dnsWho}.`,
  evidence: (i) => [line`DNS from ${i.mac} on ${i.target}: ${i.dnsUnanswered}`, i.dnsWho],
  fix: () => [],
  check: (i) => [cmd`virsh console ${i.domain}`],
  found: (i) => i.dnsUnanswered,
  // Its DNS flow is walked to the server it asks, whose answer the host cannot see: that is this finding's.
  explains: [{rule: 'guest-flow-indeterminate', via: 'domain'}],
  note: (i) => [
    i.dnsServers.length > 0
      ? line`inside the guest: point its resolver at ${i.dnsServers} (/etc/resolv.conf, \`resolvectl dns IF SERVER\`, netplan nameservers, nmcli ipv4.dns), or let DHCP give it`
      : "inside the guest: point its resolver at the LAN's DNS server (/etc/resolv.conf, `resolvectl dns IF SERVER`, netplan nameservers, nmcli ipv4.dns), or let DHCP give it",
  ],
})
