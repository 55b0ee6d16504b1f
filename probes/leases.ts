import {markDegraded} from '../src/lib/degraded.js'
import {netmaskToPrefix} from '../src/lib/ipv4.js'
import {type Probe, ParseError, ProbeUnavailable, absentRead, isObj, num, str} from './types.js'

export interface Lease {
  source: 'libvirt' | 'dhcpd'
  file: string
  /** libvirt names status files after the bridge (virbr0.status). */
  bridge?: string
  ip: string
  mac?: string
  hostname?: string
  clientId?: string
  /** Epoch seconds; null = never expires. */
  expiry: number | null
  /** Judged against the capture time, not the time of analysis. */
  expired: boolean
}

export interface LeaseFile {
  path: string
  leases: number
  error?: string
  truncated?: boolean
}

export interface LeaseFacts {
  leases: Lease[]
  files: LeaseFile[]
  /** ISC dhcpd's configuration declares subnets (the host runs, or should run, an external DHCP server). */
  dhcpdConfigured: boolean
  /** Subnets dhcpd.conf serves, as CIDRs. */
  dhcpdSubnets: string[]
  /** dhcpd.conf exists and could not be read (or was cut): which bridges this host's dhcpd serves is unknown. */
  dhcpdConfUnread?: string
}

export const DHCPD_CONF = '/etc/dhcp/dhcpd.conf'

export const LIBVIRT_DNSMASQ_DIR = '/var/lib/libvirt/dnsmasq'
export const DHCPD_LEASE_PATHS = ['/var/lib/dhcp/dhcpd.leases', '/var/lib/dhcpd/dhcpd.leases']

export function parseLibvirtStatus(text: string, file: string, now: Date): Lease[] {
  if (text.trim() === '') return []
  const bridge = file.split('/').pop()!.replace(/\.status$/, '')
  let rows: unknown
  try {
    rows = JSON.parse(text)
  } catch (error) {
    // The message only: a JSON error quotes the text, and this file may hold anything.
    throw new ParseError(`${file}: not valid JSON (${(error as Error).message.replace(/,? "[\s\S]*$/, '').slice(0, 80)})`)
  }
  if (!Array.isArray(rows)) throw new ParseError(`${file}: expected a JSON array`)
  return rows.map((row, i) => {
    if (!isObj(row) || typeof row['ip-address'] !== 'string') throw new ParseError(`${file}: entry ${i} has no ip-address`)
    const expiryRaw = num(row['expiry-time'])
    const expiry = expiryRaw === undefined || expiryRaw === 0 ? null : expiryRaw
    return {
      source: 'libvirt' as const,
      file,
      bridge,
      ip: row['ip-address'],
      mac: str(row['mac-address'])?.toLowerCase(),
      hostname: str(row.hostname),
      clientId: str(row['client-id']),
      expiry,
      expired: expiry !== null && expiry * 1000 <= now.getTime(),
    }
  })
}

/**
 * ISC dhcpd.leases: later blocks for the same address supersede earlier ones. One linear scan:
 * each block ends at the first "}" after its "{", and a block without one (a file cut mid-write)
 * ends the parse.
 */
export function parseDhcpdLeases(text: string, file: string, now: Date): Lease[] {
  const byIp = new Map<string, Lease & {state?: string}>()
  const head = /lease\s+(\d{1,3}(?:\.\d{1,3}){3})\s*\{/g
  for (let m = head.exec(text); m; m = head.exec(text)) {
    const end = text.indexOf('}', head.lastIndex)
    if (end < 0) break
    const body = text.slice(head.lastIndex, end)
    head.lastIndex = end + 1
    const ends = /\bends\s+(?:\d\s+(\d{4})\/(\d{2})\/(\d{2})\s+(\d{2}):(\d{2}):(\d{2})|never)\s*;/.exec(body)
    const expiry = ends && ends[1] ? Date.UTC(+ends[1], +ends[2] - 1, +ends[3], +ends[4], +ends[5], +ends[6]) / 1000 : null
    const state = /\bbinding state\s+(\w+)\s*;/.exec(body)?.[1]
    byIp.set(m[1], {
      source: 'dhcpd',
      file,
      ip: m[1],
      mac: /hardware ethernet\s+([0-9a-f:]+)\s*;/i.exec(body)?.[1]?.toLowerCase(),
      hostname: /client-hostname\s+"([^"]*)"\s*;/.exec(body)?.[1],
      expiry,
      expired: (state !== undefined && state !== 'active') || (expiry !== null && expiry * 1000 <= now.getTime()),
    })
  }
  return [...byIp.values()]
}

