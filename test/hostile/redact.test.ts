/**
 * Item 6: --redact leaves nothing identifying. A property over every lab recording, plus one
 * with the forms the recordings lack planted (DNS domains, static DHCP hosts, a home directory,
 * a guest name libvirt cuts to 20 characters in domain-ID-NAME, an IPv4-mapped IPv6 address):
 * no original address, MAC suffix, host, guest, network, client, UUID, domain or user name
 * survives anywhere in the bundle, and the findings are the same. Addresses keep their class
 * (RFC 1918 block, ULA, public) and known subnets their prefix and host bits.
 */
import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import * as tar from 'tar'
import {describe, expect, it} from 'vitest'
import type {LeaseFacts} from '../../probes/leases.js'
import {type LibvirtFacts, VIRSH_LISTINGS, VIRSH_LISTING_ARGS} from '../../probes/libvirt.js'
import type {HostFacts} from '../../probes/host.js'
import {dataOf} from '../../probes/types.js'
import {bundleReports} from '../../reports/bundle-files.js'
import {createBundle, openBundle} from '../../src/core/bundle.js'
import {type DiagnosisRun as Diagnosis, diagnose} from '../../src/core/diagnose.js'
import {cidrContains, intToIpv4, ipv4ToInt, parseCidr} from '../../src/lib/ipv4.js'
import {RESERVED_NAMES, type RedactionMap, Redactor, expandIpv6} from '../../src/core/redact.js'
import {RedactedReplay} from '../../src/core/redacted-replay.js'
import {RecordingRunner, ReplayRunner} from '../../src/core/snapshot.js'
import type {Runner} from '../../src/lib/runner.js'
import {ROOT, fixtureDir} from '../helpers.js'
import {alteredFixture, renamedRecording, scratch} from './helpers.js'

const KEY = Buffer.alloc(32, 9)
const LONG_GUEST = 'a-very-long-guest-name-for-tests'

function textsOf(dir: string): string[] {
  return readdirSync(dir, {withFileTypes: true, recursive: true})
    .filter((e) => e.isFile())
    .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'))
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
const IPV4 = /(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d.]*\d)/g
const MAC = /(?<![0-9a-f:])(?:[0-9a-f]{2}:){5}[0-9a-f]{2}(?![0-9a-f:])/gi
const UUID = /(?<![0-9a-f-])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-f-])/gi

const keptIpv4 = (ip: string) => {
  const [a, b] = ip.split('.').map(Number)
  return a === 127 || a === 0 || a >= 224 || (a === 169 && b === 254)
}
const identifyingMac = (mac: string) => !/^(00:){5}00$|^(ff:){5}ff$/i.test(mac) && (parseInt(mac.slice(0, 2), 16) & 1) === 0

/** RFC 1918 block of an address, or public; and how many leading bits the class fixes (or permutes). */
const BLOCKS = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].map((c) => ({name: c, cidr: parseCidr(c)!}))
const classOf = (ip: string) => BLOCKS.find((b) => cidrContains(b.cidr, ip))?.name ?? (keptIpv4(ip) ? 'kept' : 'public')
const classBits = (ip: string) => BLOCKS.find((b) => cidrContains(b.cidr, ip))?.cidr.prefix ?? ({169: 16, 172: 12, 192: 16}[Number(ip.split('.')[0])] ?? 8)
const hostBits = (ip: string, prefix: number) => (ipv4ToInt(ip)! & (prefix === 32 ? 0 : 0xffffffff >>> prefix)) >>> 0
const v6Class = (ip: string) => {
  const g = expandIpv6(ip)![0]
  return (g & 0xfe00) === 0xfc00 ? `ula ${g >> 8}` : (g & 0xffc0) === 0xfe80 ? 'link-local' : (g & 0xe000) === 0x2000 ? 'global' : `other ${g}`
}

/**
 * The structure a map keeps: every address in its class; the addresses of a known subnet (longer
 * than what the class fixes) in one mapped subnet of the same prefix; host bits of the longest
 * known subnet holding an address kept (gateway .1, broadcast .255); one pseudonym per original.
 */
