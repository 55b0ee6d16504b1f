/**
 * Turns this machine into a libvirt lab host and injects real faults.
 * Everything it creates is named kdlab-*; reset undoes exactly what inject did.
 * Traffic only ever flows between the lab guests, this host's lab addresses and the lab's
 * "internet" (a namespace on this host): nothing the lab sends may leave by the uplink.
 */
import {execa} from 'execa'
import {existsSync, mkdirSync, readFileSync, rmSync, rmdirSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

/** The repository root, found upwards (this file also runs compiled, from dist-bench/test/lab). */
export const ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json')) && dir !== dirname(dir)) dir = dirname(dir)
  return dir
})()
export const CACHE = process.env.KD_LAB_CACHE ?? '/var/cache/kvmdoctor-lab'
export const NETWORK = 'default'
export const BRIDGE = 'virbr0'
export const GATEWAY = '192.168.122.1'

/**
 * The guests' "internet": namespace kdlab-inet, joined to the host by veth kdlab-up0
 * (198.51.100.1/24 here, 198.51.100.2/24 there); the host routes 203.0.113.10 to it.
 * Only that one address: on this machine the package registries themselves live in
 * 203.0.113.0/24 (203.0.113.80), and a /24 route would cut the host off from them.
 * A second, unreachable route for it (metric 4000) keeps guest packets from ever taking
 * the default route out of the uplink, should the lab route go (link down, a scenario).
 * In there 203.0.113.10 answers ping and HTTP on port 80, and its only way back is the
 * veth's own subnet: a guest packet that was not NATed gets no reply, as on the real internet.
 * The name kdlab-inet resolves to 203.0.113.10 from libvirt's dnsmasq itself (a dns-host
 * entry), never by an upstream query.
 */
export const INET = {
  netns: 'kdlab-inet',
  hostDev: 'kdlab-up0',
  nsDev: 'kdlab-up1',
  hostAddr: '198.51.100.1',
  nsAddr: '198.51.100.2',
  /** Only the server's address is routed to the namespace (see above). */
  route: '203.0.113.10/32',
  server: '203.0.113.10',
  port: 80,
  name: 'kdlab-inet',
} as const
/** libvirt's DNS entry for the lab internet (the `<dns>` element of the lab's networks holds the same). */
export const INET_DNS_HOST = `<host ip='${INET.server}'><hostname>${INET.name}</hostname></host>`
/** What the lab internet's HTTP server answers. */
export const INET_MARK = 'KDLAB-INET-OK'
/**
 * The bulk file (the transfer shaping slows down), served by busybox httpd on a port of its own (the guests'
 * reachability measures use port 80: the kernel oracle tells their packets apart by it). A guest started with
 * `bulk` downloads it after each KD-REACH line and prints `KD-BULK seq=N bytes=B centis=C`.
 */
export const BULK = {port: 8081, file: 'kdlab-bulk', bytes: 128 * 1024} as const

/** Serves BULK's file on ADDR:BULK.port from inside namespace `netns` (busybox httpd daemonizes: ended with the namespace, deleteNamespace). */
export async function serveBulk(netns: string, addr: string): Promise<void> {
  const www = join(CACHE, `${netns}-www`)
  mkdirSync(www, {recursive: true})
  writeFileSync(join(www, BULK.file), Buffer.alloc(BULK.bytes, 'kdlab bulk '))
  await sh(['ip', 'netns', 'exec', netns, 'busybox', 'httpd', '-p', `${addr}:${BULK.port}`, '-h', www])
}

export async function sh(argv: string[], options: {reject?: boolean; timeout?: number; env?: Record<string, string>} = {}) {
  const r = await execa(argv[0], argv.slice(1), {reject: false, timeout: options.timeout ?? 60_000, stdin: 'ignore', env: {...options.env, LC_ALL: 'C'}})
  if (options.reject !== false && r.exitCode !== 0) throw new Error(`${argv.join(' ')} failed (${r.exitCode}): ${r.stderr || r.stdout}`)
  return {stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1}
}

const running = async (name: string) => (await sh(['pgrep', '-x', name], {reject: false})).exitCode === 0

