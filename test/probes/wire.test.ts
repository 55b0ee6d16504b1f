import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {type WireFacts, captureArgv, normaliseClientId, parseTcpdump, summarise, wireProbe} from '../../probes/wire.js'
import type {ProbeResult} from '../../probes/types.js'
import type {CommandCapture, Runner} from '../../src/lib/runner.js'
import {ROOT} from '../helpers.js'

const capture = (file: string) => readFileSync(join(ROOT, 'test/data/wire', file), 'utf8')
const CLIENT = '52:54:00:aa:00:02'

describe('parseTcpdump on real captures', () => {
  it('reads an unanswered DHCP client: DISCOVERs with hostname and client id, no answer, IPv6 link-local and RS', () => {
    const w = summarise('g', 'p0', CLIENT, parseTcpdump(capture('dhcp-unanswered.vv.txt')), false)
    expect(w.dhcp.discovers).toBe(3)
    expect(w.dhcp.answers).toEqual([])
    expect(w.dhcp.hostnames).toEqual(['kdcli'])
    expect(w.dhcp.clientIds).toEqual(['01:aa:bb:cc:dd:ee:ff'])
    expect(w.addresses).toEqual([])
    expect(w.ipv6.linkLocal).toEqual(['fe80::5054:ff:feaa:2'])
    expect(w.ipv6.routerSolicitations).toBeGreaterThan(0)
    expect(w.sent).toBeGreaterThan(4)
  })

  it('reads a udhcpd exchange: OFFER and ACK with server id and the address', () => {
    const w = summarise('g', 'p0', CLIENT, parseTcpdump(capture('udhcpd-exchange.vv.txt')), false)
    expect(w.dhcp.discovers).toBe(2)
    expect(w.dhcp.requests).toBe(1)
    expect(w.dhcp.requested).toEqual(['192.0.2.107'])
    expect(w.dhcp.answers).toEqual([
      {message: 'offer', server: '192.0.2.1', serverMac: '52:54:00:aa:00:01', address: '192.0.2.107', routers: ['192.0.2.1']},
      {message: 'ack', server: '192.0.2.1', serverMac: '52:54:00:aa:00:01', address: '192.0.2.107', routers: ['192.0.2.1']},
    ])
  })

  it("reads dnsmasq's unicast answers (bad checksum marks and all)", () => {
    const w = summarise('g', 'p0', '52:54:00:aa:00:03', parseTcpdump(capture('dnsmasq-exchange.vv.txt')), false)
    expect(w.dhcp.answers.map((a) => `${a.message} ${a.server} ${a.address}`)).toEqual(['offer 192.0.2.1 192.0.2.50', 'ack 192.0.2.1 192.0.2.50'])
    expect(w.dhcp.hostnames).toEqual(['kdcl2'])
  })

  it('tells ARP probes, announcements, requests and replies apart, and collects the addresses the guest uses', () => {
    const packets = parseTcpdump(capture('arp-static-apipa-foreign.vv.txt'))
    const arp = packets.filter((p) => p.arp && p.src === CLIENT).map((p) => `${p.arp!.kind} ${p.arp!.senderIp}`)
    expect(arp).toEqual([
      'probe 0.0.0.0',
      'announcement 192.0.2.77',
      'request 192.0.2.77',
      'announcement 169.254.3.4',
      'request 198.51.100.9',
      'reply 192.0.2.77',
    ])
    const w = summarise('g', 'p0', CLIENT, packets, false)
    expect(w.addresses).toEqual([
      {ip: '169.254.3.4', via: ['arp']},
      {ip: '192.0.2.77', via: ['arp', 'ip']},
      {ip: '198.51.100.9', via: ['arp']},
    ])
    expect(w.arp).toEqual({probe: 1, announcement: 2, request: 2, reply: 1})
    // The server's replies are its own address, not a claim on the guest's.
    expect(w.contested).toEqual([])
  })

  it("reads kvmdoctor's own two captures: a second server's OFFER/ACK, dnsmasq's NAK, a DUID client id, quiet IPv4 sources", () => {
    const packets = [...parseTcpdump(capture('rogue-nak.decoded.txt')), ...parseTcpdump(capture('rogue-nak.quiet.txt'))]
    const w = summarise('g', 'p0', CLIENT, packets, false)
    expect(w.dhcp.answers.map((a) => `${a.message} ${a.server} ${a.serverMac}`)).toEqual([
      'offer 192.0.2.254 52:54:00:aa:00:09',
      'ack 192.0.2.254 52:54:00:aa:00:09',
      'offer 192.0.2.1 52:54:00:aa:00:01',
      'nak 192.0.2.1 52:54:00:aa:00:01',
    ])
    expect(w.dhcp.clientIds).toEqual(['ff:00:00:00:01:00:01:00:01:2a:2b:2c:2d:52:54:00:00:00:aa'])
    expect(w.addresses).toEqual([{ip: '192.0.2.55', via: ['arp', 'ip']}])
    // -q lines carry no payload: the HTTP request's header never reaches the text.
    expect(capture('rogue-nak.quiet.txt')).not.toContain('Authorization')
  })

  it('reads IPv6 addresses without the port tcpdump joins to them (UDP and TCP over IPv6, -q)', () => {
    const packets = parseTcpdump(capture('ipv6-udp.quiet.txt'))
    expect(packets.map((p) => `${p.ipv6?.src} > ${p.ipv6?.dst}`)).toEqual(['fe80::5054:ff:feaa:2 > ff02::1:2', 'fe80::5054:ff:feaa:2 > ff02::fb', '2001:db8::2 > 2001:db8::1'])
    expect(summarise('g', 'p0', CLIENT, packets, false).ipv6.linkLocal).toEqual(['fe80::5054:ff:feaa:2'])
  })

  it('skips what it does not understand (garbage, truncated lines) without throwing', () => {
    expect(parseTcpdump('tcpdump: listening on vnet0\n\u0000\u0001 garbage\n12:00:00.000000 truncated')).toEqual([])
    expect(parseTcpdump('')).toEqual([])
  })

  it('normalises client ids the way dnsmasq writes them in its lease file', () => {
    expect(normaliseClientId('ether 52:54:00:AA:00:02')).toBe('01:52:54:00:aa:00:02')
    expect(normaliseClientId('hardware-type 255, 00:01')).toBe('ff:00:01')
    expect(normaliseClientId('"some text id"')).toBe('"some text id"')
  })
})

