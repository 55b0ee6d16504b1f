import {execFileSync} from 'node:child_process'
import {linkSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {basename, dirname, join} from 'node:path'
import {gzipSync} from 'node:zlib'
import * as tar from 'tar'
import {describe, expect, it} from 'vitest'
import {diagnose} from '../../src/core/diagnose.js'
import {parseBridgeFdb} from '../../probes/fdb.js'
import {UserError} from '../../src/core/errors.js'
import {openSource} from '../../src/core/source.js'
import {SOS_WANTED, openSosreport, sosCommandFile} from '../../src/core/sosreport.js'
import {openSosArchive} from '../../src/core/sosreport-tree.js'
import {recordedOutput} from '../helpers.js'
import {editedSos} from './sos-edit.js'

const data = (file: string) => readFileSync(join(import.meta.dirname, '../data/sos/iproute', file), 'utf8')

/** A small sosreport in sos 4.0's layout: networking (ip, no nft: skipped), kernel (sysctl -a), date, host. */
function sosFiles(): Record<string, string> {
  const manifest = {
    version: '4.0',
    cmdline: 'report --batch -o networking,kernel,date,host',
    start_time: '2026-12-05 03:58:18.107890',
    components: {
      report: {
        plugins: {
          networking: {commands: ['ip -d address', 'ip route show table all', 'ip -6 route show table all', 'ip -4 rule', 'ip -6 rule', 'ip -s -s neigh show', 'bridge -s -s -d -t fdb show'].map((exec) => ({exec, filepath: `sos_commands/networking/${sosCommandFile(exec)}`, return_code: 0})), files: []},
          kernel: {commands: [{exec: 'sysctl -a', filepath: 'sos_commands/kernel/sysctl_-a', return_code: 0}], files: [{specification: '/proc/modules', files_copied: ['proc/modules']}]},
          date: {commands: [{exec: 'date --utc', filepath: 'sos_commands/date/date_--utc', return_code: 0}], files: []},
          host: {commands: [{exec: 'hostname', filepath: 'sos_commands/host/hostname', return_code: 0}], files: []},
        },
      },
    },
  }
  return {
    'sos_reports/manifest.json': JSON.stringify(manifest),
    'sos_logs/sos.log': "2026-12-05 03:58:18,344 WARNING: [plugin:networking] skipped command 'nft list ruleset': required kmods missing: nf_tables. \n",
    'sos_commands/networking/ip_-d_address': data('ip_-d_address'),
    'sos_commands/networking/ip_route_show_table_all': data('ip_route_show_table_all'),
    'sos_commands/networking/ip_-6_route_show_table_all': data('ip_-6_route_show_table_all'),
    'sos_commands/networking/ip_-4_rule': data('ip_-4_rule'),
    'sos_commands/networking/ip_-6_rule': data('ip_-6_rule'),
    'sos_commands/networking/ip_-s_-s_neigh_show': data('ip_-s_-s_neigh_show'),
    'sos_commands/networking/bridge_-s_-s_-d_-t_fdb_show': data('bridge_-s_-s_-d_-t_fdb_show'),
    'sos_commands/kernel/sysctl_-a': 'kernel.hostname = kdhost\nkernel.osrelease = 6.1.0-kd\nnet.ipv4.ip_forward = 0\nnet.ipv4.conf.virbr9.rp_filter = 2\nnet.ipv4.conf.dummy0/100.rp_filter = 1\n',
    'proc/modules': 'bridge 311296 0 - Live 0x0000000000000000\n',
    'sos_commands/date/date_--utc': 'Sat Dec  5 03:58:19 UTC 2026\n',
    'sos_commands/host/hostname': 'kdhost\n',
    'version.txt': 'sosreport: 4.0\n',
  }
}

const scratch = () => mkdtempSync(join(tmpdir(), 'kd-sos-'))

function writeTree(root: string, files: Record<string, string>): string {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), {recursive: true})
    writeFileSync(join(root, path), text)
  }
  return root
}

