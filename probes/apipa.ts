import {isApipa} from '../src/lib/ipv4.js'
import type {ArpScanFacts} from './arpscan.js'
import type {Link} from './links.js'
import type {Neighbour} from './neighbours.js'
import {type Probe, ProbeUnavailable} from './types.js'
import type {WireFacts} from './wire.js'

export interface ApipaSighting {
  ip: string
  /** Where it was seen: a host interface, a neighbour entry on a bridge, an arp-scan reply, or the guest's tap (--listen). */
  source: 'host-address' | 'neighbour' | 'arp-scan' | 'wire'
  dev: string
  mac?: string
}

export interface ApipaFacts {
  sightings: ApipaSighting[]
  /** MACs also seen answering from a routable IPv4 address: their DHCP (or static config) works. */
  macsWithRealAddress: string[]
}

/** Self-assigned 169.254/16 addresses: the mark of a DHCP client that got no answer. */
export const apipaProbe: Probe<ApipaFacts> = {
  id: 'apipa',
  title: 'Self-assigned (APIPA) addresses',
  reads: ['links', 'neighbours', 'arp-scan (with --active)', 'wire (with --listen)'],
  async collect({get}) {
    const [links, neighbours, arpScan, wire] = await Promise.all([get<Link[]>('links'), get<Neighbour[]>('neighbours'), get<ArpScanFacts>('arp-scan'), get<WireFacts>('wire')])
    if (!links.ok && !neighbours.ok) throw new ProbeUnavailable(`needs links or neighbours: ${links.ok ? '' : links.error}`)
    const sightings: ApipaSighting[] = []
    const real = new Set<string>()
    const isReal = (ip: string) => ip.includes('.') && !ip.startsWith('169.254.')
    if (links.ok) {
      for (const link of links.data) {
        for (const a of link.addresses) if (a.family === 'inet' && isApipa(a.address)) sightings.push({ip: a.address, source: 'host-address', dev: link.name, mac: link.mac})
      }
    }
    if (neighbours.ok) {
      for (const n of neighbours.data) {
        if (!n.mac || n.state.includes('FAILED')) continue
        if (isApipa(n.ip)) sightings.push({ip: n.ip, source: 'neighbour', dev: n.dev, mac: n.mac})
        else if (isReal(n.ip)) real.add(n.mac)
      }
    }
    if (arpScan.ok) {
      for (const r of arpScan.data.replies) {
        if (isApipa(r.ip)) sightings.push({ip: r.ip, source: 'arp-scan', dev: r.iface, mac: r.mac})
        else if (isReal(r.ip)) real.add(r.mac)
      }
    }
    if (wire.ok) {
      for (const i of wire.data.interfaces) {
        for (const a of i.addresses) {
          if (isApipa(a.ip)) sightings.push({ip: a.ip, source: 'wire', dev: i.tap, mac: i.mac})
          else if (isReal(a.ip)) real.add(i.mac)
        }
      }
    }
    return {sightings, macsWithRealAddress: [...real].sort()}
  },
}
