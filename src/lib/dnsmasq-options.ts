/**
 * What a libvirt network's own dnsmasq options (`<dnsmasq:options>` in its XML) change in the DHCP answers its
 * guests get: the router (option 3) and the DNS servers (option 6), and whether a client is answered at all. libvirt
 * writes the network's address as both by default; a `dhcp-option=3` with no value makes dnsmasq send no router at
 * all, one with addresses sends those.
 */
import {ipv4ToInt} from './ipv4.js'

/**
 * What dnsmasq tells a DHCP client for one option: `addresses` (none: the option sent empty, so the client gets no
 * router or no server; `0.0.0.0` in dnsmasq's syntax is the network's own address, already put in its place), or
 * `conditional` when which value a client gets depends on what kvmdoctor does not read (tags, vendor classes, the same
 * option given twice).
 */
export type GivenOption = {addresses: string[]; option: string} | {conditional: string}

export interface GivenDhcpOptions {
  router?: GivenOption
  dnsServer?: GivenOption
}

const OPTION_NUMBER: Record<string, 3 | 6> = {'3': 3, 'option:router': 3, '6': 6, 'option:dns-server': 6}
const CLASSLESS_ROUTES = new Set(['121', 'option:classless-static-route', '249'])
/** Fields before the option that make it apply to some clients only (dnsmasq's man page: dhcp-option). */
const CONDITIONAL_FIELD = /^(tag|net|vendor|encap|vi-encap|rfc3925-encap):/

/** An option line's name (without dnsmasq's command-line dashes) and its comma-separated fields. */
const optionKey = (text: string) => {
  const eq = text.indexOf('=')
  return {key: (eq < 0 ? text : text.slice(0, eq)).trim().replace(/^--/, ''), fields: eq < 0 ? [] : text.slice(eq + 1).split(',').map((f) => f.trim())}
}

/** An option made undecided by TEXT, naming every line that makes it so. */
const undecided = (previous: GivenOption | undefined, text: string): GivenOption => {
  const before = previous === undefined ? undefined : 'conditional' in previous ? previous.conditional : previous.option
  return {conditional: before === undefined ? text : `${before}; ${text}`}
}

/**
 * The router and DNS servers the options give, in place of libvirt's own (the network's address): undefined for an
 * option the options do not set. `own` is the network's address, which dnsmasq's 0.0.0.0 stands for.
 */
export function givenDhcpOptions(options: readonly string[] | undefined, own: string): GivenDhcpOptions {
  const given: GivenDhcpOptions = {}
  for (const raw of options ?? []) {
    const text = raw.trim()
    const {key, fields} = optionKey(text)
    if (key !== 'dhcp-option' && key !== 'dhcp-option-force') continue
    const conditional = fields.some((f) => CONDITIONAL_FIELD.test(f))
    // Conditions come first: the option is the first field that is not one.
    const at = fields.findIndex((f) => !CONDITIONAL_FIELD.test(f))
    const name = at < 0 ? undefined : fields[at].toLowerCase()
    // Classless static routes (121, Microsoft's 249): a client that takes them ignores the router option (RFC 3442),
    // so which gateway a guest uses depends on its DHCP client.
    if (name !== undefined && CLASSLESS_ROUTES.has(name)) {
      given.router = undecided(given.router, text)
      continue
    }
    const number = name === undefined ? undefined : OPTION_NUMBER[name]
    if (number === undefined) continue
    const slot = number === 3 ? 'router' : 'dnsServer'
    const values = fields.slice(at + 1).filter((f) => f !== '')
    const addresses = values.map((v) => (v === '0.0.0.0' ? own : v))
    // A value that is no IPv4 address (a name, an option's other encoding) is not one kvmdoctor can follow.
    const unreadable = addresses.some((a) => ipv4ToInt(a) === undefined)
    const previous = given[slot]
    if (conditional || unreadable || (previous !== undefined && !('addresses' in previous && previous.addresses.join(',') === addresses.join(',')))) {
      given[slot] = undecided(previous, text)
    } else {
      given[slot] = {addresses, option: text}
    }
  }
  return given
}