/** A tar archive of raw entries (paths and types as given: hostile ones too). */
function rawTar(entries: {path: string; body?: string; type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'FIFO'; linkpath?: string}[]): Buffer {
  const blocks: Buffer[] = []
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '')
    const header = new tar.Header({path: e.path, type: e.type ?? 'File', size: e.type && e.type !== 'File' ? 0 : body.length, mode: 0o644, mtime: new Date(0), linkpath: e.linkpath})
    const block = Buffer.alloc(512)
    header.encode(block)
    blocks.push(block)
    if (body.length > 0 && (e.type ?? 'File') === 'File') blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512))
  }
  blocks.push(Buffer.alloc(1024))
  return Buffer.concat(blocks)
}

const top = 'sosreport-kdhost-2026-12-05-abcdef'
const asEntries = (files: Record<string, string>) => Object.entries(files).map(([path, body]) => ({path: `${top}/${path}`, body}))
/** The xz command, as sos compresses its archives. */
const xz = async (buffer: Buffer) => execFileSync('xz', ['-1', '--stdout'], {input: buffer, maxBuffer: 64 * 1024 * 1024})

async function findingsAndProbes(from: string) {
  const source = await openSource({from, timeoutMs: 1000})
  const d = await diagnose({runner: source.runner, options: source.recordedOptions!, version: 'test'}).finally(() => source.close())
  return {d: {...d, source: source.describe?.()}, source}
}

