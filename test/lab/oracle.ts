/**
 * The reachability oracle: what the lab guests themselves can reach, measured for real by
 * guest/kd-reach and printed on their consoles as numbered lines
 *   KD-REACH seq=N dhcp=ok|fail|skip dns=ok|fail ping=ok|fail tcp=ok|fail
 * Scenarios record it beside their fixture (oracle.json): the ground truth kvmdoctor's
 * findings can be held against.
 */
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import type {OracleRecord, ReachVerdict} from '../scenarios.js'
import type {TraceGuest} from '../oracles.js'
import type {TraceTargets} from './kernel-trace.js'
import {BULK, INET, consolePath, guestAddresses, sh, waitFor} from './lab.js'

type Verdict = ReachVerdict

export interface Reach {
  seq: number
  dhcp: Verdict
  dns: Verdict
  ping: Verdict
  tcp: Verdict
}

const REACH_LINE = /^KD-REACH seq=(\d+) dhcp=(ok|fail|skip) dns=(ok|fail|skip) ping=(ok|fail|skip) tcp=(ok|fail|skip)\s*$/

/** Parses one console line; undefined if it is not a complete KD-REACH line. */
export function parseReach(line: string): Reach | undefined {
  const m = REACH_LINE.exec(line.replace(/\r/g, '').trim())
  if (!m) return undefined
  return {seq: Number(m[1]), dhcp: m[2] as Verdict, dns: m[3] as Verdict, ping: m[4] as Verdict, tcp: m[5] as Verdict}
}

/** Every complete KD-REACH line the guest printed since it booted (its console file is reset on boot). */
export function reachLines(name: string): Reach[] {
  const file = consolePath(name)
  if (!existsSync(file)) return []
  const text = readFileSync(file, 'utf8')
  // Only whole lines: the last one may still be being written.
  const complete = text.slice(0, text.lastIndexOf('\n') + 1)
  const out: Reach[] = []
  for (const line of complete.split('\n')) {
    const r = line.includes('KD-REACH') ? parseReach(line.slice(line.indexOf('KD-REACH'))) : undefined
    if (r) out.push(r)
  }
  return out
}

/** The number of the guest's last KD-REACH line (0 before the first). Take it after injecting a fault. */
export function reachSeq(name: string): number {
  const lines = reachLines(name)
  return lines.length > 0 ? lines[lines.length - 1].seq : 0
}

/**
 * Waits for the guest's second KD-REACH line after line `after` and returns it. The first
 * line after `after` may have been measured partly before the fault was in place; the second
 * was measured wholly after (take `after` with reachSeq once the injection is complete).
 */
export async function guestReach(name: string, opts: {after: number; timeoutMs?: number}): Promise<Reach> {
  const want = opts.after + 2
  return waitFor(`${name} to print KD-REACH seq=${want}`, async () => reachLines(name).find((r) => r.seq === want), opts.timeoutMs ?? 90_000, 500)
}

/** Running lab guests that run the oracle. */
export async function runningLabGuests(): Promise<string[]> {
  return (await sh(['virsh', 'list', '--state-running', '--name'])).stdout.split('\n').map((s) => s.trim()).filter((n) => n.startsWith('kdlab-'))
}

/** Marks every running lab guest's current line: the `after` of the measurement to come. */
export async function reachMarks(): Promise<Record<string, number>> {
  return Object.fromEntries((await runningLabGuests()).map((g) => [g, reachSeq(g)]))
}

/** Each guest's first line measured wholly after the marks, as fixtures/<scenario>/oracle.json has it. */
export async function measureOracle(marks: Record<string, number>): Promise<OracleRecord> {
  const results = await Promise.all(Object.entries(marks).map(async ([g, after]) => [g, await guestReach(g, {after})] as const))
  const guests: OracleRecord['guests'] = {}
  const addresses: Record<string, string[]> = {}
  for (const [g, r] of results.sort(([a], [b]) => a.localeCompare(b))) {
    guests[g] = {dhcp: r.dhcp, dns: r.dns, ping: r.ping, tcp: r.tcp}
    addresses[g] = (guestAddresses(g) ?? []).map((a) => a.split('/')[0])
  }
  // A guest that downloads the bulk file: the download right after its measured KD-REACH line.
  const bulk: NonNullable<OracleRecord['bulk']> = {}
  for (const [g, after] of Object.entries(marks).sort(([a], [b]) => a.localeCompare(b))) {
    if (bulkLines(g).length === 0) continue
    const b = await bulkAfter(g, after)
    bulk[g] = {bytes: b.bytes, centis: b.centis, fileBytes: BULK.bytes}
  }
  return {guests, addresses, ...(Object.keys(bulk).length > 0 ? {bulk} : {}), internet: INET.server, port: INET.port}
}

