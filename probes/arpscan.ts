import type {Link} from './links.js'
import type {OvsFacts} from './ovs.js'
import {type Probe, ProbeUnavailable} from './types.js'

export interface ArpReply {
  iface: string
  ip: string
  mac: string
  vendor?: string
  /** arp-scan's "(DUP: n)" marker: n-th reply for the same address. */
  dup?: number
}

export interface ArpScanFacts {
  scanned: string[]
  replies: ArpReply[]
  errors: Record<string, string>
}

export function parseArpScan(text: string, iface: string): ArpReply[] {
  const replies: ArpReply[] = []
  for (const line of text.split('\n')) {
    const m = /^(\d{1,3}(?:\.\d{1,3}){3})\t([0-9a-f]{2}(?::[0-9a-f]{2}){5})(?:\t(.*))?$/i.exec(line.trimEnd())
    if (!m) continue
    const reply: ArpReply = {iface, ip: m[1], mac: m[2].toLowerCase()}
    let vendor = m[3]?.trim()
    const dup = vendor ? /\s*\(DUP: (\d+)\)$/.exec(vendor) : null
    if (dup) {
      reply.dup = Number(dup[1])
      vendor = vendor!.slice(0, dup.index).trim()
    }
    if (vendor) reply.vendor = vendor
    replies.push(reply)
  }
  return replies
}

/** Sends ARP requests on each active bridge with an IPv4 address: only with --active. */
export const arpScanProbe: Probe<ArpScanFacts> = {
  id: 'arp-scan',
  title: 'arp-scan of guest bridges (active)',
  reads: ['arp-scan -I BRIDGE -l (Linux bridges, and Open vSwitch bridges\' internal ports)'],
  async collect({runner, options, get}) {
    if (!options.active) throw new ProbeUnavailable('active probing is off (use --active to run arp-scan)', true)
    const links = await get<Link[]>('links')
    if (!links.ok) throw new ProbeUnavailable(`needs links: ${links.error}`)
    // An Open vSwitch bridge's segment is reached through its internal port, the link of the bridge's name (a tap on
    // the userspace datapath, an "openvswitch" link on the kernel's).
    const ovs = await get<OvsFacts>('ovs')
    const ovsBridges = new Set(ovs.ok ? ovs.data.bridges.map((b) => b.name) : [])
    const bridges = links.data.filter((l) => (l.kind === 'bridge' || ovsBridges.has(l.name)) && l.up && l.addresses.some((a) => a.family === 'inet')).map((l) => l.name)
    const facts: ArpScanFacts = {scanned: [], replies: [], errors: {}}
    await Promise.all(
      bridges.map(async (bridge) => {
        const c = await runner.run(['arp-scan', '-I', bridge, '-l', '--retry=2', '--timeout=300'])
        if (c.error !== undefined) {
          facts.errors[bridge] = c.error
          return
        }
        facts.scanned.push(bridge)
        facts.replies.push(...parseArpScan(c.output, bridge))
      }),
    )
    if (bridges.length > 0 && facts.scanned.length === 0) throw new ProbeUnavailable(Object.values(facts.errors)[0])
    facts.scanned.sort()
    return facts
  },
}