/** One client's two captures (kvmdoctor's argv) from test/data/wire/requests (src/capture-requests.sh). */
function heard(name: string, mac: string) {
  const dir = join(ROOT, 'test/data/wire/requests')
  const text = (kind: string) => (existsSync(join(dir, `${name}.${kind}.txt`)) ? readFileSync(join(dir, `${name}.${kind}.txt`), 'utf8') : '')
  return summarise(name, `p-${name}`, mac, [...parseTcpdump(text('decoded')), ...parseTcpdump(text('quiet'))], false)
}

describe('what a guest asks for and who answers (real captures with kvmdoctor\'s argv)', () => {
  it('a wrong gateway: ARP requests for 192.0.2.254 again and again, no reply; the server it does reach answers DNS', () => {
    const w = heard('gw', '52:54:00:aa:01:03')
    expect(w.arpAsked.find((a) => a.ip === '192.0.2.254')).toMatchObject({asks: 3, from: ['192.0.2.55'], answeredBy: []})
    expect(w.arpAsked.find((a) => a.ip === '192.0.2.1')?.answeredBy).toEqual(['52:54:00:aa:01:01'])
    expect(w.dns).toEqual([expect.objectContaining({server: '192.0.2.1', queries: 2, answers: 2, errors: []})])
    // Nothing it sent left its subnet.
    expect(w.ipv4Destinations.map((d) => d.ip)).toEqual(['192.0.2.1'])
  })

  it('DNS to a host with no server (port unreachable) and beyond any route (net unreachable), each error kept with who said it', () => {
    const w = heard('dns', '52:54:00:aa:01:04')
    const by = new Map(w.dns.map((d) => [d.server, d]))
    expect(by.get('192.0.2.1')).toMatchObject({answers: 2, errors: []})
    expect(by.get('192.0.2.9')).toMatchObject({queries: 2, answers: 0, errors: ['udp port 53 unreachable from 192.0.2.9']})
    expect(by.get('198.51.100.53')).toMatchObject({answers: 0, errors: ['net unreachable from 192.0.2.1']})
    expect(by.get('198.51.100.53')!.queries).toBeGreaterThanOrEqual(2)
  })

  it('a netmask too short: ARP for an address of another /24, asked from its own', () => {
    expect(heard('nms', '52:54:00:aa:01:05').arpAsked).toEqual([expect.objectContaining({ip: '192.0.7.7', asks: 3, from: ['192.0.2.57'], answeredBy: []})])
  })

  it("a netmask too long: a neighbour's address sent to the gateway's MAC (which redirects it)", () => {
    const w = heard('nml', '52:54:00:aa:01:06')
    expect(w.ipv4Destinations).toEqual([{ip: '192.0.2.56', mac: '52:54:00:aa:01:01', frames: 3}])
    // The redirects are ICMP but not errors about a server.
    expect(w.dns).toEqual([])
  })

  it('INIT-REBOOT for a lease of another network: NAKed ("wrong network"), then asked three times into silence', () => {
    const w = heard('reb', '52:54:00:aa:01:07')
    expect(w.addresses).toEqual([])
    expect(w.dhcp.requestsSeen).toEqual([
      expect.objectContaining({state: 'init-reboot', address: '10.88.0.50', sent: 1, answer: {message: 'nak', server: '192.0.2.1', serverMac: '52:54:00:aa:01:01', reason: 'wrong network'}}),
      expect.objectContaining({state: 'init-reboot', address: '10.88.0.50', sent: 3}),
    ])
    expect(w.dhcp.requestsSeen[1].answer).toBeUndefined()
    expect(w.dhcp.requestsSeen[1].lastAt - w.dhcp.requestsSeen[1].firstAt).toBeGreaterThanOrEqual(4)
  })

  it("duplicate address detection: the prober's solicitation from ::, the holder's multicast advertisement heard on both taps", () => {
    const b = heard('v6b', '52:54:00:aa:01:09')
    expect(b.ipv6.dad.map((d) => d.ip)).toContain('fd42::50')
    expect(b.ipv6.advertised).toContainEqual(expect.objectContaining({ip: 'fd42::50', mac: '52:54:00:aa:01:08'}))
    // Its DAD is not a neighbour it asks for.
    expect(b.ipv6.solicited.map((s) => s.ip)).not.toContain('fd42::50')
    const a = heard('v6a', '52:54:00:aa:01:08')
    expect(a.ipv6.advertised).toContainEqual(expect.objectContaining({ip: 'fd42::50', mac: '52:54:00:aa:01:08'}))
  })

  it('proxy ARP: replies for addresses it never sends from are not its addresses', () => {
    const w = heard('prx', '52:54:00:aa:01:0a')
    expect(w.arpAnsweredFor).toEqual([
      {ip: '192.0.2.1', replies: 1},
      {ip: '192.0.2.55', replies: 1},
      {ip: '192.0.2.77', replies: 2},
    ])
    expect(w.addresses).toEqual([])
  })

  it('keeps the time of each packet, across midnight too', () => {
    const times = parseTcpdump('23:59:59.500000 52:54:00:aa:00:02 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 192.0.2.1 tell 192.0.2.2, length 28\n00:00:00.250000 52:54:00:aa:00:02 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 192.0.2.1 tell 192.0.2.2, length 28').map((p) => p.time)
    expect(times[1] - times[0]).toBeCloseTo(0.75, 5)
  })
})