describe('a sosreport as a source', () => {
  it('a directory, a .tar.gz and a .tar.xz of one sosreport give the same facts, read from sos text outputs', async () => {
    const dir = writeTree(join(scratch(), top), sosFiles())
    const gz = join(scratch(), 'sosreport.tar.gz')
    writeFileSync(gz, gzipSync(rawTar(asEntries(sosFiles()))))
    const tarXz = join(scratch(), 'sosreport.tar.xz')
    writeFileSync(tarXz, await xz(rawTar(asEntries(sosFiles()))))
    const runs = await Promise.all([dir, gz, tarXz].map(findingsAndProbes))
    const facts = runs.map((r) => JSON.stringify([r.d.facts.links, r.d.facts.routes, r.d.facts.sysctl, r.d.facts.host, r.d.facts['ip-rules']].map((f) => ({...f, durationMs: 0}))))
    expect(facts[1]).toBe(facts[0])
    expect(facts[2]).toBe(facts[0])
    const {d} = runs[2]
    expect(d.host).toBe('kdhost')
    expect(d.capturedAt).toBe('2026-12-05T03:58:19.000Z')
    expect(d.facts.sysctl).toMatchObject({ok: true, data: {values: {'net.ipv4.ip_forward': 0, 'net.ipv4.conf.virbr9.rp_filter': 2, 'net.ipv4.conf.dummy0/100.rp_filter': 1}}})
    expect(d.facts.links).toMatchObject({ok: true})
    // sos's fdb listing, read back as `bridge -j fdb show` prints it.
    expect(d.facts.fdb).toEqual({...d.facts.fdb, ok: true, data: {entries: parseBridgeFdb(data('bridge-j-fdb-show.json'))}})
    // Not collected: not "absent". nft was skipped by sos: the netfilter probe is unavailable, with the option that collects it.
    expect(d.facts.netfilter).toMatchObject({ok: false})
    expect(d.notChecked.map((n) => n.ruleId)).toContain('iptables-forward-drop')
    const nft = d.source?.notCollected.find((n) => n.input === 'nft -j list ruleset')
    expect(nft).toMatchObject({reason: expect.stringContaining('required kmods missing: nf_tables'), collect: 'sos report -o networking --allow-system-changes'})
    expect(d.source).toMatchObject({kind: 'sosreport', sosVersion: '4.0', host: 'kdhost'})
  })

  it('refuses archives with traversal, absolute paths, hard links or devices, before reading anything', async () => {
    const cases: [string, Parameters<typeof rawTar>[0]][] = [
      ['path escapes', [{path: `${top}/../../etc/cron.d/x`, body: 'x'}]],
      ['absolute path', [{path: '/etc/passwd', body: 'x'}]],
      ['hard link', [{path: `${top}/proc/modules`, type: 'Link', linkpath: '/etc/shadow'}]],
      ['FIFO entry', [{path: `${top}/fifo`, type: 'FIFO'}]],
    ]
    for (const [why, entries] of cases) {
      const file = join(scratch(), 'bad.tar.gz')
      writeFileSync(file, gzipSync(rawTar([...asEntries(sosFiles()), ...entries])))
      await expect(openSosArchive(file, SOS_WANTED), why).rejects.toThrow(new RegExp(why.replace('path escapes', 'escapes')))
    }
  })

  it('follows links inside the sosreport only: a link out of it reads as an error, never the analysing host', async () => {
    const file = join(scratch(), 'links.tar.gz')
    writeFileSync(file, gzipSync(rawTar([
      ...asEntries(sosFiles()),
      {path: `${top}/etc/hostname`, type: 'SymbolicLink', linkpath: '../../../../../../etc/hostname'},
      {path: `${top}/proc/misc`, type: 'SymbolicLink', linkpath: '../sos_commands/host/hostname'},
    ])))
    const tree = await openSosArchive(file, SOS_WANTED)
    expect(tree.read('etc/hostname')).toMatchObject({error: expect.stringContaining('links out of the sosreport')})
    expect(tree.read('proc/misc')).toEqual({text: 'kdhost\n', truncated: false})
    const dir = writeTree(join(scratch(), top), sosFiles())
    symlinkSync('/etc/passwd', join(dir, 'etc-passwd'))
    linkSync(join(dir, 'version.txt'), join(dir, 'hardlinked'))
    const runner = await openSosreport(dir, {directory: true})
    expect(runner.tree.read('etc-passwd')).toMatchObject({error: expect.stringContaining('out of the sosreport')})
    expect(runner.tree.read('hardlinked')).toMatchObject({error: expect.stringContaining('hard link')})
  })

  it('a corrupt or cut .tar.xz is a clear error with what xz said, not a partial sosreport', async () => {
    const whole = await xz(rawTar(asEntries(sosFiles())))
    const cut = join(scratch(), 'cut.tar.xz')
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)))
    await expect(openSosArchive(cut, SOS_WANTED)).rejects.toThrow(/not a readable \.tar\.xz archive \(xz: .*(Unexpected end of input|Compressed data is corrupt|File format not recognized)/)
    const garbled = join(scratch(), 'garbled.tar.xz')
    writeFileSync(garbled, Buffer.concat([whole.subarray(0, 12), Buffer.alloc(4096, 0x5a)]))
    await expect(openSosArchive(garbled, SOS_WANTED)).rejects.toThrow(UserError)
  })

  it('bounds what it decompresses: every byte, padding after the end of the archive included', async () => {
    const file = join(scratch(), 'bomb.tar.xz')
    // 8 MiB of zeros after the tar's end, a few KiB compressed (the limit is set low here; by default it is 4 GiB).
    writeFileSync(file, await xz(Buffer.concat([rawTar(asEntries(sosFiles())), Buffer.alloc(8 * 1024 * 1024)])))
    expect(readFileSync(file).length).toBeLessThan(64 * 1024)
    const refused = openSosArchive(file, SOS_WANTED, {decompressedBytes: 2 * 1024 * 1024})
    await expect(refused).rejects.toThrow(UserError)
    // Refused by whichever bound it meets first: the decompressed total or the zero padding after the archive's end.
    await expect(refused).rejects.toThrow(/decompresses to more than 2\.0 MiB|more than 1\.0 MiB follow the end of its archive/)
    const many = join(scratch(), 'many.tar.gz')
    writeFileSync(many, gzipSync(rawTar([...asEntries(sosFiles()), ...Array.from({length: 50}, (_, i) => ({path: `${top}/x/${i}`, body: ''}))])))
    await expect(openSosArchive(many, SOS_WANTED, {entries: 40})).rejects.toThrow(/more than 40 entries/)
  })

  it('a manifest whose plugin, command or file entries are not objects (damaged, hand-edited) is read for what it holds, never an internal error', async () => {
    const files = sosFiles()
    const manifest = JSON.parse(files['sos_reports/manifest.json'])
    const plugins = manifest.components.report.plugins
    plugins.kernel.commands.unshift(null)
    plugins.kernel.files.unshift(null, 'proc/misc')
    plugins.virsh = null
    const runner = await openSosreport(writeTree(join(scratch(), top), {...files, 'sos_reports/manifest.json': JSON.stringify(manifest)}), {directory: true})
    expect(runner.info.plugins).toEqual(['date', 'host', 'kernel', 'networking', 'virsh'])
    expect((await runner.readFile('/proc/sys/net/ipv4/ip_forward')).output).toBe('0\n')
    // The null plugin recorded nothing: its commands are not recorded, not absent.
    expect(await runner.run(['virsh', '-r', 'version'])).toMatchObject({errorCode: 'not-recorded'})
    for (const broken of [null, 'x', {components: {report: {plugins: 'x'}}}]) {
      const dir = writeTree(join(scratch(), top), {...files, 'sos_reports/manifest.json': JSON.stringify(broken)})
      await expect(openSosreport(dir, {directory: true}), JSON.stringify(broken)).resolves.toBeDefined()
    }
  })

  it('is told from a kvmdoctor bundle and from other archives', async () => {
    const other = join(scratch(), 'other.tar.gz')
    writeFileSync(other, gzipSync(rawTar([{path: 'project/README', body: 'x'}])))
    await expect(openSource({from: other, timeoutMs: 1000})).rejects.toThrow(UserError)
  })
})