function expectStructureKept(map: Pick<RedactionMap, 'ipv4' | 'ipv6' | 'subnets'>, label: string) {
  const entries = Object.entries(map.ipv4)
  for (const [orig, mapped] of entries) expect(`${orig} -> ${classOf(mapped)}`, label).toBe(`${orig} -> ${classOf(orig)}`)
  for (const [orig, mapped] of Object.entries(map.ipv6)) expect(`${orig} -> ${v6Class(mapped)}`, label).toBe(`${orig} -> ${v6Class(orig)}`)
  const subnets = map.subnets.map((c) => parseCidr(c)!)
  for (const s of subnets) {
    const members = entries.filter(([orig]) => cidrContains(s, orig) && s.prefix > classBits(orig))
    const networks = new Set(members.map(([, mapped]) => parseCidr(`${mapped}/${s.prefix}`)!.network))
    expect(networks.size, `${label}: ${intToIpv4(s.network)}/${s.prefix} is split`).toBeLessThanOrEqual(1)
  }
  for (const [orig, mapped] of entries) {
    const longest = Math.max(0, ...subnets.filter((s) => cidrContains(s, orig) && s.prefix > classBits(orig)).map((s) => s.prefix))
    if (longest > 0) expect(`${orig} -> ${mapped}: ${hostBits(mapped, longest)}`, label).toBe(`${orig} -> ${mapped}: ${hostBits(orig, longest)}`)
  }
  const computed = entries.filter(([orig, mapped]) => orig !== mapped).map(([, mapped]) => mapped)
  expect(new Set(computed).size, label).toBe(computed.length)
}

const shape = (d: Diagnosis) => d.findings.map((f) => `${f.rank}:${f.id}:${f.severity}:${f.entity.kind}:${f.explainedBy?.split('@')[0] ?? ''}`)

/** What a run of this runner reads, and which names, domains and users it holds. */
async function originals(runner: Runner, options: {active: boolean; libvirtUri: string}) {
  const recorder = new RecordingRunner(runner)
  const d = await diagnose({runner: recorder, options, version: 'test'})
  const raw = recorder.all().flatMap((c) => [c.output, c.error ?? '', c.kind === 'command' ? c.stderr : c.path]).join('\n')
  const libvirt = dataOf<LibvirtFacts>(d.facts.libvirt)
  const names = [
    dataOf<HostFacts>(d.facts.host)?.hostname,
    ...(libvirt?.domains ?? []).map((x) => x.name),
    ...(libvirt?.networks ?? []).map((x) => x.name),
    ...(dataOf<LeaseFacts>(d.facts.leases)?.leases ?? []).map((l) => l.hostname),
  ].filter((n): n is string => typeof n === 'string' && n.length >= 2 && !RESERVED_NAMES.has(n.toLowerCase()))
  return {
    d,
    names: [...new Set(names)],
    ipv4: [...new Set(raw.match(IPV4) ?? [])].filter((ip) => !keptIpv4(ip)),
    macs: [...new Set((raw.match(MAC) ?? []).map((m) => m.toLowerCase()))].filter(identifyingMac),
    uuids: [...new Set((raw.match(UUID) ?? []).map((u) => u.toLowerCase()))],
  }
}

/** Redacts through a real bundle, then checks every original is gone and the findings are the same. */
async function checkRedaction(runner: Runner, options: {active: boolean; libvirtUri: string}, label: string, extra: string[] = []) {
  const known = await originals(runner, options)
  const dir = await scratch()
  const made = await createBundle({runner, options, version: 'test', output: join(dir, 'r.tar.gz'), redact: true, redactionKey: KEY, reports: bundleReports})
  // What is attached to a ticket: the archive's content (the map stays beside it, apart).
  const extracted = await scratch()
  await tar.x({file: made.path, cwd: extracted})
  const all = textsOf(extracted).join('\n')
  const map = JSON.parse(readFileSync(made.mapPath!, 'utf8'))
  const mappedIpv4 = new Set(Object.values(map.ipv4 as Record<string, string>))
  const mappedNics = new Set(Object.values(map.mac as Record<string, string>).map((m) => m.slice(9)))
  // A name of under four characters is a name only as a whole token, as the redactor finds it: a host "vm" is not the
  // "vm" of OVS's external-ids:vm-uuid, a key the probe reads.
  const found = (token: string) =>
    (token.length < 4 ? new RegExp(`(?<![A-Za-z0-9_.-])${escape(token)}(?![A-Za-z0-9_-])`, 'i') : new RegExp(`(?<![A-Za-z0-9])${escape(token)}(?![A-Za-z0-9])`, 'i')).test(all)
  for (const ip of known.ipv4) if (!mappedIpv4.has(ip)) expect(new RegExp(`(?<![\\d.])${escape(ip)}(?![\\d.]*\\d)`).test(all), `${label}: address ${ip}`).toBe(false)
  // Multicast MACs are kept as they are (33:33:00:00:00:01 is ff02::1's): only unicast ones can carry a NIC's suffix.
  const redactedSuffixes = new Set((all.match(MAC) ?? []).filter(identifyingMac).map((m) => m.toLowerCase().slice(9)))
  for (const mac of known.macs) if (!mappedNics.has(mac.slice(9))) expect(redactedSuffixes.has(mac.slice(9)), `${label}: MAC suffix of ${mac}`).toBe(false)
  for (const uuid of known.uuids) expect(all.toLowerCase().includes(uuid), `${label}: UUID ${uuid}`).toBe(false)
  for (const name of [...known.names, ...extra]) expect(found(name), `${label}: name ${name}`).toBe(false)
  expectStructureKept(map, label)
  // Same findings: in the bundle, and replayed from it.
  expect(shape(made.diagnosis), label).toEqual(shape(known.d))
  const {runner: replay, cleanup} = await openBundle(made.path)
  // As `--from` does: the bundle's own (redacted) options, the internet's stand-in among them.
  expect(shape(await diagnose({runner: replay, options: replay.manifest.options ?? options, version: 'test'})), `${label} replayed`).toEqual(shape(known.d))
  await cleanup()
  return {known, map}
}

