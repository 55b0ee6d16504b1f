/**
 * A reader for the plain XML libvirt writes (its status and definition files, virsh dumpxml): the tree
 * fast-xml-parser builds with the options of probes/libvirt.ts, in one pass. fast-xml-parser sets up a
 * parser per document (entity tables, path matchers), which cost more than parsing a domain's few hundred
 * bytes, ten thousand times on a big host. This reader takes only elements, attributes quoted and written
 * as libvirt writes them, text and comments; anything else (an entity or character reference, CDATA, a
 * declaration or processing instruction, text beside child elements, a repeated attribute, a name an object
 * must not have, any malformed markup) returns undefined, and fast-xml-parser parses that document, its
 * errors included. So a document either reads the same both ways or is not read here.
 */

export interface PlainXmlOptions {
  /** Elements always held in an array, one or many (fast-xml-parser's isArray). */
  arrays: ReadonlySet<string>
  /** Dotted paths from the root ("domstatus.devices") of elements kept as their inner text, unparsed (stopNodes). */
  stopPaths: ReadonlySet<string>
}

type XmlObject = Record<string, unknown>

interface Open {
  name: string
  path: string
  /** Its attributes and child elements; undefined inside a stop element (read, not kept). */
  node: XmlObject | undefined
  hasChildren: boolean
  hasAttributes: boolean
  text: string
  /** A stop element: where its inner text starts. */
  stopFrom: number
}