export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/** Daemons up, default network defined and active, guest image built. */
export async function ensureHost(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the lab needs root (it starts libvirtd and injects faults)')
  for (const bin of ['virsh', 'libvirtd', 'qemu-system-x86_64', 'iptables', 'busybox']) {
    if ((await sh(['which', bin], {reject: false})).exitCode !== 0) throw new Error(`${bin} missing: run .ci/lab-deps first`)
  }
  if (!(await running('virtlogd'))) await sh(['virtlogd', '-d'])
  if (!(await running('libvirtd'))) await sh(['libvirtd', '-d'])
  await waitFor('libvirtd', async () => (await sh(['virsh', 'version'], {reject: false})).exitCode === 0, 30_000)
  if ((await sh(['virsh', 'net-info', NETWORK], {reject: false})).exitCode !== 0) {
    await sh(['virsh', 'net-define', '/usr/share/libvirt/networks/default.xml'])
  }
  if (!(await networkActive())) await sh(['virsh', 'net-start', NETWORK])
  await sh([join(ROOT, 'test/lab/guest/build.sh')], {timeout: 300_000})
}

export async function networkActive(): Promise<boolean> {
  return /Active:\s+yes/.test((await sh(['virsh', 'net-info', NETWORK])).stdout)
}

export interface Guest {
  name: string
  mac: string
  /** dhcp | dhcp-or-apipa | dhcp-moved | static | apipa | ipv6-only | none | down (see guest/init). */
  mode: string
  addr?: string
  /** libvirt network (default: the default network); or a host bridge with `bridge`. */
  network?: string
  bridge?: string
  /** Address the guest ARPs for when it has no gateway, so the host learns it ('' for none: it only announces itself). */
  probe?: string
  /** DHCP client id (hex) its DHCP client sends: clones share one. */
  clientId?: string
  /** Static mode: its default gateway, and the DNS server kd-reach asks. */
  gw?: string
  dns?: string
  /** ACPI on (libvirt leaves it off without <acpi/>): the guest's kernel answers PCI hot-unplug, so `virsh detach-interface` works. */
  acpi?: boolean
  /** An address it pings every round (KD-PEER). */
  peer?: string
  /** A static IPv6 address (KD-IPV6, KD-DADFAILED). */
  addr6?: string
  /** dhcp-moved: the lease of another network it asks to keep (KD-DHCP-REBOOT). */
  lease?: string
  /** Answers ARP for whatever it routes out of its own link. */
  proxyArp?: boolean
  /** Prints who answers ARP for its gateway or probe every round (KD-ARP). */
  arpWho?: boolean
  /** Plugged into Open vSwitch (`bridge` is then an OVS bridge): libvirt's <virtualport type='openvswitch'/>, and the VLAN libvirt tags its port with. */
  ovs?: {vlan?: number}
  /** After each KD-REACH line the guest times a download of BULK's file from this server (IP:PORT; KD-BULK lines). */
  bulk?: string
  /** libvirt's nwfilter on its interface (<filterref filter=...>, with its parameters: IP pins the address it may use). */
  filterref?: {filter: string; params?: Record<string, string>}
  /** libvirt's <mtu size=.../> on its interface: the tap's MTU, and (virtio's host_mtu) the guest NIC's. */
  mtu?: number
}

/** The guest every scenario starts from (and the bench's running guest): a DHCP client on the default network. */
export const WEB01: Guest = {name: 'kdlab-web01', mac: '52:54:00:6b:64:01', mode: 'dhcp'}

export const consolePath = (name: string) => join(CACHE, `${name}.console`)

