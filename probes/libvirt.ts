import {XMLParser} from 'fast-xml-parser'
import {VIRSH_LISTING_ARGS, VIRSH_LISTINGS, virshArgv} from './first-reads.js'
import {netmaskToPrefix} from '../src/lib/ipv4.js'
import {type PlainXmlOptions, readPlainXml} from '../src/lib/plain-xml.js'
import {detached} from '../src/lib/flat.js'
import {type CommandCapture, lines} from '../src/lib/runner.js'
import {type Obj, type Probe, ParseError, ProbeUnavailable, isObj, outputOf, str} from './types.js'

export interface DhcpHost {
  mac?: string
  ip?: string
  name?: string
}

export interface NetworkIp {
  family: 'ipv4' | 'ipv6'
  address: string
  prefix: number
  dhcpRanges: {start: string; end: string}[]
  dhcpHosts: DhcpHost[]
}

export interface LibvirtNetwork {
  name: string
  active: boolean
  autostart: boolean
  persistent: boolean
  /** nat, route, open, bridge, passthrough, ... or 'isolated' when there is no <forward>. */
  forwardMode: string
  forwardDev?: string
  /** `<forward mode='nat'><nat ipv6='yes'/>`: libvirt masquerades the network's IPv6 too, which it otherwise routes. */
  natIpv6?: boolean
  bridge?: string
  stp?: boolean
  delay?: number
  ips: NetworkIp[]
  dnsEnabled: boolean
  mtu?: number
  /** `<virtualport type='openvswitch'/>`: the bridge is an Open vSwitch bridge. */
  virtualport?: string
  /** `<dnsmasq:options>`: the values of its `<dnsmasq:option value=…/>`, lines libvirt adds to the network's dnsmasq config. */
  dnsmasqOptions?: string[]
}

export interface DomainInterface {
  /** network, bridge, direct, user, ... */
  type: string
  mac?: string
  /** Network name for type=network, bridge name for type=bridge, host device for type=direct. */
  source?: string
  /** The bridge libvirt attached it to (live XML of a running network-type interface). */
  bridge?: string
  target?: string
  model?: string
  linkState: 'up' | 'down'
  /** macvtap (type direct): trustGuestRxFilters='yes' lets the guest change its MAC and multicast filters. */
  trustGuestRxFilters?: boolean
  /** `<virtualport type='openvswitch'>` (on the interface, or in a running one's <actual>): the tap is an OVS port. */
  virtualport?: {type: string; interfaceId?: string}
  /** `<vlan><tag id='N'/>`: the VLAN libvirt puts the port in. */
  vlanTags?: number[]
  /** `<bandwidth>`: libvirt shapes what the guest receives (inbound) and polices what it sends (outbound). */
  bandwidth?: {inbound?: BandwidthLimit; outbound?: BandwidthLimit}
  /** `<mtu size='N'/>`: the tap's MTU, and a virtio NIC's largest (QEMU's host_mtu: the guest's driver takes it). */
  mtu?: number
}

/** libvirt's units: average, peak and floor in kilobytes per second, burst in kilobytes. */
export interface BandwidthLimit {
  average?: number
  peak?: number
  burst?: number
  floor?: number
}

export interface LibvirtDomain {
  name: string
  /** kvm, qemu (TCG emulation), ... */
  type: string
  id?: number
  state: string
  autostart: boolean
  interfaces: DomainInterface[]
  guestAgentChannel: boolean
}

export interface LibvirtFacts {
  /** firewall_backend from /etc/libvirt/network.conf, when set. */
  firewallBackendSetting?: string
  networks: LibvirtNetwork[]
  domains: LibvirtDomain[]
  /** Why which guests start at boot is unknown (`virsh list --autostart` unread): each domain's `autostart` is then false, not a fact. */
  domainAutostartUnread?: string
}

/**
 * Parses virsh's fixed-width tables into rows keyed by the header names (lower-cased). virsh prints
 * the header even when the table is empty: output without one (nothing at all included) is no table.
 * It ends every table with a blank line: a table without it was cut (rows may be missing, and an
 * empty list read from it would be a false "no guests").
 */
