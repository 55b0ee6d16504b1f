/**
 * Open vSwitch in the text forms a sosreport keeps: `ovs-vsctl list TABLE` (one "column : value" line per column,
 * rows separated by a blank line) read back into `ovs-vsctl -f json list TABLE`, and `ovs-vsctl show`, the one
 * listing sos has of the ports (Port) and controllers (Controller). show prints a column only when it is not
 * its default (so a controller's is_connected only when true), and never a port's vlan_mode, a controller's
 * role or status, or any row's UUID.
 */
import {ParseError} from './types.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** Reads OVSDB's text atoms, sets and maps ("x", [a, b], {k=v}) from one column's value. */
class AtomReader {
  private at = 0
  constructor(private readonly text: string) {}

  value(): unknown {
    this.skip()
    const c = this.text[this.at]
    if (c === '[') return ['set', this.list(']', () => this.atom())]
    if (c === '{') {
      return ['map', this.list('}', () => {
        const k = this.atom()
        this.skip()
        if (this.text[this.at] !== '=') throw new ParseError(`ovs-vsctl list: '=' expected in a map at ${this.at}: ${this.text.slice(0, 120)}`)
        this.at++
        // A map's values are strings wherever kvmdoctor reads one (external_ids, options, status).
        return [k, this.atom(true)]
      })]
    }
    return this.atom()
  }

  end(): void {
    this.skip()
    if (this.at !== this.text.length) throw new ParseError(`ovs-vsctl list: unexpected text '${this.text.slice(this.at, this.at + 40)}'`)
  }

  private skip(): void {
    while (this.text[this.at] === ' ') this.at++
  }

  private list(close: string, item: () => unknown): unknown[] {
    this.at++
    const out: unknown[] = []
    this.skip()
    if (this.text[this.at] === close) {
      this.at++
      return out
    }
    for (;;) {
      out.push(item())
      this.skip()
      const c = this.text[this.at++]
      if (c === close) return out
      if (c !== ',') throw new ParseError(`ovs-vsctl list: '${close}' or ',' expected: ${this.text.slice(0, 120)}`)
    }
  }

  /** A quoted string (C escapes), or a bare word: a UUID, an integer, a boolean, else a string. */
  private atom(asString = false): unknown {
    this.skip()
    if (this.text[this.at] === '"') {
      let out = ''
      for (this.at++; this.at < this.text.length; this.at++) {
        const c = this.text[this.at]
        if (c === '"') {
          this.at++
          return out
        }
        if (c === '\\') {
          const e = this.text[++this.at]
          out += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e
        } else out += c
      }
      throw new ParseError(`ovs-vsctl list: unterminated string: ${this.text.slice(0, 120)}`)
    }
    const m = /^[^\s,=\]}]+/.exec(this.text.slice(this.at))
    if (!m) throw new ParseError(`ovs-vsctl list: a value expected: ${this.text.slice(0, 120)}`)
    this.at += m[0].length
    const word = m[0]
    if (asString) return word
    if (UUID.test(word)) return ['uuid', word]
    if (/^-?\d+$/.test(word)) return Number(word)
    if (word === 'true' || word === 'false') return word === 'true'
    return word
  }
}

/** `ovs-vsctl list TABLE` as text, read back as `ovs-vsctl -f json --columns=COLUMNS list TABLE` prints it. */
export function ovsdbListToJson(text: string, columns: string[]): {headings: string[]; data: unknown[][]} {
  const rows: Map<string, unknown>[] = []
  let row: Map<string, unknown> | undefined
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      row = undefined
      continue
    }
    const m = /^([a-z_0-9]+)\s*:\s?(.*)$/.exec(line)
    if (!m) throw new ParseError(`ovs-vsctl list: '${line.slice(0, 120)}' is not a 'column : value' line`)
    if (!row || m[1] === '_uuid') rows.push((row = new Map()))
    const reader = new AtomReader(m[2])
    const value = reader.value()
    reader.end()
    row.set(m[1], value)
  }
  for (const r of rows) {
    const missing = columns.find((c) => !r.has(c))
    if (missing) throw new ParseError(`ovs-vsctl list: a row without column ${missing}`)
  }
  return {headings: columns, data: rows.map((r) => columns.map((c) => r.get(c)))}
}