function domainXml(g: Guest): string {
  const cmdline = [
    `console=ttyS0`,
    'quiet',
    `kd.mode=${g.mode}`,
    `kd.probe=${g.probe ?? GATEWAY}`,
    g.addr ? `kd.addr=${g.addr}` : '',
    g.clientId ? `kd.clientid=${g.clientId}` : '',
    g.gw ? `kd.gw=${g.gw}` : '',
    g.dns ? `kd.dns=${g.dns}` : '',
    g.peer ? `kd.peer=${g.peer}` : '',
    g.addr6 ? `kd.addr6=${g.addr6}` : '',
    g.lease ? `kd.lease=${g.lease}` : '',
    g.proxyArp ? 'kd.proxyarp=1' : '',
    g.arpWho ? 'kd.arpwho=1' : '',
    // The reachability oracle: what the guest itself can reach, printed as KD-REACH lines.
    `kd.inet=${INET.server}:${INET.port}`,
    `kd.dnsname=${INET.name}`,
    g.bulk ? `kd.bulk=${g.bulk}` : '',
  ].filter(Boolean).join(' ')
  const iface = g.bridge
    ? `<interface type='bridge'><source bridge='${g.bridge}'/>`
    : `<interface type='network'><source network='${g.network ?? NETWORK}'/>`
  // Open vSwitch's userspace datapath forwards a frame as its port hands it over: with checksum offload a TCP segment
  // would leave with a partial checksum. No offload on an OVS guest's NIC, then (as OVS-DPDK hosts configure them).
  const ovs = g.ovs
    ? `<virtualport type='openvswitch'/>${g.ovs.vlan !== undefined ? `<vlan><tag id='${g.ovs.vlan}'/></vlan>` : ''}<driver><host csum='off'/><guest csum='off'/></driver>`
    : ''
  const filterref = g.filterref
    ? `<filterref filter='${g.filterref.filter}'>${Object.entries(g.filterref.params ?? {}).map(([k, v]) => `<parameter name='${k}' value='${v}'/>`).join('')}</filterref>`
    : ''
  return `<domain type='qemu'>
  <name>${g.name}</name>
  <memory unit='MiB'>96</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${CACHE}/vmlinuz</kernel><initrd>${CACHE}/initrd.gz</initrd>
    <cmdline>${cmdline}</cmdline>
  </os>${g.acpi ? '\n  <features><acpi/></features>' : ''}
  <devices>
    ${iface}${ovs}${filterref}${g.mtu ? `<mtu size='${g.mtu}'/>` : ''}<mac address='${g.mac}'/><model type='virtio'/></interface>
    <serial type='file'><source path='${consolePath(g.name)}'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>`
}

/** A guest started and its lease in libvirt's network: the state every scenario starts from. */
export async function startLeasedGuest(g: Guest): Promise<string[]> {
  const addrs = await startGuest(g)
  await waitFor(`${g.name} lease`, async () => (await sh(['virsh', 'net-dhcp-leases', NETWORK], {reject: false})).stdout.includes(g.mac), 30_000)
  return addrs
}

/** Defines and boots a guest; resolves once it printed its addresses on the console. */
export async function startGuest(g: Guest): Promise<string[]> {
  await defineGuest(g)
  await sh(['rm', '-f', consolePath(g.name)])
  await sh(['virsh', 'start', g.name])
  return waitFor(`${g.name} to report its addresses`, async () => guestAddresses(g.name), 90_000)
}

/** Defines a guest without starting it (replacing any earlier definition). */
export async function defineGuest(g: Guest): Promise<void> {
  await removeGuest(g.name)
  const xmlFile = join(CACHE, `${g.name}.xml`)
  writeFileSync(xmlFile, domainXml(g))
  await sh(['virsh', 'define', xmlFile])
}

/** The guest's own account of its IPv4 addresses (last KD-ADDRS line on its console). */
export function guestAddresses(name: string): string[] | undefined {
  if (!existsSync(consolePath(name))) return undefined
  const lines = readFileSync(consolePath(name), 'utf8').split('\n').filter((l) => l.startsWith('KD-ADDRS'))
  return lines.length > 0 ? lines[lines.length - 1].slice('KD-ADDRS'.length).trim().split(/\s+/).filter(Boolean) : undefined
}

/** The rest of the guest's last console line starting with `tag` (KD-NET, KD-ARP, KD-PEER, KD-DHCP-REBOOT, KD-DADFAILED). */
export function guestLine(name: string, tag: string): string | undefined {
  if (!existsSync(consolePath(name))) return undefined
  const text = readFileSync(consolePath(name), 'utf8')
  // Only whole lines: the last one may still be being written.
  const lines = text.slice(0, text.lastIndexOf('\n') + 1).split('\n').map((l) => l.replace(/\r/g, '')).filter((l) => l.startsWith(`${tag} `))
  return lines.length > 0 ? lines[lines.length - 1].slice(tag.length + 1).trim() : undefined
}

