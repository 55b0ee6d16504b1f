import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import type {Link} from '../../probes/links.js'
import {type WireFacts, type WireInterface, parseTcpdump, summarise} from '../../probes/wire.js'
import {judgeRequests, segmentIndexes} from '../../src/derive/wire-requests.js'
import {wireContextFor} from '../../src/derive/wire.js'
import {ROOT} from '../helpers.js'

/**
 * The real captures of test/data/wire/requests (src/capture-requests.sh): one bridge, br0, a server
 * 192.0.2.1 (dnsmasq, routing) and a client per mistake, judged as if br0 were a libvirt network's.
 */
const CLIENTS: Record<string, string> = {gw: '52:54:00:aa:01:03', dns: '52:54:00:aa:01:04', nms: '52:54:00:aa:01:05', nml: '52:54:00:aa:01:06', reb: '52:54:00:aa:01:07', v6a: '52:54:00:aa:01:08', v6b: '52:54:00:aa:01:09', prx: '52:54:00:aa:01:0a'}
const SERVER_MAC = '52:54:00:aa:01:01'

function heard(name: string): WireInterface {
  const dir = join(ROOT, 'test/data/wire/requests')
  const text = (kind: string) => (existsSync(join(dir, `${name}.${kind}.txt`)) ? readFileSync(join(dir, `${name}.${kind}.txt`), 'utf8') : '')
  return summarise(`kd-${name}`, `p-${name}`, CLIENTS[name], [...parseTcpdump(text('decoded')), ...parseTcpdump(text('quiet'))], false)
}

const wire: WireFacts = {seconds: 12, interfaces: Object.keys(CLIENTS).map(heard), errors: {}}
/** The segment as a NAT network whose host address is the server's (the host is the gateway and the DNS server). */
const libvirt = (forwardMode = 'nat'): LibvirtFacts => ({
  domains: [],
  networks: [{name: 'net', active: true, autostart: true, persistent: true, forwardMode, bridge: 'br0', ips: [{family: 'ipv4', address: '192.0.2.1', prefix: 24, dhcpRanges: [{start: '192.0.2.100', end: '192.0.2.150'}], dhcpHosts: []}], dnsEnabled: true}],
})
const links: Link[] = [{name: 'br0', index: 3, kind: 'bridge', operstate: 'UP', flags: [], up: true, lowerUp: true, noCarrier: false, mtu: 1500, mac: SERVER_MAC, addresses: [{family: 'inet', address: '192.0.2.1', prefix: 24, scope: 'global'}]}]

function judge(name: string, options: {forwardMode?: string; own?: string[]; network?: boolean} = {}) {
  const net = libvirt(options.forwardMode)
  const iface = options.network === false ? {type: 'bridge', source: 'br0'} : {type: 'network', source: 'net'}
  const facts = options.network === false ? {...net, networks: []} : net
  const context = wireContextFor(iface, facts, links, undefined)
  const segments = segmentIndexes({wire, libvirt: facts, links, leases: undefined, neighbours: undefined, bridgeOfMac: () => 'br0', domainOfMac: (m) => Object.entries(CLIENTS).find(([, mac]) => mac === m)?.[0]})
  return judgeRequests(heard(name), context, segments.get('br0'), options.own ?? [], (m) => Object.entries(CLIENTS).find(([, mac]) => mac === m)?.[0])
}