/** A runner answering tcpdump with recorded text (or an error), remembering what it was asked. */
function fakeRunner(answer: (argv: string[]) => Partial<CommandCapture>): Runner & {asked: {argv: string[]; listenMs?: number}[]} {
  const asked: {argv: string[]; listenMs?: number}[] = []
  return {
    asked,
    capturedAt: new Date(0),
    async run(argv, options) {
      asked.push({argv, listenMs: options?.listenMs})
      return {kind: 'command', argv, output: '', stderr: '', exitCode: 0, durationMs: 0, timedOut: false, truncated: false, ...answer(argv)}
    },
    readFile: async () => {
      throw new Error('not used')
    },
    listDir: async () => {
      throw new Error('not used')
    },
  }
}

const libvirtResult: ProbeResult = {
  id: 'libvirt',
  ok: true,
  durationMs: 0,
  data: {
    domains: [
      {name: 'a', type: 'kvm', state: 'running', autostart: false, guestAgentChannel: false, interfaces: [{type: 'network', source: 'default', mac: CLIENT, target: 'vnet0', linkState: 'up'}]},
      {name: 'b', type: 'kvm', state: 'running', autostart: false, guestAgentChannel: false, interfaces: [{type: 'bridge', source: 'br0', mac: '52:54:00:aa:00:03', target: 'vnet1', linkState: 'up'}]},
      {name: 'off', type: 'kvm', state: 'shut off', autostart: false, guestAgentChannel: false, interfaces: [{type: 'network', source: 'default', mac: '52:54:00:aa:00:04', linkState: 'up'}]},
    ],
    networks: [],
  },
}

async function collect(runner: Runner, listen?: number): Promise<WireFacts> {
  return wireProbe.collect({runner, options: {active: false, libvirtUri: 'qemu:///system', listen}, get: async <T>() => libvirtResult as ProbeResult<T>})
}

