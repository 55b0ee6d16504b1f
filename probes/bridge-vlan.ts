/**
 * Each bridge port's VLAN membership (`bridge -j vlan show`): what a bridge with VLAN filtering takes in and sends
 * out of each port. The bridge device itself is listed under its own name: its entries decide what reaches the host
 * (and which VLAN the host's own frames enter). A kernel without VLAN filtering lists nothing.
 */
import {type Probe, ParseError, absentRead, isObj, num, outputOf, parseJson} from './types.js'

export interface VlanRange {
  /** First and last VLAN id of the range (equal for one VLAN). */
  from: number
  to: number
  /** Untagged frames entering the port take this VLAN (PVID). */
  pvid?: true
  /** Frames of these VLANs leave the port untagged (else tagged). */
  untagged?: true
}

export interface BridgeVlanFacts {
  /** Per port (or bridge device), its VLANs. A port absent from the listing is a member of no VLAN. */
  ports: Record<string, VlanRange[]>
  /** The read is absent (a recording made before this probe, a host without iproute2's bridge): nothing is known. */
  notRead?: string
}

function rangesOf(name: string, rows: unknown): VlanRange[] {
  if (!Array.isArray(rows)) throw new ParseError(`bridge -j vlan show: ${name} has no list of VLANs`)
  return rows.map((row, i) => {
    const from = isObj(row) ? num(row.vlan) : undefined
    if (from === undefined) throw new ParseError(`bridge -j vlan show: ${name}'s entry ${i} has no vlan`)
    const flags = isObj(row) && Array.isArray(row.flags) ? row.flags : []
    const r: VlanRange = {from, to: (isObj(row) ? num(row.vlanEnd) : undefined) ?? from}
    if (flags.includes('PVID')) r.pvid = true
    // Older iproute2 (RHEL 7's, the name-keyed shape) spells it without the space.
    if (flags.includes('Egress Untagged') || flags.includes('EgressUntagged')) r.untagged = true
    return r
  })
}

/** iproute2 >= 4.17 prints [{ifname, vlans}]; older ones an object keyed by the port's name. */
export function parseBridgeVlan(text: string): Record<string, VlanRange[]> {
  const json = parseJson(text, 'bridge -j vlan show')
  const ports: Record<string, VlanRange[]> = {}
  if (Array.isArray(json)) {
    for (const [i, row] of json.entries()) {
      if (!isObj(row) || typeof row.ifname !== 'string') throw new ParseError(`bridge -j vlan show: entry ${i} has no ifname`)
      ports[row.ifname] = [...(ports[row.ifname] ?? []), ...rangesOf(row.ifname, row.vlans ?? [])]
    }
  } else if (isObj(json)) {
    for (const [name, rows] of Object.entries(json)) ports[name] = rangesOf(name, rows)
  } else throw new ParseError('bridge -j vlan show: neither a list nor an object')
  return ports
}

export const bridgeVlanProbe: Probe<BridgeVlanFacts> = {
  id: 'bridge-vlan',
  title: "Bridge ports' VLANs",
  reads: ['bridge -j vlan show'],
  async collect({runner}) {
    const capture = await runner.run(['bridge', '-j', 'vlan', 'show'])
    // Absent (a recording older than this probe), a filtering bridge stays undecided; a failed read is unavailable.
    if (absentRead(capture)) return {ports: {}, notRead: capture.error}
    return {ports: parseBridgeVlan(outputOf(capture))}
  },
}