describe('what a guest asks for, against who is there to answer (real captures)', () => {
  it('a wrong gateway: 192.0.2.254 asked three times in two seconds, held by nobody, nothing left the subnet; the network would answer at 192.0.2.1', () => {
    const r = judge('gw')
    expect(r.gatewayUnanswered.map((u) => u.ip)).toEqual(['192.0.2.254'])
    expect(r.gatewayUnanswered[0]).toMatchObject({asks: 3, holders: [], from: ['192.0.2.55']})
    expect(r.leavesSubnet).toBe(false)
    expect(r.gateways).toEqual(['192.0.2.1'])
    // The server it reached answered its DNS: no other judgement.
    expect([r.dnsUnanswered, r.offSubnetAsked, r.onSubnetViaGateway, r.answersForOthers]).toEqual([[], [], [], []])
  })

  it('is not a gateway when somebody holds the address: a peer that does not answer', () => {
    const segments = segmentIndexes({wire, libvirt: libvirt(), links, leases: {leases: [{source: 'libvirt', file: 'x', bridge: 'br0', ip: '192.0.2.254', mac: '52:54:00:aa:09:09', expiry: null, expired: false}], files: [], dhcpdConfigured: false, dhcpdSubnets: []}, neighbours: undefined, bridgeOfMac: () => 'br0', domainOfMac: () => undefined})
    const r = judgeRequests(heard('gw'), wireContextFor({type: 'network', source: 'net'}, libvirt(), links, undefined), segments.get('br0'), [], () => undefined)
    expect(r.gatewayUnanswered).toEqual([])
    expect(r.unanswered).toEqual([expect.objectContaining({ip: '192.0.2.254', holders: ['52:54:00:aa:09:09 (lease)']})])
  })

  it('DNS: a host with no server (port unreachable) and a server beyond any route (net unreachable); the network\'s own server answered', () => {
    const r = judge('dns')
    expect(r.dnsUnanswered.map((d) => `${d.server}: ${d.why}`)).toEqual([
      '192.0.2.9: udp port 53 unreachable from 192.0.2.9: no DNS server there',
      '198.51.100.53: net unreachable from 192.0.2.1: no DNS server there',
    ])
    expect(r.dnsServers).toEqual(['192.0.2.1'])
  })

  it('judges no DNS server where the capture did not take the answers (a recording made before it did)', () => {
    const net = libvirt()
    const context = wireContextFor({type: 'network', source: 'net'}, net, links, undefined)
    // The same queries, their answers and errors left out as the narrower capture left them out.
    const own = heard('dns')
    const narrow = summarise(own.domain, own.tap, own.mac, parseTcpdump(readFileSync(join(ROOT, 'test/data/wire/requests/dns.quiet.txt'), 'utf8')).filter((p) => p.src === own.mac), false, false)
    expect(narrow.dns.every((q) => q.answers === 0 && q.errors.length === 0)).toBe(true)
    expect(judgeRequests(narrow, context, undefined, [], () => undefined).dnsUnanswered).toEqual([])
    expect(judgeRequests({...narrow, answersHeard: true}, context, undefined, [], () => undefined).dnsUnanswered.length).toBeGreaterThan(0)
  })

  it("does not blame the guest for its own network's DNS server", () => {
    const net = libvirt()
    net.networks[0].ips[0].address = '192.0.2.9'
    const context = wireContextFor({type: 'network', source: 'net'}, net, links, undefined)
    expect(judgeRequests(heard('dns'), context, undefined, [], () => undefined).dnsUnanswered.map((d) => d.server)).toEqual(['198.51.100.53'])
  })

  it('a netmask too short: 192.0.7.7 asked for directly, from its own subnet', () => {
    const r = judge('nms')
    expect(r.offSubnetAsked).toEqual(['192.0.7.7'])
    // An address beyond the subnet is never taken for its gateway.
    expect(r.gatewayUnanswered).toEqual([])
  })

  it('a netmask too long: its neighbour 192.0.2.56 sent to the gateway\'s MAC', () => {
    expect(judge('nml').onSubnetViaGateway).toEqual(['192.0.2.56'])
    // The gateway itself, its DNS queries to it: not a neighbour through the gateway.
    expect(judge('gw').onSubnetViaGateway).toEqual([])
  })

  it('on a bridged LAN whose other subnets the host may not know, only unanswered repeated asks beyond the known subnet count', () => {
    const bridged = judge('nms', {network: false})
    expect(bridged.offSubnetAsked).toEqual(['192.0.7.7'])
    // A bridged LAN's gateway is known only from DHCP answers heard on it: none here.
    expect(bridged.gateways).toEqual([])
  })

  it('INIT-REBOOT for 10.88.0.50: the NAK with its reason, then the silence', () => {
    expect(judge('reb').dhcpForeign).toEqual([
      {address: '10.88.0.50', state: 'init-reboot', answer: `NAK from 192.0.2.1 (${SERVER_MAC}): "wrong network"`},
      {address: '10.88.0.50', state: 'init-reboot', answer: expect.stringMatching(/^no answer to 3 requests in [45](\.\d)? s$/)},
    ])
  })

  it('duplicate address detection met by another guest\'s advertisement; the holder itself is not judged', () => {
    expect(judge('v6b').dadFailed).toEqual([{ip: 'fd42::50', claimedBy: [`${CLIENTS.v6a} (v6a)`]}])
    expect(judge('v6a').dadFailed).toEqual([])
  })

  it('proxy ARP: the gateway and a peer are others\', and so is an address nobody holds that it answers for beside them', () => {
    const r = judge('prx')
    expect(r.answersForOthers).toEqual([
      {ip: '192.0.2.1', holders: ['the host (br0)']},
      {ip: '192.0.2.55', holders: ['gw (heard)']},
      {ip: '192.0.2.77', holders: []},
    ])
    // Its own (a lease) is not another's.
    expect(judge('prx', {own: ['192.0.2.77']}).answersForOthers.map((a) => a.ip)).toEqual(['192.0.2.1', '192.0.2.55'])
  })

  it('a single address nobody else holds that it answers for is a service address it carries (a VIP), not proxy ARP', () => {
    const vip = heard('prx')
    vip.arpAnsweredFor = vip.arpAnsweredFor.filter((a) => a.ip === '192.0.2.77')
    const context = wireContextFor({type: 'network', source: 'net'}, libvirt(), links, undefined)
    expect(judgeRequests(vip, context, undefined, [], () => undefined).answersForOthers).toEqual([])
  })

  it('an isolated network has no gateway of its own: the address asked for is still the one the guest set', () => {
    const r = judge('gw', {forwardMode: 'isolated'})
    expect(r.gateways).toEqual([])
    expect(r.gatewayUnanswered.map((u) => u.ip)).toEqual(['192.0.2.254'])
  })
})