/** The guest's IPv6 addresses (last KD-IPV6 line on its console; printed by guests in ipv6-only mode). */
export function guestIpv6Addresses(name: string): string[] | undefined {
  if (!existsSync(consolePath(name))) return undefined
  const lines = readFileSync(consolePath(name), 'utf8').split('\n').filter((l) => l.startsWith('KD-IPV6'))
  return lines.length > 0 ? lines[lines.length - 1].slice('KD-IPV6'.length).trim().split(/\s+/).filter(Boolean) : undefined
}

export async function removeGuest(name: string): Promise<void> {
  await sh(['virsh', 'destroy', name], {reject: false})
  await sh(['virsh', 'undefine', name], {reject: false})
  await releaseOrphanLeases()
}

/** The default network's leases, from dnsmasq's own status file (none when it is absent or being rewritten). */
export function defaultNetworkLeases(): {'ip-address'?: string; 'mac-address'?: string}[] {
  const status = `/var/lib/libvirt/dnsmasq/${BRIDGE}.status`
  if (!existsSync(status)) return []
  try {
    return JSON.parse(readFileSync(status, 'utf8').trim() || '[]')
  } catch {
    return []
  }
}

/**
 * Leases of lab guests that no longer exist (dnsmasq keeps them for their whole lease time):
 * released, so a scenario recorded after another that removed its guests does not see
 * their stale leases (dhcp-lease-stale) as part of its own fault. Needs dhcp_release (dnsmasq-utils).
 */
export async function releaseOrphanLeases(): Promise<void> {
  const leases = defaultNetworkLeases().filter((l) => l['ip-address'] && l['mac-address']?.startsWith('52:54:00:6b:64:'))
  // Most removals leave no lab lease: the definitions are read only when there is one to judge (a removal of each of
  // 200 defined guests read all the others' XML, some 20,000 virsh runs for the bench's 200 domains).
  if (leases.length === 0) return
  const defined = new Set<string>()
  for (const name of await labGuests()) {
    for (const m of (await sh(['virsh', 'dumpxml', name])).stdout.matchAll(/<mac address='([^']+)'/g)) defined.add(m[1])
  }
  for (const l of leases) if (!defined.has(l['mac-address']!)) await sh(['dhcp_release', BRIDGE, l['ip-address']!, l['mac-address']!], {reject: false})
}

export async function labGuests(): Promise<string[]> {
  return (await sh(['virsh', 'list', '--all', '--name'])).stdout.split('\n').map((s) => s.trim()).filter((n) => n.startsWith('kdlab-'))
}

/** After a network restart, running guests' taps are left without a bridge: put them back. */
export async function reattachTaps(): Promise<void> {
  for (const name of await labGuests()) {
    const xml = (await sh(['virsh', 'dumpxml', name])).stdout
    for (const m of xml.matchAll(/<interface type='network'>[\s\S]*?<source network='([^']+)'[\s\S]*?<target dev='([^']+)'/g)) {
      if (m[1] === NETWORK) await sh(['ip', 'link', 'set', m[2], 'master', BRIDGE, 'up'])
    }
  }
  await waitPortsForwarding()
}

/** With STP on, a re-plugged (or re-enabled) port listens and learns (2 x forward_delay) before it forwards. */
export async function waitPortsForwarding(bridge = BRIDGE): Promise<void> {
  await waitFor(`${bridge} ports to forward`, async () => {
    const ports = JSON.parse((await sh(['ip', '-j', '-d', 'link', 'show', 'master', bridge])).stdout) as {linkinfo?: {info_slave_data?: {state?: string}}}[]
    return ports.every((p) => p.linkinfo?.info_slave_data?.state === 'forwarding')
  }, 30_000)
}