/** Names fast-xml-parser refuses or renames (and any an object already has): its own handling decides. */
const unsafeName = (name: string) => name in Object.prototype || name === 'prototype' || name.startsWith('__')
const BLANK = /^[ \t\n\r]*$/
const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d
const isLetter = (c: number) => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f
const isNameChar = (c: number) => isLetter(c) || (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x3a || c === 0x2d

/**
 * Names already read, each judged once (null: unsafe), and the key of each as an attribute ("@mac"): a big host's
 * documents repeat a few dozen names, and judging a new copy of one (`in` looks the string up in V8's string table)
 * and joining a key per attribute were half of reading them. Bounded: a hostile document's made-up names stop
 * being remembered, not read.
 */
const NAMES = new Map<string, string | null>()
const ATTRIBUTE_KEYS = new Map<string, string>()
const NAMES_KEPT = 1024

/** The name at `at` ([A-Za-z_][A-Za-z0-9_.:-]*, a subset of XML's), or undefined. */
function readName(text: string, at: number): string | undefined {
  if (!isLetter(text.charCodeAt(at))) return undefined
  let end = at + 1
  while (isNameChar(text.charCodeAt(end))) end++
  const name = text.slice(at, end)
  const known = NAMES.get(name)
  if (known !== undefined) return known ?? undefined
  const safe = unsafeName(name) ? null : name
  if (NAMES.size < NAMES_KEPT) NAMES.set(name, safe)
  return safe ?? undefined
}

/** "@NAME", the key fast-xml-parser gives an attribute. */
function attributeKey(name: string): string {
  let key = ATTRIBUTE_KEYS.get(name)
  if (key === undefined) {
    key = `@${name}`
    if (ATTRIBUTE_KEYS.size < NAMES_KEPT) ATTRIBUTE_KEYS.set(name, key)
  }
  return key
}

/** Markup, or a line break or tab the XML spec would normalise, in an attribute's value. */
function unplainValue(text: string, from: number, to: number): boolean {
  for (let k = from; k < to; k++) {
    const c = text.charCodeAt(k)
    if (c === 0x3c || c === 0x3e || c === 0x0a || c === 0x0d || c === 0x09) return true
  }
  return false
}

function attach(parent: XmlObject, name: string, value: unknown, arrays: ReadonlySet<string>): void {
  const had = parent[name]
  if (had === undefined) parent[name] = arrays.has(name) ? [value] : value
  else if (Array.isArray(had)) had.push(value)
  else parent[name] = [had, value]
}

/** The document's tree, or undefined when it holds anything beyond plain elements, attributes, text and comments. */
export function readPlainXml(text: string, options: PlainXmlOptions): XmlObject | undefined {
  if (text.includes('&') || text.includes('<?')) return undefined
  const doc: XmlObject = {}
  const open: Open[] = []
  let stopDepth = 0
  for (const p of options.stopPaths) stopDepth = Math.max(stopDepth, p.split('.').length)
  let rootSeen = false
  let at = 0
  for (;;) {
    const lt = text.indexOf('<', at)
    const segment = text.slice(at, lt < 0 ? text.length : lt)
    const top = open.at(-1)
    if (top === undefined ? !BLANK.test(segment) : segment.trim() !== '') {
      // Text outside the root, or beside child elements (mixed content): not read here.
      if (top === undefined || top.hasChildren || top.text !== '') return undefined
      top.text = segment
    }
    if (lt < 0) return open.length === 0 && rootSeen ? doc : undefined
    at = lt + 1
    const c = text.charCodeAt(at)
    if (c === 0x21 /* ! */) {
      // A comment, nothing else (CDATA, DOCTYPE): its body holds no "--" (XML's rule).
      if (!text.startsWith('!--', at)) return undefined
      const end = text.indexOf('-->', at + 3)
      if (end < 0 || text.slice(at + 3, end).includes('--') || text.charCodeAt(end - 1) === 0x2d) return undefined
      at = end + 3
      continue
    }
    if (c === 0x2f /* / */) {
      const top = open.pop()
      const name = readName(text, at + 1)
      if (top === undefined || name !== top.name) return undefined
      at += 1 + name.length
      if (text.charCodeAt(at) !== 0x3e /* > */) return undefined
      at++
      close(top, lt)
      continue
    }
    // An opening tag: one root only.
    if (open.length === 0 && rootSeen) return undefined
    const name = readName(text, at)
    if (name === undefined) return undefined
    at += name.length
    const parent = open.at(-1)
    if (parent) {
      if (parent.text !== '') return undefined
      parent.hasChildren = true
    }
    // Paths only as deep as a stop path reaches (no string built per element of a big document).
    const depth = open.length
    const path = depth >= stopDepth ? '' : parent ? `${parent.path}.${name}` : name
    const stop = path !== '' && options.stopPaths.has(path)
    const inside = parent !== undefined && parent.node === undefined
    const element: Open = {name, path, node: stop || inside ? undefined : {}, hasChildren: false, hasAttributes: false, text: '', stopFrom: -1}
    const attributes: string[] = []
    for (;;) {
      const before = at
      while (isSpace(text.charCodeAt(at))) at++
      const next = text.charCodeAt(at)
      if (next === 0x3e /* > */ || (next === 0x2f /* / */ && text.charCodeAt(at + 1) === 0x3e)) break
      // name='value' or name="value", after a space, nothing between.
      const attribute = at > before ? readName(text, at) : undefined
      if (attribute === undefined) return undefined
      at += attribute.length
      const quote = text.charCodeAt(at + 1)
      if (text.charCodeAt(at) !== 0x3d /* = */ || (quote !== 0x27 && quote !== 0x22)) return undefined
      const end = text.indexOf(quote === 0x27 ? "'" : '"', at + 2)
      if (end < 0) return undefined
      // Markup or a line break in the value, a repeated attribute, one on a stop element.
      if (unplainValue(text, at + 2, end) || attributes.includes(attribute) || stop) return undefined
      attributes.push(attribute)
      element.hasAttributes = true
      if (element.node !== undefined) element.node[attributeKey(attribute)] = text.slice(at + 2, end).trim()
      at = end + 1
    }
    rootSeen = true
    if (text.charCodeAt(at) === 0x2f) {
      at += 2
      close(element, at)
      continue
    }
    at++
    element.stopFrom = at
    open.push(element)
  }

  /** Puts a closed element in its parent (the document for the root); one inside a stop element is only read. */
  function close(element: Open, innerEnd: number): void {
    const parent = open.at(-1)
    if (parent !== undefined && parent.node === undefined) return
    let value: unknown
    if (element.node === undefined) value = element.stopFrom < 0 ? '' : text.slice(element.stopFrom, innerEnd)
    else {
      const inner = element.text.trim()
      if (!element.hasChildren && !element.hasAttributes) value = inner
      else {
        if (inner !== '') element.node['#text'] = inner
        value = element.node
      }
    }
    attach(parent?.node ?? doc, element.name, value, options.arrays)
  }
}
