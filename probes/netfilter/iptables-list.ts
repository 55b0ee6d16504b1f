/**
 * `iptables -t TABLE -nvL` listings (what a sosreport keeps of iptables) read back into
 * `iptables-save -c` text, so iptables-save's reader builds the tables. The listing prints each
 * match and target in a human form; the forms below are turned back into iptables-save's options
 * (tested rule by rule against iptables-save -c of the same rules, test/data/sos/iptables). A
 * rule with anything else is lossy, and never guessed: with `lossy: 'bare'` it is written as a
 * bare "-A CHAIN" (iptables-nft's own way of saying it cannot print a rule, which the ruleset
 * builder then takes from nft); with `lossy: 'opaque'` as an unreadable match and target, so every
 * flow that reaches it is indeterminate, with the listing's text as the reason.
 */
import {ParseError} from '../types.js'

export interface ListingTable {
  table: string
  /** The listing's text. */
  text: string
}

export interface ListingOptions {
  family: 'ip' | 'ip6'
  /** The variant the header names: the listing itself does not say. */
  variant: 'nf_tables' | 'legacy'
  lossy: 'bare' | 'opaque'
}

/** A rule the reader could not turn back into iptables-save options, with what it did not understand. */
export interface LossyRule {
  table: string
  chain: string
  index: number
  line: string
  why: string
}

const PROTOCOLS: Record<string, string> = {1: 'icmp', 2: 'igmp', 6: 'tcp', 17: 'udp', 33: 'dccp', 47: 'gre', 50: 'esp', 51: 'ah', 58: 'ipv6-icmp', 132: 'sctp', 136: 'udplite'}
const TCP_FLAGS: [number, string][] = [[0x01, 'FIN'], [0x02, 'SYN'], [0x04, 'RST'], [0x08, 'PSH'], [0x10, 'ACK'], [0x20, 'URG']]
/** Matches whose listing form is `NAME key:value ...` (the protocol matches). */
const PORT_MATCHES = new Set(['tcp', 'udp', 'sctp', 'dccp', 'udplite'])

/** iptables-save's quoting (xtables_save_string): bare when only [A-Za-z0-9_-], else double quotes with \ " ' escaped. */
export function saveString(value: string): string {
  return /^[A-Za-z0-9_-]+$/.test(value) ? value : `"${value.replace(/["\\']/g, '\\$&')}"`
}

const flagNames = (hex: string) => {
  const bits = Number(hex)
  if (bits === 0) return 'NONE'
  return TCP_FLAGS.filter(([b]) => bits & b).map(([, n]) => n).join(',')
}

/** Listing counters: exact with -x, else with a K/M/G/T suffix (1000-based, as iptables prints them). */
function counter(text: string): number {
  const m = /^(\d+)([KMGT]?)$/.exec(text)
  if (!m) throw new ParseError(`counter ${text} not understood`)
  return Number(m[1]) * ({'': 1, K: 1e3, M: 1e6, G: 1e9, T: 1e12} as Record<string, number>)[m[2]]
}

class Words {
  i = 0
  constructor(readonly list: string[]) {}
  peek(k = 0) {
    return this.list[this.i + k]
  }
  next() {
    return this.list[this.i++]
  }
  get done() {
    return this.i >= this.list.length
  }
}

/** The listing's extra text split in words, quoted strings and comments kept whole. */
function words(text: string): string[] {
  return [...text.matchAll(/\/\*.*?\*\/|"(?:[^"\\]|\\.)*"|\S+/g)].map((m) => m[0])
}

const unquote = (s: string) => (s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1).replace(/\\(.)/g, '$1') : s)
const neg = (w: Words) => {
  if (w.peek() === '!') {
    w.next()
    return '! '
  }
  return ''
}

