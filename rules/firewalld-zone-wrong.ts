import type {NetworkView} from '../src/derive/index.js'
import {activeNetwork} from './applies.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

export default defineRule<NetworkView>({
  id: 'firewalld-zone-wrong',
  kind: 'network',
  severity: 'high',
  needs: [probes.firewalld, probes.libvirt],
  appliesTo: (n) => activeNetwork(n) && n.firewalldRunning === true,
  conditions: (c) => c.all(c.eq('firewalldRunning', true), c.eq('active', true), c.ne('bridge', null), c.ne('firewalldZone', 'libvirt')),
  title: (n) => text`firewalld has ${n.bridge} in zone '${n.firewalldZone}', not 'libvirt'`,
  summary: (n) => text`firewalld filters ${n.bridge} with zone '${n.firewalldZone}' rules, which usually reject DHCP and DNS from guests; libvirt expects its bridges in zone 'libvirt'.`,
  evidence: (n) => [line`firewall-cmd --get-zone-of-interface=${n.bridge}: ${n.firewalldZone}`],
  fix: (n) => [cmd`firewall-cmd --zone=libvirt --change-interface=${n.bridge}`, cmd`firewall-cmd --permanent --zone=libvirt --change-interface=${n.bridge}`],
  explains: [
    {rule: 'apipa-address', via: 'network'},
    {rule: 'dhcp-no-offer', via: 'network'},
  ],
})