export interface ShowInterface {
  name: string
  type: string
  error: string | null
}

export interface ShowPort {
  name: string
  tag: number | null
  trunks: number[]
  interfaces: ShowInterface[]
}

export interface ShowBridge {
  name: string
  failMode: string | null
  datapathType: string | null
  /** Each controller's target, and whether show printed it connected. */
  controllers: {target: string; connected: boolean}[]
  ports: ShowPort[]
}

/** A name as show prints it: bare, or quoted (older OVS quotes every name; newer ones those that need it). */
function unquote(text: string): string {
  const t = text.trim()
  if (!t.startsWith('"')) return t
  const r = new AtomReader(t).value()
  if (typeof r !== 'string') throw new ParseError(`ovs-vsctl show: '${t}' is not a name`)
  return r
}

/** `ovs-vsctl show`: the bridges with their controllers, fail mode, datapath type, ports and interfaces. */
export function parseOvsShow(text: string): ShowBridge[] {
  const bridges: ShowBridge[] = []
  let bridge: ShowBridge | undefined
  let port: ShowPort | undefined
  let iface: ShowInterface | undefined
  let controller: ShowBridge['controllers'][number] | undefined
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    const indent = /^ */.exec(line)![0].length
    const body = line.trim()
    const row = /^(Bridge|Port|Interface|Controller|Manager) (.+)$/.exec(body)
    if (indent === 0) {
      // The Open_vSwitch row's UUID heads the listing.
      if (!UUID.test(body)) throw new ParseError(`ovs-vsctl show: '${body.slice(0, 80)}' is not the database's UUID`)
      continue
    }
    if (row && indent === 4 && row[1] === 'Bridge') {
      bridges.push((bridge = {name: unquote(row[2]), failMode: null, datapathType: null, controllers: [], ports: []}))
      port = iface = controller = undefined
      continue
    }
    if (indent === 4) {
      // A Manager, ovs_version: nothing kvmdoctor reads.
      bridge = port = iface = controller = undefined
      continue
    }
    if (!bridge) {
      // A Manager's own columns (is_connected).
      if (indent === 8) continue
      throw new ParseError(`ovs-vsctl show: '${body.slice(0, 80)}' outside a bridge`)
    }
    if (indent === 8 && row?.[1] === 'Port') {
      bridge.ports.push((port = {name: unquote(row[2]), tag: null, trunks: [], interfaces: []}))
      iface = controller = undefined
      continue
    }
    if (indent === 8 && row?.[1] === 'Controller') {
      bridge.controllers.push((controller = {target: unquote(row[2]), connected: false}))
      port = iface = undefined
      continue
    }
    const column = /^([a-z_0-9]+): (.*)$/.exec(body)
    if (indent === 8 && column) {
      port = iface = controller = undefined
      if (column[1] === 'fail_mode') bridge.failMode = unquote(column[2])
      else if (column[1] === 'datapath_type') bridge.datapathType = unquote(column[2])
      continue
    }
    if (indent === 12 && controller && column) {
      if (column[1] === 'is_connected') controller.connected = column[2] === 'true'
      continue
    }
    if (indent === 12 && port && row?.[1] === 'Interface') {
      port.interfaces.push((iface = {name: unquote(row[2]), type: '', error: null}))
      continue
    }
    if (indent === 12 && port && column) {
      iface = undefined
      const reader = new AtomReader(column[2])
      const value = reader.value()
      reader.end()
      if (column[1] === 'tag' && typeof value === 'number') port.tag = value
      else if (column[1] === 'trunks') port.trunks = (Array.isArray(value) && value[0] === 'set' ? (value[1] as unknown[]) : [value]).filter((v): v is number => typeof v === 'number')
      continue
    }
    if (indent === 16 && iface && column) {
      if (column[1] === 'type') iface.type = unquote(column[2])
      else if (column[1] === 'error') iface.error = unquote(column[2])
      continue
    }
    throw new ParseError(`ovs-vsctl show: '${body.slice(0, 80)}' not understood`)
  }
  return bridges
}