describe('--redact, as a property over every recording', () => {
  for (const fixture of readdirSync(join(ROOT, 'fixtures')).filter((n) => existsSync(join(ROOT, 'fixtures', n, 'manifest.json'))).sort()) {
    it(`${fixture}: nothing original survives, findings unchanged`, async () => {
      const {runner, options} = await alteredFixture(fixture, {})
      const {known} = await checkRedaction(runner, options, fixture)
      expect(known.ipv4.length + known.macs.length + known.names.length).toBeGreaterThan(0)
    })
  }
})

describe('--redact on the forms the recordings lack', () => {
  it('DNS domains, static DHCP hosts, home directories, cut guest names in domain-ID-NAME, ::ffff: addresses', async () => {
    const domainXml = `<domain type='kvm'><name>${LONG_GUEST}</name><uuid>8d2f6a1e-1c55-4f0e-9a51-2b7c0d3e4f50</uuid><devices><interface type='network'><mac address='52:54:00:12:34:56'/><source network='default'/><model type='virtio'/></interface></devices></domain>`
    const {runner, options} = await alteredFixture('healthy', {
      run: (c) => {
        const a = c.argv
        if (a.includes('net-dumpxml')) return {...c, output: c.output.replace('<dhcp>', "<domain name='corp.example.net' localOnly='yes'/><dhcp><host mac='52:54:00:aa:bb:cc' name='printer-lab3' ip='192.168.122.77'/>")}
        if (a.includes('list') && a.at(-1) === '--all') return {...c, output: c.output.replace(/\n\n?$/, `\n -    ${LONG_GUEST}   shut off\n\n`)}
        if (a[0] === 'ps') {
          return {
            ...c,
            output: `${c.output}  4242 /usr/bin/rsync --daemon --config=/home/alice/rsyncd.conf\n  4243 /usr/bin/qemu-system-x86_64 -name guest=${LONG_GUEST},debug-threads=on -object {"qom-type":"secret","id":"masterKey0","format":"raw","file":"/var/lib/libvirt/qemu/domain-7-${LONG_GUEST.slice(0, 20)}/master-key.aes"}\n`,
          }
        }
        if (a[0] === 'ss') return {...c, output: `${c.output}udp   UNCONN 0      0      [::ffff:192.168.122.50]:5353    *:*    users:(("avahi-daemon",pid=77,fd=12))\n`}
        return c
      },
      readFile: (c) => {
        if (c.path === `/etc/libvirt/qemu/${LONG_GUEST}.xml`) return {kind: 'file', path: c.path, output: domainXml, durationMs: 0, truncated: false}
        if (c.path === '/etc/dhcp/dhcpd.conf') return {...c, error: undefined, errorCode: undefined, output: 'option domain-name "lab.example.org";\nhost build-server7 { hardware ethernet 52:54:00:11:22:33; fixed-address 10.77.0.9; }\nsubnet 10.77.0.0 netmask 255.255.255.0 {}\n'}
        if (c.path.endsWith('virbr0.status')) return {...c, output: c.output.replace('"client-id"', '"hostname": "web01.corp.example.net",\n    "client-id"')}
        return c
      },
    })
    const {known, map} = await checkRedaction(runner, options, 'planted', ['corp.example.net', 'lab.example.org', 'printer-lab3', 'build-server7', 'alice', LONG_GUEST, LONG_GUEST.slice(0, 20), '192.168.122.50'])
    expect(known.names).toEqual(expect.arrayContaining([LONG_GUEST, 'web01.corp.example.net']))
    expect(Object.keys(map.domains)).toEqual(expect.arrayContaining(['corp.example.net', 'lab.example.org']))
    expect(map.users).toEqual({alice: 'user-1'})
    expect(Object.keys(map.uuid)).toContain('8d2f6a1e-1c55-4f0e-9a51-2b7c0d3e4f50')
    expect(map.ipv4['192.168.122.50']).toMatch(/^\d+\.\d+\.\d+\.50$/)
  })
})

