/**
 * `ipset list` (or `ipset save`) into NfSets keyed `ipset NAME`. The list
 * format is preferred: its "Number of entries" tells whether every member was
 * read (complete=false when not, e.g. truncated output).
 *
 * Members are written the way `-m set` reads them (see iptables-save.ts,
 * ipsetFields): "192.168.122.10,tcp:22" of a hash:ip,port set is the
 * concatenation 192.168.122.10 . tcp . 22 (address, l4proto, port).
 */
import type {NfFamily, NfSet, NfValue} from '../../src/lib/netfilter.js'
import {ParseError} from '../types.js'
import {l4protoValue} from './names.js'
import {addressRange, addressValue, num, parseNumber, str} from './values.js'

export interface IpsetResult {
  sets: Record<string, NfSet>
  warnings: string[]
}

const FLAG_WORDS = new Set(['counters', 'comment', 'skbinfo', 'forceadd', 'timeout'])

function newSet(name: string, type: string, header: string[]): NfSet {
  const family = header[header.indexOf('family') + 1]
  const set: NfSet = {backend: 'ipset', name, type: [type], flags: header.filter((w) => FLAG_WORDS.has(w)), elems: [], complete: true}
  if (header.includes('family')) set.family = (family === 'inet6' ? 'ip6' : 'ip') as NfFamily
  return set
}

/** Words of a member line, honouring comment "...". */
function words(line: string): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => m[1] ?? m[2])
}

/** One member of a set of this type; undefined when not understood. */
function member(type: string, text: string): NfValue | undefined {
  const kinds = type.split(':')[1]?.split(',') ?? []
  if (type === 'list:set') return {t: 'setref', name: `ipset ${text}`}
  const parts = text.split(',')
  if (parts.length !== kinds.length) return undefined
  const out: NfValue[] = []
  for (const [i, kind] of kinds.entries()) {
    const p = parts[i]
    switch (kind) {
      case 'ip':
      case 'net': {
        const v = p.includes('-') ? addressRange(p) : addressValue(p)
        if (!v) return undefined
        out.push(v)
        break
      }
      case 'port': {
        // hash types store "proto:port" ("tcp:22"); bitmap:port only the port.
        const m = /^(?:([\w-]+):)?(\d+)(?:-(\d+))?$/.exec(p)
        if (!m) return undefined
        const port: NfValue = m[3] === undefined ? num(Number(m[2])) : {t: 'range', lo: num(Number(m[2])), hi: num(Number(m[3]))}
        if (type.startsWith('hash:')) {
          const proto = l4protoValue(m[1] ?? 'tcp')
          if (proto === undefined) return undefined
          out.push(typeof proto === 'number' ? num(proto) : str(proto))
        }
        out.push(port)
        break
      }
      case 'mac':
        out.push({t: 'addr', v: p.toLowerCase()})
        break
      case 'iface':
        out.push(str(p.endsWith('+') ? `${p.slice(0, -1)}*` : p))
        break
      case 'mark': {
        const n = parseNumber(p)
        if (n === undefined) return undefined
        out.push(num(n))
        break
      }
      default:
        return undefined
    }
  }
  return out.length === 1 ? out[0] : {t: 'concat', parts: out}
}

function addMember(set: NfSet, line: string, warnings: string[]) {
  const [elem, ...opts] = words(line)
  const value = elem === undefined ? undefined : member(set.type[0], elem)
  if (!value) {
    set.complete = false
    warnings.push(`ipset ${set.name}: member "${line.slice(0, 80)}" not understood`)
    return
  }
  if (opts.includes('nomatch')) (set.nomatch ??= []).push(value)
  else set.elems.push(value)
}

/** Parses `ipset list` or `ipset save` output (detected from the first line). */
export function parseIpsetIR(text: string): IpsetResult {
  const result: IpsetResult = {sets: {}, warnings: []}
  const lines = text.split('\n')
  const first = lines.find((l) => l.trim() !== '')?.trim()
  if (first === undefined) return result
  if (first.startsWith('create ')) return parseSave(lines, result)
  if (!first.startsWith('Name: ')) throw new ParseError(`ipset: output starts with "${first.slice(0, 60)}", expected "Name:" (ipset list) or "create" (ipset save)`)
  let set: NfSet | undefined
  let expected: number | undefined
  let inMembers = false
  let header: {type?: string; header: string[]; name?: string} = {header: []}
  const finish = () => {
    if (!set && header.name !== undefined && header.type !== undefined) {
      // A header without a member list (output cut short): the set exists, its members are unknown.
      set = newSet(header.name, header.type, header.header)
      result.sets[`ipset ${set.name}`] = set
    }
    if (!set) return
    const count = set.elems.length + (set.nomatch?.length ?? 0)
    if (!inMembers) {
      set.complete = false
      result.warnings.push(`ipset ${set.name}: no member list`)
    } else if (expected !== undefined && count !== expected && set.complete) {
      set.complete = false
      result.warnings.push(`ipset ${set.name}: ${count} members read of ${expected}`)
    }
  }
  for (const raw of lines) {
    const line = raw.trim()
    if (line.startsWith('Name: ')) {
      finish()
      set = undefined
      expected = undefined
      inMembers = false
      header = {header: [], name: line.slice('Name: '.length)}
      continue
    }
    if (inMembers) {
      if (line !== '' && set) addMember(set, line, result.warnings)
      continue
    }
    const field = /^([\w ]+):\s*(.*)$/.exec(line)
    if (!field || header.name === undefined) {
      if (line !== '') throw new ParseError(`ipset list: unexpected line "${line.slice(0, 60)}"`)
      continue
    }
    const [, key, value] = field
    if (key === 'Type') header.type = value
    else if (key === 'Header') header.header = value.split(/\s+/)
    else if (key === 'Number of entries') expected = Number(value)
    else if (key === 'Members') {
      if (header.type === undefined) throw new ParseError(`ipset list: set ${header.name} has no Type`)
      set = newSet(header.name, header.type, header.header)
      result.sets[`ipset ${set.name}`] = set
      inMembers = true
    }
  }
  finish()
  return result
}

function parseSave(lines: string[], result: IpsetResult): IpsetResult {
  for (const raw of lines) {
    const line = raw.trim()
    if (line === '') continue
    const [verb, name, ...rest] = words(line)
    if (verb === 'create' && name !== undefined && rest[0] !== undefined) {
      result.sets[`ipset ${name}`] = newSet(name, rest[0], rest.slice(1))
      continue
    }
    const set = verb === 'add' && name !== undefined ? result.sets[`ipset ${name}`] : undefined
    if (!set) throw new ParseError(`ipset save: unexpected line "${line.slice(0, 60)}"`)
    addMember(set, line.replace(/^add\s+\S+\s+/, ''), result.warnings)
  }
  return result
}
