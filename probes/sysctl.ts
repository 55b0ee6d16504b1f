import {deviceKey, sysctlPath} from '../src/lib/sysctl-key.js'
import type {Link} from './links.js'
import {type Probe, type ProbeResult} from './types.js'

/** Values by key in dotted sysctl form (net.ipv4.ip_forward); null = key absent (module not loaded). */
export interface SysctlFacts {
  values: Record<string, number | null>
  /** Keys that exist but could not be read, with the reason. */
  unreadable: Record<string, string>
}

const HOST_KEYS = [
  'net.ipv4.ip_forward',
  'net.bridge.bridge-nf-call-iptables',
  'net.bridge.bridge-nf-call-ip6tables',
  'net.netfilter.nf_conntrack_count',
  'net.netfilter.nf_conntrack_max',
  // The hash table the kernel sized from memory at boot: its default nf_conntrack_max (Linux 5.15 on).
  'net.netfilter.nf_conntrack_buckets',
]
/**
 * rp_filter, accept_local and forwarding are what the kernel asks the arriving device; arp_* what it
 * answers ARP with; route_localnet whether it routes 127/8 arriving there (a DNAT to loopback); src_valid_mark
 * whether rp_filter's route back uses the packet's mark (fwmark policy rules: multi-WAN, VPNs).
 */
const PER_INTERFACE = ['rp_filter', 'arp_ignore', 'arp_announce', 'arp_filter', 'forwarding', 'accept_local', 'route_localnet', 'src_valid_mark']
/**
 * IPv6 routes guests; accept_ra (0, 1, 2) decides whether an interface keeps RA-learned routes while it does;
 * force_forwarding (Linux 6.17 on) forwards what arrives on one interface while conf/all/forwarding is 0.
 */
const PER_INTERFACE_V6 = ['forwarding', 'accept_ra', 'force_forwarding']

export {sysctlPath}

/** Interface names may contain dots (eth0.100): build the key from parts, not by splitting. */
export const interfaceKey = (iface: string, name: string) => deviceKey('ipv4', iface, name)
export const interfaceKey6 = (iface: string, name: string) => deviceKey('ipv6', iface, name)

export function parseSysctlValue(text: string): number | undefined {
  const value = Number(text.trim().split(/\s+/)[0])
  return text.trim() !== '' && Number.isFinite(value) ? value : undefined
}

export const sysctlProbe: Probe<SysctlFacts> = {
  id: 'sysctl',
  title: 'Kernel network sysctls',
  reads: [...HOST_KEYS.map(sysctlPath), '/proc/sys/net/ipv4/conf/{all,default,IF}/{rp_filter,arp_ignore,arp_announce,arp_filter,forwarding,accept_local,route_localnet,src_valid_mark}', '/proc/sys/net/ipv6/conf/{all,default,IF}/{forwarding,accept_ra,force_forwarding}'],
  async collect({runner, get}) {
    const links = (await get<Link[]>('links')) as ProbeResult<Link[]>
    // Bridge ports and taps never route; only interfaces that carry IP matter for rp_filter/arp_*.
    const interfaces = links.ok ? links.data.filter((l) => !l.master && l.kind !== 'loopback').map((l) => l.name) : []
    const keys = [...HOST_KEYS]
    const paths = new Map<string, string>(HOST_KEYS.map((k) => [k, sysctlPath(k)]))
    for (const iface of ['all', 'default', ...interfaces]) {
      for (const name of PER_INTERFACE) {
        const key = interfaceKey(iface, name)
        keys.push(key)
        paths.set(key, `/proc/sys/net/ipv4/conf/${iface}/${name}`)
      }
      // Absent (null) where IPv6 is off for the interface or the kernel has none.
      for (const name of PER_INTERFACE_V6) {
        const key = interfaceKey6(iface, name)
        keys.push(key)
        paths.set(key, `/proc/sys/net/ipv6/conf/${iface}/${name}`)
      }
    }
    const facts: SysctlFacts = {values: {}, unreadable: {}}
    const captures = await Promise.all(keys.map((k) => runner.readFile(paths.get(k)!)))
    keys.forEach((key, i) => {
      const c = captures[i]
      if (c.errorCode === 'not-found') facts.values[key] = null
      else if (c.error !== undefined) facts.unreadable[key] = c.error
      else {
        const value = parseSysctlValue(c.output)
        if (value === undefined) facts.unreadable[key] = `unexpected value ${JSON.stringify(c.output.slice(0, 40))}`
        else facts.values[key] = value
      }
    })
    return facts
  },
}
