import type {HostView} from '../src/derive/index.js'
import {appendLines, cmd, defineRule, deviceKey, line, probes, SYSCTL_DROP_IN} from './kit.js'

interface Strict {
  /** The host's L3 interfaces whose effective rp_filter is 1 (strict). */
  rpStrictNames: string[]
  rpStrictInterfaces: string[]
}

export default defineRule<HostView, Strict>({
  id: 'rp-filter-strict',
  kind: 'host',
  severity: 'medium',
  needs: [probes.sysctl, probes.routes, probes.links],
  known: ['rpFilterDecided'],
  appliesTo: (h) => h.multiHomed,
  derive: (h) => {
    const strict = h.l3Interfaces.filter((i) => i.rpFilter === 1)
    return {rpStrictNames: strict.map((i) => i.name), rpStrictInterfaces: strict.map((i) => `${i.name} (rp_filter ${i.rpFilter})`)}
  },
  conditions: (c) => c.all(c.nonEmpty('rpStrictInterfaces')),
  title: () => 'Strict reverse-path filtering on a multi-homed host',
  summary: () =>
    'rp_filter = 1 drops packets that arrive on an interface other than the one the host would route the reply through; with several uplinks or routed guest networks that silently drops guest traffic.',
  evidence: (h) => [line`strict interfaces (effective = max(all, IF)): ${h.rpStrictInterfaces}`, line`default routes: ${h.defaultRoutes}; routed networks: ${h.routedNetworks}`],
  fix: (h) => {
    // The effective value is max(all, IF): 2 on the strict interfaces alone loosens them and no other (`all` = 2 would
    // loosen every interface, the host's other uplinks and guest bridges included). sysctl keys spell a dot in an
    // interface name (eth0.100) as a slash.
    const keys = h.rpStrictNames.map((i) => deviceKey('ipv4', i, 'rp_filter'))
    return [cmd`sysctl -w ${keys.map((k) => `${k}=2`)}`, appendLines(SYSCTL_DROP_IN, keys.map((k) => `${k} = 2`))]
  },
  note: () => ['2 is loose mode: a packet passes when any route leads back to its source'],
  fileToChange: () => 'etc/sysctl.d/90-kvmdoctor.conf',
  owns: [
    {
      kind: 'rp-filter',
      covers: (h, el) => el.device !== undefined && h.rpStrictNames.includes(el.device),
      undo: (el) => (el.device === undefined ? undefined : cmd`sysctl -w ${deviceKey('ipv4', el.device, 'rp_filter')}=2`) ?? [],
    },
  ],
})
