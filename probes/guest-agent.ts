import type {LibvirtFacts} from './libvirt.js'
import {parseVirshTable} from './libvirt.js'
import {type Probe, ParseError, ProbeUnavailable} from './types.js'

export interface AgentAddress {
  /** The guest's own interface name (eth0). */
  guestIface: string
  mac: string
  family: 'ipv4' | 'ipv6'
  ip: string
  prefix: number
}

export interface GuestAgentFacts {
  addresses: Record<string, AgentAddress[]>
  /** Guests whose agent did not answer (not running inside, or busy). */
  errors: Record<string, string>
}

export const AGENT_TIMEOUT_MS = 2000

/** `virsh domifaddr DOM`: continuation rows repeat "-" for the name and MAC of the row above. */
export function parseDomifaddr(text: string): AgentAddress[] {
  let name = ''
  let mac = ''
  return parseVirshTable(text).flatMap((row) => {
    if (row.name && row.name !== '-') name = row.name
    if (row['mac address'] && row['mac address'] !== '-') mac = row['mac address'].toLowerCase()
    const [ip, prefix] = (row.address ?? '').split('/')
    const family = row.protocol === 'ipv6' ? 'ipv6' : row.protocol === 'ipv4' ? 'ipv4' : undefined
    if (!family || !ip) throw new ParseError(`virsh domifaddr: unexpected row "${Object.values(row).join(' ')}"`)
    return [{guestIface: name, mac, family, ip, prefix: Number(prefix ?? (family === 'ipv4' ? 32 : 128))}]
  })
}

/**
 * Asks the QEMU guest agent of running guests that have its channel. libvirt refuses agent
 * queries on read-only connections, so this one call per such guest uses a normal connection;
 * it only reads.
 */
export const guestAgentProbe: Probe<GuestAgentFacts> = {
  // A guest whose agent does not answer is a fact about that guest (errors), not a gap in the read.
  expectedFailure: () => true,
  id: 'guest-agent',
  title: 'Guest agent addresses',
  reads: ['virsh domifaddr DOM --source agent'],
  async collect({runner, options, get}) {
    const libvirt = await get<LibvirtFacts>('libvirt')
    if (!libvirt.ok) throw new ProbeUnavailable(`needs libvirt: ${libvirt.error}`)
    const withAgent = libvirt.data.domains.filter((d) => d.guestAgentChannel && d.state === 'running')
    const facts: GuestAgentFacts = {addresses: {}, errors: {}}
    await Promise.all(
      withAgent.map(async (d) => {
        // An agent answers at once or not at all: a hung one must not hold `kvmdoctor ip` for the full timeout.
        const c = await runner.run(['virsh', '-c', options.libvirtUri, 'domifaddr', d.name, '--source', 'agent'], {timeoutMs: AGENT_TIMEOUT_MS})
        if (c.error !== undefined) facts.errors[d.name] = c.stderr.trim().split('\n').pop() || c.error
        else {
          // One guest's unreadable answer is that guest's error, not every guest's.
          try {
            facts.addresses[d.name] = parseDomifaddr(c.output).filter((a) => a.ip !== '127.0.0.1' && a.ip !== '::1')
          } catch (error) {
            if (!(error instanceof ParseError)) throw error
            facts.errors[d.name] = `unparseable answer: ${error.message}`
          }
        }
      }),
    )
    return facts
  },
}
