import {lines} from '../src/lib/runner.js'
import {ParseError} from './types.js'

/** A kernel IPsec policy (`ip xfrm policy`): what the kernel does with a packet its selector matches, in one direction. */
export interface XfrmPolicy {
  /** in: delivered to this host; fwd: forwarded; out: sent by this host, and every forwarded packet too (after the fwd check). */
  dir: 'in' | 'out' | 'fwd'
  family: 4 | 6
  /** Selector prefixes. */
  src: string
  dst: string
  /** Selector protocol as printed (tcp, udp, icmp, a number); absent: any. */
  proto?: string
  sport?: number
  dport?: number
  icmpType?: number
  icmpCode?: number
  /** Selector device (`dev NAME`): the policy meets only packets of that device. */
  dev?: string
  action: 'allow' | 'block'
  priority: number
  ptype: 'main' | 'sub'
  mark?: {value: number; mask: number}
  /** An xfrm interface's policy: met only by packets routed into that interface. */
  ifId?: number
  /** Transforms: an allowed packet is encrypted or tunnelled (out), or must have arrived so (in, fwd; optional when `level use`). */
  templates: {src: string; dst: string; proto: string; mode: string; optional: boolean}[]
  /** The policy as a person types it to delete it: `src A dst B [proto ...] dir D [ptype sub]`. */
  text: string
}

/** XFRM default policies (kernel 5.16+): what a packet no policy matches meets; null when they could not be read. */
export type XfrmDefaults = Record<XfrmPolicy['dir'], 'accept' | 'block'> | null

export interface XfrmFacts {
  policies: XfrmPolicy[]
  defaults: XfrmDefaults
  /** Why the defaults could not be read on a host that has them (or may): a packet no policy matches meets an unknown default. */
  defaultsUnread?: string
  /**
   * Read only where a policy or a default could act: by device (and `all`), disable_policy (the kernel skips the in
   * and fwd checks of what arrives by it) and disable_xfrm (no out lookup for what leaves by it); undefined: unread.
   */
  bypass?: Record<string, {noPolicy?: number; noXfrm?: number}>
}

const number = (v: string | undefined): number | undefined => (v !== undefined && /^(0x[0-9a-f]+|\d+)$/i.test(v) ? Number(v) : undefined)

/** `ip xfrm policy list` (text: iproute2 has no JSON for xfrm): one record per policy, its first line unindented. */
export function parseXfrmPolicies(text: string): XfrmPolicy[] {
  const records: string[][] = []
  for (const line of lines(text)) {
    if (line.trim() === '') continue
    if (!/^\s/.test(line)) records.push([line.trim()])
    else if (records.length > 0) records.at(-1)!.push(line.trim())
    else throw new ParseError(`ip xfrm policy: unexpected line ${JSON.stringify(line.slice(0, 80))}`)
  }
  return records.map(parseRecord)
}

function pairs(line: string): Map<string, string> {
  const words = line.split(/\s+/)
  const out = new Map<string, string>()
  for (let i = 0; i + 1 < words.length; i += 2) if (!out.has(words[i])) out.set(words[i], words[i + 1])
  return out
}

function parseRecord(record: string[]): XfrmPolicy {
  const sel = pairs(record[0])
  const dirLine = record.find((l) => l.startsWith('dir '))
  const src = sel.get('src')
  const dst = sel.get('dst')
  const d = dirLine ? pairs(dirLine) : undefined
  const dir = d?.get('dir')
  if (!src || !dst || (dir !== 'in' && dir !== 'out' && dir !== 'fwd')) throw new ParseError(`ip xfrm policy: cannot read the policy ${JSON.stringify(record[0].slice(0, 80))}`)
  const policy: XfrmPolicy = {
    dir,
    family: src.includes(':') ? 6 : 4,
    src,
    dst,
    action: d!.get('action') === 'block' ? 'block' : 'allow',
    priority: number(d!.get('priority')) ?? 0,
    ptype: d!.get('ptype') === 'sub' ? 'sub' : 'main',
    templates: [],
    text: '',
  }
  if (sel.has('proto')) policy.proto = sel.get('proto')
  for (const [key, field] of [['sport', 'sport'], ['dport', 'dport'], ['type', 'icmpType'], ['code', 'icmpCode']] as const) {
    const v = number(sel.get(key))
    if (v !== undefined) policy[field] = v
  }
  if (sel.has('dev')) policy.dev = sel.get('dev')
  for (const line of record) {
    const mark = /^mark (0x[0-9a-f]+|\d+)\/(0x[0-9a-f]+|\d+)/i.exec(line)
    if (mark) policy.mark = {value: Number(mark[1]), mask: Number(mark[2])}
    const ifId = /^if_id (0x[0-9a-f]+|\d+)/i.exec(line)
    if (ifId) policy.ifId = Number(ifId[1])
    if (line.startsWith('tmpl ')) {
      const t = pairs(line.slice('tmpl '.length))
      policy.templates.push({src: t.get('src') ?? '', dst: t.get('dst') ?? '', proto: '', mode: '', optional: false})
    } else if (policy.templates.length > 0 && /^proto /.test(line)) {
      const t = pairs(line)
      Object.assign(policy.templates.at(-1)!, {proto: t.get('proto') ?? '', mode: t.get('mode') ?? ''})
    } else if (policy.templates.length > 0 && /^level /.test(line)) policy.templates.at(-1)!.optional = pairs(line).get('level') === 'use'
  }
  const selector = record[0].replace(/\s+uid \d+\s*$/, '').trim()
  policy.text = `${selector} dir ${dir}${policy.ptype === 'sub' ? ' ptype sub' : ''}${policy.mark ? ` mark 0x${policy.mark.value.toString(16)} mask 0x${policy.mark.mask.toString(16)}` : ''}`
  return policy
}

/** `ip xfrm policy getdefault`: " in:  accept", " fwd: block", " out: accept". */
export function parseXfrmDefaults(text: string): XfrmDefaults {
  const found: Partial<Record<XfrmPolicy['dir'], 'accept' | 'block'>> = {}
  for (const line of lines(text)) {
    const m = /^\s*(in|fwd|out):\s+(accept|block)\b/.exec(line)
    if (m) found[m[1] as XfrmPolicy['dir']] = m[2] as 'accept' | 'block'
  }
  if (!found.in || !found.fwd || !found.out) throw new ParseError('ip xfrm policy getdefault: expected the in, fwd and out defaults')
  return {in: found.in, fwd: found.fwd, out: found.out}
}
