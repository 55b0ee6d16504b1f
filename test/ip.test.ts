import {describe, expect, it} from 'vitest'
import {parseDomifaddr} from '../probes/guest-agent.js'
import type {LibvirtFacts} from '../probes/libvirt.js'
import {buildInventory, ipInventory, verdictOf} from '../src/core/ip-service.js'
import {ReplayRunner} from '../src/core/snapshot.js'
import {existsSync, readdirSync} from 'node:fs'
import {cp, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {SCHEMAS} from './schemas.js'
import {ROOT, alter, factsOf, factsOfDir, fixtureDir, kvmdoctorCli, model, replayOptions, sample, unavailable} from './helpers.js'

const inventoryOf = async (name: string) => {
  const facts = await factsOf(name)
  return buildInventory(facts.results, facts.capturedAt)
}
const row = (inv: Awaited<ReturnType<typeof inventoryOf>>, domain: string) => inv.rows.find((r) => r.domain === domain)!

describe('parseDomifaddr (virsh domifaddr)', () => {
  it('reads real output, carrying name and MAC into continuation rows', () => {
    expect(parseDomifaddr(sample('virsh-domifaddr-web01.txt'))).toEqual([{guestIface: 'vnet6', mac: '52:54:00:ae:17:88', family: 'ipv4', ip: '192.168.122.192', prefix: 24}])
    const agent = ' Name       MAC address          Protocol     Address\n-------------------------------------------------------------------------------\n lo         00:00:00:00:00:00    ipv4         127.0.0.1/8\n -          -                    ipv6         ::1/128\n eth0       52:54:00:ae:17:88    ipv4         10.1.2.3/24\n -          -                    ipv6         fe80::5054:ff:feae:1788/64\n\n'
    expect(parseDomifaddr(agent).slice(2)).toEqual([
      {guestIface: 'eth0', mac: '52:54:00:ae:17:88', family: 'ipv4', ip: '10.1.2.3', prefix: 24},
      {guestIface: 'eth0', mac: '52:54:00:ae:17:88', family: 'ipv6', ip: 'fe80::5054:ff:feae:1788', prefix: 64},
    ])
  })
})

/** What the rules found on an interface: nothing, unless said. */
const none = {conflict: false, silent: false, foreign: false, dhcpUnanswered: false, gatewayUnanswered: false, wrongNetmask: false, unread: false}

describe('verdicts', () => {
  const a = (ip: string, ...sources: string[]) => ({ip, sources})
  it('orders conflict, no address, APIPA, stale and ok', () => {
    expect(verdictOf(false, [a('10.0.0.1', 'lease')], none)).toBe('shut off')
    expect(verdictOf(true, [a('10.0.0.1', 'lease', 'neighbour')], {...none, conflict: true})).toBe('conflict')
    expect(verdictOf(true, [], none)).toBe('no address')
    expect(verdictOf(true, [], {...none, unread: true})).toBe('unknown')
    expect(verdictOf(true, [a('169.254.3.4', 'neighbour')], none)).toBe('APIPA')
    expect(verdictOf(true, [a('169.254.3.4', 'neighbour'), a('10.0.0.5', 'agent')], none)).toBe('ok')
    expect(verdictOf(true, [a('10.0.0.1', 'lease')], none)).toBe('stale')
    expect(verdictOf(true, [a('10.0.0.1', 'lease', 'neighbour')], none)).toBe('ok')
  })
})

describe('kvmdoctor ip on lab recordings', () => {
  it('a NAT guest: its lease, confirmed by the neighbour table and arp-scan, with the lease end', async () => {
    const r = row(await inventoryOf('healthy'), 'kdlab-web01')
    expect(r).toMatchObject({state: 'running', interface: expect.stringMatching(/^vnet\d+$/), mac: '52:54:00:6b:64:01', network: 'default', verdict: 'ok', conflictsWith: []})
    expect(r.ipv4).toEqual([{ip: expect.stringMatching(/^192\.168\.122\.\d+$/), sources: ['lease', 'neighbour', 'arp-scan']}])
    // A lease dnsmasq holds ends after the capture, within two of its default lease times (an hour).
    const captured = Date.parse(JSON.parse(await readFile(join(fixtureDir('healthy'), 'manifest.json'), 'utf8')).capturedAt)
    expect(Date.parse(r.leaseExpiry!) - captured).toBeGreaterThan(0)
    expect(Date.parse(r.leaseExpiry!) - captured).toBeLessThan(2 * 3600_000)
  })

  it('no source of addresses read (leases, neighbours, arp-scan unavailable; no agent, no --listen): unknown, never "no address"', async () => {
    const facts = await factsOf('healthy')
    const blind = unavailable(unavailable(unavailable(facts, 'leases'), 'neighbours'), 'arp-scan')
    expect(row(await buildInventory(blind.results, blind.capturedAt), 'kdlab-web01')).toMatchObject({ipv4: [], verdict: 'unknown'})
    // One source read that shows nothing is what it says.
    const oneRead = alter<unknown[]>(unavailable(unavailable(facts, 'leases'), 'arp-scan'), 'neighbours', (n) => n.splice(0))
    expect(row(await buildInventory(oneRead.results, oneRead.capturedAt), 'kdlab-web01').verdict).toBe('no address')
  })

  it('APIPA and conflicting guests get their verdicts; the conflict names the other guest', async () => {
    // Recorded with --listen: the host's neighbour table and the guest's own frames both show the APIPA address ...
    const killed = await factsOf('dnsmasq-killed')
    expect(row(await buildInventory(killed.results, killed.capturedAt), 'kdlab-apipa01')).toMatchObject({verdict: 'APIPA', ipv4: [{ip: expect.stringMatching(/^169\.254\./), sources: ['neighbour', 'wire']}]})
    // ... and the neighbour table alone still gives the verdict.
    const tablesOnly = unavailable(killed, 'wire')
    expect(row(await buildInventory(tablesOnly.results, tablesOnly.capturedAt), 'kdlab-apipa01')).toMatchObject({verdict: 'APIPA', ipv4: [{ip: expect.stringMatching(/^169\.254\./), sources: ['neighbour']}], wire: null})
    const collision = await inventoryOf('static-ip-collision')
    expect(row(collision, 'kdlab-static01')).toMatchObject({verdict: 'conflict', conflictsWith: ['52:54:00:6b:64:01 (kdlab-web01)']})
    expect(row(collision, 'kdlab-web01').conflictsWith).toEqual(['52:54:00:6b:64:03 (kdlab-static01)'])
  })

  it('two running guests with one MAC conflict with each other', async () => {
    const inv = await inventoryOf('mac-duplicate')
    expect(row(inv, 'kdlab-dup01')).toMatchObject({verdict: 'conflict', conflictsWith: ['kdlab-web01 (same MAC)']})
    expect(row(inv, 'kdlab-web01')).toMatchObject({verdict: 'conflict', conflictsWith: ['kdlab-dup01 (same MAC)']})
  })

  it('a lease nothing confirms is stale (network destroyed under the guest)', async () => {
    expect(row(await inventoryOf('network-inactive'), 'kdlab-web01')).toMatchObject({verdict: 'stale', ipv4: [{sources: ['lease']}]})
  })

  it("a bridged guest: its lease from the host's dhcpd.leases (the LAN's ISC dhcpd), confirmed by arp-scan", async () => {
    expect(row(await inventoryOf('bridged-healthy'), 'kdlab-lan02')).toMatchObject({type: 'bridge', network: 'kdlab-br0', verdict: 'ok', ipv4: [{ip: expect.stringMatching(/^10\.77\.0\./), sources: ['lease', 'arp-scan']}]})
  })

  it('shut-off guests are listed with their MAC and no address', async () => {
    const facts = alter<LibvirtFacts>(await factsOf('healthy'), 'libvirt', (l) => (l.domains[0].state = 'shut off'))
    const r = (await buildInventory(facts.results, facts.capturedAt)).rows[0]
    expect(r).toMatchObject({domain: 'kdlab-web01', state: 'shut off', mac: '52:54:00:6b:64:01', interface: null, ipv4: [], verdict: 'shut off'})
  })

  it('addresses from the guest agent count, IPv6 included', async () => {
    const facts = await factsOf('healthy')
    facts.results['guest-agent'] = {id: 'guest-agent', ok: true, durationMs: 0, data: {errors: {}, addresses: {'kdlab-web01': [{guestIface: 'eth0', mac: '52:54:00:6b:64:01', family: 'ipv6', ip: 'fd00:122::5', prefix: 64}, {guestIface: 'eth0', mac: '52:54:00:6b:64:01', family: 'ipv4', ip: '10.9.9.9', prefix: 24}]}}}
    const r = (await buildInventory(facts.results, facts.capturedAt)).rows[0]
    expect(r.ipv6).toEqual([{ip: 'fd00:122::5', sources: ['agent']}])
    expect(r.ipv4.find((a) => a.ip === '10.9.9.9')?.sources).toEqual(['agent'])
  })

  const cli = (...args: string[]) => kvmdoctorCli(['ip', ...args])
  it('the CLI prints a table with the conflict named', async () => {
    const table = await cli('--from', fixtureDir('static-ip-collision'))
    // A script's answer: a guest in conflict is a guest not ok.
    expect(table.exitCode).toBe(1)
    expect(table.stdout.split('\n')[0]).toMatch(/^DOMAIN\s+STATE\s+IFACE\s+MAC\s+NETWORK\s+IPV4\s+IPV6\s+LEASE ENDS\s+VERDICT$/)
    expect(table.stdout).toMatch(/^kdlab-static01\s+running\s+vnet\d+\s+52:54:00:6b:64:03\s+default\s+192\.168\.122\.\d+ \((neighbour\+)?arp-scan\).*conflict with 52:54:00:6b:64:01 \(kdlab-web01\)$/m)
  })
  it('the CLI filters by domain in JSON', async () => {
    const json = JSON.parse((await cli('kdlab-web01', '--from', fixtureDir('static-ip-collision'), '--json')).stdout)
    expect(json.rows.map((r: {domain: string}) => r.domain)).toEqual(['kdlab-web01'])
  })
  it('the CLI refuses an unknown domain with exit 2, listing the guests there are', async () => {
    const missing = await cli('nosuchvm', '--from', fixtureDir('healthy'))
    expect(missing.exitCode).toBe(2)
    expect(missing.stderr).toBe('kvmdoctor: no guest named "nosuchvm" (guests: kdlab-web01)')
  })
  it('a near miss gets "did you mean"; a network or bridge given for a guest is named as one', async () => {
    const typo = await cli('kdlab-web1', '--from', fixtureDir('bridged-forward-drop'))
    expect(typo.exitCode).toBe(2)
    expect(typo.stderr).toContain('Did you mean "kdlab-web01"?')
    const bridge = await cli('kdlab-br0', '--from', fixtureDir('bridged-forward-drop'))
    expect(bridge.exitCode).toBe(2)
    expect(bridge.stderr).toBe('kvmdoctor: "kdlab-br0" is a bridge, not a guest (its guests: kdlab-lan01)')
  })
})

describe('one truth on address claims', () => {
  for (const name of readdirSync(join(ROOT, 'fixtures')).filter((n) => existsSync(join(ROOT, 'fixtures', n, 'manifest.json'))).sort()) {
    it(`${name}: kvmdoctor ip and diagnose see the same conflicting addresses`, async () => {
      const facts = await factsOf(name)
      const fromDiagnose = model(facts).entities.address.map((a) => a.name).sort()
      const inventory = await buildInventory(facts.results, facts.capturedAt)
      // An address of a guest row is in conflict when another MAC (not the same MAC on a second guest) claims it.
      const fromIp = [...new Set(inventory.rows.flatMap((r) => (r.conflictsWith.some((c) => !c.endsWith('(same MAC)')) ? r.ipv4.map((a) => a.ip) : [])))].sort()
      expect(fromIp.filter((ip) => !fromDiagnose.includes(ip))).toEqual([])
      // Every conflict diagnose sees on a running guest's address shows in ip too.
      const guestIps = new Set(inventory.rows.filter((r) => r.state === 'running').flatMap((r) => r.ipv4.map((a) => a.ip)))
      expect(fromDiagnose.filter((ip) => guestIps.has(ip) && !fromIp.includes(ip))).toEqual([])
    })
  }
})

describe('VRRP virtual MACs', () => {
  it("a VRRP MAC answering for a guest's address is no conflict, in ip as in diagnose", async () => {
    const facts = alter<{dst: string; mac?: string; dev: string; state: string[]; ip: string}[]>(await factsOf('healthy'), 'neighbours', (n) => {
      const web = n.find((x) => x.ip.startsWith('192.168.122.'))!
      n.push({...web, mac: '00:00:5e:00:01:07'})
    })
    expect(model(facts).entities.address).toEqual([])
    expect((await buildInventory(facts.results, facts.capturedAt)).rows.find((r) => r.domain === 'kdlab-web01')?.verdict).toBe('ok')
  })
})

describe('kvmdoctor ip with the wire (--listen recordings)', () => {
  it('a guest that sent nothing is silent; the others are heard, their addresses confirmed by the wire', async () => {
    const inv = await inventoryOf('wire-silent')
    expect(row(inv, 'kdlab-quiet01')).toMatchObject({verdict: 'silent', ipv4: [], wire: {silent: true, sent: 0}})
    const web = row(inv, 'kdlab-web01')
    expect(web.verdict).toBe('ok')
    expect(web.ipv4[0].sources).toContain('wire')
    expect(web.wire!.sent).toBeGreaterThan(0)
  })

  it('an APIPA address only the wire saw: APIPA with --listen, "no address" from the host tables alone', async () => {
    const facts = await factsOf('wire-apipa-only')
    expect(row(await buildInventory(facts.results, facts.capturedAt), 'kdlab-zeroconf01')).toMatchObject({verdict: 'APIPA', ipv4: [{ip: expect.stringMatching(/^169\.254\./), sources: ['wire']}]})
    const blind = unavailable(facts, 'wire')
    expect(row(await buildInventory(blind.results, blind.capturedAt), 'kdlab-zeroconf01')).toMatchObject({verdict: 'no address', wire: null})
  })

  it('the wire decides over the tables: silent beats a lease, a foreign address beats a routable one', () => {
    const a = (ip: string, ...sources: string[]) => ({ip, sources})
    expect(verdictOf(true, [a('10.0.0.1', 'lease', 'neighbour')], {...none, silent: true})).toBe('silent')
    expect(verdictOf(true, [a('10.0.0.1', 'neighbour'), a('192.0.2.9', 'wire')], {...none, foreign: true})).toBe('foreign address')
    expect(verdictOf(true, [], {...none, dhcpUnanswered: true})).toBe('DHCP unanswered')
    expect(verdictOf(true, [], none)).toBe('no address')
    expect(verdictOf(true, [a('10.0.0.1', 'lease', 'neighbour')], {...none, conflict: true, silent: true})).toBe('conflict')
  })

  it('an address that cannot reach its gateway is not ok, nor one whose netmask takes neighbours for strangers; its own stranger address outranks both', () => {
    const a = (ip: string, ...sources: string[]) => ({ip, sources})
    const address = [a('10.0.0.1', 'wire')]
    expect(verdictOf(true, address, {...none, gatewayUnanswered: true})).toBe('gateway unanswered')
    expect(verdictOf(true, address, {...none, wrongNetmask: true})).toBe('wrong netmask')
    expect(verdictOf(true, address, {...none, gatewayUnanswered: true, wrongNetmask: true})).toBe('gateway unanswered')
    // A foreign address is the cause, its unanswered asks the symptom.
    expect(verdictOf(true, [a('192.0.2.9', 'wire')], {...none, foreign: true, gatewayUnanswered: true})).toBe('foreign address')
  })

  it("a bridged guest answered by two servers: the note names both, and calls neither the LAN's own (this host cannot know)", async () => {
    const r = await kvmdoctorCli(['ip', '--from', fixtureDir('wire-bridged-rogue-dhcp'), '--wide'])
    expect(r.stdout).toMatch(/^kdlab-lan04\s+running\s+vnet\d+\s+52:54:00:6b:64:13\s+kdlab-br0\s+10\.77\.0\.100 \(lease\+wire\)\s+.*ok$/m)
    const note = r.stdout.slice(r.stdout.indexOf('note: kdlab-lan04')).replace(/\s+/g, ' ')
    expect(note).toMatch(/^note: kdlab-lan04 got DHCP answers from 10\.77\.0\.1 \(\S+\), 10\.77\.0\.250 \(52:54:00:6b:64:66\): more than one server on its LAN/)
    expect(note).not.toContain("not from its network's own server")
  })

  it('the CLI says what backs a wire verdict, and exits 1 when a running guest is not ok (0 when all are)', async () => {
    const silent = await kvmdoctorCli(['ip', '--from', fixtureDir('wire-silent')])
    expect(silent.exitCode).toBe(1)
    expect(silent.stdout).toMatch(/^kdlab-quiet01\s+running\s+vnet\d+\s+52:54:00:6b:64:51\s+default\s+-\s+.*silent \(not a frame in 12 s\)$/m)
    const healthy = await kvmdoctorCli(['ip', '--from', fixtureDir('healthy')])
    expect(healthy.exitCode).toBe(0)
  })
})

describe('kvmdoctor ip when the host could not be read whole', () => {
  /** fixtures/healthy without the captures `drop` picks: replayed, those reads fail as unrecorded. */
  async function healthyWithout(drop: (c: {argv?: string[]; path?: string}) => boolean): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'kvmdoctor-ip-unread-'))
    await cp(fixtureDir('healthy'), dir, {recursive: true})
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'))
    manifest.captures = manifest.captures.filter((c: {argv?: string[]; path?: string}) => !drop(c))
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest))
    return dir
  }

  it('guests that could not be listed (libvirt unread) are not checked, exit 4, never a usage error (2)', async () => {
    const dir = await healthyWithout((c) => c.argv?.[0] === 'virsh' || (c.path ?? '').startsWith('/run/libvirt') || (c.path ?? '').startsWith('/etc/libvirt'))
    try {
      const text = await kvmdoctorCli(['ip', '--from', dir])
      expect(text.exitCode).toBe(4)
      expect(text.stderr).toMatch(/^kvmdoctor: cannot list guests: .*not recorded in this snapshot/)
      const json = await kvmdoctorCli(['ip', '--from', dir, '--json'])
      expect(json.exitCode).toBe(4)
      const body = JSON.parse(json.stdout)
      expect(body.error.code).toBe(4)
      expect(SCHEMAS.error(body), JSON.stringify(SCHEMAS.error.errors)).toBe(true)
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })

  it('every guest ok but the lease files unread: not proven, exit 4 naming the source (--allow-unchecked: 0)', async () => {
    // A sosreport that did not copy libvirt's dnsmasq directory: the guest is ok by its neighbour entry.
    const sos = await kvmdoctorCli(['ip', '--from', fixtureDir('sos-masquerade-removed')])
    expect(sos.stdout).toMatch(/^kdlab-web01\s.*\sok$/m)
    expect(sos.exitCode).toBe(4)
    expect(sos.stderr).toMatch(/not checked: leases \(\/var\/lib\/libvirt\/dnsmasq: not collected by this sosreport\)/)
    expect((await kvmdoctorCli(['ip', '--from', fixtureDir('sos-masquerade-removed'), '--allow-unchecked'])).exitCode).toBe(0)
    // A guest found wanting is exit 1 whatever else went unread; a source skipped by design (no --listen) is not unread.
    const leasesGone = await healthyWithout((c) => (c.path ?? '').startsWith('/var/lib/libvirt/dnsmasq'))
    try {
      const r = await kvmdoctorCli(['ip', '--from', leasesGone, '--json'])
      expect(r.exitCode).toBe(4)
      expect(JSON.parse(r.stdout).probes.find((p: {id: string}) => p.id === 'leases').ok).toBe(false)
    } finally {
      await rm(leasesGone, {recursive: true, force: true})
    }
    expect((await kvmdoctorCli(['ip', '--from', fixtureDir('healthy')])).exitCode).toBe(0)
  })
})

