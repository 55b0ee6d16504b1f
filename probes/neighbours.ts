import {IP_NEIGH} from './first-reads.js'
import {type Probe, ParseError, asArray, isObj, outputOf, parseJson, str} from './types.js'

export interface Neighbour {
  ip: string
  dev: string
  mac?: string
  state: string[]
}

export function parseIpNeigh(text: string): Neighbour[] {
  return asArray(parseJson(text, 'ip -j neigh show'), 'ip -j neigh show').map((row, i) => {
    if (!isObj(row) || typeof row.dst !== 'string') throw new ParseError(`ip -j neigh: entry ${i} has no dst`)
    const n: Neighbour = {
      ip: row.dst,
      dev: str(row.dev) ?? '',
      state: Array.isArray(row.state) ? row.state.filter((s): s is string => typeof s === 'string') : [],
    }
    const mac = str(row.lladdr)
    if (mac) n.mac = mac.toLowerCase()
    return n
  })
}

export const neighboursProbe: Probe<Neighbour[]> = {
  id: 'neighbours',
  title: 'Neighbour (ARP/NDP) table',
  reads: ['ip -j neigh show'],
  async collect({runner}) {
    return parseIpNeigh(outputOf(await runner.run(IP_NEIGH)))
  },
}