describe('what sos never collects that decides a hop: IPsec policies and defaults, legacy ebtables', () => {
  it('a sosreport without them leaves the IPsec and legacy ebtables hops undecided, never passed, and says why', async () => {
    const {d} = await findingsAndProbes(join(import.meta.dirname, '../../fixtures/sos-forward-reject-subnet'))
    const ipRules = d.facts['ip-rules'] as {ok: true; data: {xfrmUnread?: string}; degraded?: string[]}
    expect(ipRules.data.xfrmUnread).toMatch(/libreswan plugin/)
    // Carried to the hops, not to every datapath rule.
    expect(ipRules.degraded).toBeUndefined()
    const ebtables = (d.facts.netfilter as {ok: true; data: {tables: {backend: string; name: string}[]}}).data.tables.filter((t) => t.backend === 'ebtables-legacy')
    expect(ebtables.map((t) => t.name)).toEqual(['unread'])
    const hops = d.flows.flatMap((f) => f.hops)
    expect(hops.filter((h) => h.name.startsWith('IPsec policy')).map((h) => h.verdict)).toContain('indeterminate')
    expect(hops.filter((h) => h.name.startsWith('IPsec policy') && h.verdict === 'pass')).toEqual([])
    expect(d.source?.notCollected.map((n) => n.input)).toEqual(expect.arrayContaining(['ip xfrm policy list', 'ip xfrm policy getdefault', 'ebtables --version']))
  })

  it("reads the IPsec policies from sos's libreswan plugin (`ip xfrm policy`); the defaults stay unknown", async () => {
    const files = sosFiles()
    const manifest = JSON.parse(files['sos_reports/manifest.json'])
    manifest.components.report.plugins.libreswan = {commands: [{exec: 'ip xfrm policy', filepath: 'sos_commands/libreswan/ip_xfrm_policy', return_code: 0}], files: []}
    const dir = writeTree(join(scratch(), top), {
      ...files,
      'sos_reports/manifest.json': JSON.stringify(manifest),
      'sos_commands/libreswan/ip_xfrm_policy': 'src 192.168.122.0/24 dst 0.0.0.0/0 \n\tdir fwd action block priority 0 ptype main \n',
    })
    const {d} = await findingsAndProbes(dir)
    const xfrm = (d.facts['ip-rules'] as {ok: true; data: {xfrm?: {policies: unknown[]; defaults: unknown; defaultsUnread?: string}}}).data.xfrm
    expect(xfrm).toMatchObject({policies: [{dir: 'fwd', action: 'block', src: '192.168.122.0/24'}], defaults: null, defaultsUnread: expect.stringContaining('sos does not read the IPsec default policies')})
  })
})