/** One match of the listing, as iptables-save options; undefined when the words there are not one this reader knows. */
function match(w: Words, family: 'ip' | 'ip6'): string | undefined {
  const start = w.i
  const not = neg(w)
  const word = w.peek()
  if (word === undefined) return undefined
  const fail = () => {
    w.i = start
    return undefined
  }
  if (word.startsWith('/*') && !not) {
    w.next()
    return `-m comment --comment ${saveString(word.slice(2, -2).trim())}`
  }
  if (PORT_MATCHES.has(word) && !not) {
    w.next()
    const opts: string[] = []
    for (;;) {
      const m = /^(spts?|dpts?|flags):(!?)(.+)$/.exec(w.peek() ?? '')
      if (!m) break
      w.next()
      const bang = m[2] ? '! ' : ''
      if (m[1] === 'flags') {
        const [mask, cmp] = m[3].split('/')
        if (cmp === undefined) return fail()
        opts.push(`${bang}--tcp-flags ${flagNames(mask)} ${flagNames(cmp)}`)
      } else opts.push(`${bang}--${m[1].startsWith('s') ? 'sport' : 'dport'} ${m[3]}`)
    }
    return opts.length > 0 ? `-m ${word} ${opts.join(' ')}` : fail()
  }
  // "icmptype 3 code 4", and negated "icmp !type 11".
  const icmpNegated = (word === 'icmp' || word === 'ipv6-icmp') && w.peek(1) === '!type'
  if ((word === 'icmptype' || word === 'ipv6-icmptype' || icmpNegated) && !not) {
    w.i += icmpNegated ? 2 : 1
    const type = w.next()
    let code = ''
    if (w.peek() === 'code') {
      w.next()
      code = `/${w.next()}`
    }
    const bang = icmpNegated ? '! ' : ''
    return word.startsWith('icmp') ? `-m icmp ${bang}--icmp-type ${type}${code}` : `-m icmp6 ${bang}--icmpv6-type ${type}${code}`
  }
  if (word === 'multiport' && !not) {
    w.next()
    const kind = w.next()
    if (!/^(s|d)?ports$/.test(kind ?? '')) return fail()
    let list = w.next() ?? ''
    let bang = ''
    if (list === '!' || list.startsWith('!')) {
      bang = '! '
      list = list === '!' ? (w.next() ?? '') : list.slice(1)
    }
    return `-m multiport ${bang}--${kind} ${list}`
  }
  if (word === 'state' && !not) {
    w.next()
    return `-m state --state ${w.next()}`
  }
  if (/^ct(state|status|dir|proto|expire|origsrc|origdst|replsrc|repldst|origsrcport|origdstport|replsrcport|repldstport)$/.test(word)) {
    const opts: string[] = []
    let bang = not
    for (;;) {
      const key = w.peek()
      if (!key || !/^ct[a-z]+$/.test(key)) break
      w.next()
      opts.push(`${bang}--${key} ${w.next()}`)
      bang = neg(w)
      if (bang && !/^ct[a-z]+$/.test(w.peek() ?? '')) {
        w.i--
        break
      }
    }
    return `-m conntrack ${opts.join(' ')}`
  }
  if (word === 'MAC') {
    w.next()
    const bang = not || neg(w)
    return `-m mac ${bang}--mac-source ${w.next() ?? ''}`
  }
  if (word === 'match-set') {
    w.next()
    const name = w.next()
    const dirs = w.next()
    if (!name || !dirs || !/^(src|dst)(,(src|dst))*$/.test(dirs)) return fail()
    return `-m set ${not}--match-set ${name} ${dirs}`
  }
  if (word === 'PKTTYPE' && !not) {
    w.next()
    const op = w.next()
    return `-m pkttype ${op === '!=' ? '! ' : ''}--pkt-type ${w.next()}`
  }
  if ((word === 'mark' || word === 'connmark') && w.peek(1) === 'match' && !not) {
    w.next()
    w.next()
    const bang = neg(w)
    return `-m ${word} ${bang}--mark ${w.next()}`
  }
  if (word === 'ADDRTYPE' && w.peek(1) === 'match' && !not) {
    w.next()
    w.next()
    const opts: string[] = []
    for (;;) {
      const key = w.peek()
      if (key === 'src-type' || key === 'dst-type') {
        w.next()
        const v = w.next() ?? ''
        opts.push(v.startsWith('!') ? `! --${key} ${v.slice(1)}` : `--${key} ${v}`)
      } else if (key === 'limit-in' || key === 'limit-out') {
        w.next()
        opts.push(`--limit-iface-${key.slice(6)}`)
      } else break
    }
    return opts.length > 0 ? `-m addrtype ${opts.join(' ')}` : fail()
  }
  if (word === 'PHYSDEV' && w.peek(1) === 'match' && !not) {
    w.next()
    w.next()
    const opts: string[] = []
    while (w.peek() !== undefined && (w.peek()!.startsWith('--physdev') || (w.peek() === '!' && w.peek(1)?.startsWith('--physdev')))) {
      const bang = neg(w)
      const key = w.next()!
      opts.push(key === '--physdev-in' || key === '--physdev-out' ? `${bang}${key} ${w.next()}` : `${bang}${key}`)
    }
    return opts.length > 0 ? `-m physdev ${opts.join(' ')}` : fail()
  }
  if (word === 'statistic' && w.peek(1) === 'mode' && w.peek(2) === 'random' && w.peek(3) === 'probability' && !not) {
    w.i += 4
    return `-m statistic --mode random --probability ${w.next()}`
  }
  if (word === 'limit:' && w.peek(1) === 'avg' && !not) {
    w.i += 2
    const rate = w.next()
    if (w.next() !== 'burst') return fail()
    const burst = w.next()
    // iptables-save leaves out the default burst.
    return `-m limit --limit ${rate}${burst === '5' ? '' : ` --limit-burst ${burst}`}`
  }
  return fail()
}