export function parseVirshTable(text: string, what = 'virsh table'): Record<string, string>[] {
  const all = lines(text)
  const headerIndex = all.findIndex((l) => /^-{5,}/.test(l.trim()))
  if (headerIndex < 1) throw new ParseError(`${what}: ${all.length === 0 ? 'empty output' : 'output'} with no header line`)
  if (!/\n[ \t]*\n\s*$/.test(text)) throw new ParseError(`${what}: the table does not end with virsh's blank line (the output was cut)`)
  const header = all[headerIndex - 1]
  // Columns start where the header's words start; values are aligned to them.
  const starts = [...header.matchAll(/\S+(?: \S+)*/g)].map((m) => ({name: m[0].trim().toLowerCase(), at: m.index!}))
  return all.slice(headerIndex + 1).map((line) => {
    const row: Record<string, string> = {}
    // Columns are separated by two or more spaces; positions are the fallback for empty cells.
    const cells = line.trim().split(/\s{2,}/)
    if (cells.length === starts.length) {
      starts.forEach((col, i) => (row[col.name] = cells[i]))
      return row
    }
    starts.forEach((col, i) => {
      const end = i + 1 < starts.length ? starts[i + 1].at : line.length
      row[col.name] = line.slice(col.at, end).trim()
    })
    return row
  })
}

// The bundle takes fast-xml-parser's single-file CommonJS build (scripts/build.mjs aliases it): its ES
// module build is some thirty modules, and loading them cost more than parsing a thousand domains.

/** Elements read as lists, one or many. */
const XML_ARRAYS = new Set(['interface', 'ip', 'range', 'host', 'channel', 'tag'])
// A running domain's status file wraps its XML in qemu's capabilities (hundreds of <flag/>) and device
// aliases, which nothing here reads: kept as text, not parsed (the whole file is still validated first).
const XML_STOP_PATHS = ['domstatus.qemuCaps', 'domstatus.devices']

const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseAttributeValue: false,
  parseTagValue: false,
  processEntities: true,
  isArray: (name) => XML_ARRAYS.has(name),
  // isArray reads only the tag name: no path string built for every tag and attribute.
  jPath: false,
  stopNodes: XML_STOP_PATHS,
})
const PLAIN_XML: PlainXmlOptions = {arrays: XML_ARRAYS, stopPaths: new Set(XML_STOP_PATHS)}

/** A document as fast-xml-parser reads it with these options (validated first: invalid XML throws). */
export const parseXmlDocument = (text: string): unknown => xml.parse(text, true)
/** The same tree when the document is plain XML as libvirt writes it (src/lib/plain-xml.ts), else undefined. */
export const readPlainXmlDocument = (text: string): Obj | undefined => readPlainXml(text, PLAIN_XML)

function parseXmlRoot(text: string, root: string, what: string): Obj {
  // The XML libvirt writes is read in one pass; any other (entities, CDATA, errors) by fast-xml-parser.
  let doc: unknown = readPlainXmlDocument(text)
  if (doc === undefined) {
    try {
      doc = parseXmlDocument(text)
    } catch (error) {
      throw new ParseError(`${what}: invalid XML (${(error as Error).message.split('\n')[0]})`)
    }
  }
  if (!isObj(doc) || !isObj(doc[root])) throw new ParseError(`${what}: no <${root}> element`)
  return doc[root]
}

const arr = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : isObj(v) ? [v] : [])
/**
 * An attribute's value, or an element's text, as a string of its own: what a probe keeps of a document must not keep
 * the document (detached).
 */
const attr = (o: unknown, name: string): string | undefined => (isObj(o) ? detached(str(o[`@${name}`])) : undefined)
const textOf = (v: unknown): string | undefined => detached(str(v))