describe("a process's state from sos's ps listing", () => {
  const fixture = join(import.meta.dirname, '../../fixtures/sos-masquerade-removed')

  it('a dnsmasq stopped (STAT T) when sos ran is a stopped DHCP server, not a running one', async () => {
    const dir = join(scratch(), 'sos')
    execFileSync('cp', ['-a', fixture, dir])
    const ps = join(dir, 'sos_commands/process/ps_auxwww')
    // Both of libvirt's dnsmasq processes for the default network, stopped.
    writeFileSync(ps, readFileSync(ps, 'utf8').replace(/^(\S+\s+(?:5473|5474)\s+(?:\S+\s+){5})S(\s)/gm, '$1T$2'))
    const {d} = await findingsAndProbes(dir)
    expect((d.facts.processes as {data: {stopped?: unknown}}).data.stopped).toEqual([{pid: 5473, traced: false}, {pid: 5474, traced: false}])
    expect(d.findings.map((f) => f.id)).toContain('dhcp-server-not-running')
    expect(d.source?.notCollected.map((n) => n.input)).not.toContain('ps -eo pid=,stat=')
  })

  it('as sos found it: every state read, none stopped, no DHCP finding', async () => {
    const {d} = await findingsAndProbes(fixture)
    expect((d.facts.processes as {data: {stopped?: unknown}}).data.stopped).toEqual([])
    expect(d.findings.map((f) => f.id)).not.toContain('dhcp-server-not-running')
  })
})

describe("a server frozen by its cgroup, from sos's cgroups plugin (/proc/PID/cgroup from sos 4.8.1, /sys/fs/cgroup)", () => {
  const fixture = join(import.meta.dirname, '../../fixtures/sos-masquerade-removed')
  /** Its dnsmasq processes (5473, 5474) in the lab's kdlab-frozen cgroup (dnsmasq-frozen's recording: a hybrid host). */
  const cgroupsSos = (frozen: boolean) =>
    editedSos(fixture, {
      version: '4.8.1',
      copies: [{plugin: 'cgroups', spec: '/sys/fs/cgroup'}, {plugin: 'cgroups', spec: '/proc/[0-9]*/cgroup'}],
      files: {
        'proc/5473/cgroup': recordedOutput('dnsmasq-frozen', 'file-proc-18781-cgroup.txt'),
        'proc/5474/cgroup': recordedOutput('dnsmasq-frozen', 'file-proc-18781-cgroup.txt'),
        'sys/fs/cgroup/unified/kdlab-frozen/cgroup.events': `populated 1\nfrozen ${frozen ? 1 : 0}\n`,
      },
    })

  /** The sosreport as sos ships it: a .tar.gz, of which kvmdoctor keeps only what it reads. */
  const archived = (dir: string) => {
    const file = join(scratch(), 'sosreport.tar.gz')
    execFileSync('tar', ['-czf', file, '-C', dirname(dir), basename(dir)])
    return file
  }

  it('reads the freezer sos copied: a frozen dnsmasq is a DHCP server that does not run; thawed, it runs', async () => {
    const {d} = await findingsAndProbes(archived(cgroupsSos(true)))
    expect((d.facts.processes as {data: {stopped?: unknown}}).data.stopped).toEqual([5473, 5474].map((pid) => ({pid, traced: false, frozen: '/sys/fs/cgroup/unified/kdlab-frozen/cgroup.freeze'})))
    expect(d.findings.map((f) => f.id)).toContain('dhcp-server-not-running')
    const thawed = (await findingsAndProbes(cgroupsSos(false))).d
    expect((thawed.facts.processes as {data: {stopped?: unknown; freezeUnread?: unknown}}).data).toMatchObject({stopped: []})
    expect(thawed.findings.map((f) => f.id)).not.toContain('dhcp-server-not-running')
  })

  it('without them, one note says what is unknown and which plugin and version collect it', async () => {
    const {d} = await findingsAndProbes(fixture)
    const cgroup = d.source?.notCollected.filter((n) => n.input.includes('cgroup'))
    expect(cgroup).toEqual([{input: '/proc/PID/cgroup (dnsmasq, dhcpd)', sos: '/proc/[0-9]*/cgroup (plugin cgroups)', reason: expect.stringMatching(/^only sos's cgroups plugin copies it \(sos 4\.8\.1 and later\), and it did not run: whether a DHCP or DNS server is frozen by its cgroup's freezer is not known/), collect: 'sos 4.8.1 or later: sos report -o cgroups'}])
    const older = (await findingsAndProbes(editedSos(fixture, {version: '4.5.6', copies: [{plugin: 'cgroups', spec: '/sys/fs/cgroup'}]}))).d
    expect(older.source?.notCollected.find((n) => n.input.includes('cgroup'))?.reason).toMatch(/^the cgroups plugin of sos 4\.5\.6 does not copy it \(sos 4\.8\.1 and later do\)/)
  })
})