export async function leasedAddress(mac: string, network = NETWORK): Promise<string | undefined> {
  const out = (await sh(['virsh', 'net-dhcp-leases', network, '--mac', mac], {reject: false})).stdout
  return /(\d+\.\d+\.\d+\.\d+)\/\d+/.exec(out)?.[1]
}

/** Defines and starts a lab network from XML; returns a function that removes it. */
export async function defineNetwork(name: string, xml: string): Promise<void> {
  await removeNetwork(name)
  const file = join(CACHE, `${name}.net.xml`)
  writeFileSync(file, xml)
  await sh(['virsh', 'net-define', file])
  await sh(['virsh', 'net-start', name])
}

export async function removeNetwork(name: string): Promise<void> {
  await sh(['virsh', 'net-destroy', name], {reject: false})
  await sh(['virsh', 'net-undefine', name], {reject: false})
}

/** net-destroy + net-start, then re-plug running guests (what a careful admin does). */
export async function restartNetwork(): Promise<void> {
  await sh(['virsh', 'net-destroy', NETWORK], {reject: false})
  await sh(['virsh', 'net-start', NETWORK])
  await reattachTaps()
}

export interface KvmdoctorRun {
  exitCode: number
  report: {findings: {id: string; severity: 'critical' | 'high' | 'medium' | 'low' | 'info'; rank: number; entity: {kind: string; name: string}; explainedBy?: string}[]; [k: string]: unknown}
  stderr: string
}

/** Runs the built CLI live (optionally inside a network namespace) and parses its JSON report. */
export async function kvmdoctor(args: string[], netns?: string): Promise<KvmdoctorRun> {
  // The guests' egress flows go where the guests' own TCP check goes: the lab internet.
  const cli = [process.execPath, join(ROOT, 'bin/run.js'), 'diagnose', '--format', 'json', '--internet', `${INET.server}:${INET.port}/tcp`, ...args]
  const argv = netns ? ['ip', 'netns', 'exec', netns, ...cli] : cli
  const r = await execa(argv[0], argv.slice(1), {reject: false, timeout: 120_000, stdin: 'ignore'})
  let report: KvmdoctorRun['report']
  try {
    report = JSON.parse(String(r.stdout))
  } catch {
    throw new Error(`kvmdoctor printed no JSON (exit ${r.exitCode}): ${r.stderr}`)
  }
  return {exitCode: r.exitCode ?? -1, report, stderr: String(r.stderr)}
}

const inetWww = () => join(CACHE, 'kdlab-inet-www')