export function parseNetworkXml(text: string): Omit<LibvirtNetwork, 'active' | 'autostart' | 'persistent'> {
  const net = parseXmlRoot(text, 'network', 'virsh net-dumpxml')
  const name = textOf(net.name)
  if (!name) throw new ParseError('virsh net-dumpxml: network has no name')
  const forward = net.forward
  const ips: NetworkIp[] = arr(net.ip).map((ip) => {
    const family = attr(ip, 'family') === 'ipv6' ? 'ipv6' : 'ipv4'
    const netmask = attr(ip, 'netmask')
    const prefix = Number(attr(ip, 'prefix') ?? (netmask ? netmaskToPrefix(netmask) : family === 'ipv4' ? 24 : 64))
    const dhcp = isObj(ip.dhcp) ? ip.dhcp : {}
    return {
      family,
      address: attr(ip, 'address') ?? '',
      prefix,
      dhcpRanges: arr(dhcp.range).map((r) => ({start: attr(r, 'start') ?? '', end: attr(r, 'end') ?? ''})),
      dhcpHosts: arr(dhcp.host).map((h) => ({mac: attr(h, 'mac')?.toLowerCase(), ip: attr(h, 'ip'), name: attr(h, 'name')})),
    }
  })
  const network: Omit<LibvirtNetwork, 'active' | 'autostart' | 'persistent'> = {
    name,
    forwardMode: forward === undefined ? 'isolated' : (attr(forward, 'mode') ?? 'nat'),
    ips,
    dnsEnabled: attr(net.dns, 'enable') !== 'no',
  }
  const forwardDev = attr(forward, 'dev')
  if (forwardDev) network.forwardDev = forwardDev
  if (isObj(forward) && attr(forward.nat, 'ipv6') === 'yes') network.natIpv6 = true
  if (isObj(net.bridge)) {
    network.bridge = attr(net.bridge, 'name')
    network.stp = attr(net.bridge, 'stp') !== 'off'
    network.delay = Number(attr(net.bridge, 'delay') ?? 0)
  }
  const mtu = attr(net.mtu, 'size')
  if (mtu) network.mtu = Number(mtu)
  const virtualport = attr(net.virtualport, 'type')
  if (virtualport) network.virtualport = virtualport
  // libvirt dumps its dnsmasq namespace with this prefix whatever prefix the defining XML used.
  const dnsmasqOptions = arr(isObj(net['dnsmasq:options']) ? net['dnsmasq:options']['dnsmasq:option'] : undefined).flatMap((o) => attr(o, 'value') ?? [])
  if (dnsmasqOptions.length > 0) network.dnsmasqOptions = dnsmasqOptions
  return network
}

/** A domain's XML: from `virsh dumpxml`, libvirt's config file, or its live status file (<domstatus><domain>). */
export function parseDomainXml(text: string): Omit<LibvirtDomain, 'state' | 'autostart'> {
  const dom = /<domstatus[\s>]/.test(text) ? (parseXmlRoot(text, 'domstatus', 'domain status XML').domain as Obj) : parseXmlRoot(text, 'domain', 'virsh dumpxml')
  if (!isObj(dom)) throw new ParseError('domain status XML: no <domain> element')
  const name = textOf(dom.name)
  if (!name) throw new ParseError('virsh dumpxml: domain has no name')
  const devices = isObj(dom.devices) ? dom.devices : {}
  const id = attr(dom, 'id')
  return {
    name,
    type: attr(dom, 'type') ?? 'unknown',
    ...(id ? {id: Number(id)} : {}),
    interfaces: arr(devices.interface).map((i) => {
      const type = attr(i, 'type') ?? 'unknown'
      const source = i.source
      const iface: DomainInterface = {
        type,
        mac: attr(i.mac, 'address')?.toLowerCase(),
        source: type === 'network' ? attr(source, 'network') : type === 'bridge' ? attr(source, 'bridge') : attr(source, 'dev'),
        linkState: attr(i.link, 'state') === 'down' ? 'down' : 'up',
      }
      // Running network-type interfaces carry the bridge libvirt attached them to (status files: in <actual>).
      const bridge = attr(source, 'bridge') ?? (isObj(i.actual) ? attr(i.actual.source, 'bridge') : undefined)
      if (bridge) iface.bridge = bridge
      const target = attr(i.target, 'dev')
      if (target) iface.target = target
      const model = attr(i.model, 'type')
      if (model) iface.model = model
      const mtu = Number(attr(i.mtu, 'size'))
      if (Number.isInteger(mtu) && mtu > 0) iface.mtu = mtu
      if (type === 'direct') iface.trustGuestRxFilters = attr(i, 'trustGuestRxFilters') === 'yes'
      const actual = isObj(i.actual) ? i.actual : {}
      const virtualport = [i.virtualport, actual.virtualport].find((v) => attr(v, 'type') !== undefined)
      if (virtualport) {
        const interfaceId = attr((virtualport as Obj).parameters, 'interfaceid')
        iface.virtualport = {type: attr(virtualport, 'type')!, ...(interfaceId ? {interfaceId} : {})}
      }
      const vlan = [i.vlan, actual.vlan].find(isObj)
      const tags = vlan ? arr(vlan.tag).map((t) => Number(attr(t, 'id'))).filter(Number.isInteger) : []
      if (tags.length > 0) iface.vlanTags = tags
      const bandwidth = [i.bandwidth, actual.bandwidth].find(isObj)
      if (bandwidth) {
        const limit = (o: unknown): BandwidthLimit | undefined => {
          if (!isObj(o)) return undefined
          const out: BandwidthLimit = {}
          for (const k of ['average', 'peak', 'burst', 'floor'] as const) {
            const v = Number(attr(o, k))
            if (attr(o, k) !== undefined && Number.isFinite(v)) out[k] = v
          }
          return out
        }
        const inbound = limit(bandwidth.inbound)
        const outbound = limit(bandwidth.outbound)
        iface.bandwidth = {...(inbound ? {inbound} : {}), ...(outbound ? {outbound} : {})}
      }
      return iface
    }),
    guestAgentChannel: arr(devices.channel).some((c) => attr(c.target, 'name') === 'org.qemu.guest_agent.0'),
  }
}

