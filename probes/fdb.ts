/**
 * The bridges' forwarding databases (`bridge -j fdb show`): which port each MAC's frames leave by. Only the
 * entries a bridge forwards by are kept (`master`: the bridge's own table); a device's own `self` entries (its
 * multicast filter, a NIC's hardware table) say nothing of where a bridge sends a frame.
 */
import {type Probe, ParseError, absentRead, asArray, isObj, num, outputOf, parseJson, str} from './types.js'

export interface FdbEntry {
  mac: string
  /** The port the entry sends the MAC's frames to; the bridge's own name for an entry of the bridge device itself. */
  dev: string
  bridge: string
  /** permanent: a local address (frames to it are the host's); static: set by hand, never aged; dynamic: learned. */
  state: 'permanent' | 'static' | 'dynamic'
  /** The bridge never moves it to the port the MAC is seen on. */
  sticky?: true
  /** Learned by a driver or a control plane (extern_learn): the bridge does not age it. */
  externLearn?: true
  /** Made by the bridge for a MAC seen on a locked port (MAB): the MAC's frames are still dropped until it is authorized. */
  locked?: true
  vlan?: number
}

export interface FdbFacts {
  entries: FdbEntry[]
  /** The read is absent (a recording made before this probe, a host without iproute2's bridge): nothing is known of the fdb. */
  notRead?: string
}

export function parseBridgeFdb(text: string): FdbEntry[] {
  const rows = asArray(parseJson(text, 'bridge -j fdb show'), 'bridge -j fdb show')
  const out: FdbEntry[] = []
  for (const [i, row] of rows.entries()) {
    if (!isObj(row) || typeof row.mac !== 'string' || typeof row.ifname !== 'string') throw new ParseError(`bridge -j fdb show: entry ${i} has no mac or ifname`)
    const bridge = str(row.master)
    if (!bridge) continue
    const flags = Array.isArray(row.flags) ? row.flags : []
    const state = row.state === 'permanent' || row.state === 'static' ? row.state : 'dynamic'
    const e: FdbEntry = {mac: row.mac.toLowerCase(), dev: row.ifname, bridge, state}
    if (flags.includes('sticky')) e.sticky = true
    if (flags.includes('extern_learn')) e.externLearn = true
    if (flags.includes('locked')) e.locked = true
    const vlan = num(row.vlan)
    if (vlan !== undefined) e.vlan = vlan
    out.push(e)
  }
  return out
}

export const fdbProbe: Probe<FdbFacts> = {
  id: 'fdb',
  title: "Bridges' forwarding databases",
  reads: ['bridge -j fdb show'],
  async collect({runner}) {
    const capture = await runner.run(['bridge', '-j', 'fdb', 'show'])
    // Absent, the datapath follows frames to a guest as it did before it read the fdb; a failed read is unavailable.
    if (absentRead(capture)) return {entries: [], notRead: capture.error}
    return {entries: parseBridgeFdb(outputOf(capture))}
  },
}