describe('wire probe', () => {
  it('is skipped on purpose without --listen, and runs nothing', async () => {
    const runner = fakeRunner(() => ({}))
    await expect(collect(runner)).rejects.toMatchObject({skipped: true})
    expect(runner.asked).toEqual([])
  })

  it('listens on every running tap at once, for the listening time, filtered by the guest MAC', async () => {
    const runner = fakeRunner((argv) => ({output: argv.includes('-q') ? capture('rogue-nak.quiet.txt') : capture('rogue-nak.decoded.txt')}))
    const facts = await collect(runner, 7)
    expect(runner.asked).toHaveLength(4)
    expect(runner.asked.every((a) => a.listenMs === 7000)).toBe(true)
    expect(runner.asked.map((a) => a.argv[2]).sort()).toEqual(['vnet0', 'vnet0', 'vnet1', 'vnet1'])
    expect(runner.asked.find((a) => a.argv[2] === 'vnet1')!.argv.at(-1)).toContain('52:54:00:aa:00:03')
    expect(facts.interfaces.map((i) => `${i.domain} ${i.tap} ${i.sent > 0 ? 'heard' : 'silent'}`)).toEqual(['a vnet0 heard', 'b vnet1 silent'])
  })

  it('is not checked, with the reason, when tcpdump is missing or not permitted', async () => {
    const missing = fakeRunner(() => ({error: 'tcpdump: command not found', errorCode: 'not-found'}))
    await expect(collect(missing, 3)).rejects.toThrow(/cannot listen: tcpdump: command not found/)
    const denied = fakeRunner(() => ({error: "tcpdump ...: exit 1: tcpdump: vnet0: You don't have permission to perform this capture on that device", errorCode: 'permission-denied', exitCode: 1}))
    await expect(collect(denied, 3)).rejects.toThrow(/permission/)
  })

  it('keeps a capture cut at its byte cap, marked capped', async () => {
    const runner = fakeRunner((argv) => (argv.includes('-q') ? {output: capture('rogue-nak.quiet.txt'), truncated: true, error: 'over the cap', errorCode: 'too-large'} : {output: ''}))
    const facts = await collect(runner, 2)
    expect(facts.interfaces.find((i) => i.tap === 'vnet0')!.capped).toBe(true)
    expect(facts.interfaces.find((i) => i.tap === 'vnet0')!.addresses.map((a) => a.ip)).toEqual(['192.0.2.55'])
  })

  it('replays a recording made before the answers were captured with the narrower captures it holds, marked so', async () => {
    const narrow = new Set(['vnet0', 'vnet1'].flatMap((tap) => Object.values(captureArgv(tap, tap === 'vnet0' ? CLIENT : '52:54:00:aa:00:03', 'own-frames')).map((argv) => argv.join(' '))))
    const runner = fakeRunner((argv) =>
      narrow.has(argv.join(' ')) ? {output: argv.includes('-q') ? capture('rogue-nak.quiet.txt') : capture('rogue-nak.decoded.txt')} : {output: '', exitCode: null, error: `${argv.join(' ')}: not recorded in this snapshot`, errorCode: 'not-recorded'},
    )
    const facts = await collect(runner, 5)
    expect(runner.asked).toHaveLength(8)
    expect(facts.errors).toEqual({})
    expect(facts.interfaces.map((i) => `${i.tap} ${i.answersHeard}`)).toEqual(['vnet0 false', 'vnet1 false'])
    expect(facts.interfaces[0].addresses.map((a) => a.ip)).toEqual(['192.0.2.55'])
    // Live (or a newer recording), the captures with the answers are what runs.
    const live = await collect(fakeRunner(() => ({output: ''})), 5)
    expect(live.interfaces.map((i) => i.answersHeard)).toEqual([true, true])
  })

  it('builds tcpdump filters that send nothing and keep payload out', () => {
    const {decoded, quiet} = captureArgv('vnet0', CLIENT)
    expect(decoded).toContain('-vv')
    expect(quiet).toEqual(expect.arrayContaining(['-q', '-s', '96']))
    // What comes back to the guest is captured too: DNS answers, ICMP errors, others' multicast neighbour advertisements.
    expect(quiet.at(-1)).toContain(`ether dst ${CLIENT} and (udp src port 53 or tcp src port 53 or icmp)`)
    expect(decoded.at(-1)).toContain('ip6[40] == 136')
    for (const argv of [decoded, quiet]) expect(argv).toEqual(expect.arrayContaining(['-n', '-e', '-l', '-c']))
  })
})