/** The firewall_backend setting of /etc/libvirt/network.conf (commented lines ignored). */
export function parseNetworkConf(text: string): string | undefined {
  return /^\s*firewall_backend\s*=\s*"([^"]*)"/m.exec(text)?.[1]
}

export {VIRSH_LISTING_ARGS, VIRSH_LISTINGS} from './first-reads.js'

/**
 * The joined output cut back into each listing's, byte for byte: virsh ends a table with a blank line (no row is
 * blank), and the names come last. No separator is printed: an `echo` word would be rewritten in a bundle redacted
 * for a guest of that name. Undefined when the output is not two tables and the rest.
 */
export function splitListings(output: string): string[] | undefined {
  const parts: string[] = []
  let at = 0
  for (const _table of [0, 1]) {
    const end = output.indexOf('\n\n', at)
    if (end < 0) return undefined
    parts.push(output.slice(at, end + 2))
    at = end + 2
  }
  parts.push(output.slice(at))
  const rule = (l: string) => /^-{5,}$/.test(l.trim())
  const words = (l: string) => l.trim().split(/\s+/).length
  // A header, its rule, and rows of at least as many words as the header has columns (a name alone has fewer).
  const table = (text: string) => {
    const [header, under, ...rows] = lines(text)
    return header !== undefined && rule(under ?? '') && !rule(header) && rows.every((r) => !rule(r) && words(r) >= words(header))
  }
  return table(parts[0]) && table(parts[1]) && !lines(parts[2]).some(rule) ? parts : undefined
}

/**
 * The three listings from one virsh process (a virsh costs as much CPU as its listing: most of it is its start and
 * its connection). Anything but a clean answer (an error, a word on stderr, another shape, a recording made before,
 * a sosreport) asks them one by one, as before; a timeout or a missing virsh answers for all three.
 */
async function virshListings(virsh: (...args: string[]) => Promise<CommandCapture>): Promise<CommandCapture[]> {
  const all = await virsh(VIRSH_LISTINGS)
  if (all.errorCode === 'timeout' || all.errorCode === 'not-found') return VIRSH_LISTING_ARGS.map(() => all)
  const parts = all.error === undefined && all.stderr === '' ? splitListings(all.output) : undefined
  if (parts) return parts.map((output) => ({...all, output}))
  return Promise.all(VIRSH_LISTING_ARGS.map((l) => virsh(...l)))
}

/** Undefined between `virsh list` and its dumpxml. */
const domainGone = (c: CommandCapture) => /Domain not found|failed to get domain/i.test(c.stderr)
/** Where the system instance of libvirt keeps its XML: the live status of active ones, the definitions of the others. */
const XML_DIRS = {domain: {active: '/run/libvirt/qemu', defined: '/etc/libvirt/qemu'}, network: {active: '/run/libvirt/network', defined: '/etc/libvirt/qemu/networks'}}
const xmlFile = (kind: keyof typeof XML_DIRS, name: string, active: boolean) => `${XML_DIRS[kind][active ? 'active' : 'defined']}/${name}.xml`
/** One of libvirt's own XML files: where one cannot be read, virsh is asked. */
const isXmlFile = (path: string) => path.endsWith('.xml') && Object.values(XML_DIRS).some((d) => [d.active, d.defined].includes(path.slice(0, path.lastIndexOf('/'))))

