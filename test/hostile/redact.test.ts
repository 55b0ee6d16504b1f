/**
 * Item 6: --redact leaves nothing identifying. A property over every lab recording, plus one
 * with the forms the recordings lack planted (DNS domains, static DHCP hosts, a home directory,
 * a guest name libvirt cuts to 20 characters in domain-ID-NAME, an IPv4-mapped IPv6 address):
 * no original address, MAC suffix, host, guest, network, client, UUID, domain or user name
 * survives anywhere in the bundle, and the findings are the same.
 */
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import * as tar from 'tar'
import {describe, expect, it} from 'vitest'
import type {LeaseFacts} from '../../probes/leases.js'
import type {LibvirtFacts} from '../../probes/libvirt.js'
import type {HostFacts} from '../../probes/host.js'
import {dataOf} from '../../probes/types.js'
import {createBundle, openBundle} from '../../src/core/bundle.js'
import {type Diagnosis, diagnose} from '../../src/core/diagnose.js'
import {RESERVED_NAMES} from '../../src/core/redact.js'
import {RecordingRunner} from '../../src/core/snapshot.js'
import type {Runner} from '../../src/core/runner.js'
import {ROOT} from '../helpers.js'
import {alteredFixture, scratch} from './helpers.js'

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
  const made = await createBundle({runner, options, version: 'test', output: join(dir, 'r.tar.gz'), redact: true, redactionKey: KEY})
  // What is attached to a ticket: the archive's content (the map stays beside it, apart).
  const extracted = await scratch()
  await tar.x({file: made.path, cwd: extracted})
  const all = textsOf(extracted).join('\n')
  const map = JSON.parse(readFileSync(made.mapPath!, 'utf8'))
  const mappedIpv4 = new Set(Object.values(map.ipv4 as Record<string, string>))
  const mappedNics = new Set(Object.values(map.mac as Record<string, string>).map((m) => m.slice(9)))
  const found = (token: string) => new RegExp(`(?<![A-Za-z0-9])${escape(token)}(?![A-Za-z0-9])`, 'i').test(all)
  for (const ip of known.ipv4) if (!mappedIpv4.has(ip)) expect(new RegExp(`(?<![\\d.])${escape(ip)}(?![\\d.]*\\d)`).test(all), `${label}: address ${ip}`).toBe(false)
  const redactedSuffixes = new Set((all.match(MAC) ?? []).map((m) => m.toLowerCase().slice(9)))
  for (const mac of known.macs) if (!mappedNics.has(mac.slice(9))) expect(redactedSuffixes.has(mac.slice(9)), `${label}: MAC suffix of ${mac}`).toBe(false)
  for (const uuid of known.uuids) expect(all.toLowerCase().includes(uuid), `${label}: UUID ${uuid}`).toBe(false)
  for (const name of [...known.names, ...extra]) expect(found(name), `${label}: name ${name}`).toBe(false)
  // Same findings: in the bundle, and replayed from it.
  expect(shape(made.diagnosis), label).toEqual(shape(known.d))
  const {runner: replay, cleanup} = await openBundle(made.path)
  // As `--from` does: the bundle's own (redacted) options, the internet's stand-in among them.
  expect(shape(await diagnose({runner: replay, options: replay.manifest.options ?? options, version: 'test'})), `${label} replayed`).toEqual(shape(known.d))
  await cleanup()
  return {known, map}
}

describe('--redact, as a property over every recording', () => {
  for (const fixture of readdirSync(join(ROOT, 'fixtures')).sort()) {
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