/** The target's options from the rest of the listing, or undefined when they are not all understood. */
function targetOptions(target: string, w: Words, family: 'ip' | 'ip6'): string | undefined {
  const rest: string[] = []
  while (!w.done) rest.push(w.next()!)
  const text = rest.join(' ')
  if (text === '') {
    // These targets always print their options: nothing printed is not their default.
    return ['LOG', 'MARK', 'CONNMARK', 'CHECKSUM', 'SNAT', 'DNAT', 'REDIRECT', 'NFQUEUE', 'CT', 'TCPMSS', 'NFLOG'].includes(target) ? undefined : ''
  }
  let m: RegExpExecArray | null
  if (target === 'REJECT' && (m = /^reject-with (\S+)$/.exec(text))) {
    // iptables-save leaves out the default reply.
    return m[1] === (family === 'ip' ? 'icmp-port-unreachable' : 'icmp6-port-unreachable') ? ` --reject-with ${m[1]}` : ` --reject-with ${m[1]}`
  }
  if (target === 'MASQUERADE' && (m = /^(?:masq ports: (\S+))?\s*(random-fully|random)?$/.exec(text))) return `${m[1] ? ` --to-ports ${m[1]}` : ''}${m[2] ? ` --${m[2]}` : ''}`
  if ((target === 'SNAT' || target === 'DNAT') && (m = /^to:(\S+)((?: (?:random|random-fully|persistent))*)$/.exec(text))) {
    return ` --to-${target === 'SNAT' ? 'source' : 'destination'} ${m[1]}${m[2].trim().split(' ').filter(Boolean).map((f) => ` --${f}`).join('')}`
  }
  if (target === 'REDIRECT' && (m = /^redir ports (\S+)((?: random)?)$/.exec(text))) return ` --to-ports ${m[1]}${m[2] ? ' --random' : ''}`
  if (target === 'CHECKSUM' && text === 'CHECKSUM fill') return ' --checksum-fill'
  if (target === 'LOG' && (m = /^LOG flags 0 level (\d+)(?: prefix "((?:[^"\\]|\\.)*)")?$/.exec(text))) {
    return `${m[2] !== undefined ? ` --log-prefix ${saveString(unquote(`"${m[2]}"`))}` : ''}${m[1] !== '4' ? ` --log-level ${m[1]}` : ''}`
  }
  if (target === 'MARK' && (m = /^MARK (set|xset|or|and|xor) (0x[0-9a-f]+)(?:\/(0x[0-9a-f]+))?$/.exec(text))) {
    const v = Number(m[2])
    const hex = (n: number) => `0x${(n >>> 0).toString(16)}`
    if (m[1] === 'set') return ` --set-xmark ${hex(v)}/0xffffffff`
    if (m[1] === 'xset') return ` --set-xmark ${hex(v)}/${m[3] ?? '0xffffffff'}`
    if (m[1] === 'or') return ` --set-xmark ${hex(v)}/${hex(v)}`
    if (m[1] === 'and') return ` --set-xmark 0x0/${hex(~v)}`
    return ` --set-xmark ${hex(v)}/0x0`
  }
  return undefined
}

/**
 * The listing of one table (`iptables -t TABLE -nvL`) as the `*TABLE ... COMMIT` block
 * iptables-save -c prints, with the rules it could not read back.
 */
