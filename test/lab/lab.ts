/**
 * Turns this machine into a libvirt lab host and injects real faults.
 * Everything it creates is named kdlab-*; reset undoes exactly what inject did.
 * Traffic only ever flows between the lab guests and this host's lab addresses.
 */
import {execa} from 'execa'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
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

export async function sh(argv: string[], options: {reject?: boolean; timeout?: number} = {}) {
  const r = await execa(argv[0], argv.slice(1), {reject: false, timeout: options.timeout ?? 60_000, stdin: 'ignore', env: {LC_ALL: 'C'}})
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
  /** dhcp | dhcp-or-apipa | static | apipa | none (see guest/init). */
  mode: string
  addr?: string
  /** libvirt network (default: the default network); or a host bridge with `bridge`. */
  network?: string
  bridge?: string
  /** Address the guest ARPs for when it has no gateway, so the host learns it. */
  probe?: string
}

export const consolePath = (name: string) => join(CACHE, `${name}.console`)

function domainXml(g: Guest): string {
  const cmdline = [`console=ttyS0`, 'quiet', `kd.mode=${g.mode}`, `kd.probe=${g.probe ?? GATEWAY}`, g.addr ? `kd.addr=${g.addr}` : ''].filter(Boolean).join(' ')
  const iface = g.bridge
    ? `<interface type='bridge'><source bridge='${g.bridge}'/>`
    : `<interface type='network'><source network='${g.network ?? NETWORK}'/>`
  return `<domain type='qemu'>
  <name>${g.name}</name>
  <memory unit='MiB'>96</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${CACHE}/vmlinuz</kernel><initrd>${CACHE}/initrd.gz</initrd>
    <cmdline>${cmdline}</cmdline>
  </os>
  <devices>
    ${iface}<mac address='${g.mac}'/><model type='virtio'/></interface>
    <serial type='file'><source path='${consolePath(g.name)}'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>`
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

export async function removeGuest(name: string): Promise<void> {
  await sh(['virsh', 'destroy', name], {reject: false})
  await sh(['virsh', 'undefine', name], {reject: false})
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
  // With STP on, a re-plugged port listens and learns (2 x forward_delay) before it forwards.
  await waitFor('bridge ports to forward', async () => {
    const ports = JSON.parse((await sh(['ip', '-j', '-d', 'link', 'show', 'master', BRIDGE])).stdout) as {linkinfo?: {info_slave_data?: {state?: string}}}[]
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
  const cli = [process.execPath, join(ROOT, 'bin/run.js'), 'diagnose', '--format', 'json', ...args]
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

/** Removes everything a previous (possibly interrupted) lab run left: kdlab-* guests, networks, namespaces, links. */
export async function cleanLab(): Promise<void> {
  for (const name of await labGuests()) await removeGuest(name)
  const nets = (await sh(['virsh', 'net-list', '--all', '--name'])).stdout.split('\n').map((n) => n.trim()).filter((n) => n.startsWith('kdlab-'))
  for (const net of nets) await removeNetwork(net)
  for (const ns of (await sh(['ip', 'netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith('kdlab-'))) {
    await sh(['ip', 'netns', 'del', ns], {reject: false})
  }
  const links = JSON.parse((await sh(['ip', '-j', 'link', 'show'])).stdout) as {ifname: string}[]
  for (const l of links.filter((x) => x.ifname.startsWith('kdlab-'))) await sh(['ip', 'link', 'del', l.ifname], {reject: false})
}