describe('--redact on every spelling of a name, a MAC, a UUID, an address and a user', () => {
  const spellings = [
    'KDLAB-WEB01 started; Kdlab-Web01 stopped',
    '/var/lib/libvirt/images/kdlab-web01-disk0.qcow2 /backup/nightly_kdlab-web01_full.tar',
    'dhcp: 52-54-00-6B-64-01 52-54-00-6b-64-01 5254.006b.6401 5254006b6401 5254006B6401',
    'machine f8097f2483584349bb3f16a4efd5015f F8097F2483584349BB3F16A4EFD5015F',
    'resolved ip-192-168-122-190.ec2.internal IP-192-168-122-190',
    'GET http://3232266942/status http://0xC0A87ABE/x https://admin@0xc0a87abe:8443/',
    'uid=1000(carol) gid=1000(carol); pam_unix(sshd:session): session opened for user dave by (uid=0)',
    'sshd[1]: Accepted publickey for erin from 198.51.100.7; ssh -i key frank@10.0.0.5 uptime; /var/home/gina/.ssh USER=hank virsh -c qemu+ssh://ivan@hv2/system',
  ].join('\n')
  const originals = ['kdlab-web01', '52-54-00-6b-64-01', '5254.006b.6401', '5254006b6401', 'f8097f2483584349bb3f16a4efd5015f', '192-168-122-190', '3232266942', '0xc0a87abe', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank', 'ivan']

  it('each is replaced, in the spelling it was written in, by the same pseudonym as its usual form', () => {
    const r = new Redactor({subnets: [parseCidr('192.168.122.0/24')!], names: [{name: 'kdlab-web01', kind: 'guest'}], key: Buffer.alloc(32, 8)})
    const out = r.redact(spellings)
    for (const original of originals) expect(out.toLowerCase(), original).not.toContain(original)
    const guest = r.map.names['kdlab-web01']
    expect(out).toContain(`${guest} started; ${guest} stopped`)
    expect(out).toContain(`/var/lib/libvirt/images/${guest}-disk0.qcow2 /backup/nightly_${guest}_full.tar`)
    // One MAC, one pseudonym, written as each tool wrote it (separators and case).
    const mac = r.mac('52:54:00:6b:64:01').split(':')
    expect(out).toContain(`dhcp: ${mac.join('-').toUpperCase()} ${mac.join('-')} ${mac.slice(0, 2).join('')}.${mac.slice(2, 4).join('')}.${mac.slice(4).join('')} ${mac.join('')} ${mac.join('').toUpperCase()}`)
    const uuid = r.uuid('f8097f24-8358-4349-bb3f-16a4efd5015f').replaceAll('-', '')
    expect(out).toContain(`machine ${uuid} ${uuid.toUpperCase()}`)
    // One address, whatever its notation.
    const ip = r.ipv4('192.168.122.190')
    expect(ip).toMatch(/^192\.168\.\d+\.190$/)
    const n = ipv4ToInt(ip)!
    expect(out).toContain(`resolved ip-${ip.replaceAll('.', '-')}.ec2.internal IP-${ip.replaceAll('.', '-')}`)
    expect(out).toContain(`GET http://${n}/status http://0x${n.toString(16).toUpperCase()}/x https://admin@0x${n.toString(16)}:8443/`)
    expect(Object.keys(r.map.users).sort()).toEqual(['carol', 'dave', 'erin', 'frank', 'gina', 'hank', 'ivan'])
    // Accounts of the system, counters and words stay.
    const kept = 'uid=0(root) dnsmasq --user=dnsmasq; [123456789012:5] bytes; for user root; 20261128103000 kdlab'
    expect(r.redact(kept)).toBe(kept)
  })

  it("libvirt's own DNS host names (<dns><host><hostname>), and the spellings above in a real bundle: none survives, findings unchanged", async () => {
    const lines = spellings.split('\n').map((l) => `2026-11-28 10:00:00.000+0000: 811: info : ${l}`).join('\n')
    const {runner, options} = await alteredFixture('healthy', {
      run: (c) => (c.argv.includes('net-dumpxml') ? {...c, output: c.output.replace('<ip ', "<dns><host ip='192.168.122.9'><hostname>nas-backup7</hostname><hostname>nas-backup7.lab.example.org</hostname></host><srv service='ldap' protocol='tcp' target='ldap-master3.lab.example.org' port='389'/><txt name='inventory-tag9' value='x'/></dns><ip ") } : c),
      readFile: (c) => (c.path.endsWith('libvirtd.log') ? {...c, error: undefined, errorCode: undefined, output: `${c.output}${lines}\n`} : c),
    })
    await checkRedaction(runner, options, 'spellings', ['nas-backup7', 'ldap-master3', 'inventory-tag9', ...originals])
  })
})

/**
 * A recording answered as today's libvirt probe asks: the three listings from one virsh (the recorded ones, as
 * virsh prints them one after the other), and one guest without its status file, so that its XML comes from
 * `virsh dumpxml NAME` (the file's text).
 */
async function hostOf(dir: string, viaVirsh: string): Promise<{runner: Runner; options: {active: boolean; libvirtUri: string}}> {
  const inner = await ReplayRunner.open(dir)
  const options = inner.manifest.options!
  const virsh = ['virsh', '-r', '-c', options.libvirtUri]
  const statusFile = `/run/libvirt/qemu/${viaVirsh}.xml`
  const runner: Runner = {
    capturedAt: inner.capturedAt,
    run: async (argv) => {
      if (argv.join(' ') === [...virsh, VIRSH_LISTINGS].join(' ')) {
        const parts = await Promise.all(VIRSH_LISTING_ARGS.map((l) => inner.run([...virsh, ...l])))
        return {...parts[0], argv, output: parts.map((p) => p.output).join('')}
      }
      if (argv.join(' ') === [...virsh, 'dumpxml', viaVirsh].join(' ')) return {kind: 'command', argv, output: (await inner.readFile(statusFile)).output, stderr: '', exitCode: 0, durationMs: 1, timedOut: false, truncated: false}
      return inner.run(argv)
    },
    readFile: async (path) => (path === statusFile ? {kind: 'file', path, output: '', durationMs: 0, truncated: false, error: `${path}: not found`, errorCode: 'not-found'} : inner.readFile(path)),
    listDir: (path) => inner.listDir(path),
  }
  return {runner, options}
}

describe('--redact on names that are words of the probes\' own command lines', () => {
  // Guests and a network (its bridge too) named like words of virsh's, nft's and ip's argv and of libvirt's paths.
  const RENAMES = {'kdlab-tiny01': 'list', 'kdlab-tiny02': 'net-list', 'kdlab-tiny03': 'dumpxml', 'kdlab-web01': 'show', 'kdlab-tiny': 'system'}
  const asWord = (w: string) => new RegExp(w.length < 4 ? `(?<![A-Za-z0-9_.-])${escape(w)}(?![A-Za-z0-9_-])` : `(?<![A-Za-z0-9])${escape(w)}(?![A-Za-z0-9])`, 'gi')

  it('replay the redacted bundle to the same findings, and hold each such word only where the bundle of the host without those names holds it', async () => {
    const named = await hostOf(await renamedRecording('dhcp-range-exhausted', RENAMES), 'dumpxml')
    const plain = await diagnose({runner: named.runner, options: named.options, version: 'test'})
    expect(dataOf<LibvirtFacts>(plain.facts.libvirt)?.domains.map((d) => d.name).sort()).toEqual(['dumpxml', 'list', 'net-list', 'show'])
    const made = await createBundle({runner: named.runner, options: named.options, version: 'test', output: join(await scratch(), 'r.tar.gz'), redact: true, redactionKey: KEY, reports: bundleReports})
    expect(made.replayChanged).toBeUndefined()
    expect(shape(made.diagnosis)).toEqual(shape(plain))
    const {runner: replay, cleanup} = await openBundle(made.path)
    const replayed = await diagnose({runner: replay, options: replay.manifest.options!, version: 'test'})
    await cleanup()
    // A network named "system" leaves the system instance's URI as it is: the replay reads its files, as the run did.
    expect(replay.manifest.options?.libvirtUri).toBe('qemu:///system')
    const unavailable = (d: Diagnosis) => Object.values(d.facts).filter((r) => !r.ok).map((r) => r.id).sort()
    expect(unavailable(replayed)).toEqual(unavailable(plain))
    expect(shape(replayed)).toEqual(shape(plain))
    expect(shape(plain).length).toBeGreaterThan(0)
    // The same host under its own names, redacted with the same key: the same pseudonyms, so the same command lines.
    const unnamed = await hostOf(fixtureDir('dhcp-range-exhausted'), 'kdlab-tiny03')
    const control = await createBundle({runner: unnamed.runner, options: unnamed.options, version: 'test', output: join(await scratch(), 'c.tar.gz'), redact: true, redactionKey: KEY, reports: bundleReports})
    const contents = async (bundle: string) => {
      const dir = await scratch()
      await tar.x({file: bundle, cwd: dir})
      return new Map(readdirSync(dir, {withFileTypes: true, recursive: true}).filter((e) => e.isFile()).map((e) => [join(e.parentPath, e.name).split('/kvmdoctor-bundle-')[1].replace(/^[^/]+\//, ''), readFileSync(join(e.parentPath, e.name), 'utf8')]))
    }
    const [ours, theirs] = [await contents(made.path), await contents(control.path)]
    const keys = (files: Map<string, string>) => JSON.parse(files.get('manifest.json')!).captures.map((c: {argv?: string[]; path?: string; file: string}) => [c.argv ?? c.path, c.file])
    expect(keys(ours)).toEqual(keys(theirs))
    const map = JSON.parse(readFileSync(made.mapPath!, 'utf8')) as RedactionMap
    // The joined listings were read, and the guest named "dumpxml" by its name, now a pseudonym in argv and file name.
    const argvs = keys(ours).map(([key]: [string[] | string]) => (Array.isArray(key) ? key.join(' ') : key))
    expect(argvs).toContain(`virsh -r -c qemu:///system ${VIRSH_LISTINGS}`)
    expect(argvs).toContain(`virsh -r -c qemu:///system dumpxml ${map.names.dumpxml}`)
    for (const [file, text] of ours) {
      for (const word of Object.values(RENAMES)) {
        expect(`${file}: ${word} ${(text.match(asWord(word)) ?? []).length}`).toBe(`${file}: ${word} ${Math.min((text.match(asWord(word)) ?? []).length, (theirs.get(file)?.match(asWord(word)) ?? []).length)}`)
      }
    }
    expect(Object.keys(map.names)).toEqual(expect.arrayContaining(Object.values(RENAMES)))
  })

  it("a guest named like another's pseudonym: each key answers for the capture it stands for, the value of the host over the word kept", async () => {
    const r = new Redactor({subnets: [], names: [{name: 'web01', kind: 'guest'}, {name: 'guest-1', kind: 'guest'}], key: KEY})
    expect([r.map.names['web01'], r.map.names['guest-1']]).toEqual(['guest-1', 'guest-2'])
    const dumpxml = (name: string) => ({kind: 'command' as const, argv: ['virsh', 'dumpxml', name], output: `<name>${name}</name>`, stderr: '', exitCode: 0, durationMs: 1, timedOut: false, truncated: false})
    const unasked = {...dumpxml('web01'), argv: ['virsh', 'domstats', 'web01']}
    const replay = new RedactedReplay([dumpxml('guest-1'), dumpxml('web01'), unasked], r, new Date(0))
    expect((await replay.run(['virsh', 'dumpxml', 'guest-1'])).output).toBe('<name>guest-1</name>')
    expect((await replay.run(['virsh', 'dumpxml', 'guest-2'])).output).toBe('<name>guest-2</name>')
    expect((await replay.run(['virsh', 'dumpxml', 'guest-3'])).errorCode).toBe('not-recorded')
    // What the replay never asked for stays, under its key redacted as text.
    expect(replay.held().map((c) => (c.kind === 'command' ? c.argv.join(' ') : c.path)).sort()).toEqual(['virsh domstats guest-1', 'virsh dumpxml guest-1', 'virsh dumpxml guest-2'])
  })
})

describe("--redact on names that are words of the captures' formats", () => {
  // Guests and a network named like XML elements and attributes (name, target, mac), a JSON key and ip's word (dev),
  // and an option of iptables-save (-a, as "-A" starts its rules).
  const RENAMES = {'kdlab-tiny01': 'name', 'kdlab-tiny02': 'target', 'kdlab-tiny03': 'mac', 'kdlab-web01': '-a', 'kdlab-tiny': 'dev'}

  it('the redacted bundle parses as the host did: the same findings and probe states, the names replaced where they are names', async () => {
    const named = await hostOf(await renamedRecording('dhcp-range-exhausted', RENAMES), 'mac')
    const plain = await diagnose({runner: named.runner, options: named.options, version: 'test'})
    expect(dataOf<LibvirtFacts>(plain.facts.libvirt)?.domains.map((d) => d.name).sort()).toEqual(['-a', 'mac', 'name', 'target'])
    const made = await createBundle({runner: named.runner, options: named.options, version: 'test', output: join(await scratch(), 'r.tar.gz'), redact: true, redactionKey: KEY, reports: bundleReports})
    expect(made.replayChanged).toBeUndefined()
    const {runner: replay, cleanup} = await openBundle(made.path)
    const replayed = await diagnose({runner: replay, options: replay.manifest.options!, version: 'test'})
    await cleanup()
    const states = (d: Diagnosis) => d.probes.map((p) => `${p.id}:${p.ok}:${p.degraded?.length ?? 0}`)
    expect(states(replayed)).toEqual(states(plain))
    expect(shape(replayed)).toEqual(shape(plain))
    const map = JSON.parse(readFileSync(made.mapPath!, 'utf8')) as RedactionMap
    const libvirt = dataOf<LibvirtFacts>(replayed.facts.libvirt)!
    expect(libvirt.domains.map((d) => d.name).sort()).toEqual(['-a', 'mac', 'name', 'target'].map((n) => map.names[n]).sort())
    expect(libvirt.networks.map((n) => n.name)).toContain(map.names.dev)
  })

  it('keeps the words of XML, JSON and KEY=VALUE, and a word-like name in a letter case not its own', () => {
    const r = new Redactor({subnets: [], names: ['name', 'target', 'dev', 'mac', '-a', 'web01'].map((name) => ({name, kind: 'guest' as const})), key: KEY})
    const n = r.map.names
    expect(r.redact("<domain><name>name</name><target dev='target'/><mac address='x'/></domain>")).toBe(`<domain><name>${n.name}</name><target dev='${n.target}'/><mac address='x'/></domain>`)
    expect(r.redact('[{"dev":"dev","mac-address":"mac"}]')).toBe(`[{"dev":"${n.dev}","mac-address":"${n.mac}"}]`)
    expect(r.redact('Id=name\n-A FORWARD -i -a -j ACCEPT\n Id   Name   State\n 1    name   running')).toBe(`Id=${n.name}\n-A FORWARD -i ${n['-a']} -j ACCEPT\n Id   Name   State\n 1    ${n.name}   running`)
    // A name with a digit is no word: any spelling of it is the name.
    expect(r.redact('WEB01 Web01 web01')).toBe(`${n.web01} ${n.web01} ${n.web01}`)
  })
})

describe('--redact on libvirt machine names', () => {
  it("rewrites a guest name in libvirt's machine name qemu-ID-NAME (cgroup paths in libvirtd.log), and in its systemd-escaped scope name", () => {
    const long = 'a-very-long-guest-name-for-tests'
    const r = new Redactor({subnets: [], names: [{name: 'kdlab-web01', kind: 'guest'}, {name: long, kind: 'guest'}], key: Buffer.alloc(32, 6)})
    // A line of the lab's own libvirtd.log (fixtures/dnsmasq-killed).
    const line = "error : virFileReadAll:1523 : Failed to open file '/sys/fs/cgroup/cpuset/machine/qemu-5-kdlab-web01.libvirt-qemu/cgroup.threads': No such file or directory"
    expect(r.redact(line)).toBe("error : virFileReadAll:1523 : Failed to open file '/sys/fs/cgroup/cpuset/machine/qemu-5-guest-1.libvirt-qemu/cgroup.threads': No such file or directory")
    // systemd escapes "-" in unit names: machine-qemu\x2d12\x2dNAME.scope, the pseudonym escaped alike.
    const escaped = (name: string) => name.replaceAll('-', '\\x2d')
    expect(r.redact(`/sys/fs/cgroup/machine.slice/machine-qemu\\x2d12\\x2d${escaped(long)}.scope`)).toBe('/sys/fs/cgroup/machine.slice/machine-qemu\\x2d12\\x2dguest\\x2d2.scope')
    // The name as libvirt still writes it elsewhere: the token rule, untouched.
    expect(r.redact('domain kdlab-web01 started')).toBe('domain guest-1 started')
  })
})

describe('--redact keeps address classes and subnet roles', () => {
  /** A small seeded generator: the same addresses every run. */
  function random(seed: number) {
    return () => {
      seed = (seed + 0x6d2b79f5) | 0
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    }
  }
  const SUBNETS = ['10.254.1.0/24', '10.254.2.0/24', '10.253.0.0/30', '172.20.0.0/16', '172.20.5.0/24', '192.168.122.0/24', '192.168.150.0/24', '192.168.0.0/16', '10.0.0.0/8', '203.0.113.0/24', '192.0.2.0/24', '172.40.0.0/16']

  it("guest names in libvirt's cgroup v1 machine paths (machine/qemu-ID-NAME.libvirt-qemu, as libvirtd.log prints them after a restart)", () => {
    const r = new Redactor({subnets: [], names: [{name: 'kdlab-web01', kind: 'guest'}], key: Buffer.alloc(32, 6)})
    const line = "error : virFileReadAll:1523 : Failed to open file '/sys/fs/cgroup/cpuset/machine/qemu-5-kdlab-web01.libvirt-qemu/cgroup.threads'"
    const out = r.redact(line)
    expect(out).not.toContain('kdlab-web01')
    expect(out).toContain(`machine/qemu-5-${r.map.names['kdlab-web01']}.libvirt-qemu/cgroup.threads`)
  })

  it('RFC 1918 into its own block, public never into private space, known subnets whole, one pseudonym each', () => {
    const next = random(15)
    const r = new Redactor({subnets: SUBNETS.map((c) => parseCidr(c)!), names: [], key: Buffer.alloc(32, 3)})
    const addresses = new Set<string>()
    // Members of every known subnet (gateway, broadcast, network and others), then addresses anywhere.
    for (const c of SUBNETS) {
      const s = parseCidr(c)!
      const size = 2 ** (32 - s.prefix)
      for (const offset of [0, 1, size - 1, ...Array.from({length: 20}, () => Math.floor(next() * size))]) addresses.add(intToIpv4(s.network + offset))
    }
    for (let i = 0; i < 3000; i++) addresses.add(intToIpv4(Math.floor(next() * 2 ** 32)))
    for (const ip of addresses) r.ipv4(ip)
    expect(Object.keys(r.map.ipv4).length).toBeGreaterThan(2500)
    expectStructureKept(r.map, 'random')
    // A private address never leaves its block; the old mapping sent 192.168.122.1 to public space.
    expect(r.ipv4('192.168.122.1')).toMatch(/^192\.168\.\d+\.1$/)
    expect(r.ipv4('10.254.1.255')).toMatch(/^10\.\d+\.\d+\.255$/)
    expect(r.ipv4('172.20.9.9')).toMatch(/^172\.(1[6-9]|2\d|3[01])\.9\.9$/)
    // A block's own network and broadcast address stay: 10.0.0.0/8 still reads so.
    expect(r.redact('-A FORWARD -s 10.0.0.0/8 -d 192.168.255.255/32')).toBe('-A FORWARD -s 10.0.0.0/8 -d 192.168.255.255/32')
  })

  it('IPv6: ULA stays in its /8 of fc00::/7, global unicast in 2000::/3, link-local keeps fe80::/64', () => {
    const r = new Redactor({subnets: [], names: [], key: Buffer.alloc(32, 4)})
    const text = 'fd12:3456:789a:1::1 fd12:3456:789a:1::2 fc00::5 2001:db8:1:2::7 2a01:4f8:c17:b8f::2 fe80::5054:ff:fe12:3456'
    const out = r.redact(text).split(' ')
    expect(out.map(v6Class)).toEqual(text.split(' ').map(v6Class))
    expect(out.join(' ')).not.toMatch(/fd12|789a|db8|4f8/)
    // One /64, one mapped /64; ::1 and ::2 (gateway-like interface ids) kept.
    expect(out[0].replace(/::1$/, '')).toBe(out[1].replace(/::2$/, ''))
    expect(out[5]).toMatch(/^fe80::/)
  })

  it("IPv6: the unspecified and loopback addresses stay, however written (a cgroup v2 line '0::/PATH' keeps its form)", () => {
    const r = new Redactor({subnets: [], names: [], key: Buffer.alloc(32, 4)})
    expect(r.redact(':: ::1 0::1 0:0:0:0:0:0:0:0\n0::/kdlab-frozen\n')).toBe(':: ::1 0::1 0:0:0:0:0:0:0:0\n0::/kdlab-frozen\n')
    expect(r.redact('2001:db8::1')).not.toBe('2001:db8::1')
  })

  it('a map carries key and subnets: another host extending it maps new addresses into the subnets already mapped', () => {
    const first = new Redactor({subnets: [parseCidr('10.77.0.0/24')!], names: [{name: 'web01', kind: 'guest'}], key: Buffer.alloc(32, 5)})
    const gateway = first.ipv4('10.77.0.1')
    const map = JSON.parse(JSON.stringify(first.map)) as RedactionMap
    // The second host knows nothing of 10.77.0.0/24, yet its 10.77.0.9 lands beside the first host's gateway.
    const second = new Redactor({subnets: [parseCidr('192.168.122.0/24')!], names: [{name: 'db01', kind: 'guest'}, {name: 'web01', kind: 'guest'}], previous: map})
    expect(second.ipv4('10.77.0.1')).toBe(gateway)
    expect(second.ipv4('10.77.0.9')).toBe(gateway.replace(/\.1$/, '.9'))
    expect(second.redact('web01 db01')).toBe('guest-1 guest-2')
    expect(second.map.subnets).toEqual(['10.77.0.0/24', '192.168.122.0/24'])
  })
})
