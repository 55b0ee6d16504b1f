import {lines} from '../src/lib/runner.js'
import {type Probe, ParseError, ProbeUnavailable} from './types.js'

export interface Listener {
  proto: 'tcp' | 'udp'
  address: string
  /** Interface from `0.0.0.0%virbr0`. */
  iface?: string
  port: number
  process?: string
  pid?: number
}

export function parseSs(text: string): Listener[] {
  return lines(text).map((line, i) => {
    const cols = line.trim().split(/\s+/)
    const proto = cols[0]
    if ((proto !== 'tcp' && proto !== 'udp') || cols.length < 6) throw new ParseError(`ss line ${i + 1}: unexpected "${line.slice(0, 60)}"`)
    const local = cols[4]
    const at = local.lastIndexOf(':')
    let address = local.slice(0, at)
    let iface: string | undefined
    const pct = address.indexOf('%')
    if (pct >= 0) {
      iface = address.slice(pct + 1)
      address = address.slice(0, pct)
    }
    const listener: Listener = {proto, address: address.replace(/^\[|\]$/g, ''), port: Number(local.slice(at + 1))}
    if (iface) listener.iface = iface
    const user = /users:\(\("([^"]+)",pid=(\d+)/.exec(line)
    if (user) Object.assign(listener, {process: user[1], pid: Number(user[2])})
    return listener
  })
}

/** Sockets listening for UDP and TCP, with their processes: who answers DNS and DHCP. */
export const listenersProbe: Probe<Listener[]> = {
  id: 'listeners',
  title: 'Listening sockets',
  reads: ['ss -H -lunpt'],
  async collect({runner}) {
    const ss = await runner.run(['ss', '-H', '-lunpt'])
    if (ss.error !== undefined) throw new ProbeUnavailable(ss.error)
    return parseSs(ss.output)
  },
}