/** Builds the lab internet (see INET) and waits until its server answers the host. */
export async function startInternet(): Promise<void> {
  await stopInternet()
  // The lab's addresses must be nobody else's on this machine: no route more specific than
  // the default for them, no connection to them.
  const via = (await sh(['ip', 'route', 'get', INET.server])).stdout
  const uplinks = await uplinkDevices()
  if (!uplinks.some((d) => via.includes(` dev ${d} `)) && !/\bunreachable\b/.test(via)) throw new Error(`${INET.server} is already routed on this host (${via.trim()}): the lab will not take it`)
  const peers = (await sh(['ss', '-Htn'])).stdout
  if (new RegExp(`\\s(198\\.51\\.100\\.\\d+|${INET.server.replaceAll('.', '\\.')}):\\d+\\s*$`, 'm').test(peers)) throw new Error('this host talks to 198.51.100.0/24 or the lab internet address: the lab will not take them')
  await sh(['ip', 'netns', 'add', INET.netns])
  await sh(['ip', '-n', INET.netns, 'link', 'set', 'lo', 'up'])
  await sh(['ip', 'link', 'add', INET.hostDev, 'type', 'veth', 'peer', 'name', INET.nsDev, 'netns', INET.netns])
  await sh(['ip', 'addr', 'add', `${INET.hostAddr}/24`, 'dev', INET.hostDev])
  await sh(['ip', 'link', 'set', INET.hostDev, 'up'])
  await sh(['ip', '-n', INET.netns, 'addr', 'add', `${INET.nsAddr}/24`, 'dev', INET.nsDev])
  await sh(['ip', '-n', INET.netns, 'link', 'set', INET.nsDev, 'up'])
  // The server's address; the namespace has no other route than its veth subnet.
  await sh(['ip', '-n', INET.netns, 'addr', 'add', `${INET.server}/32`, 'dev', 'lo'])
  await sh(['ip', 'route', 'add', 'unreachable', INET.route, 'metric', '4000'])
  await sh(['ip', 'route', 'add', INET.route, 'via', INET.nsAddr, 'dev', INET.hostDev])
  mkdirSync(inetWww(), {recursive: true})
  // Larger than a few full-size segments: a path that cannot carry a full-size packet fails the guests' TCP check.
  writeFileSync(join(inetWww(), 'index.html'), `${INET_MARK}\n${'kdlab filler line to make the answer span several full-size TCP segments\n'.repeat(80)}`)
  // busybox httpd daemonizes; it lives in the namespace and is ended by its pid (stopInternet).
  await sh(['ip', 'netns', 'exec', INET.netns, 'busybox', 'httpd', '-p', `${INET.server}:${INET.port}`, '-h', inetWww()])
  await waitFor('the lab internet to answer HTTP', async () => {
    const r = await sh(['sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 2 ${INET.server} ${INET.port}`], {reject: false, timeout: 5_000})
    return r.stdout.includes(INET_MARK)
  }, 20_000)
  await sh(['busybox', 'ping', '-c', '1', '-W', '2', INET.server])
  await addInternetName()
}

/** The name goes into the live network and its definition, so that a network restart keeps it. */
export async function addInternetName(network = NETWORK): Promise<void> {
  await removeInternetName(network)
  const live = (await networkActiveNamed(network)) ? ['--live'] : []
  await sh(['virsh', 'net-update', network, 'add', 'dns-host', INET_DNS_HOST, ...live, '--config'])
}

export async function removeInternetName(network = NETWORK): Promise<void> {
  if ((await sh(['virsh', 'net-info', network], {reject: false})).exitCode !== 0) return
  const xml = (await sh(['virsh', 'net-dumpxml', '--inactive', network])).stdout
  if (xml.includes(`ip='${INET.server}'`)) await sh(['virsh', 'net-update', network, 'delete', 'dns-host', INET_DNS_HOST, '--config'], {reject: false})
  const liveXml = (await sh(['virsh', 'net-dumpxml', network])).stdout
  if (liveXml.includes(`ip='${INET.server}'`)) await sh(['virsh', 'net-update', network, 'delete', 'dns-host', INET_DNS_HOST, '--live'], {reject: false})
}

async function networkActiveNamed(network: string): Promise<boolean> {
  return /Active:\s+yes/.test((await sh(['virsh', 'net-info', network], {reject: false})).stdout)
}

/** Ends the processes the lab started in one of its namespaces (by pid), then removes the namespace. */
export async function deleteNamespace(ns: string): Promise<void> {
  const pids = (await sh(['ip', 'netns', 'pids', ns], {reject: false})).stdout.split('\n').map((p) => p.trim()).filter(Boolean)
  if (pids.length > 0) {
    await sh(['kill', ...pids], {reject: false})
    await waitFor(`processes of ${ns} to exit`, async () => (await sh(['ip', 'netns', 'pids', ns], {reject: false})).stdout.trim() === '', 10_000).catch(async () => {
      await sh(['kill', '-9', ...pids], {reject: false})
    })
  }
  await sh(['ip', 'netns', 'del', ns], {reject: false})
}

export async function stopInternet(): Promise<void> {
  if ((await sh(['virsh', 'version'], {reject: false})).exitCode === 0) await removeInternetName()
  await deleteNamespace(INET.netns)
  await sh(['ip', 'link', 'del', INET.hostDev], {reject: false})
  // Guests are gone by now (cleanLab), so the fallback can go last.
  await sh(['ip', 'route', 'del', 'unreachable', INET.route, 'metric', '4000'], {reject: false})
}

/** The devices of the host's default routes (the real uplink: eth0 here). */
export async function uplinkDevices(): Promise<string[]> {
  const routes = JSON.parse((await sh(['ip', '-j', 'route', 'show', 'default'])).stdout) as {dev?: string}[]
  const devs = [...new Set(routes.map((r) => r.dev).filter((d): d is string => Boolean(d)))]
  return devs.length > 0 ? devs : ['eth0']
}

/**
 * Open vSwitch for the OVS scenarios, as a host without systemd runs it: Debian's ovs-ctl (on a kernel without the
 * openvswitch module the bridges use the userspace datapath, datapath_type=netdev). Its database and logs live in the
 * lab's cache, and its system id is fixed, so that nothing under /etc/openvswitch, /var/lib/openvswitch or
 * /var/log/openvswitch is written; only its pid files and sockets go to the standard run directory, where libvirt's
 * and kvmdoctor's ovs-vsctl look. An OVS the host already runs is used as it is (only kdlab-* bridges are added, and
 * deleted again) and never stopped.
 */
export const OVS = {
  dir: join(CACHE, 'kdlab-ovs'),
  rundir: '/var/run/openvswitch',
  systemId: '6b646c61-622d-4f76-8000-00000000c0de',
  ctl: '/usr/share/openvswitch/scripts/ovs-ctl',
} as const
const ovsEnv = () => ({OVS_DBDIR: OVS.dir, OVS_LOGDIR: OVS.dir, OVS_RUNDIR: OVS.rundir})

export async function ovsAnswers(): Promise<boolean> {
  return (await sh(['ovs-vsctl', '--timeout=3', 'show'], {reject: false})).exitCode === 0
}

/** The ovsdb-server the lab started (its database in the lab's cache), if one runs: by its pid file's pid and that process's arguments. */
export async function labOvsRunning(): Promise<boolean> {
  const pidFile = join(OVS.rundir, 'ovsdb-server.pid')
  if (!existsSync(pidFile)) return false
  const pid = readFileSync(pidFile, 'utf8').trim()
  const args = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : ''
  return args.includes(join(OVS.dir, 'conf.db'))
}

/** Whether the lab's start of Open vSwitch made its run directory (on a host that never ran OVS): stopOvs removes it then. */
let ovsRundirMade = false

/** Starts the lab's Open vSwitch unless one answers already. */
export async function startOvs(): Promise<void> {
  if (await ovsAnswers()) return
  ovsRundirMade ||= !existsSync(OVS.rundir)
  rmSync(OVS.dir, {recursive: true, force: true})
  mkdirSync(OVS.dir, {recursive: true})
  await sh([OVS.ctl, 'start', `--system-id=${OVS.systemId}`, '--no-mlockall', '--no-record-hostname'], {env: ovsEnv(), timeout: 120_000})
  await waitFor('Open vSwitch to answer', ovsAnswers, 30_000)
}

/** Restarts the lab's ovs-vswitchd (its database stays): what a host's OVS restart does to ports whose device is gone. */
export async function restartOvsSwitch(): Promise<void> {
  if (!(await labOvsRunning())) throw new Error('Open vSwitch is not the lab\'s own: the lab does not restart it')
  await sh([OVS.ctl, '--no-ovsdb-server', 'restart', `--system-id=${OVS.systemId}`, '--no-mlockall', '--no-record-hostname'], {env: ovsEnv(), timeout: 120_000})
  await waitFor('Open vSwitch to answer', ovsAnswers, 30_000)
}

/** Deletes the lab's OVS bridges; stops Open vSwitch only if the lab started it, and removes its database and logs. */
export async function stopOvs(): Promise<void> {
  if (await ovsAnswers()) {
    const bridges = (await sh(['ovs-vsctl', '--timeout=5', 'list-br'])).stdout.split('\n').map((b) => b.trim()).filter((b) => b.startsWith('kdlab-'))
    for (const b of bridges) await sh(['ovs-vsctl', '--timeout=5', '--if-exists', 'del-br', b])
  }
  if (await labOvsRunning()) await sh([OVS.ctl, 'stop'], {env: ovsEnv(), timeout: 120_000})
  rmSync(OVS.dir, {recursive: true, force: true})
  // ovs-ctl stop leaves its run directory: one the lab made goes too, or the host is left changed.
  if (ovsRundirMade && !(await ovsAnswers())) rmSync(OVS.rundir, {recursive: true, force: true})
  ovsRundirMade = false
}

/** The daemons a lab run may start (libvirtd, virtlogd, the default network's dnsmasq): pid → name, now. */
export async function labDaemons(): Promise<Map<string, string>> {
  const ps = (await sh(['ps', '-eo', 'pid=,comm=,args='])).stdout.split('\n').map((l) => l.trim().split(/\s+/))
  const dnsmasqConf = `--conf-file=/var/lib/libvirt/dnsmasq/${NETWORK}.conf`
  const ours = ([, comm, ...args]: string[]) => comm === 'libvirtd' || comm === 'virtlogd' || (comm === 'dnsmasq' && args.includes(dnsmasqConf))
  return new Map(ps.filter(ours).map(([pid, comm]) => [pid, comm]))
}

/**
 * Ends, by pid, the lab daemons of a kind that did not run when `before` was taken (labDaemons): a host the lab
 * found without libvirtd is left without it; one it found with libvirtd keeps the libvirtd running now, even one a
 * fix proof restarted. libvirtd first, so that it restarts nothing it manages.
 */
export async function endDaemonsNotRunBefore(before: Map<string, string>): Promise<string[]> {
  const ended: string[] = []
  const ranBefore = new Set(before.values())
  for (const name of ['libvirtd', 'dnsmasq', 'virtlogd'].filter((n) => !ranBefore.has(n))) {
    const pids = [...(await labDaemons())].filter(([, comm]) => comm === name).map(([pid]) => pid)
    if (pids.length === 0) continue
    await sh(['kill', ...pids], {reject: false})
    await waitFor(`${name} ${pids.join(' ')} to exit`, async () => pids.every((pid) => !existsSync(`/proc/${pid}`)), 30_000)
    ended.push(`${name} (pid ${pids.join(', ')})`)
  }
  return ended
}

/** Removes everything a previous (possibly interrupted) lab run left: kdlab-* guests, networks, namespaces, links, the lab internet. */
/** The cgroups the dnsmasq-frozen scenarios freeze dnsmasq in: v2's (alone, or beside v1 under "unified") and v1's freezer. */
export const LAB_FREEZER_CGROUPS = ['/sys/fs/cgroup/kdlab-frozen', '/sys/fs/cgroup/unified/kdlab-frozen', '/sys/fs/cgroup/freezer/kdlab-frozen']

/** Thaws a lab freezer cgroup an interrupted run left, moves what it holds to its hierarchy's root and removes it. */
export function thawLabCgroups(): void {
  for (const dir of LAB_FREEZER_CGROUPS.filter((d) => existsSync(d))) {
    if (existsSync(`${dir}/cgroup.freeze`)) writeFileSync(`${dir}/cgroup.freeze`, '0')
    if (existsSync(`${dir}/freezer.state`)) writeFileSync(`${dir}/freezer.state`, 'THAWED')
    const root = dir.replace(/\/kdlab-frozen$/, '')
    for (const pid of readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean)) {
      try {
        writeFileSync(`${root}/cgroup.procs`, pid)
      } catch {
        // Gone since: nothing to move.
      }
    }
    rmdirSync(dir)
  }
}

export async function cleanLab(): Promise<void> {
  thawLabCgroups()
  for (const name of await labGuests()) await removeGuest(name)
  await stopOvs()
  const nets = (await sh(['virsh', 'net-list', '--all', '--name'])).stdout.split('\n').map((n) => n.trim()).filter((n) => n.startsWith('kdlab-'))
  for (const net of nets) await removeNetwork(net)
  await stopInternet()
  for (const ns of (await sh(['ip', 'netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith('kdlab-'))) {
    await deleteNamespace(ns)
  }
  const links = JSON.parse((await sh(['ip', '-j', 'link', 'show'])).stdout) as {ifname: string}[]
  for (const l of links.filter((x) => x.ifname.startsWith('kdlab-'))) await sh(['ip', 'link', 'del', l.ifname], {reject: false})
  await releaseOrphanLeases()
}