export function listingToSave(listing: ListingTable, options: ListingOptions): {text: string; lossy: LossyRule[]} {
  const chains: {name: string; policy?: string; counters?: string; rules: string[]}[] = []
  const lossy: LossyRule[] = []
  let chain: (typeof chains)[number] | undefined
  for (const [n, raw] of listing.text.split('\n').entries()) {
    const line = raw.replace(/\s+$/, '')
    if (line.trim() === '' || /^\s*pkts\s+bytes\s+target/.test(line) || /^#? ?Warning:/.test(line.trim())) continue
    const head = /^Chain (\S+) \((?:policy (\w+) (\d+[KMGT]?) packets, (\d+[KMGT]?) bytes|\d+ references)\)$/.exec(line)
    if (head) {
      chain = {name: head[1], rules: [], ...(head[2] ? {policy: head[2], counters: `[${counter(head[3])}:${counter(head[4])}]`} : {})}
      chains.push(chain)
      continue
    }
    if (!chain) throw new ParseError(`iptables -t ${listing.table} -nvL: line ${n + 1} before any chain: ${JSON.stringify(line.slice(0, 80))}`)
    const cols = line.trim().split(/\s+/)
    // A rule without a target has one column less: opt (--, -f, !f) is then the 4th column.
    const opts = /^(--|-f|!f)$/
    const hasTarget = opts.test(cols[4] ?? '')
    if (!hasTarget && !opts.test(cols[3] ?? '')) throw new ParseError(`iptables -t ${listing.table} -nvL: line ${n + 1} not understood: ${JSON.stringify(line.slice(0, 80))}`)
    const [pkts, bytes] = [counter(cols[0]), counter(cols[1])]
    const target = hasTarget ? cols[2] : ''
    const [prot, opt, inIf, outIf, src, dst] = cols.slice(hasTarget ? 3 : 2, hasTarget ? 9 : 8)
    const extraAt = nthFieldEnd(line, hasTarget ? 9 : 8)
    const extra = line.slice(extraAt).trim()
    const parts: string[] = []
    const address = (flag: string, a: string) => {
      const bang = a.startsWith('!') ? '! ' : ''
      const v = bang ? a.slice(1) : a
      if (v === '0.0.0.0/0' || v === '::/0') return
      parts.push(`${bang}${flag} ${v.includes('/') ? v : `${v}/${v.includes(':') ? 128 : 32}`}`)
    }
    address('-s', src)
    address('-d', dst)
    for (const [flag, i] of [['-i', inIf], ['-o', outIf]] as const) if (i !== '*') parts.push(i.startsWith('!') ? `! ${flag} ${i.slice(1)}` : `${flag} ${i}`)
    const protocol = prot.replace(/^!/, '')
    if (protocol !== '0' && protocol !== 'all') parts.push(`${prot.startsWith('!') ? '! ' : ''}-p ${PROTOCOLS[protocol] ?? protocol}`)
    if (opt === '-f') parts.push('-f')
    if (opt === '!f') parts.push('! -f')
    let goto = false
    const w = new Words(words(extra.replace(/\[goto\]\s*$/, (g) => ((goto = true), ''))))
    let why: string | undefined
    for (;;) {
      if (w.done) break
      const before = w.i
      const m = match(w, options.family)
      if (m === undefined) {
        w.i = before
        break
      }
      parts.push(m)
    }
    const targetText = target === '' ? '' : targetOptions(target, w, options.family)
    if (targetText === undefined) why = `"${extra}" is not read back in full`
    else if (!w.done) why = `"${w.list.slice(w.i).join(' ')}" is not read back`
    const counters = `[${pkts}:${bytes}] `
    if (why !== undefined) {
      lossy.push({table: listing.table, chain: chain.name, index: chain.rules.length, line: line.trim(), why})
      chain.rules.push(options.lossy === 'bare' ? `${counters}-A ${chain.name}` : `${counters}-A ${chain.name} -m unreadable --listing ${saveString(`${line.trim()} (${why})`)} -j UNREADABLE`)
      continue
    }
    const jump = target === '' ? '' : ` ${goto ? '-g' : '-j'} ${target}${targetText}`
    chain.rules.push(`${counters}-A ${chain.name}${parts.length > 0 ? ` ${parts.join(' ')}` : ''}${jump}`)
  }
  const out = [`*${listing.table}`]
  for (const c of chains) out.push(`:${c.name} ${c.policy ?? '-'} ${c.counters ?? '[0:0]'}`)
  for (const c of chains) out.push(...c.rules)
  out.push('COMMIT')
  return {text: out.join('\n') + '\n', lossy}
}

/** Where the n-th whitespace-separated field of a line ends. */
function nthFieldEnd(line: string, n: number): number {
  const re = /\S+/g
  let m: RegExpExecArray | null = null
  for (let i = 0; i < n; i++) m = re.exec(line)
  return m ? m.index + m[0].length : line.length
}

/** Every table's listing as one `iptables-save -c` output, with the header that names the variant. */
export function listingsToSave(tables: ListingTable[], options: ListingOptions): {text: string; lossy: LossyRule[]} {
  const tool = options.family === 'ip6' ? 'ip6tables-save' : 'iptables-save'
  const blocks = tables.map((t) => listingToSave(t, options))
  // The version is not in the listings: v0 says so (the header's form is what names the variant to the reader).
  const header = `# Generated by ${tool} v0 (${options.variant}), read back from ${options.family === 'ip6' ? 'ip6tables' : 'iptables'} -nvL listings`
  return {text: [header, ...blocks.map((b) => b.text.trimEnd()), `# Completed by ${tool}`].join('\n') + '\n', lossy: blocks.flatMap((b) => b.lossy)}
}