/**
 * Why the network's dnsmasq options keep a client from getting a DHCP answer at all: `fail` where the options say so
 * for this MAC (a dhcp-host entry with `ignore`, `dhcp-ignore=tag:!known` for a MAC no host entry names, DHCP off on
 * the bridge), `indeterminate` where it depends on what kvmdoctor does not see (other tags, a host entry matched by
 * name or client id). `hosts`: the network's own <host> entries (dnsmasq's "known" clients: by MAC, or by name).
 */
export interface DhcpRefusal {
  verdict: 'fail' | 'indeterminate'
  option: string
  /** What the option does to this client, for people. */
  effect: string
}

/** dnsmasq's MAC patterns: hex pairs, `*` for any one, an optional hardware type prefix (01-…). */
function macMatches(pattern: string, mac: string): boolean {
  const bare = pattern.toLowerCase().replace(/^[0-9a-f]{1,2}-(?=(?:[0-9a-f*]{1,2}:){5})/, '')
  const want = bare.split(':')
  const have = mac.toLowerCase().split(':')
  return want.length === 6 && want.every((w, k) => w === '*' || w.padStart(2, '0') === have[k])
}
const looksLikeMac = (field: string) => /^(?:[0-9a-f]{1,2}-)?(?:[0-9a-f*]{1,2}:){5}[0-9a-f*]{1,2}$/i.test(field)

export function dhcpRefusal(options: readonly string[] | undefined, mac: string, hosts: readonly {mac?: string}[], bridge: string): DhcpRefusal | undefined {
  const known = new Set(hosts.flatMap((h) => (h.mac ? [h.mac.toLowerCase()] : [])))
  // A host entry without a MAC makes known the client that sends its name, which the host does not see.
  const knownByName = hosts.some((h) => !h.mac)
  let undecided: DhcpRefusal | undefined
  let ignoreUnknown: string | undefined
  for (const raw of options ?? []) {
    const text = raw.trim()
    const {key, fields} = optionKey(text)
    if (key === 'no-dhcp-interface' && fields.includes(bridge)) return {verdict: 'fail', option: text, effect: `no DHCP on ${bridge}`}
    if (key === 'dhcp-host') {
      const macs = fields.filter(looksLikeMac)
      const mine = macs.find((m) => macMatches(m, mac))
      if (fields.includes('ignore')) {
        if (mine) return {verdict: 'fail', option: text, effect: `ignores ${mine}`}
        // Matched by a name or client id the host does not see.
        if (macs.length === 0) undecided ??= {verdict: 'indeterminate', option: text, effect: 'ignores some clients by name or id'}
      } else if (mine !== undefined) known.add(mac.toLowerCase())
      continue
    }
    if (key === 'dhcp-ignore') {
      if (fields.length === 1 && fields[0] === 'tag:!known') ignoreUnknown = text
      else undecided ??= {verdict: 'indeterminate', option: text, effect: 'ignores clients by tags'}
    }
  }
  if (ignoreUnknown && !known.has(mac.toLowerCase())) {
    return knownByName
      ? {verdict: 'indeterminate', option: ignoreUnknown, effect: 'ignores clients without a host entry, and one by name only may be this one'}
      : {verdict: 'fail', option: ignoreUnknown, effect: 'ignores clients without a host entry'}
  }
  return undecided
}

/**
 * The IPv4 ranges `dhcp-range=` options add to the network's own (dnsmasq hands out from all of them): start and end,
 * after any tag; a range of `static`/`proxy` mode hands out nothing dynamically, an IPv6 one is not IPv4.
 */
export function extraDhcpRanges(options: readonly string[] | undefined): {start: string; end: string}[] {
  const ranges: {start: string; end: string}[] = []
  for (const raw of options ?? []) {
    const {key, fields} = optionKey(raw.trim())
    if (key !== 'dhcp-range') continue
    const values = fields.filter((f) => !/^(tag|set|net):/.test(f))
    if (values.length >= 2 && ipv4ToInt(values[0]) !== undefined && ipv4ToInt(values[1]) !== undefined) ranges.push({start: values[0], end: values[1]})
  }
  return ranges
}