export const libvirtProbe: Probe<LibvirtFacts> = {
  id: 'libvirt',
  // Read another way when they fail: the XML files (virsh), the joined listings (each alone); a guest gone meanwhile.
  expectedFailure: (c) => (c.kind === 'file' && isXmlFile(c.path)) || (c.kind === 'command' && (c.argv.at(-1) === VIRSH_LISTINGS || c.argv.includes('--autostart') || (c.argv.includes('dumpxml') && domainGone(c)))),
  title: 'libvirt networks and domains',
  // virsh waits on libvirtd, and other probes wait on these facts.
  early: true,
  reads: ['/etc/libvirt/network.conf', '/run/libvirt/qemu/DOM.xml', '/etc/libvirt/qemu/DOM.xml', '/run/libvirt/network/NET.xml', '/etc/libvirt/qemu/networks/NET.xml', `virsh -r '${VIRSH_LISTINGS}' (one virsh; each alone when that fails)`, 'virsh -r net-dumpxml NET', 'virsh -r dumpxml DOM'],
  async collect({runner, options}) {
    const virsh = (...args: string[]) => runner.run(virshArgv(options.libvirtUri, ...args))
    // On the system instance libvirt keeps each domain's XML in a file: reading it costs no virsh
    // process per guest (the live status of running ones, the config of the others).
    const systemInstance = options.libvirtUri === 'qemu:///system'
    const domainXml = async (name: string, active: boolean): Promise<string | undefined> => {
      if (systemInstance && !name.includes('/')) {
        const file = await runner.readFile(xmlFile('domain', name, active))
        if (file.error === undefined && file.output.includes('<domain')) return file.output
      }
      const c = await virsh('dumpxml', name)
      // Undefined between `virsh list` and now: the guest is gone, not the probe broken.
      if (c.error !== undefined && domainGone(c)) return undefined
      if (c.error !== undefined) throw new ProbeUnavailable(c.error)
      return c.output
    }
    const [[netList, domList, autostartList], networkConf] = await Promise.all([virshListings(virsh), runner.readFile('/etc/libvirt/network.conf')])
    for (const c of [netList, domList]) {
      if (c.error !== undefined) {
        const reason = c.errorCode === 'not-found' ? 'virsh is not installed (libvirt-clients)' : c.stderr.includes('failed to connect') ? `libvirtd is not reachable at ${options.libvirtUri}: ${c.stderr.trim().split('\n').pop()}` : c.error
        throw new ProbeUnavailable(reason)
      }
    }
    const autostartDomains = new Set(lines(autostartList.output).map((l) => l.trim()))
    const networkRows = parseVirshTable(netList.output, 'virsh net-list --all')
    const domainRows = parseVirshTable(domList.output, 'virsh list --all')
    // The same for networks: libvirt's status file of an active one holds the definition net-dumpxml prints.
    const networkXml = async (name: string, active: boolean): Promise<string> => {
      if (systemInstance && !name.includes('/')) {
        const file = await runner.readFile(xmlFile('network', name, active))
        const network = file.error === undefined ? /<network[\s>][\s\S]*<\/network>/.exec(file.output)?.[0] : undefined
        if (network) return network
      }
      const c = await virsh('net-dumpxml', name)
      if (c.error !== undefined) throw new ProbeUnavailable(c.error)
      return c.output
    }
    const networks = await Promise.all(
      networkRows.map(async (row) => ({
        ...parseNetworkXml(await networkXml(row.name, row.state === 'active')),
        active: row.state === 'active',
        autostart: row.autostart === 'yes',
        persistent: row.persistent === 'yes',
      })),
    )
    const domains = (
      await Promise.all(
        domainRows.map(async (row) => {
          const xml = await domainXml(row.name, row.state !== 'shut off')
          return xml === undefined ? [] : [{...parseDomainXml(xml), state: row.state, autostart: autostartDomains.has(row.name)}]
        }),
      )
    ).flat()
    const facts: LibvirtFacts = {networks, domains}
    const backend = parseNetworkConf(networkConf.error === undefined ? networkConf.output : '')
    if (backend) facts.firewallBackendSetting = backend
    // Which guests start at boot decides a rule (a network they need must start at boot): unread, it is not "none". That
    // rule is not checked; the rest of libvirt's facts stand (a sosreport never holds the listing).
    if (autostartList.error !== undefined) facts.domainAutostartUnread = `virsh list --autostart: ${autostartList.error} (which guests start at boot is unknown)`
    return facts
  },
}

/**
 * The libvirt library's version, for a support bundle's summary: no rule reads it, so `diagnose` spawns no
 * virsh for it (a virsh process costs as much as a listing).
 */
export const libvirtVersionProbe: Probe<{library?: string}> = {
  id: 'libvirt-version',
  title: 'libvirt version',
  reads: ['virsh -r version'],
  async collect({runner, options}) {
    const c = await runner.run(['virsh', '-r', '-c', options.libvirtUri, 'version'])
    const library = /Using library: libvirt (\S+)/.exec(outputOf(c))?.[1]
    return library ? {library} : {}
  },
}
