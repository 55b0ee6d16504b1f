import type {HostView} from '../src/derive/index.js'
import {appendLines, cmd, defineRule, deviceKey, line, probes, SYSCTL_DROP_IN} from './kit.js'

interface Flux {
  /** Interface pairs on one subnet where either answers ARP for both (arp_ignore 0 and arp_announce 0). */
  arpFluxPairs: string[]
  /** The interfaces of those pairs. */
  arpFluxInterfaces: string[]
}

export default defineRule<HostView, Flux>({
  id: 'arp-flux',
  kind: 'host',
  severity: 'low',
  needs: [probes.sysctl, probes.links],
  derive: (h) => {
    const pairs = h.sharedSubnets.filter(({a, b}) => [a, b].some((i) => i.arpIgnore === 0 && i.arpAnnounce === 0))
    return {
      arpFluxPairs: pairs.map(({a, b}) => `${a.name} ${a.cidr} and ${b.name} ${b.cidr}`),
      arpFluxInterfaces: [...new Set(pairs.flatMap(({a, b}) => [a.name, b.name]))].sort(),
    }
  },
  conditions: (c) => c.all(c.gt('arpFluxPairs.length', 0)),
  title: () => 'Two host interfaces share a subnet and answer ARP for each other',
  summary: () => 'With arp_ignore = 0 and arp_announce = 0 either interface answers ARP for both addresses, so neighbours (and guests) send to whichever answered first.',
  evidence: (h) => [line`same subnet on: ${h.arpFluxPairs}`],
  fix: (h) => {
    // Both take max(all, IF): set on the pairs' interfaces they change nothing else (`all` would, on every interface).
    const settings = h.arpFluxInterfaces.flatMap((i) => [[deviceKey('ipv4', i, 'arp_ignore'), 1], [deviceKey('ipv4', i, 'arp_announce'), 2]] as const)
    return [cmd`sysctl -w ${settings.map(([k, v]) => `${k}=${v}`)}`, appendLines(SYSCTL_DROP_IN, settings.map(([k, v]) => `${k} = ${v}`))]
  },
  note: () => ['the second command keeps the setting across reboots'],
  fileToChange: () => 'etc/sysctl.d/90-kvmdoctor.conf',
})
