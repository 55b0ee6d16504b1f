import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'guest-dns-unanswered',
  severity: 'high',
  scope: 'interface',
  title: 'Guest {domain} asks DNS server {wireDnsUnansweredServers} and gets no answer',
  requires: ['wire', 'libvirt'],
  derive: (e) => {
    const own = (e.wireDnsServers ?? []) as string[]
    return {wireDnsWho: own.length > 0 ? `its network's DNS server is ${own.join(', ')}` : 'this host knows no DNS server for its network (its DHCP answers were not heard)'}
  },
  conditions: {
    all: [
      {fact: 'entity', path: 'running', operator: 'equal', value: true},
      {fact: 'entity', path: 'wireDnsUnanswered', operator: 'nonEmpty', value: true},
    ],
  },
  summary: '{domain} ({mac}) sends DNS queries to {wireDnsUnansweredServers} on {target} and no answer comes back: names do not resolve inside the guest, so nearly everything it does by name fails, while its address and routes may be fine. A resolver of another site kept from a template or an old network, one that is down, or one its network cannot reach; {wireDnsWho}.',
  evidence: ['DNS from {mac} on {target}: {wireDnsUnanswered}', '{wireDnsWho}'],
  fix: ['virsh console {domain}'],
  note: ['inside the guest: point its resolver at {wireDnsServers} (/etc/resolv.conf, `resolvectl dns IF SERVER`, netplan nameservers, nmcli ipv4.dns), or let DHCP give it'],
}