/** Every running lab guest as the kernel oracle tells its packets apart: its MAC, its addresses (console), its bridge. */
export async function traceGuests(): Promise<TraceGuest[]> {
  const out: TraceGuest[] = []
  for (const name of await runningLabGuests()) {
    // Interface  Type  Source  Model  MAC: Source is the network (network type) or the bridge.
    const row = (await sh(['virsh', 'domiflist', name])).stdout.split('\n').map((l) => l.trim().split(/\s+/)).find((c) => c.length >= 5 && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(c[4]))
    const bridge = row?.[1] === 'network' ? /^\s*Bridge:\s+(\S+)/m.exec((await sh(['virsh', 'net-info', row[2]], {reject: false})).stdout)?.[1] : row?.[2]
    out.push({name, mac: row?.[4].toLowerCase(), addresses: (guestAddresses(name) ?? []).map((a) => a.split('/')[0]), ...(bridge ? {bridge} : {}), ...(row?.[1] === 'bridge' ? {lan: true} : {})})
  }
  return out
}

/** What the kernel oracle traces for these guests: their frames and addresses, and the lab internet's packets. */
export const traceTargets = (guests: TraceGuest[]): TraceTargets => ({
  macs: guests.flatMap((g) => (g.mac ? [g.mac] : [])),
  addresses: [...new Set(guests.flatMap((g) => g.addresses))],
  remotes: [INET.server],
})

/**
 * Deletes the conntrack entries of the guests' connections (from or to their addresses, and every DHCP exchange:
 * clients ask from 0.0.0.0), so the packets measured next each start a connection of their own, as kvmdoctor's
 * flows do. Other connections of the host are left alone.
 */
export async function forgetGuestConnections(addresses: string[]): Promise<void> {
  const filters = [...addresses.flatMap((a) => [['-s', a], ['-d', a]]), ['-p', 'udp', '--dport', '67'], ['-p', 'udp', '--dport', '68']]
  for (const f of filters) {
    // conntrack lists the matching entries, then deletes each: one that expired in between fails the whole
    // command ("such conntrack doesn't exist") though it is gone, as wanted. Ask again for the rest.
    for (let attempt = 1; ; attempt++) {
      const r = await sh(['conntrack', '-D', ...f], {reject: false})
      // Exit 1 with "0 flow entries have been deleted" when nothing matched.
      if (r.exitCode === 0 || /flow entries have been deleted/.test(r.stderr)) break
      if (attempt < 5 && /such conntrack doesn't exist/.test(r.stderr)) continue
      throw new Error(`conntrack -D ${f.join(' ')} failed: ${r.stderr}`)
    }
  }
}

export function writeOracle(fixture: string, record: OracleRecord): void {
  writeFileSync(join(fixture, 'oracle.json'), `${JSON.stringify(record, null, 2)}\n`)
}

// ---------- the shaping measure: KD-BULK lines (guests started with `bulk`) ----------

export interface Bulk {
  seq: number
  /** Received, HTTP headers included. */
  bytes: number
  /** How long the download took, in hundredths of a second. */
  centis: number
}

const BULK_LINE = /KD-BULK seq=(\d+) bytes=(\d+) centis=(\d+)\s*$/

/** Every complete KD-BULK line the guest printed since it booted. */
export function bulkLines(name: string): Bulk[] {
  const file = consolePath(name)
  if (!existsSync(file)) return []
  const text = readFileSync(file, 'utf8')
  const complete = text.slice(0, text.lastIndexOf('\n') + 1)
  return complete.split('\n').flatMap((line) => {
    const m = BULK_LINE.exec(line.replace(/\r/g, ''))
    return m ? [{seq: Number(m[1]), bytes: Number(m[2]), centis: Number(m[3])}] : []
  })
}

/** The number of the guest's last KD-BULK line (0 before the first). */
export function bulkSeq(name: string): number {
  const lines = bulkLines(name)
  return lines.length > 0 ? lines[lines.length - 1].seq : 0
}

/** The guest's second KD-BULK line after line `after` (the first may have begun before what was just changed). */
export async function bulkAfter(name: string, after: number, timeoutMs = 120_000): Promise<Bulk> {
  return waitFor(`${name} to print KD-BULK seq=${after + 2}`, async () => bulkLines(name).find((b) => b.seq === after + 2), timeoutMs, 500)
}

export const bytesPerSecond = (b: Pick<Bulk, 'bytes' | 'centis'>) => Math.round((b.bytes * 100) / Math.max(b.centis, 1))

/** Waits (after line `after`) for a line on which everything works; returns it, or the last line seen if none did in time. */
export async function waitReachOk(name: string, opts: {after: number; timeoutMs?: number}): Promise<Reach> {
  const ok = (r: Reach) => r.dhcp === 'ok' && r.dns === 'ok' && r.ping === 'ok' && r.tcp === 'ok'
  const fresh = () => reachLines(name).filter((r) => r.seq >= opts.after + 2)
  try {
    return await waitFor(`${name} to reach everything`, async () => fresh().find(ok), opts.timeoutMs ?? 60_000, 500)
  } catch {
    const lines = fresh()
    if (lines.length === 0) throw new Error(`${name} printed no KD-REACH line after seq=${opts.after}`)
    return lines[lines.length - 1]
  }
}