describe('kvmdoctor ip with what guests ask for (--listen recordings of issue 27)', () => {
  it('a guest whose gateway nobody answers is not ok: the verdict names the address and the network\'s own gateway; exit 1', async () => {
    const r = await kvmdoctorCli(['ip', '--from', fixtureDir('wire-gateway-unanswered'), '--wide'])
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(/^kdlab-wronggw01\s+running\s+vnet\d+\s+52:54:00:6b:64:71\s+default\s+192\.168\.122\.241 \(\S*wire\S*\)\s+.*gateway unanswered \(192\.168\.122\.254: nobody answers; its network's: 192\.168\.122\.1\)$/m)
    expect(r.stdout).toMatch(/^kdlab-web01\s+running\s.*\sok$/m)
  })

  it('a wrong netmask is a warning verdict; a DNS server that does not answer leaves the address ok, with a note naming the network\'s own', async () => {
    const netmask = await kvmdoctorCli(['ip', '--from', fixtureDir('wire-netmask-wrong'), '--wide'])
    expect(netmask.stdout).toMatch(/^kdlab-netmask01\s.*wrong netmask \(ARPs for 192\.168\.7\.7 beyond its subnet\)$/m)
    const dns = await kvmdoctorCli(['ip', '--from', fixtureDir('wire-dns-unanswered'), '--wide'])
    expect(dns.exitCode).toBe(0)
    expect(dns.stdout).toMatch(/^kdlab-wrongdns01\s.*\sok$/m)
    expect(dns.stdout.replace(/\s+/g, ' ')).toMatch(/note: kdlab-wrongdns01 asks DNS server 203\.0\.113\.10 \(\d+ queries in [\d.]+ s, no answer: udp port 53 unreachable from 203\.0\.113\.10: no DNS server there\) \(its network's: 192\.168\.122\.1\)/)
  })
})

describe('kvmdoctor ip reads the routes diagnose reads', () => {
  // A copy of the wire-foreign-address recording whose host routes the guest's 172.31.99.50 through its bridge.
  async function routedCopy(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'kd-ip-routes-'))
    await cp(fixtureDir('wire-foreign-address'), dir, {recursive: true})
    const manifestPath = join(dir, 'manifest.json')
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as {captures: {file: string; bytes: number; argv?: string[]}[]}
    const capture = manifest.captures.find((c) => c.argv?.join(' ') === 'ip -j route show table all')!
    const routes = JSON.parse(await readFile(join(dir, capture.file), 'utf8')) as unknown[]
    routes.push({dst: '172.31.99.0/24', gateway: '192.168.122.2', dev: 'virbr0', protocol: 'static', flags: []})
    const text = JSON.stringify(routes)
    await writeFile(join(dir, capture.file), text)
    capture.bytes = Buffer.byteLength(text)
    await writeFile(manifestPath, JSON.stringify(manifest, null, 2))
    return dir
  }

  it("a foreign address the host routes through the guest's bridge is no foreign address to ip, as to diagnose", async () => {
    const ipVerdict = async (dir: string) => {
      const runner = await ReplayRunner.open(dir)
      return (await ipInventory(runner, replayOptions(runner))).rows.find((r) => r.domain === 'kdlab-foreign01')!.verdict
    }
    expect(await ipVerdict(fixtureDir('wire-foreign-address'))).toBe('foreign address')
    const dir = await routedCopy()
    try {
      expect(await ipVerdict(dir)).not.toBe('foreign address')
      const m = model(await factsOfDir(dir))
      expect(m.entities.interface.find((e) => e.domain === 'kdlab-foreign01')).toMatchObject({wireForeign: []})
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })
})
