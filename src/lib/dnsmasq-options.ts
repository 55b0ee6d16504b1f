/**
 * What a libvirt network's own dnsmasq options (`<dnsmasq:options>` in its XML) change in the DHCP answers its
 * guests get: the router (option 3) and the DNS servers (option 6). libvirt writes the network's address as both by
 * default; a `dhcp-option=3` with no value makes dnsmasq send no router at all, one with addresses sends those.
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
/** Fields before the option that make it apply to some clients only (dnsmasq's man page: dhcp-option). */
const CONDITIONAL_FIELD = /^(tag|net|vendor|encap|vi-encap|rfc3925-encap):/

/**
 * The router and DNS servers the options give, in place of libvirt's own (the network's address): undefined for an
 * option the options do not set. `own` is the network's address, which dnsmasq's 0.0.0.0 stands for.
 */
export function givenDhcpOptions(options: readonly string[] | undefined, own: string): GivenDhcpOptions {
  const given: GivenDhcpOptions = {}
  for (const raw of options ?? []) {
    const text = raw.trim()
    const eq = text.indexOf('=')
    const key = (eq < 0 ? text : text.slice(0, eq)).trim().replace(/^--/, '')
    if (key !== 'dhcp-option' && key !== 'dhcp-option-force') continue
    const fields = text.slice(eq + 1).split(',').map((f) => f.trim())
    const conditional = fields.some((f) => CONDITIONAL_FIELD.test(f))
    // Conditions come first: the option is the first field that is not one.
    const at = fields.findIndex((f) => !CONDITIONAL_FIELD.test(f))
    const number = at < 0 ? undefined : OPTION_NUMBER[fields[at].toLowerCase()]
    if (number === undefined) continue
    const slot = number === 3 ? 'router' : 'dnsServer'
    const values = fields.slice(at + 1).filter((f) => f !== '')
    const addresses = values.map((v) => (v === '0.0.0.0' ? own : v))
    // A value that is no IPv4 address (a name, an option's other encoding) is not one kvmdoctor can follow.
    const unreadable = addresses.some((a) => ipv4ToInt(a) === undefined)
    const previous = given[slot]
    if (conditional || unreadable || (previous !== undefined && !('addresses' in previous && previous.addresses.join(',') === addresses.join(',')))) {
      const before = previous === undefined ? undefined : 'conditional' in previous ? previous.conditional : previous.option
      given[slot] = {conditional: before === undefined ? text : `${before}; ${text}`}
    } else {
      given[slot] = {addresses, option: text}
    }
  }
  return given
}
