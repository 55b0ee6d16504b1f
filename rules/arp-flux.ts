import type {HostView} from '../src/derive/index.js'
import {appendLines, cmd, defineRule, line, probes, SYSCTL_DROP_IN} from './kit.js'

interface Flux {
  /** Interface pairs on one subnet where either answers ARP for both (arp_ignore 0 and arp_announce 0). */
  arpFluxPairs: string[]
}

export default defineRule<HostView, Flux>({
  id: 'arp-flux',
  kind: 'host',
  severity: 'low',
  needs: [probes.sysctl, probes.links],
  derive: (h) => ({
    arpFluxPairs: h.sharedSubnets
      .filter(({a, b}) => [a, b].some((i) => i.arpIgnore === 0 && i.arpAnnounce === 0))
      .map(({a, b}) => `${a.name} ${a.cidr} and ${b.name} ${b.cidr}`),
  }),
  conditions: (c) => c.all(c.gt('arpFluxPairs.length', 0)),
  title: () => 'Two host interfaces share a subnet and answer ARP for each other',
  summary: () => 'With arp_ignore = 0 and arp_announce = 0 either interface answers ARP for both addresses, so neighbours (and guests) send to whichever answered first.',
  evidence: (h) => [line`same subnet on: ${h.arpFluxPairs}`],
  fix: () => [cmd`sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2`, appendLines(SYSCTL_DROP_IN, ['net.ipv4.conf.all.arp_ignore = 1', 'net.ipv4.conf.all.arp_announce = 2'])],
  note: () => ['the second command keeps the setting across reboots'],
  fileToChange: () => 'etc/sysctl.d/90-kvmdoctor.conf',
})