/** The complete part of a lease file cut at the size cap: whole status entries, or whole dhcpd blocks. */
export function completePrefix(text: string, format: 'libvirt' | 'dhcpd'): string {
  const last = text.lastIndexOf('}')
  if (format === 'dhcpd') return text.slice(0, last + 1)
  return last < 0 ? '[]' : `${text.slice(0, last + 1)}]`
}

/** `subnet 10.77.0.0 netmask 255.255.255.0 {` declarations of dhcpd.conf (comments ignored). */
export function parseDhcpdSubnets(text: string): string[] {
  const subnets: string[] = []
  for (const m of text.replace(/#.*$/gm, '').matchAll(/\bsubnet\s+(\d{1,3}(?:\.\d{1,3}){3})\s+netmask\s+(\d{1,3}(?:\.\d{1,3}){3})/g)) {
    const prefix = netmaskToPrefix(m[2])
    if (prefix !== undefined) subnets.push(`${m[1]}/${prefix}`)
  }
  return subnets
}

export const leasesProbe: Probe<LeaseFacts> = {
  id: 'leases',
  title: 'DHCP leases',
  reads: [`${LIBVIRT_DNSMASQ_DIR}/*.status`, ...DHCPD_LEASE_PATHS, '/etc/dhcp/dhcpd.conf'],
  async collect({runner}) {
    const now = runner.capturedAt
    const facts: LeaseFacts = {leases: [], files: [], dhcpdConfigured: false, dhcpdSubnets: []}
    const missing: string[] = []
    const conf = await runner.readFile(DHCPD_CONF)
    if (conf.error === undefined) {
      facts.dhcpdSubnets = parseDhcpdSubnets(conf.output)
      facts.dhcpdConfigured = facts.dhcpdSubnets.length > 0
    } else if (!absentRead(conf)) {
      facts.dhcpdConfUnread = conf.error
      missing.push(`${conf.error} (which bridges this host's dhcpd serves is unknown)`)
    }
    const dir = await runner.listDir(LIBVIRT_DNSMASQ_DIR)
    if (dir.error !== undefined && dir.errorCode !== 'not-found') throw new ProbeUnavailable(dir.error)
    const statusFiles = dir.error ? [] : dir.output.split('\n').filter((n) => n.endsWith('.status')).map((n) => `${LIBVIRT_DNSMASQ_DIR}/${n}`)
    const read = async (path: string, format: 'libvirt' | 'dhcpd', optional: boolean) => {
      const parse = format === 'libvirt' ? parseLibvirtStatus : parseDhcpdLeases
      const c = await runner.readFile(path)
      const cut = c.errorCode === 'too-large'
      if (c.error !== undefined && !cut) {
        if (optional && c.errorCode === 'not-found') return
        facts.files.push({path, leases: 0, error: c.error})
        missing.push(`${path}: ${c.error}`)
        return
      }
      try {
        // A lease file cut at the size cap ends mid-entry: parse what is complete, and say the rest is missing.
        const leases = parse(cut ? completePrefix(c.output, format) : c.output, path, now)
        facts.leases.push(...leases)
        facts.files.push({path, leases: leases.length, ...(cut ? {truncated: true, error: c.error} : {})})
        if (cut) missing.push(`${path}: cut at the size cap, only the first ${leases.length} leases were read`)
      } catch (error) {
        facts.files.push({path, leases: 0, error: (error as Error).message})
        missing.push(`${path}: ${(error as Error).message}`)
      }
    }
    await Promise.all([
      ...statusFiles.map((p) => read(p, 'libvirt', false)),
      ...DHCPD_LEASE_PATHS.map((p) => read(p, 'dhcpd', true)),
    ])
    facts.files.sort((a, b) => a.path.localeCompare(b.path))
    return markDegraded(facts, missing.sort())
  },
}
