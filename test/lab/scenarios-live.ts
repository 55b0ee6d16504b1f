/** How each scenario of test/scenarios.ts is produced on the real lab host, and undone. */
import {copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {execa} from 'execa'
import {expect} from 'vitest'
import {dropChainsAdded, readAlternatives, restoreAlternatives} from './host-state.js'
import {type TracedPacket, finalVerdict} from './kernel-trace.js'
import {bulkAfter, bulkSeq, bytesPerSecond} from './oracle.js'
import {GUEST_MARK, type InboundMeasure, type InboundRecord, PUBLISHED} from '../inbound-oracle.js'
import {
  BRIDGE,
  BULK,
  CACHE,
  GATEWAY,
  type Guest,
  INET,
  INET_DNS_HOST,
  LAB_FREEZER_CGROUPS,
  NETWORK,
  ROOT,
  WEB01,
  defineNetwork,
  deleteNamespace,
  guestAddresses,
  guestLine,
  leasedAddress,
  reattachTaps,
  removeGuest,
  removeNetwork,
  restartNetwork,
  sh,
  startGuest,
  restartOvsSwitch,
  serveBulk,
  startOvs,
  stopOvs,
  thawLabCgroups,
  uplinkDevices,
  waitFor,
  defaultNetworkLeases,
  waitPortsForwarding,
} from './lab.js'

export interface LiveScenario {
  inject(): Promise<void>
  reset(): Promise<void>
  /** Run kvmdoctor inside this network namespace. */
  netns?: string
  /**
   * What the kernel must have done with the guests' traced packets (every scenario's packets are traced
   * and compared with kvmdoctor's walks, fixtures/<name>/kernel-trace.txt): a check of the fault itself.
   */
  trace?: {check(packets: TracedPacket[]): void}
  /** Ends what the fault needs only while kvmdoctor looks (a flood of packets), before the guests measure under the kernel's trace. */
  afterDiagnose?(): Promise<void>
}

/**
 * A bridged guest on the lab LAN behind a Docker-style FORWARD DROP, with bridge-nf-call-iptables at `sysctl` and,
 * with `bridgeOption`, the lab bridge's own nf_call_iptables on; everything put back after.
 */
function bridgedForwardDrop(sysctl: '0' | '1', bridgeOption = false): LiveScenario {
  let was: string | undefined
  return {
    async inject() {
      await saveIptables()
      was = await setSysctl('net.bridge.bridge-nf-call-iptables', sysctl)
      await dockerStyleForwardDrop()
      await startLan()
      if (bridgeOption) await sh(['ip', 'link', 'set', LAB_BRIDGE, 'type', 'bridge', 'nf_call_iptables', '1'])
      const addrs = await startGuest(LAN01)
      if (!addrs.some((a) => a.startsWith('169.254.'))) throw new Error(`bridged guest reported ${addrs.join(' ')}, not 169.254/16`)
      await waitFor('the host to see the bridged APIPA guest', () => neighbourSeen('169.254.', LAB_BRIDGE), 30_000)
    },
    async reset() {
      await removeGuest(LAN01.name)
      await stopLan()
      await sh(['sysctl', '-qw', `net.bridge.bridge-nf-call-iptables=${was ?? '0'}`])
      await restoreIptables()
    },
  }
}

/**
 * An IPsec policy added (its selector and direction, then what it does) and deleted again; the host must hold none
 * before. `exempt`: a disable_policy / disable_xfrm sysctl set to 1 meanwhile, put back after.
 */
function xfrmPolicyScenario(selector: string[], action: string[], exempt?: string): LiveScenario {
  let was: string | undefined
  return {
    async inject() {
      if ((await sh(['ip', 'xfrm', 'policy', 'list'])).stdout.trim()) throw new Error('the host holds IPsec policies before the scenario')
      if (exempt) was = await setSysctl(exempt, '1')
      await sh(['ip', 'xfrm', 'policy', 'add', ...selector, ...action])
    },
    async reset() {
      await sh(['ip', 'xfrm', 'policy', 'delete', ...selector])
      if (exempt && was !== undefined) await sh(['sysctl', '-qw', `${exempt}=${was}`])
    },
  }
}

/**
 * A BPF object holding one XDP program, xdp_drop (r0 = XDP_DROP; exit), license GPL: the ELF written byte by byte, as
 * no compiler is at hand. iproute2 loads it with libbpf (`ip link set DEV xdpgeneric obj FILE sec xdp`).
 */
function writeXdpDropObject(path: string): void {
  const code = Buffer.from([0xb7, 0, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0])
  const names = ['', '.strtab', 'xdp', 'license', '.symtab', 'xdp_drop']
  const nameAt = new Map<string, number>()
  let strtab = Buffer.alloc(0)
  for (const n of names) {
    nameAt.set(n, strtab.length)
    strtab = Buffer.concat([strtab, Buffer.from(`${n}\0`)])
  }
  const symbol = (name: number, info: number, shndx: number, size: number) => {
    const b = Buffer.alloc(24)
    b.writeUInt32LE(name, 0)
    b.writeUInt8(info, 4)
    b.writeUInt16LE(shndx, 6)
    b.writeBigUInt64LE(BigInt(size), 16)
    return b
  }
  // The null symbol, then xdp_drop: GLOBAL (1) FUNC (2) in section 2.
  const symtab = Buffer.concat([symbol(0, 0, 0, 0), symbol(nameAt.get('xdp_drop')!, (1 << 4) | 2, 2, code.length)])
  // name, type (1 PROGBITS, 2 SYMTAB, 3 STRTAB), flags (2 ALLOC, 4 EXEC, 1 WRITE), content, align, link, info, entry size
  const sections: [string, number, number, Buffer, number, number, number, number][] = [
    ['.strtab', 3, 0, strtab, 1, 0, 0, 0],
    ['xdp', 1, 6, code, 8, 0, 0, 0],
    ['license', 1, 3, Buffer.from('GPL\0'), 1, 0, 0, 0],
    ['.symtab', 2, 0, symtab, 8, 1, 1, 24],
  ]
  const parts: Buffer[] = []
  const headers = [Buffer.alloc(64)]
  let pos = 64
  const pad = () => {
    const n = (8 - (pos % 8)) % 8
    parts.push(Buffer.alloc(n))
    pos += n
  }
  for (const [name, type, flags, content, align, link, info, entsize] of sections) {
    pad()
    const h = Buffer.alloc(64)
    h.writeUInt32LE(nameAt.get(name)!, 0)
    h.writeUInt32LE(type, 4)
    h.writeBigUInt64LE(BigInt(flags), 8)
    h.writeBigUInt64LE(BigInt(pos), 24)
    h.writeBigUInt64LE(BigInt(content.length), 32)
    h.writeUInt32LE(link, 40)
    h.writeUInt32LE(info, 44)
    h.writeBigUInt64LE(BigInt(align), 48)
    h.writeBigUInt64LE(BigInt(entsize), 56)
    headers.push(h)
    parts.push(content)
    pos += content.length
  }
  pad()
  // ELF64, little endian, version 1; relocatable (1), machine BPF (247); section headers at `pos`, .strtab names them.
  const ehdr = Buffer.alloc(64)
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(ehdr, 0)
  ehdr.writeUInt16LE(1, 16)
  ehdr.writeUInt16LE(247, 18)
  ehdr.writeUInt32LE(1, 20)
  ehdr.writeBigUInt64LE(BigInt(pos), 40)
  ehdr.writeUInt16LE(64, 52)
  ehdr.writeUInt16LE(64, 58)
  ehdr.writeUInt16LE(headers.length, 60)
  ehdr.writeUInt16LE(1, 62)
  writeFileSync(path, Buffer.concat([ehdr, ...parts, ...headers]))
}

/** An XDP program that drops every frame, attached in generic mode to a device, and taken off again. */
function xdpDropScenario(device: () => Promise<string>): LiveScenario {
  let dev = ''
  return {
    async inject() {
      const object = join(CACHE, 'kdlab-xdp-drop.o')
      writeXdpDropObject(object)
      dev = await device()
      await sh(['ip', 'link', 'set', 'dev', dev, 'xdpgeneric', 'obj', object, 'sec', 'xdp'])
    },
    async reset() {
      await sh(['ip', 'link', 'set', 'dev', dev, 'xdpgeneric', 'off'])
    },
  }
}

const WEB01_MAC = WEB01.mac
const APIPA01: Guest = {name: 'kdlab-apipa01', mac: '52:54:00:6b:64:02', mode: 'dhcp-or-apipa'}

async function libvirtDnsmasqPids(): Promise<string[]> {
  const ps = await sh(['ps', '-eo', 'pid=,args='])
  return ps.stdout.split('\n').filter((l) => l.includes(`--conf-file=/var/lib/libvirt/dnsmasq/${NETWORK}.conf`)).map((l) => l.trim().split(/\s+/)[0])
}

/** The lab's freezer cgroup, v2's (under the unified hierarchy where v1 runs beside it) or v1's freezer controller. */
function frozenCgroup(version: 'v2' | 'v1'): {dir: string; freeze: string; frozen: string; controller: RegExp} {
  if (version === 'v1') return {dir: LAB_FREEZER_CGROUPS[2], freeze: 'freezer.state', frozen: 'FROZEN', controller: /^\d+:(?:[^:]*,)?freezer(?:,[^:]*)?:(.*)$/}
  return {dir: LAB_FREEZER_CGROUPS[existsSync('/sys/fs/cgroup/cgroup.controllers') ? 0 : 1], freeze: 'cgroup.freeze', frozen: '1', controller: /^0::(.*)$/}
}

/**
 * libvirt's dnsmasq frozen by the cgroup freezer (as `systemctl freeze` of the daemon that started it does): moved into
 * a cgroup of the lab's and frozen there. ps shows it asleep (S under v2, D under v1), not stopped; the reset thaws it
 * and moves it back to the cgroup it came from.
 */
function dnsmasqFrozen(version: 'v2' | 'v1'): LiveScenario {
  const cg = frozenCgroup(version)
  let origin: {pid: string; cgroup: string}[] = []
  return {
    async inject() {
      const pids = await libvirtDnsmasqPids()
      if (pids.length === 0) throw new Error("libvirt's dnsmasq is not running before the scenario")
      origin = pids.map((pid) => ({pid, cgroup: readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').map((l) => cg.controller.exec(l)?.[1]).find((c) => c !== undefined) ?? '/'}))
      mkdirSync(cg.dir)
      for (const pid of pids) writeFileSync(`${cg.dir}/cgroup.procs`, pid)
      writeFileSync(`${cg.dir}/${cg.freeze}`, cg.frozen)
      await waitFor('dnsmasq frozen', async () => (version === 'v1' ? readFileSync(`${cg.dir}/freezer.state`, 'utf8').trim() === 'FROZEN' : /^frozen 1$/m.test(readFileSync(`${cg.dir}/cgroup.events`, 'utf8'))), 10_000)
      // Not stopped in ps's eyes: the fault is one ps does not show.
      const stat = (await sh(['ps', '-o', 'stat=', '-p', pids.join(',')])).stdout
      if (/^\s*[Tt]/m.test(stat)) throw new Error(`frozen dnsmasq shows as stopped in ps: ${stat}`)
    },
    async reset() {
      // Thawed where it is, then back in the cgroup it came from; what is left (nothing) goes with the lab's cgroup.
      if (existsSync(cg.dir)) writeFileSync(`${cg.dir}/${cg.freeze}`, version === 'v1' ? 'THAWED' : '0')
      const root = cg.dir.replace(/\/kdlab-frozen$/, '')
      for (const {pid, cgroup} of origin) {
        try {
          writeFileSync(`${root}${cgroup === '/' ? '' : cgroup}/cgroup.procs`, pid)
        } catch {
          // Gone since: nothing to move back.
        }
      }
      origin = []
      thawLabCgroups()
    },
  }
}

async function neighbourSeen(prefix: string, dev = BRIDGE): Promise<boolean> {
  const out = (await sh(['ip', '-j', 'neigh', 'show', 'dev', dev])).stdout
  return (JSON.parse(out) as {dst: string; lladdr?: string}[]).some((n) => n.dst.startsWith(prefix) && n.lladdr)
}

let saved: string[] = []

interface Uplink {
  addr: string
  gateway?: string
  metric?: number
}

/**
 * A namespace playing a host with its own uplinks, routes and sysctls, and the real host's
 * firewall copied in, so kvmdoctor run inside sees just those differences. The uplinks'
 * peers stay up on the host side (carrier) and lead nowhere: no traffic is sent.
 */
function namespaceHost(spec: {uplinks: Uplink[]; sysctls?: Record<string, string>}): LiveScenario {
  const links = spec.uplinks.map((_, i) => ({outside: `kdlab-nh${i}o`, inside: `kdlab-nh${i}`}))
  return {
    netns: NETNS,
    async inject() {
      await sh(['ip', 'netns', 'del', NETNS], {reject: false})
      await sh(['ip', 'netns', 'add', NETNS])
      await sh(['ip', '-n', NETNS, 'link', 'set', 'lo', 'up'])
      for (const [i, up] of spec.uplinks.entries()) {
        await sh(['ip', 'link', 'add', links[i].outside, 'type', 'veth', 'peer', 'name', links[i].inside, 'netns', NETNS])
        await sh(['ip', 'link', 'set', links[i].outside, 'up'])
        await sh(['ip', '-n', NETNS, 'addr', 'add', up.addr, 'dev', links[i].inside])
        await sh(['ip', '-n', NETNS, 'link', 'set', links[i].inside, 'up'])
      }
      for (const [i, up] of spec.uplinks.entries()) {
        // `append` keeps a second default route of the same metric (the fault default-route-multiple looks for).
        if (up.gateway) await sh(['ip', '-n', NETNS, 'route', 'append', 'default', 'via', up.gateway, 'dev', links[i].inside, 'metric', String(up.metric ?? 0)])
      }
      // The host's firewall and forwarding, so only what the scenario sets differs.
      const rules = join(CACHE, 'kdlab-nohost.iptables')
      writeFileSync(rules, (await sh(['iptables-save'])).stdout)
      await sh(['ip', 'netns', 'exec', NETNS, 'iptables-restore', rules])
      await sh(['ip', 'netns', 'exec', NETNS, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'])
      for (const [key, value] of Object.entries(spec.sysctls ?? {})) await sh(['ip', 'netns', 'exec', NETNS, 'sysctl', '-qw', `${key}=${value}`])
    },
    async reset() {
      await sh(['ip', 'netns', 'del', NETNS], {reject: false})
      for (const l of links) await sh(['ip', 'link', 'del', l.outside], {reject: false})
    },
  }
}
const NETNS = 'kdlab-nohost'
const LAN_NS = 'kdlab-lan'
/** The LAN's router, DHCP and bulk server (namespace kdlab-lan). */
const LAN_ROUTER = '10.77.0.1'
const LAB_BRIDGE = 'kdlab-br0'
const IPTABLES_SAVED = join(CACHE, 'kdlab-iptables.saved')
/** The pid file of the DNS server nat-dnat-dns-upstream runs in the lab internet's namespace. */
const INET_DNS_PID = join(CACHE, 'kdlab-inet-dns.pid')

/** Snapshot of the whole IPv4 firewall, restored exactly by the reset. */
async function saveIptables(): Promise<void> {
  writeFileSync(IPTABLES_SAVED, (await sh(['iptables-save'])).stdout)
  writeFileSync(`${IPTABLES_SAVED}.nft.json`, (await sh(['nft', '-j', 'list', 'ruleset'])).stdout)
}
async function restoreIptables(): Promise<void> {
  const saved = readFileSync(IPTABLES_SAVED, 'utf8')
  await sh(['iptables-restore', IPTABLES_SAVED])
  // iptables-restore registers every built-in chain its file lists (iptables-save lists them, registered or not):
  // those nf_tables did not have before are deleted again.
  await dropChainsAdded(readFileSync(`${IPTABLES_SAVED}.nft.json`, 'utf8'), new Set([...saved.matchAll(/^\*(\S+)/gm)].map((m) => `ip ${m[1]}`)))
}

async function flushLibvirtChains(): Promise<void> {
  for (const table of ['filter', 'nat', 'mangle']) {
    const chains = (await sh(['iptables', '-t', table, '-S'])).stdout.split('\n').filter((l) => l.startsWith('-N LIBVIRT_')).map((l) => l.slice(3).trim())
    for (const chain of chains) await sh(['iptables', '-t', table, '-F', chain])
  }
}

/** Docker's way: FORWARD policy DROP, a DOCKER-USER chain jumped to first. */
async function dockerStyleForwardDrop(): Promise<void> {
  await sh(['iptables', '-N', 'DOCKER-USER'])
  await sh(['iptables', '-A', 'DOCKER-USER', '-j', 'RETURN'])
  await sh(['iptables', '-I', 'FORWARD', '1', '-j', 'DOCKER-USER'])
  await sh(['iptables', '-P', 'FORWARD', 'DROP'])
}

async function setSysctl(key: string, value: string): Promise<string> {
  const before = (await sh(['sysctl', '-n', key])).stdout.trim()
  await sh(['sysctl', '-qw', `${key}=${value}`])
  return before
}

/**
 * A LAN in a namespace (router + ISC dhcpd, the seed article's DHCP server) joined to a host
 * bridge by veth. dhcpd writes the host's standard lease file, so kvmdoctor reads real
 * dhcpd.leases; the lab creates that file only when it does not exist, and removes it.
 */
const DHCPD_LEASES = '/var/lib/dhcp/dhcpd.leases'
const DHCPD_PID = join(CACHE, 'kdlab-lan-dhcpd.pid')
// The LAN's dhcpd uses the standard config path, as the article's host does; the original is put back.
const DHCPD_CONF = '/etc/dhcp/dhcpd.conf'
const DHCPD_CONF_SAVED = join(CACHE, 'dhcpd.conf.before-lab')

/**
 * The LAN's switch is a Linux bridge (kdlab-br0), or with `ovs` an Open vSwitch bridge (kdlab-ovs0, the lab's OVS
 * started for it, userspace datapath) whose port to the LAN is an access port in VLAN `ovs.vlan`: the host's address
 * on the LAN is then on the bridge's internal port.
 */
async function startLan(switchKind: {ovs?: {vlan: number}; bulk?: boolean} = {}): Promise<void> {
  await stopLan()
  if (existsSync(DHCPD_LEASES)) throw new Error(`${DHCPD_LEASES} exists: the lab will not touch a lease file it did not create`)
  const bridge = switchKind.ovs ? OVS_BRIDGE : LAB_BRIDGE
  if (switchKind.ovs) {
    await startOvs()
    // The host's own port (the bridge's internal one) in the LAN's VLAN too: the host's address is on the LAN.
    await ovsVsctl('add-br', OVS_BRIDGE, '--', 'set', 'bridge', OVS_BRIDGE, 'datapath_type=netdev', '--', 'set', 'port', OVS_BRIDGE, `tag=${switchKind.ovs.vlan}`)
  } else await sh(['ip', 'link', 'add', LAB_BRIDGE, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0'])
  await lanAddress(bridge)
  await sh(['ip', 'netns', 'add', LAN_NS])
  await sh(['ip', 'link', 'add', 'kdlab-lanp', 'type', 'veth', 'peer', 'name', 'kdlab-lan0', 'netns', LAN_NS])
  if (switchKind.ovs) {
    // The LAN's side computes its checksums (see domainXml: the userspace datapath forwards partial ones as they are).
    await sh(['ip', 'netns', 'exec', LAN_NS, 'ethtool', '-K', 'kdlab-lan0', 'tx', 'off'])
    await ovsVsctl('add-port', OVS_BRIDGE, 'kdlab-lanp', `tag=${switchKind.ovs.vlan}`)
    await sh(['ip', 'link', 'set', 'kdlab-lanp', 'up'])
  } else await sh(['ip', 'link', 'set', 'kdlab-lanp', 'master', LAB_BRIDGE, 'up'])
  await sh(['ip', '-n', LAN_NS, 'addr', 'add', `${LAN_ROUTER}/24`, 'dev', 'kdlab-lan0'])
  await sh(['ip', '-n', LAN_NS, 'link', 'set', 'kdlab-lan0', 'up'])
  if (switchKind.bulk) await serveBulk(LAN_NS, LAN_ROUTER)
  const conf = DHCPD_CONF
  if (existsSync(DHCPD_CONF) && !existsSync(DHCPD_CONF_SAVED)) copyFileSync(DHCPD_CONF, DHCPD_CONF_SAVED)
  writeFileSync(conf, 'authoritative;\ndefault-lease-time 3600;\nmax-lease-time 7200;\nsubnet 10.77.0.0 netmask 255.255.255.0 {\n  range 10.77.0.100 10.77.0.150;\n  option routers 10.77.0.1;\n}\n')
  writeFileSync(DHCPD_LEASES, '')
  await sh(['ip', 'netns', 'exec', LAN_NS, 'dhcpd', '-4', '-q', '-cf', conf, '-lf', DHCPD_LEASES, '-pf', DHCPD_PID, 'kdlab-lan0'])
}

/** The host's address on the LAN, on its bridge (again after an OVS restart recreated the internal port). */
async function lanAddress(bridge: string): Promise<void> {
  await sh(['ip', 'addr', 'replace', '10.77.0.2/24', 'dev', bridge])
  await sh(['ip', 'link', 'set', bridge, 'up'])
}

async function stopLan(): Promise<void> {
  if (existsSync(DHCPD_PID)) {
    await sh(['pkill', '-F', DHCPD_PID], {reject: false})
    rmSync(DHCPD_PID, {force: true})
  }
  if (existsSync(DHCPD_CONF_SAVED)) {
    // Only after the lab started a LAN: its config and lease file go, the original config comes back.
    renameSync(DHCPD_CONF_SAVED, DHCPD_CONF)
    rmSync(DHCPD_LEASES, {force: true})
    rmSync(`${DHCPD_LEASES}~`, {force: true})
  }
  // With whatever the LAN runs (the bulk file's server).
  await deleteNamespace(LAN_NS)
  // The OVS bridge (and the lab's OVS) first: its port kdlab-lanp is then an ordinary link.
  await stopOvs()
  await sh(['ip', 'link', 'del', 'kdlab-lanp'], {reject: false})
  await sh(['ip', 'link', 'del', LAB_BRIDGE], {reject: false})
}

const OVS_BRIDGE = 'kdlab-ovs0'
const ovsVsctl = async (...args: string[]) => sh(['ovs-vsctl', '--timeout=10', ...args])

async function tapOf(guest: string): Promise<string> {
  const xml = (await sh(['virsh', 'dumpxml', guest])).stdout
  const tap = /<target dev='([^']+)'/.exec(xml)?.[1]
  if (!tap) throw new Error(`${guest} has no tap`)
  return tap
}

const LAN01: Guest = {name: 'kdlab-lan01', mac: '52:54:00:6b:64:10', mode: 'dhcp-or-apipa', bridge: LAB_BRIDGE, probe: '10.77.0.2'}
const LAN05: Guest = {name: 'kdlab-lan05', mac: '52:54:00:6b:64:14', mode: 'dhcp', bridge: LAB_BRIDGE, probe: '10.77.0.2'}
// ACPI on: the fix detaches its interface (PCI hot-unplug), which the guest's kernel must answer.
const DUP01: Guest = {name: 'kdlab-dup01', mac: WEB01_MAC, mode: 'dhcp', acpi: true}
const TINY = 'kdlab-tiny'
const TINY_GUESTS: Guest[] = [1, 2, 3].map((n) => ({name: `kdlab-tiny0${n}`, mac: `52:54:00:6b:64:2${n}`, mode: 'dhcp-or-apipa', network: TINY, probe: '192.168.150.1'}))
const PINNED = 'kdlab-pinned'
/** Networks the lab defines answer the lab internet's name themselves and never forward a plain name upstream. */
const LAB_NET_DNS = `<dns forwardPlainNames='no'>${INET_DNS_HOST}</dns>`

// ---------- datapath faults that are not the catalogue's literal shapes: each reset undoes exactly what its inject did ----------

/** Runs an nft script from a string. */
async function nftApply(script: string): Promise<void> {
  const file = join(CACHE, 'kdlab-scenario.nft')
  writeFileSync(file, script)
  await sh(['nft', '-f', file])
}

async function nftTableExists(family: string, name: string): Promise<boolean> {
  return (await sh(['nft', 'list', 'table', family, name], {reject: false})).exitCode === 0
}

/** One iptables rule added by the inject and deleted, by the same spec, by the reset. */
function iptablesRule(table: string, chain: string, spec: string[], position = 1): LiveScenario {
  return {
    async inject() {
      await sh(['iptables', '-t', table, '-I', chain, String(position), ...spec])
    },
    async reset() {
      // Gone already when the fix proof's fix deleted it.
      await sh(['iptables', '-t', table, '-D', chain, ...spec], {reject: false})
    },
  }
}

/** A native nftables table of the lab's, created whole by the inject and deleted whole by the reset. */
function nftTable(family: string, name: string, body: string): LiveScenario {
  return {
    async inject() {
      if (await nftTableExists(family, name)) throw new Error(`table ${family} ${name} exists before the scenario`)
      await nftApply(`table ${family} ${name} {\n${body}\n}\n`)
    },
    async reset() {
      await sh(['nft', 'delete', 'table', family, name])
    },
  }
}

/** Rules added to the existing iptables tables (iptables-restore --noflush); the reset restores the saved tables. */
async function iptablesAdd(rules: string): Promise<void> {
  const file = join(CACHE, 'kdlab-scenario.rules')
  writeFileSync(file, rules)
  await sh(['iptables-restore', '--noflush', file])
}

/** Docker's own ruleset as dockerd writes it for docker0 (172.17.0.0/16), its FORWARD chains inserted ahead of libvirt's. */
function dockerRuleset(userRules: string[]): string {
  return `*nat
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A DOCKER -i docker0 -j RETURN
COMMIT
*filter
:FORWARD DROP [0:0]
:DOCKER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-ISOLATION-STAGE-2 - [0:0]
:DOCKER-USER - [0:0]
-I FORWARD 1 -j DOCKER-USER
-I FORWARD 2 -j DOCKER-ISOLATION-STAGE-1
-I FORWARD 3 -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-I FORWARD 4 -o docker0 -j DOCKER
-I FORWARD 5 -i docker0 ! -o docker0 -j ACCEPT
-I FORWARD 6 -i docker0 -o docker0 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
-A DOCKER-ISOLATION-STAGE-2 -j RETURN
${[...userRules, '-A DOCKER-USER -j RETURN'].join('\n')}
COMMIT
`
}

/**
 * ufw's ruleset (its before.rules/after.rules chains, default deny incoming and routed) with
 * `ufw allow in on UPLINK` so this shared host stays reachable. `first`: ufw's jumps go ahead of
 * libvirt's in INPUT and FORWARD; otherwise after them.
 */
function ufwRuleset(uplink: string, first: boolean): string {
  const jumps = (chain: string, targets: string[]) => targets.map((t, i) => (first ? `-I ${chain} ${i + 1} -j ${t}` : `-A ${chain} -j ${t}`))
  const chains = ['before-logging-input', 'before-input', 'after-input', 'after-logging-input', 'reject-input', 'track-input', 'before-logging-forward', 'before-forward', 'after-forward', 'after-logging-forward', 'reject-forward', 'track-forward', 'user-input', 'user-forward', 'skip-to-policy-input', 'skip-to-policy-forward', 'logging-deny']
  return `*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
${chains.map((c) => `:ufw-${c} - [0:0]`).join('\n')}
${jumps('INPUT', ['ufw-before-logging-input', 'ufw-before-input', 'ufw-after-input', 'ufw-after-logging-input', 'ufw-reject-input', 'ufw-track-input']).join('\n')}
${jumps('FORWARD', ['ufw-before-logging-forward', 'ufw-before-forward', 'ufw-after-forward', 'ufw-after-logging-forward', 'ufw-reject-forward', 'ufw-track-forward']).join('\n')}
-A ufw-before-input -i lo -j ACCEPT
-A ufw-before-input -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A ufw-before-input -m conntrack --ctstate INVALID -j ufw-logging-deny
-A ufw-before-input -m conntrack --ctstate INVALID -j DROP
-A ufw-before-input -p icmp -m icmp --icmp-type 3 -j ACCEPT
-A ufw-before-input -p icmp -m icmp --icmp-type 11 -j ACCEPT
-A ufw-before-input -p icmp -m icmp --icmp-type 12 -j ACCEPT
-A ufw-before-input -p icmp -m icmp --icmp-type 8 -j ACCEPT
-A ufw-before-input -p udp -m udp --sport 67 --dport 68 -j ACCEPT
-A ufw-before-input -j ufw-user-input
-A ufw-before-input -d 224.0.0.251/32 -p udp -m udp --dport 5353 -j ACCEPT
-A ufw-user-input -i ${uplink} -j ACCEPT
-A ufw-user-input -p tcp -m tcp --dport 22 -j ACCEPT
-A ufw-after-input -p udp -m udp --dport 137 -j ufw-skip-to-policy-input
-A ufw-after-input -p udp -m udp --dport 138 -j ufw-skip-to-policy-input
-A ufw-after-input -p tcp -m tcp --dport 139 -j ufw-skip-to-policy-input
-A ufw-after-input -p tcp -m tcp --dport 445 -j ufw-skip-to-policy-input
-A ufw-after-input -p udp -m udp --dport 67 -j ufw-skip-to-policy-input
-A ufw-after-input -p udp -m udp --dport 68 -j ufw-skip-to-policy-input
-A ufw-after-input -m addrtype --dst-type BROADCAST -j ufw-skip-to-policy-input
-A ufw-before-forward -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A ufw-before-forward -p icmp -m icmp --icmp-type 3 -j ACCEPT
-A ufw-before-forward -p icmp -m icmp --icmp-type 11 -j ACCEPT
-A ufw-before-forward -p icmp -m icmp --icmp-type 12 -j ACCEPT
-A ufw-before-forward -p icmp -m icmp --icmp-type 8 -j ACCEPT
-A ufw-before-forward -j ufw-user-forward
-A ufw-skip-to-policy-input -j DROP
-A ufw-skip-to-policy-forward -j DROP
COMMIT
`
}

/**
 * firewalld's nftables table (firewalld 1.x layout, trimmed to IPv4 and the zones used):
 * filter_INPUT and filter_FORWARD at priority filter + 10, after iptables' chains; zone
 * dispatch by input interface. The uplink is in the trusted zone so this shared host stays
 * reachable; `virbr0InLibvirtZone` false leaves virbr0 to the default zone, public.
 */
function firewalldRuleset(uplink: string, virbr0InLibvirtZone: boolean): string {
  return `table inet firewalld {
  chain filter_INPUT {
    type filter hook input priority filter + 10; policy accept;
    ct state { established, related } accept
    ct status dnat accept
    iifname "lo" accept
    ct state invalid drop
    jump filter_INPUT_ZONES
    reject with icmpx admin-prohibited
  }
  chain filter_FORWARD {
    type filter hook forward priority filter + 10; policy accept;
    ct state { established, related } accept
    ct status dnat accept
    iifname "lo" accept
    ct state invalid drop
    jump filter_FORWARD_ZONES
    reject with icmpx admin-prohibited
  }
  chain filter_INPUT_ZONES {
${virbr0InLibvirtZone ? '    iifname "virbr0" goto filter_IN_libvirt\n' : ''}    iifname "${uplink}" goto filter_IN_trusted
    goto filter_IN_public
  }
  chain filter_FORWARD_ZONES {
${virbr0InLibvirtZone ? '    iifname "virbr0" goto filter_FWD_libvirt\n' : ''}    iifname "${uplink}" goto filter_FWD_trusted
    goto filter_FWD_public
  }
  chain filter_IN_trusted {
    accept
  }
  chain filter_FWD_trusted {
    accept
  }
  chain filter_IN_public {
    jump filter_IN_public_allow
    meta l4proto { icmp, ipv6-icmp } accept
  }
  chain filter_IN_public_allow {
    tcp dport 22 ct state { new, untracked } accept
  }
  chain filter_FWD_public {
    jump filter_FWD_public_allow
  }
  chain filter_FWD_public_allow {
  }
  chain filter_IN_libvirt {
    jump filter_IN_libvirt_allow
    meta l4proto { icmp, ipv6-icmp } accept
    accept
  }
  chain filter_IN_libvirt_allow {
    udp dport 67 ct state { new, untracked } accept
    udp dport 53 ct state { new, untracked } accept
    tcp dport 53 ct state { new, untracked } accept
    tcp dport 22 ct state { new, untracked } accept
  }
  chain filter_FWD_libvirt {
    jump filter_FWD_libvirt_allow
    accept
  }
  chain filter_FWD_libvirt_allow {
  }
}
`
}

/**
 * libvirt's nftables backend, as libvirt >= 10 writes it (the table of libvirt's own
 * tests/networkxml2firewalldata/base.nftables, listed in test/data/netfilter/libvirt-nftables.*):
 * Debian's libvirt here uses its iptables backend, so its LIBVIRT_* chains are emptied and the
 * network's rules loaded in nft's shape instead.
 */
const LIBVIRT_NFT_RULESET = `table ip libvirt_network {
  chain forward { type filter hook forward priority filter; policy accept; jump guest_cross; jump guest_input; jump guest_output; }
  chain guest_output { ip saddr 192.168.122.0/24 iif "virbr0" accept; iif "virbr0" reject; }
  chain guest_input { oif "virbr0" ip daddr 192.168.122.0/24 ct state established,related accept; oif "virbr0" reject; }
  chain guest_cross { iif "virbr0" oif "virbr0" accept; }
  chain guest_nat {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr 192.168.122.0/24 ip daddr 224.0.0.0/24 return
    ip saddr 192.168.122.0/24 ip daddr 255.255.255.255 return
    meta l4proto tcp ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 masquerade to :1024-65535
    meta l4proto udp ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 masquerade to :1024-65535
    ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 masquerade
  }
  chain postroute_mangle { type filter hook postrouting priority filter; policy accept; }
}
`

function firewalldStyle(virbr0InLibvirtZone: boolean): LiveScenario {
  return {
    async inject() {
      if (await nftTableExists('inet', 'firewalld')) throw new Error('this host runs firewalld: the lab will not replace its table')
      await nftApply(firewalldRuleset((await uplinkDevices())[0], virbr0InLibvirtZone))
    },
    async reset() {
      await sh(['nft', 'delete', 'table', 'inet', 'firewalld'])
    },
    trace: {check: virbr0InLibvirtZone ? allAccepted : (traces) => droppedIn(traces, 'inet firewalld filter_INPUT', 'inet firewalld filter_FORWARD')},
  }
}

const traceLine = (t: TracedPacket) => t.events.filter((e) => e.kind !== 'packet').map((e) => `${e.family} ${e.table} ${e.chain} ${e.kind} ${e.verdict ?? ''}`).join(' | ')

/** Kernel oracle check: no traced packet was dropped. */
function allAccepted(traces: TracedPacket[]): void {
  expect(traces.length, 'no packet traced').toBeGreaterThan(0)
  const dropped = traces.filter((t) => finalVerdict(t)?.verdict === 'drop')
  expect(dropped.map(traceLine), 'traced packets dropped').toEqual([])
}

/** Kernel oracle check: packets were dropped, each in one of these chains ('family table chain'). */
function droppedIn(traces: TracedPacket[], ...chains: string[]): void {
  const drops = traces.map((t) => finalVerdict(t)).filter((e) => e?.verdict === 'drop')
  expect(drops.length, `no traced packet dropped (${traces.length} traces)`).toBeGreaterThan(0)
  for (const d of drops) expect(chains, `dropped in ${d!.family} ${d!.table} ${d!.chain}`).toContain(`${d!.family} ${d!.table} ${d!.chain}`)
}

const IPTABLES_RULES = {
  dhcpDrop: ['-i', BRIDGE, '-p', 'udp', '--dport', '67', '-j', 'DROP'],
  rejectSubnet: ['-s', '192.168.122.0/24', '-j', 'REJECT'],
  natReturn: ['-s', '192.168.122.0/24', '-j', 'RETURN'],
  ipsetDrop: ['-m', 'set', '--match-set', 'kdlab-block', 'dst', '-j', 'DROP'],
  randomMark: ['-i', BRIDGE, '-m', 'statistic', '--mode', 'random', '--probability', '0.5', '-j', 'MARK', '--set-xmark', '0x1/0x1'],
  markDrop: ['-m', 'mark', '--mark', '0x1/0x1', '-j', 'DROP'],
}
const POLICY_RULE = ['priority', '100', 'iif', BRIDGE, 'from', '192.168.122.0/24', 'lookup', '100']
const RP = {host: 'kdlab-rp0', ns: 'kdlab-rp1', hostAddr: '10.253.0.1', nsAddr: '10.253.0.2'}

const DATAPATH: Record<string, LiveScenario> = {
  'dhcp-input-drop': iptablesRule('filter', 'INPUT', IPTABLES_RULES.dhcpDrop),
  'nft-input-dns-drop': nftTable(
    'inet',
    'kdlab_dns',
    `  chain input {
    type filter hook input priority -10; policy accept;
    iifname "${BRIDGE}" meta l4proto { udp, tcp } th dport 53 drop
  }`,
  ),
  'nft-forward-daddr-drop': nftTable(
    'inet',
    'kdlab_fwd',
    `  chain forward {
    type filter hook forward priority -5; policy accept;
    iifname "${BRIDGE}" ip daddr 203.0.113.0/24 drop
  }`,
  ),
  'nft-mark-map-drop': nftTable(
    'inet',
    'kdlab_mark',
    `  chain prerouting {
    type filter hook prerouting priority -150; policy accept;
    meta mark set ip saddr map { 192.168.122.0/24 : 0x1 }
  }
  chain forward {
    type filter hook forward priority -5; policy accept;
    meta mark 0x1 drop
  }`,
  ),
  'forward-reject-subnet': iptablesRule('filter', 'FORWARD', IPTABLES_RULES.rejectSubnet),
  'docker-user-drop': {
    async inject() {
      await saveIptables()
      await iptablesAdd(dockerRuleset([`-A DOCKER-USER -i ${BRIDGE} -j DROP`]))
    },
    reset: restoreIptables,
    trace: {check: (traces) => droppedIn(traces, 'ip filter DOCKER-USER')},
  },
  'nat-return-before-libvirt': iptablesRule('nat', 'POSTROUTING', IPTABLES_RULES.natReturn),
  'policy-route-unreachable': {
    async inject() {
      if ((await sh(['ip', 'rule', 'show', 'priority', '100'])).stdout.trim()) throw new Error('an ip rule of priority 100 exists before the scenario')
      // (A table that was never used does not exist: `ip route show` fails on it.)
      if ((await sh(['ip', 'route', 'show', 'table', '100'], {reject: false})).stdout.trim()) throw new Error('routing table 100 is not empty before the scenario')
      await sh(['ip', 'route', 'add', 'unreachable', 'default', 'table', '100'])
      await sh(['ip', 'rule', 'add', ...POLICY_RULE])
    },
    async reset() {
      await sh(['ip', 'rule', 'del', ...POLICY_RULE])
      await sh(['ip', 'route', 'del', 'unreachable', 'default', 'table', '100'])
    },
  },
  'ipset-forward-drop': {
    async inject() {
      await sh(['ipset', 'create', 'kdlab-block', 'hash:net'])
      await sh(['ipset', 'add', 'kdlab-block', '203.0.113.0/24'])
      await sh(['iptables', '-I', 'FORWARD', '1', ...IPTABLES_RULES.ipsetDrop])
    },
    async reset() {
      await sh(['iptables', '-D', 'FORWARD', ...IPTABLES_RULES.ipsetDrop])
      await sh(['ipset', 'destroy', 'kdlab-block'])
    },
  },
  'mark-random-drop': {
    async inject() {
      await intoPrerouting('mangle', IPTABLES_RULES.randomMark)
      await sh(['iptables', '-I', 'FORWARD', '1', ...IPTABLES_RULES.markDrop])
    },
    async reset() {
      await sh(['iptables', '-D', 'FORWARD', ...IPTABLES_RULES.markDrop])
      await outOfPrerouting('mangle', IPTABLES_RULES.randomMark)
    },
  },
  'bridge-forwarding-off': {
    async inject() {
      saved = [await setSysctl(`net.ipv4.conf.${BRIDGE}.forwarding`, '0')]
    },
    async reset() {
      await sh(['sysctl', '-qw', `net.ipv4.conf.${BRIDGE}.forwarding=${saved[0]}`])
    },
  },
  'tap-admin-down': {
    async inject() {
      await sh(['ip', 'link', 'set', await tapOf(WEB01.name), 'down'])
    },
    async reset() {
      await sh(['ip', 'link', 'set', await tapOf(WEB01.name), 'up'])
      await waitPortsForwarding()
    },
  },
  'domif-link-down': {
    async inject() {
      await sh(['virsh', 'domif-setlink', WEB01.name, await tapOf(WEB01.name), 'down'])
    },
    async reset() {
      await sh(['virsh', 'domif-setlink', WEB01.name, await tapOf(WEB01.name), 'up'])
      await waitPortsForwarding()
    },
  },
  'internet-route-missing': {
    async inject() {
      await sh(['ip', 'route', 'del', INET.route, 'via', INET.nsAddr, 'dev', INET.hostDev])
    },
    async reset() {
      await sh(['ip', 'route', 'add', INET.route, 'via', INET.nsAddr, 'dev', INET.hostDev])
    },
  },
  'rp-filter-asymmetric': {
    async inject() {
      // A second link to the lab internet; its way back to the host's address takes that link.
      await sh(['ip', 'link', 'add', RP.host, 'type', 'veth', 'peer', 'name', RP.ns, 'netns', INET.netns])
      await sh(['ip', 'addr', 'add', `${RP.hostAddr}/30`, 'dev', RP.host])
      await sh(['ip', 'link', 'set', RP.host, 'up'])
      await sh(['ip', '-n', INET.netns, 'addr', 'add', `${RP.nsAddr}/30`, 'dev', RP.ns])
      await sh(['ip', '-n', INET.netns, 'link', 'set', RP.ns, 'up'])
      await sh(['ip', '-n', INET.netns, 'route', 'add', `${INET.hostAddr}/32`, 'via', RP.hostAddr, 'dev', RP.ns])
      saved = [await setSysctl('net.ipv4.conf.all.rp_filter', '1')]
    },
    async reset() {
      await sh(['sysctl', '-qw', `net.ipv4.conf.all.rp_filter=${saved[0]}`])
      // Deleting the pair removes its namespace end and the route through it.
      await sh(['ip', 'link', 'del', RP.host])
    },
  },
  'docker-style-healthy': {
    async inject() {
      await saveIptables()
      await iptablesAdd(dockerRuleset([]))
    },
    reset: restoreIptables,
    trace: {check: allAccepted},
  },
  'ufw-style-healthy': {
    async inject() {
      await saveIptables()
      await iptablesAdd(ufwRuleset((await uplinkDevices())[0], false))
    },
    reset: restoreIptables,
    trace: {check: allAccepted},
  },
  'ufw-style-dhcp-drop': {
    async inject() {
      await saveIptables()
      await iptablesAdd(ufwRuleset((await uplinkDevices())[0], true))
    },
    reset: restoreIptables,
    trace: {check: (traces) => droppedIn(traces, 'ip filter ufw-skip-to-policy-input')},
  },
  'libvirt-nftables-backend': {
    async inject() {
      if (await nftTableExists('ip', 'libvirt_network')) throw new Error('this host has a table ip libvirt_network already')
      await saveIptables()
      await flushLibvirtChains()
      await nftApply(LIBVIRT_NFT_RULESET)
    },
    async reset() {
      await sh(['nft', 'delete', 'table', 'ip', 'libvirt_network'])
      await restoreIptables()
    },
    trace: {check: allAccepted},
  },
  'firewalld-style-healthy': firewalldStyle(true),
  'firewalld-style-public-zone': firewalldStyle(false),
}

// ---- Issue 13, second catalogue (section E) ------------------------------------------------

/** The host's own iptables set as a firewall keeps it (rules.v4, firewalld's direct rules): without libvirt's chains and jumps. */
function withoutLibvirt(save: string): string {
  return save
    .split('\n')
    .filter((l) => !/^:LIBVIRT_/.test(l) && !/^-A LIBVIRT_/.test(l) && !/ -j LIBVIRT_\S+\s*$/.test(l))
    .join('\n')
}

const V6 = {address: '2001:db8:ca2:2::1', prefix: 64}
const IP6_FORWARD_DROP = ['-i', BRIDGE, '-j', 'DROP']
const RA = {netns: 'kdlab-ra', host: 'kdlab-ra0', ns: 'kdlab-ra1', prefix: '2001:db8:ca2:aa::', nsAddr: '2001:db8:ca2:aa::1/64', pid: join(CACHE, 'kdlab-ra-dnsmasq.pid')}
const V6_NETWORK = 'kdlab-v6'
let savedNetworkXml = ''
let savedForwarding6: Record<string, string> = {}

/** IPv6 forwarding of conf/all and of every device (writing conf/all sets every device: each is put back after it). */
function readForwarding6(): Record<string, string> {
  return Object.fromEntries(readdirSync('/proc/sys/net/ipv6/conf').map((d) => [d, readFileSync(`/proc/sys/net/ipv6/conf/${d}/forwarding`, 'utf8').trim()]))
}
async function restoreForwarding6(saved: Record<string, string>): Promise<void> {
  if (saved.all !== undefined) await sh(['sysctl', '-qw', `net.ipv6.conf.all.forwarding=${saved.all}`])
  const now = readForwarding6()
  for (const [dev, value] of Object.entries(saved)) if (dev !== 'all' && dev in now && now[dev] !== value) writeFileSync(`/proc/sys/net/ipv6/conf/${dev}/forwarding`, value)
}

/** The default network's config with one element more, applied by a network restart (guests re-plugged). */
async function redefineDefault(xml: string): Promise<void> {
  const file = join(CACHE, `${NETWORK}.scenario.net.xml`)
  writeFileSync(file, xml)
  await sh(['virsh', 'net-define', file])
  await restartNetwork()
}

const CATALOGUE_E: Record<string, LiveScenario> = {
  'firewall-reload-after-libvirtd': {
    async inject() {
      await saveIptables()
      const own = join(CACHE, 'kdlab-own.rules')
      writeFileSync(own, withoutLibvirt((await sh(['iptables-save'])).stdout))
      // Without --noflush: every table in the file is flushed and its other chains deleted, libvirt's among them.
      await sh(['iptables-restore', own])
      const left = (await sh(['iptables-save'])).stdout
      if (/LIBVIRT_/.test(left)) throw new Error('libvirt chains survived the restore')
    },
    reset: restoreIptables,
  },
  'ipv6-forward-drop': {
    async inject() {
      savedForwarding6 = readForwarding6()
      savedNetworkXml = (await sh(['virsh', 'net-dumpxml', '--inactive', NETWORK])).stdout
      if (savedNetworkXml.includes("family='ipv6'")) throw new Error('the default network has IPv6 before the scenario')
      await redefineDefault(savedNetworkXml.replace('</network>', `  <ip family='ipv6' address='${V6.address}' prefix='${V6.prefix}'/>\n</network>`))
      await sh(['ip6tables', '-I', 'FORWARD', '1', ...IP6_FORWARD_DROP])
      // The restarted network's dnsmasq must be serving again before the host is read.
      await waitFor("the default network's dnsmasq listening", async () => /%virbr0:67 .*dnsmasq/.test((await sh(['ss', '-H', '-lunp'])).stdout), 30_000)
    },
    async reset() {
      await sh(['ip6tables', '-D', 'FORWARD', ...IP6_FORWARD_DROP], {reject: false})
      await redefineDefault(savedNetworkXml)
      // libvirt turned IPv6 forwarding on and leaves it on.
      await restoreForwarding6(savedForwarding6)
    },
  },
  'ra-routes-accept-ra': {
    async inject() {
      // A host that forwards IPv6 ignores router advertisements (accept_ra=1): a libvirt network with IPv6 turns
      // forwarding on and leaves it on (another workload of this host may have). Off for the scenario, put back after.
      savedForwarding6 = readForwarding6()
      if (savedForwarding6.all !== '0') await sh(['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=0'])
      await sh(['ip', 'netns', 'add', RA.netns])
      await sh(['ip', 'link', 'add', RA.host, 'type', 'veth', 'peer', 'name', RA.ns, 'netns', RA.netns])
      await sh(['sysctl', '-qw', `net.ipv6.conf.${RA.host}.accept_ra=1`])
      // Its RA default route gets a metric no real default route of the host loses to: it routes nothing.
      await sh(['sysctl', '-qw', `net.ipv6.conf.${RA.host}.ra_defrtr_metric=4000`])
      await sh(['ip', '-n', RA.netns, 'link', 'set', 'lo', 'up'])
      await sh(['ip', '-n', RA.netns, 'addr', 'add', RA.nsAddr, 'dev', RA.ns, 'nodad'])
      await sh(['ip', '-n', RA.netns, 'link', 'set', RA.ns, 'up'])
      // A low-preference router: the kernel installs its default route with proto ra (prefix routes are proto kernel),
      // at metric 4000 behind the host's own IPv6 default route.
      await sh(['ip', 'netns', 'exec', RA.netns, 'dnsmasq', '--conf-file=/dev/null', `--pid-file=${RA.pid}`, `--interface=${RA.ns}`, '--bind-interfaces', '--port=0', '--no-resolv', '--leasefile-ro', '--enable-ra', `--dhcp-range=${RA.prefix},ra-only,64`, `--ra-param=${RA.ns},low,4,1800`])
      await sh(['ip', 'link', 'set', RA.host, 'up'])
      await waitFor('an RA-learned route on kdlab-ra0', async () => (await sh(['ip', '-6', 'route', 'show', 'proto', 'ra', 'dev', RA.host])).stdout.trim() !== '', 60_000)
      await defineNetworkOnly(V6_NETWORK, `<network><name>${V6_NETWORK}</name><forward mode='nat'/><bridge name='kdlab-v6br' stp='on' delay='0'/><ip address='192.168.150.1' netmask='255.255.255.0'/><ip family='ipv6' address='2001:db8:ca2:6::1' prefix='64'/></network>`)
      // Not started: libvirt 9.0 here starts it without its accept_ra check refusing, and IPv6 forwarding then purges the
      // RA default route at once (the loss libvirt's check warns of). Defined and about to be started is the state to catch.
    },
    async reset() {
      await removeNetwork(V6_NETWORK)
      if (existsSync(RA.pid)) {
        await sh(['kill', readFileSync(RA.pid, 'utf8').trim()], {reject: false})
        rmSync(RA.pid, {force: true})
      }
      await sh(['ip', 'link', 'del', RA.host], {reject: false})
      await sh(['ip', 'netns', 'del', RA.netns], {reject: false})
      await restoreForwarding6(savedForwarding6)
    },
  },
}

// ---------- other shapes of host: what iptables-nft cannot read back, and iptables-legacy as libvirt's backend ----------

/**
 * A native nft rule put into a chain iptables-nft owns (as an admin's `nft insert rule ip filter ...` does);
 * `saveShows` is what iptables-nft 1.8.9's iptables-save must then print for that table (checked, so the
 * scenario shows what it claims). The reset deletes the rule by its handle.
 */
function nativeRuleInIptablesTable(spec: {table: string; chain: string; rule: string; saveShows: RegExp}): LiveScenario {
  let handle: string | undefined
  return {
    async inject() {
      handle = undefined
      // --echo --handle: nft prints the rule it added with its handle.
      const added = await sh(['nft', '--echo', '--handle', 'insert', 'rule', 'ip', spec.table, spec.chain, ...spec.rule.split(' ')])
      handle = /# handle (\d+)/.exec(added.stdout)?.[1]
      if (!handle) throw new Error(`nft printed no handle for the rule it added: ${added.stdout}`)
      const save = (await sh(['iptables-save', '-t', spec.table])).stdout
      if (!spec.saveShows.test(save)) throw new Error(`iptables-save -t ${spec.table} does not show ${spec.saveShows}:\n${save}`)
    },
    async reset() {
      if (handle) await sh(['nft', 'delete', 'rule', 'ip', spec.table, spec.chain, 'handle', handle])
      handle = undefined
    },
  }
}

const LEGACY = {iptables: '/usr/sbin/iptables-legacy', ip6tables: '/usr/sbin/ip6tables-legacy'} as const
/** What the reset of a legacy-shape scenario needs: the alternatives and both families' iptables-nft tables as they were. */
const LEGACY_SAVED = {alternatives: join(CACHE, 'kdlab-legacy.alternatives.json'), nft4: join(CACHE, 'kdlab-legacy.iptables-nft.rules'), nft6: join(CACHE, 'kdlab-legacy.ip6tables-nft.rules'), legacy4: join(CACHE, 'kdlab-legacy.iptables-legacy.rules'), legacy6: join(CACHE, 'kdlab-legacy.ip6tables-legacy.rules'), nftJson: join(CACHE, 'kdlab-legacy.nft.json')}

/** Stops libvirtd (by its pid), starts it again and waits for it: on start it sets up its chains and re-adds every active network's rules, through whatever `iptables` is now. */
async function restartLibvirtd(): Promise<void> {
  const pids = (await sh(['pgrep', '-x', 'libvirtd'], {reject: false})).stdout.split('\n').map((p) => p.trim()).filter(Boolean)
  if (pids.length > 0) {
    await sh(['kill', ...pids])
    await waitFor('libvirtd to exit', async () => (await sh(['pgrep', '-x', 'libvirtd'], {reject: false})).exitCode !== 0, 30_000)
  }
  await sh(['libvirtd', '-d'])
  await waitFor('libvirtd', async () => (await sh(['virsh', 'version'], {reject: false})).exitCode === 0, 30_000)
}

/** Empties the tables of one iptables backend of everything `keep` does not list: `keep` is a saved listing of them. */
async function restoreIptablesBackend(bin: string, keep: string): Promise<void> {
  const save = (await sh([`${bin}-save`])).stdout
  // Tables the saved listing does not name are flushed by hand (legacy tables cannot be removed once used).
  const kept = new Set([...keep.matchAll(/^\*(\S+)/gm)].map((m) => m[1]))
  for (const table of [...save.matchAll(/^\*(\S+)/gm)].map((m) => m[1]).filter((t) => !kept.has(t))) {
    await sh([bin, '-t', table, '-F'])
    await sh([bin, '-t', table, '-X'])
    for (const chain of [...save.split(`*${table}`)[1].split('COMMIT')[0].matchAll(/^:(\S+) (ACCEPT|DROP)/gm)].map((m) => m[1])) await sh([bin, '-t', table, '-P', chain, 'ACCEPT'])
  }
  const file = join(CACHE, `kdlab-${bin}.restore`)
  writeFileSync(file, keep)
  await sh([`${bin}-restore`, file])
}

/**
 * The host as a Debian admin makes it with `update-alternatives --set iptables /usr/sbin/iptables-legacy`
 * (and ip6tables), libvirtd restarted: libvirt 9 runs the `iptables` binary, so its chains and rules are
 * re-added in the legacy (x_tables) tables. Its iptables-nft rules are taken away first, as a host that has
 * always been legacy never had them. `fault` then changes the legacy rules. The reset puts back exactly the
 * alternatives, both backends' tables and a libvirtd started under the original backend; the lab's host
 * state (host-state.ts) covers the alternatives too, should a run die in between.
 */
function onLegacyBackend(fault?: {inject(): Promise<void>}): LiveScenario {
  return {
    async inject() {
      // Files an interrupted run left are no baseline (the saved host state restores that run): the reset must not find them.
      for (const f of Object.values(LEGACY_SAVED)) rmSync(f, {force: true})
      const before = await readAlternatives()
      if (!before.iptables || !before.ip6tables) throw new Error('no iptables/ip6tables alternatives on this host')
      if (before.iptables.endsWith('legacy') || before.ip6tables.endsWith('legacy')) throw new Error(`iptables is legacy before the scenario (${before.iptables})`)
      writeFileSync(LEGACY_SAVED.alternatives, JSON.stringify(before))
      writeFileSync(LEGACY_SAVED.nft4, (await sh(['iptables-nft-save'])).stdout)
      writeFileSync(LEGACY_SAVED.nft6, (await sh(['ip6tables-nft-save'])).stdout)
      writeFileSync(LEGACY_SAVED.legacy4, (await sh(['iptables-legacy-save'])).stdout)
      writeFileSync(LEGACY_SAVED.legacy6, (await sh(['ip6tables-legacy-save'])).stdout)
      writeFileSync(LEGACY_SAVED.nftJson, (await sh(['nft', '-j', 'list', 'ruleset'])).stdout)
      for (const [name, path] of Object.entries(LEGACY)) await sh(['update-alternatives', '--quiet', '--set', name, path])
      // libvirt's iptables-nft chains go (the host's own rules stay); tables left without a rule go with them.
      for (const [bin, family, saved] of [['iptables-nft', 'ip', LEGACY_SAVED.nft4], ['ip6tables-nft', 'ip6', LEGACY_SAVED.nft6]] as const) {
        const own = withoutLibvirt(readFileSync(saved, 'utf8'))
        const file = join(CACHE, `kdlab-${bin}.own`)
        writeFileSync(file, own)
        await sh([`${bin}-restore`, file])
        const left = (await sh([`${bin}-save`])).stdout
        for (const table of [...left.matchAll(/^\*(\S+)/gm)].map((m) => m[1])) {
          const body = left.split(`*${table}`)[1].split('COMMIT')[0]
          if (!/^-A /m.test(body) && !/^:\S+ DROP/m.test(body)) await sh(['nft', 'delete', 'table', family, table])
        }
      }
      await restartLibvirtd()
      await waitFor("libvirt's rules in the legacy tables", async () => /-A LIBVIRT_PRT .*MASQUERADE/.test((await sh(['iptables-legacy-save', '-t', 'nat'])).stdout), 30_000)
      if (/LIBVIRT_/.test((await sh(['iptables-nft-save'])).stdout)) throw new Error('libvirt wrote iptables-nft rules on the legacy shape')
      await fault?.inject()
    },
    async reset() {
      // Nothing was switched (the inject stopped before): nothing to put back.
      if (!existsSync(LEGACY_SAVED.alternatives)) return
      // The alternatives first: libvirtd, restarted below, must find iptables-nft again.
      const before = JSON.parse(readFileSync(LEGACY_SAVED.alternatives, 'utf8')) as Record<string, string>
      await restoreAlternatives(before)
      await restoreIptablesBackend('iptables-legacy', readFileSync(LEGACY_SAVED.legacy4, 'utf8'))
      await restoreIptablesBackend('ip6tables-legacy', readFileSync(LEGACY_SAVED.legacy6, 'utf8'))
      await sh(['iptables-nft-restore', LEGACY_SAVED.nft4])
      await sh(['ip6tables-nft-restore', LEGACY_SAVED.nft6])
      const tables = [...readFileSync(LEGACY_SAVED.nft4, 'utf8').matchAll(/^\*(\S+)/gm)].map((m) => `ip ${m[1]}`)
      tables.push(...[...readFileSync(LEGACY_SAVED.nft6, 'utf8').matchAll(/^\*(\S+)/gm)].map((m) => `ip6 ${m[1]}`))
      await dropChainsAdded(readFileSync(LEGACY_SAVED.nftJson, 'utf8'), new Set(tables))
      // A libvirtd whose chain setup (done once per daemon) happened under legacy would not redo it for iptables-nft.
      await restartLibvirtd()
      for (const f of Object.values(LEGACY_SAVED)) rmSync(f, {force: true})
    },
  }
}

const SHAPES: Record<string, LiveScenario> = {
  'iptables-nft-incompatible': {
    ...nativeRuleInIptablesTable({table: 'filter', chain: 'FORWARD', rule: 'ct state invalid counter drop', saveShows: /^# Table `filter' is incompatible, use 'nft' tool\.$/m}),
    trace: {check: allAccepted},
  },
  'iptables-nft-set-lookup': {
    ...nativeRuleInIptablesTable({table: 'filter', chain: 'FORWARD', rule: 'ip daddr { 192.0.2.1, 192.0.2.2 } counter drop', saveShows: /^-A FORWARD -j DROP$/m}),
    trace: {check: allAccepted},
  },
  'legacy-backend-healthy': onLegacyBackend(),
  'legacy-backend-masquerade-removed': onLegacyBackend({
    async inject() {
      const rules = (await sh(['iptables-legacy', '-t', 'nat', '-S', 'LIBVIRT_PRT'])).stdout.split('\n').filter((l) => l.startsWith('-A ') && l.includes('MASQUERADE'))
      if (rules.length === 0) throw new Error('no MASQUERADE rule in the legacy LIBVIRT_PRT')
      for (const rule of rules) await sh(['iptables-legacy', '-t', 'nat', '-D', ...rule.slice(3).split(' ')])
    },
  }),
}

// ---------- the wire as witness (issue 12): guests whose behaviour only the wire shows ----------
const ROGUE_NS = 'kdlab-rogue'
const ROGUE_DIR = '/run/kdlab-rogue'
const CLONE_ID = 'ff00000001000100012a2b2c2d5254006b6499'

/** The rogue server's segment and pool: virbr0 with its own subnet by default. */
interface RogueSpec {
  bridge: string
  /** Its address, with prefix. */
  addr: string
  start: string
  end: string
  router: string
}
/** Private 172.31.99.0/24: this machine's uplink, the lab internet and the registries hold the three documentation ranges. */
const ROGUE_ON_VIRBR0: RogueSpec = {bridge: BRIDGE, addr: '172.31.99.1/24', start: '172.31.99.100', end: '172.31.99.110', router: '172.31.99.1'}

/** A second DHCP server on a lab bridge: busybox udhcpd in a namespace, its own pid and lease file. */
async function startRogueDhcp(spec: RogueSpec = ROGUE_ON_VIRBR0): Promise<void> {
  await stopRogueDhcp()
  await sh(['mkdir', '-p', ROGUE_DIR])
  writeFileSync(join(ROGUE_DIR, 'udhcpd.conf'), `start ${spec.start}\nend ${spec.end}\ninterface kdlab-rg1\nlease_file ${ROGUE_DIR}/udhcpd.leases\npidfile ${ROGUE_DIR}/udhcpd.pid\nopt router ${spec.router}\nopt subnet 255.255.255.0\n`)
  writeFileSync(join(ROGUE_DIR, 'udhcpd.leases'), '')
  await sh(['ip', 'netns', 'add', ROGUE_NS])
  await sh(['ip', 'link', 'add', 'kdlab-rg0', 'type', 'veth', 'peer', 'name', 'kdlab-rg1', 'netns', ROGUE_NS])
  await sh(['ip', '-n', ROGUE_NS, 'link', 'set', 'kdlab-rg1', 'address', '52:54:00:6b:64:66'])
  await sh(['ip', '-n', ROGUE_NS, 'addr', 'add', spec.addr, 'dev', 'kdlab-rg1'])
  await sh(['ip', '-n', ROGUE_NS, 'link', 'set', 'kdlab-rg1', 'up'])
  await sh(['ip', 'link', 'set', 'kdlab-rg0', 'master', spec.bridge, 'up'])
  await waitPortsForwarding(spec.bridge)
  // udhcpd daemonizes; deleteNamespace ends it by its pid.
  await sh(['ip', 'netns', 'exec', ROGUE_NS, 'busybox', 'udhcpd', '-S', join(ROGUE_DIR, 'udhcpd.conf')])
}

async function stopRogueDhcp(): Promise<void> {
  await deleteNamespace(ROGUE_NS)
  await sh(['ip', 'link', 'del', 'kdlab-rg0'], {reject: false})
  rmSync(ROGUE_DIR, {recursive: true, force: true})
}

const QUIET01: Guest = {name: 'kdlab-quiet01', mac: '52:54:00:6b:64:51', mode: 'down'}
const ZEROCONF01: Guest = {name: 'kdlab-zeroconf01', mac: '52:54:00:6b:64:52', mode: 'apipa', probe: ''}
const FOREIGN01: Guest = {name: 'kdlab-foreign01', mac: '52:54:00:6b:64:53', mode: 'static', addr: '172.31.99.50/24'}
const CLONES: Guest[] = [1, 2].map((n) => ({name: `kdlab-clone0${n}`, mac: `52:54:00:6b:64:6${n}`, mode: 'dhcp', clientId: CLONE_ID}))
const NOREPLY01: Guest = {name: 'kdlab-noreply01', mac: '52:54:00:6b:64:54', mode: 'dhcp'}
const V6ONLY01: Guest = {name: 'kdlab-v6only01', mac: '52:54:00:6b:64:55', mode: 'ipv6-only'}
const LAN04: Guest = {name: 'kdlab-lan04', mac: '52:54:00:6b:64:13', mode: 'dhcp', bridge: LAB_BRIDGE, probe: '10.77.0.2'}

/** One guest started for the scenario and removed by its reset. */
function withGuest(g: Guest, check?: (addrs: string[]) => void): LiveScenario {
  return {
    async inject() {
      const addrs = await startGuest(g)
      check?.(addrs)
    },
    async reset() {
      await removeGuest(g.name)
    },
  }
}

// What guests ask for that nobody answers (issue 27): guests misconfigured inside, each with its own account on its console.
/** Static addresses of the default network's range: taken by a lease, they would be a conflict, not the scenario's fault. */
async function unleased(...ips: string[]): Promise<void> {
  const leases = (await sh(['virsh', 'net-dhcp-leases', NETWORK])).stdout
  const taken = ips.filter((ip) => new RegExp(`\\s${ip.replaceAll('.', '\\.')}/`).test(leases))
  if (taken.length > 0) throw new Error(`${taken.join(', ')} leased already: the static guests need them free`)
}
const WRONGGW01: Guest = {name: 'kdlab-wronggw01', mac: '52:54:00:6b:64:71', mode: 'static', addr: '192.168.122.241/24', gw: '192.168.122.254', dns: GATEWAY, arpWho: true}
const NETMASK01: Guest = {name: 'kdlab-netmask01', mac: '52:54:00:6b:64:72', mode: 'static', addr: '192.168.122.242/16', gw: GATEWAY, peer: '192.168.7.7'}
const WRONGDNS01: Guest = {name: 'kdlab-wrongdns01', mac: '52:54:00:6b:64:73', mode: 'static', addr: '192.168.122.244/24', gw: GATEWAY, dns: INET.server}
const MOVED01: Guest = {name: 'kdlab-moved01', mac: '52:54:00:6b:64:74', mode: 'dhcp-moved', lease: '10.88.0.50'}
/** Two guests given one static IPv6 address (a copied configuration): the second's duplicate address detection meets the first's advertisement. */
const DAD_ADDRESS = '2001:db8:ca2:7::10/64'
const DADS: Guest[] = [1, 2].map((n) => ({name: `kdlab-dad0${n}`, mac: `52:54:00:6b:64:8${n}`, mode: 'dhcp', addr6: DAD_ADDRESS}))

/** Guests started in order for the scenario (each once the one before reported its addresses), removed by its reset. */
function withGuests(guests: Guest[], check?: () => Promise<void>): LiveScenario {
  return {
    async inject() {
      for (const g of guests) if (g.mode === 'static' && g.addr) await unleased(g.addr.split('/')[0])
      for (const g of guests) await startGuest(g)
      await check?.()
    },
    async reset() {
      for (const g of guests) await removeGuest(g.name)
    },
  }
}

const WIRE_REQUESTS: Record<string, LiveScenario> = {
  'wire-gateway-unanswered': withGuests([WRONGGW01]),
  'wire-netmask-wrong': withGuests([NETMASK01]),
  'wire-dns-unanswered': withGuests([WRONGDNS01]),
  'wire-ipv6-dad-failed': withGuests(DADS, async () => {
    const [holder, copy] = DADS
    // The first holds the address; the second, booted after it, fails its detection (and retries every round).
    const failed = await waitFor('dad02 to fail duplicate address detection', async () => {
      const line = guestLine(copy.name, 'KD-DADFAILED')
      return line && line !== 'none' ? line : undefined
    }, 60_000)
    if (!failed.includes(DAD_ADDRESS)) throw new Error(`dad02's failed addresses are "${failed}", not ${DAD_ADDRESS}`)
    if (guestLine(holder.name, 'KD-DADFAILED') !== 'none') throw new Error(`dad01, the holder, failed its detection too: ${guestLine(holder.name, 'KD-DADFAILED')}`)
  }),
  'wire-dhcp-request-foreign': withGuests([MOVED01], async () => {
    const said = await waitFor('moved01 to ask for its old lease', async () => guestLine(MOVED01.name, 'KD-DHCP-REBOOT'), 60_000)
    if (!said.startsWith('10.88.0.50 nak ')) throw new Error(`moved01's INIT-REBOOT was answered "${said}", not NAKed`)
  }),
}

/** The default network's leases of one MAC. */
const leasesOfMac = (mac: string) => defaultNetworkLeases().filter((l) => l['mac-address'] === mac).flatMap((l) => l['ip-address'] ?? [])

/**
 * Leaves `mac` holding exactly one lease, on `own`, while a reservation still pins it there. A guest whose DHCP
 * answer came from a rogue made dnsmasq drop its lease; with the reservation gone and no lease, dnsmasq finds the
 * requested address in use (the guest itself answers its ping) and leases the guest's next DHCP round another
 * address it never applies: a second address for the guest in every later scenario. So: wait for the guest's own
 * rounds to take `own` again, then release every other lease it holds, and only then may the reservation go.
 */
async function settleLease(mac: string, own: string): Promise<void> {
  await waitFor(`a lease of ${own} for ${mac} again`, async () => leasesOfMac(mac).includes(own), 90_000, 1000)
  const others = leasesOfMac(mac).filter((ip) => ip !== own)
  if (others.length > 0) console.log(`${mac}: leases ${others.join(' ')} released, ${own} kept`)
  for (const ip of others) {
    await sh(['dhcp_release', BRIDGE, ip, mac], {reject: false})
    // dnsmasq wrote the guest's MAC for that address into the host's neighbour table to unicast its answer; with
    // few neighbours the kernel never collects a stale entry, which would name the address for the guest still.
    await sh(['ip', 'neigh', 'del', ip, 'dev', BRIDGE], {reject: false})
  }
  await waitFor(`${mac}'s other leases released`, async () => {
    const leases = leasesOfMac(mac)
    return leases.length === 1 && leases[0] === own
  }, 30_000, 1000)
}

const WIRE: Record<string, LiveScenario> = {
  ...WIRE_REQUESTS,
  'wire-silent': withGuest(QUIET01, (addrs) => {
    if (addrs.length > 0) throw new Error(`the silent guest reported ${addrs.join(' ')}`)
  }),
  'wire-apipa-only': withGuest(ZEROCONF01, (addrs) => {
    if (!addrs.some((a) => a.startsWith('169.254.'))) throw new Error(`zeroconf guest reported ${addrs.join(' ')}, not 169.254/16`)
  }),
  'wire-foreign-address': withGuest(FOREIGN01),
  'wire-rogue-dhcp': {
    async inject() {
      // web01's oracle takes whichever OFFER comes first; when it is the rogue's, dnsmasq drops web01's
      // lease and (its address in use) would lease it another one it never applies. A reservation
      // keeps dnsmasq offering web01 the address it uses.
      const own = guestAddresses(WEB01.name)?.find((a) => a.startsWith('192.168.122.'))?.split('/')[0]
      if (!own) throw new Error('web01 reports no address on the default network')
      saved = [own]
      await sh(['virsh', 'net-update', NETWORK, 'add', 'ip-dhcp-host', `<host mac='${WEB01.mac}' ip='${own}'/>`, '--live'])
      await startRogueDhcp()
    },
    async reset() {
      await stopRogueDhcp()
      if (saved[0]) {
        await settleLease(WEB01.mac, saved[0])
        await sh(['virsh', 'net-update', NETWORK, 'delete', 'ip-dhcp-host', `<host mac='${WEB01.mac}' ip='${saved[0]}'/>`, '--live'], {reject: false})
      }
    },
  },
  'wire-client-id-duplicate': {
    async inject() {
      // One after the other: the second asks with the id the first already holds a lease for.
      for (const g of CLONES) await startGuest(g)
    },
    async reset() {
      for (const g of CLONES) await removeGuest(g.name)
    },
  },
  'wire-dhcp-unanswered': {
    async inject() {
      const pids = await libvirtDnsmasqPids()
      if (pids.length === 0) throw new Error("libvirt's dnsmasq is not running before the scenario")
      await sh(['kill', ...pids])
      await waitFor('dnsmasq to exit', async () => (await libvirtDnsmasqPids()).length === 0, 10_000)
      const addrs = await startGuest(NOREPLY01)
      if (addrs.length > 0) throw new Error(`the guest without a DHCP answer reported ${addrs.join(' ')}`)
    },
    async reset() {
      await removeGuest(NOREPLY01.name)
      await restartNetwork()
    },
  },
  'wire-no-address': withGuest(V6ONLY01, (addrs) => {
    if (addrs.length > 0) throw new Error(`the IPv6-only guest reported IPv4 ${addrs.join(' ')}`)
  }),
  'wire-bridged-rogue-dhcp': {
    async inject() {
      saved = [await setSysctl('net.bridge.bridge-nf-call-iptables', '0')]
      await startLan()
      // The guest takes its lease from the LAN's dhcpd first; then a second server (a forgotten router's,
      // same subnet, another pool) comes up on the LAN. Its OFFERs to the guest's later DHCP exchanges
      // (kd-reach's, never applied) are heard; the address the guest uses stays the dhcpd's.
      const addrs = await startGuest(LAN04)
      if (!addrs.some((a) => a.startsWith('10.77.0.'))) throw new Error(`bridged guest got ${addrs.join(' ') || 'no address'} instead of a LAN lease`)
      await startRogueDhcp({bridge: LAB_BRIDGE, addr: '10.77.0.250/24', start: '10.77.0.200', end: '10.77.0.210', router: '10.77.0.250'})
    },
    async reset() {
      await stopRogueDhcp()
      await removeGuest(LAN04.name)
      await stopLan()
      await sh(['sysctl', '-qw', `net.bridge.bridge-nf-call-iptables=${saved[0] ?? '1'}`])
    },
  },
}

/** net-define without net-start (defineNetwork starts it). */
async function defineNetworkOnly(name: string, xml: string): Promise<void> {
  await removeNetwork(name)
  const file = join(CACHE, `${name}.net.xml`)
  writeFileSync(file, xml)
  await sh(['virsh', 'net-define', file])
}

// ---------- the round trip (issue 22): each fault sits where only a reply, a tc or netdev hook, or an address decides ----------
const NOADDR = 'kdlab-noaddr'
const NOADDR_NET = `<network><name>${NOADDR}</name><forward mode='nat'/><bridge name='${NOADDR}' stp='on' delay='0'/>${LAB_NET_DNS}
  <ip address='192.168.151.1' netmask='255.255.255.0'/></network>`
const NOADDR01: Guest = {name: 'kdlab-noaddr01', mac: '52:54:00:6b:64:61', mode: 'dhcp', network: NOADDR, probe: '192.168.151.1'}
const STATIC151: Guest = {name: 'kdlab-static151', mac: '52:54:00:6b:64:62', mode: 'static', network: NOADDR, addr: '192.168.151.50/24', gw: '192.168.151.1', probe: '192.168.151.1'}
const REPLY_RULE = ['priority', '103', 'iif', INET.hostDev, 'to', '192.168.122.0/24', 'lookup', '103']
const MARK_RULE = ['priority', '104', 'fwmark', '0x66', 'lookup', '104']
const SYNACK_DROP = ['-o', BRIDGE, '-p', 'tcp', '--tcp-flags', 'SYN,ACK', 'SYN,ACK', '-j', 'DROP']
const NOTRACK_GUESTS = ['-s', '192.168.122.0/24', '-j', 'NOTRACK']
const MARK_REPLIES = ['-i', INET.hostDev, '-j', 'MARK', '--set-mark', '0x66']
const ZONE_GUESTS = ['-i', BRIDGE, '-j', 'CT', '--zone', '1']
const SNAT_NOT_LOCAL = ['-s', '192.168.122.0/24', '!', '-d', '192.168.122.0/24', '-j', 'SNAT', '--to-source', '198.51.100.77']
const TC_SINK = {host: 'kdlab-tcsink0', peer: 'kdlab-tcsink1'}

/** A guest on the network without DHCP, both removed by the reset. */
function onNoAddressNetwork(g: Guest, check: (addrs: string[]) => void): LiveScenario {
  return {
    async inject() {
      await defineNetwork(NOADDR, NOADDR_NET)
      // Autostart, so nothing but the missing addresses is wrong with it.
      await sh(['virsh', 'net-autostart', NOADDR])
      check(await startGuest(g))
    },
    async reset() {
      await removeGuest(g.name)
      await removeNetwork(NOADDR)
    },
  }
}

const ROUND_TRIP: Record<string, LiveScenario> = {
  'reply-uplink-forwarding-off': {
    async inject() {
      saved = [await setSysctl(`net.ipv4.conf.${INET.hostDev}.forwarding`, '0')]
    },
    async reset() {
      await sh(['sysctl', '-qw', `net.ipv4.conf.${INET.hostDev}.forwarding=${saved[0]}`])
    },
  },
  'reply-mark-divert': {
    async inject() {
      if ((await sh(['ip', 'rule', 'show', 'priority', '104'])).stdout.trim()) throw new Error('an ip rule of priority 104 exists before the scenario')
      await sh(['ip', 'route', 'add', 'blackhole', 'default', 'table', '104'])
      await sh(['ip', 'rule', 'add', ...MARK_RULE])
      await intoPrerouting('mangle', MARK_REPLIES)
    },
    async reset() {
      await outOfPrerouting('mangle', MARK_REPLIES)
      await sh(['ip', 'rule', 'del', ...MARK_RULE])
      await sh(['ip', 'route', 'del', 'blackhole', 'default', 'table', '104'])
    },
  },
  'reply-policy-blackhole': {
    async inject() {
      if ((await sh(['ip', 'rule', 'show', 'priority', '103'])).stdout.trim()) throw new Error('an ip rule of priority 103 exists before the scenario')
      await sh(['ip', 'route', 'add', 'blackhole', '192.168.122.0/24', 'table', '103'])
      await sh(['ip', 'rule', 'add', ...REPLY_RULE])
    },
    async reset() {
      await sh(['ip', 'rule', 'del', ...REPLY_RULE])
      await sh(['ip', 'route', 'del', 'blackhole', '192.168.122.0/24', 'table', '103'])
    },
  },
  'xfrm-forward-block': xfrmPolicyScenario(['src', '192.168.122.0/24', 'dst', '0.0.0.0/0', 'dir', 'fwd'], ['action', 'block']),
  'xfrm-forward-block-bridge-exempt': xfrmPolicyScenario(['src', '192.168.122.0/24', 'dst', '0.0.0.0/0', 'dir', 'fwd'], ['action', 'block'], `net.ipv4.conf.${BRIDGE}.disable_policy`),
  'xfrm-output-dns-block': xfrmPolicyScenario(['src', '192.168.122.1/32', 'dst', '192.168.122.0/24', 'proto', 'udp', 'sport', '53', 'dir', 'out'], ['action', 'block']),
  'xdp-tap-drop': xdpDropScenario(() => tapOf(WEB01.name)),
  'xdp-uplink-drop': xdpDropScenario(async () => INET.hostDev),
  'tc-tap-tbf-burst': {
    async inject() {
      await sh(['tc', 'qdisc', 'add', 'dev', await tapOf(WEB01.name), 'root', 'tbf', 'rate', '10mbit', 'burst', '1000', 'latency', '50ms'])
    },
    async reset() {
      // (The fix proof's fix deletes it first: the default qdisc that is left cannot be deleted.)
      await sh(['tc', 'qdisc', 'del', 'dev', await tapOf(WEB01.name), 'root'], {reject: false})
    },
  },
  // An admin's redirect of the guests' DNS to a local resolver on 5353 that does not run: the queries are delivered to
  // the host, to a port nothing holds. nat PREROUTING may be a chain iptables-nft registers only now: saved and restored.
  'nat-redirect-dns-unlistened': {
    async inject() {
      await saveIptables()
      await sh(['iptables', '-t', 'nat', '-I', 'PREROUTING', '-i', BRIDGE, '-p', 'udp', '--dport', '53', '-j', 'REDIRECT', '--to-ports', '5353'])
    },
    reset: restoreIptables,
  },
  // An admin's DNAT of the guests' DNS to a resolver beyond the host (a filtering one), which answers: a namespace dnsmasq
  // on the lab internet's address answers its name. The queries are forwarded and masqueraded like any other traffic.
  'nat-dnat-dns-upstream': {
    async inject() {
      await saveIptables()
      await sh(['ip', 'netns', 'exec', INET.netns, 'dnsmasq', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--bind-interfaces', `--listen-address=${INET.server}`, `--address=/${INET.name}/${INET.server}`, `--pid-file=${INET_DNS_PID}`, '--user=root', '--group=root'])
      await waitFor('the lab internet to answer DNS', async () => (await sh(['ip', 'netns', 'exec', INET.netns, 'ss', '-Hlun', 'sport', '=', ':53'])).stdout.includes(INET.server), 10_000)
      await sh(['iptables', '-t', 'nat', '-I', 'PREROUTING', '-i', BRIDGE, '-p', 'udp', '--dport', '53', '-j', 'DNAT', '--to-destination', INET.server])
    },
    async reset() {
      await restoreIptables()
      if (existsSync(INET_DNS_PID)) {
        await sh(['kill', readFileSync(INET_DNS_PID, 'utf8').trim()], {reject: false})
        rmSync(INET_DNS_PID, {force: true})
      }
    },
  },
  'output-dhcp-reply-drop': {
    async inject() {
      await sh(['iptables', '-I', 'OUTPUT', '-o', BRIDGE, '-p', 'udp', '--sport', '67', '-j', 'DROP'])
    },
    async reset() {
      await sh(['iptables', '-D', 'OUTPUT', '-o', BRIDGE, '-p', 'udp', '--sport', '67', '-j', 'DROP'], {reject: false})
    },
  },
  'tc-bridge-bfifo-small': {
    async inject() {
      await sh(['tc', 'qdisc', 'add', 'dev', BRIDGE, 'root', 'bfifo', 'limit', '1000'])
    },
    async reset() {
      await sh(['tc', 'qdisc', 'del', 'dev', BRIDGE, 'root'], {reject: false})
    },
  },
  'policy-rule-empty-table': {
    async inject() {
      await sh(['ip', 'rule', 'add', 'from', '192.168.122.0/24', 'lookup', '200', 'priority', '150'])
    },
    async reset() {
      await sh(['ip', 'rule', 'del', 'from', '192.168.122.0/24', 'lookup', '200', 'priority', '150'])
    },
  },
  'forward-invalid-drop': {
    async inject() {
      await sh(['iptables', '-I', 'FORWARD', '-m', 'conntrack', '--ctstate', 'INVALID', '-j', 'DROP'])
    },
    async reset() {
      await sh(['iptables', '-D', 'FORWARD', '-m', 'conntrack', '--ctstate', 'INVALID', '-j', 'DROP'])
    },
  },
  'gateway-address-removed': {
    // With the address goes the connected route: the guests' packets to 192.168.122.1 (their ARP cache still
    // names the bridge) and the NATed replies to them would take the default route out of the real uplink. The
    // fallback below (as the lab internet's, unreachable at metric 4000) keeps them on this host; an unreachable
    // route is no unicast route of another device, so no overlap, and the guests measure the same failures.
    async inject() {
      await sh(['ip', 'route', 'add', 'unreachable', '192.168.122.0/24', 'metric', '4000'])
      await sh(['ip', 'addr', 'del', '192.168.122.1/24', 'dev', BRIDGE])
    },
    async reset() {
      // Back already when the fix proof's fix put it back.
      await sh(['ip', 'addr', 'add', '192.168.122.1/24', 'broadcast', '192.168.122.255', 'dev', BRIDGE], {reject: false})
      await sh(['ip', 'route', 'del', 'unreachable', '192.168.122.0/24', 'metric', '4000'])
    },
  },
  'reply-route-carved': {
    async inject() {
      const leased = await leasedAddress(WEB01.mac)
      if (!leased) throw new Error(`${WEB01.name} holds no lease to carve a route for`)
      saved = [leased]
      await sh(['ip', 'route', 'add', `${saved[0]}/32`, 'via', '198.51.100.2', 'dev', 'kdlab-up0'])
    },
    async reset() {
      await sh(['ip', 'route', 'del', `${saved[0]}/32`, 'via', '198.51.100.2', 'dev', 'kdlab-up0'], {reject: false})
    },
  },
  'reply-synack-drop': {
    async inject() {
      await sh(['iptables', '-I', 'FORWARD', ...SYNACK_DROP])
    },
    async reset() {
      await sh(['iptables', '-D', 'FORWARD', ...SYNACK_DROP], {reject: false})
    },
  },
  'uplink-neigh-pinned-wrong': {
    async inject() {
      await sh(['ip', 'neigh', 'replace', INET.nsAddr, 'lladdr', '02:00:00:00:00:99', 'dev', INET.hostDev, 'nud', 'permanent'])
    },
    async reset() {
      // The kernel asks ARP for the router again at the next packet.
      await sh(['ip', 'neigh', 'del', INET.nsAddr, 'dev', INET.hostDev], {reject: false})
    },
  },
  'uplink-arp-ignore-never': {
    async inject() {
      saved = [await setSysctl(`net.ipv4.conf.${INET.hostDev}.arp_ignore`, '8')]
      // The lab internet forgets the host's MAC: its next reply to the NAT address needs an answer to its ARP request.
      await sh(['ip', '-n', INET.netns, 'neigh', 'flush', 'all'])
    },
    async reset() {
      await sh(['sysctl', '-qw', `net.ipv4.conf.${INET.hostDev}.arp_ignore=${saved[0]}`])
      await sh(['ip', '-n', INET.netns, 'neigh', 'flush', 'all'])
    },
  },
  'notrack-guest-subnet': {
    async inject() {
      await intoPrerouting('raw', NOTRACK_GUESTS)
    },
    async reset() {
      await outOfPrerouting('raw', NOTRACK_GUESTS)
    },
  },
  'ct-zone-guests': {
    async inject() {
      await intoPrerouting('raw', ZONE_GUESTS)
    },
    async reset() {
      await outOfPrerouting('raw', ZONE_GUESTS)
    },
  },
  'tc-uplink-pfifo-zero': {
    async inject() {
      await sh(['tc', 'qdisc', 'add', 'dev', INET.hostDev, 'root', 'pfifo', 'limit', '0'])
    },
    async reset() {
      await sh(['tc', 'qdisc', 'del', 'dev', INET.hostDev, 'root'], {reject: false})
      // The queue dropped the host's ARP requests too: the uplink's neighbours are left FAILED until next used, and
      // the next scenario's diagnosis would read that history as its own.
      await sh(['ip', 'neigh', 'flush', 'dev', INET.hostDev])
    },
  },
  'tc-redirect-dns': {
    async inject() {
      // The redirect's target: a veth pair whose other end is up and bound to nothing, so what it is sent is lost.
      await sh(['ip', 'link', 'add', TC_SINK.host, 'type', 'veth', 'peer', 'name', TC_SINK.peer])
      await sh(['ip', 'link', 'set', TC_SINK.peer, 'up'])
      await sh(['ip', 'link', 'set', TC_SINK.host, 'up'])
      await sh(['tc', 'qdisc', 'add', 'dev', BRIDGE, 'clsact'])
      await sh(['tc', 'filter', 'add', 'dev', BRIDGE, 'ingress', 'protocol', 'ip', 'prio', '7', 'u32', 'match', 'ip', 'protocol', '17', '0xff', 'match', 'ip', 'dport', '53', '0xffff', 'action', 'mirred', 'egress', 'redirect', 'dev', TC_SINK.host])
    },
    async reset() {
      await sh(['tc', 'qdisc', 'del', 'dev', BRIDGE, 'clsact'])
      await sh(['ip', 'link', 'del', TC_SINK.host])
    },
  },
  'netdev-ingress-drop-replies': nftTable(
    'netdev',
    'kdlab_nd_in',
    `  chain in {
    type filter hook ingress device "${INET.hostDev}" priority 0; policy accept;
    ip saddr ${INET.server} tcp sport ${INET.port} drop
  }`,
  ),
  'netdev-egress-drop-dhcp': nftTable(
    'netdev',
    'kdlab_nd_out',
    `  chain out {
    type filter hook egress device "${BRIDGE}" priority 0; policy accept;
    udp sport 67 drop
  }`,
  ),
  'snat-address-not-local': iptablesRule('nat', 'POSTROUTING', SNAT_NOT_LOCAL),
  'snat-address-anyip': {
    async inject() {
      await sh(['ip', 'route', 'add', 'local', '198.51.100.77/32', 'dev', 'lo'])
      await sh(['iptables', '-t', 'nat', '-I', 'POSTROUTING', '1', ...SNAT_NOT_LOCAL])
    },
    async reset() {
      await sh(['iptables', '-t', 'nat', '-D', 'POSTROUTING', ...SNAT_NOT_LOCAL])
      await sh(['ip', 'route', 'del', 'local', '198.51.100.77/32', 'dev', 'lo', 'table', 'local'])
    },
  },
  'unaddressed-network': onNoAddressNetwork(NOADDR01, (addrs) => {
    if (addrs.some((a) => !a.startsWith('169.254.'))) throw new Error(`the guest of a network without DHCP reported ${addrs.join(' ')}`)
  }),
  'static-guest-no-dhcp-network': onNoAddressNetwork(STATIC151, (addrs) => {
    if (!addrs.includes('192.168.151.50/24')) throw new Error(`the static guest reported ${addrs.join(' ')}`)
  }),
}

/**
 * iptables-nft registers a table and its built-in chain the first time a rule goes into them, and deleting the rule
 * leaves both (an empty base chain the kernel still walks): a scenario that made them removes them again.
 */
const preroutingMade = new Map<string, {table: boolean; chain: boolean}>()
async function intoPrerouting(table: 'mangle' | 'raw', rule: string[]): Promise<void> {
  const absent = async (what: string[]) => (await sh(['nft', 'list', ...what], {reject: false})).exitCode !== 0
  preroutingMade.set(table, {table: await absent(['table', 'ip', table]), chain: await absent(['chain', 'ip', table, 'PREROUTING'])})
  await sh(['iptables', '-t', table, '-I', 'PREROUTING', '1', ...rule])
}
async function outOfPrerouting(table: 'mangle' | 'raw', rule: string[]): Promise<void> {
  // Gone already when the fix proof's fix deleted it; the chain and table it made go all the same.
  await sh(['iptables', '-t', table, '-D', 'PREROUTING', ...rule], {reject: false})
  const made = preroutingMade.get(table)
  if (made?.chain) await sh(['nft', 'delete', 'chain', 'ip', table, 'PREROUTING'])
  if (made?.table) await sh(['nft', 'delete', 'table', 'ip', table])
  preroutingMade.delete(table)
}

// ---- Issue 28: connections from outside through the host's port forwards ------------------------

/** web01's address now: the target every inbound scenario's forward is written for. */
async function web01Address(): Promise<string> {
  const addr = await leasedAddress(WEB01_MAC)
  if (!addr) throw new Error('kdlab-web01 holds no lease: no target for a forward')
  return addr
}

/** iptables-save lines of a forward of the published port to `target`. */
const forwardDnat = (chain: 'PREROUTING' | 'OUTPUT', target: string) => `-A ${chain} -d ${PUBLISHED.hostAddress}/32 -p tcp -m tcp --dport ${PUBLISHED.port} -j DNAT --to-destination ${target}:${PUBLISHED.guestPort}`
const forwardAccept = (chain: string, target: string) => `${chain} -d ${target}/32 -o ${BRIDGE} -p tcp -m tcp --dport ${PUBLISHED.guestPort} -j ACCEPT`

/** A forward as iptables rules added to the host's tables (to web01's address now, or another), the tables restored after. */
function inboundIptables(rules: (web: string) => {nat: string[]; filter: string[]; mangle?: string[]}, target?: string): LiveScenario {
  return {
    async inject() {
      await saveIptables()
      const r = rules(target ?? (await web01Address()))
      const mangle = r.mangle ? `*mangle\n${r.mangle.join('\n')}\nCOMMIT\n` : ''
      await iptablesAdd(`*nat\n${r.nat.join('\n')}\nCOMMIT\n*filter\n${r.filter.join('\n')}\nCOMMIT\n${mangle}`)
    },
    reset: restoreIptables,
    // The guests' own traffic is untouched by a forward.
    trace: {check: allAccepted},
  }
}

const LIBVIRT_HOOK = '/etc/libvirt/hooks/qemu'

/** The libvirt wiki's port-forwarding qemu hook ("Forwarding Incoming Connections") for web01: the probe's own test script, aimed at web01's address now. */
function wikiHook(web: string): string {
  const script = readFileSync(join(ROOT, 'test/data/libvirt-hooks/qemu-wiki-style.sh'), 'utf8')
  const aimed = script.replace(/^Guest_ipaddr=.*$/m, `Guest_ipaddr=${web}`)
  if (aimed === script || !aimed.includes(`Host_ipaddr=${PUBLISHED.hostAddress}\nHost_port=${PUBLISHED.port}\nGuest_port=${PUBLISHED.guestPort}`)) throw new Error('qemu-wiki-style.sh no longer forwards the published port')
  return aimed
}

/** firewalld's nat chains (firewalld 1.x layout) with a forward-port in the public zone, kdlab-up0's zone here. */
const firewalldForwardPort = (uplink: string, web: string) => `  chain nat_PREROUTING {
    type nat hook prerouting priority dstnat + 10; policy accept;
    jump nat_PREROUTING_ZONES
  }
  chain nat_PREROUTING_ZONES {
    iifname "${uplink}" goto nat_PRE_trusted
    goto nat_PRE_public
  }
  chain nat_PRE_trusted {
  }
  chain nat_PRE_public {
    jump nat_PRE_public_allow
  }
  chain nat_PRE_public_allow {
    meta nfproto ipv4 tcp dport ${PUBLISHED.port} dnat ip to ${web}:${PUBLISHED.guestPort}
  }`

const INBOUND: Record<string, LiveScenario> = {
  'inbound-forward-ok': inboundIptables((web) => ({nat: [forwardDnat('PREROUTING', web), forwardDnat('OUTPUT', web)], filter: [forwardAccept('-I FORWARD 1', web)]})),
  'inbound-forward-blocked': inboundIptables((web) => ({nat: [forwardDnat('PREROUTING', web), forwardDnat('OUTPUT', web)], filter: []})),
  // The guest's answers dropped on their way out (its HTTP server's source port): the connections from outside open, get no reply.
  'inbound-reply-blocked': inboundIptables((web) => ({nat: [forwardDnat('PREROUTING', web), forwardDnat('OUTPUT', web)], filter: [forwardAccept('-I FORWARD 1', web), `-I FORWARD 1 -i ${BRIDGE} -p tcp -m tcp --sport ${PUBLISHED.guestPort} -j DROP`]})),
  'inbound-dnat-stale': inboundIptables((old) => ({nat: [forwardDnat('PREROUTING', old), forwardDnat('OUTPUT', old)], filter: [forwardAccept('-I FORWARD 1', old)]}), '192.168.122.250'),
  // The published port dropped in mangle PREROUTING, before the DNAT: the host's own connections (nat OUTPUT) still get in.
  'inbound-prerouting-drop': inboundIptables((web) => ({
    nat: [forwardDnat('PREROUTING', web), forwardDnat('OUTPUT', web)],
    filter: [forwardAccept('-I FORWARD 1', web)],
    mangle: [`-A PREROUTING -d ${PUBLISHED.hostAddress}/32 -p tcp -m tcp --dport ${PUBLISHED.port} -j DROP`],
  })),
  'inbound-hairpin-missing': inboundIptables((web) => ({nat: [forwardDnat('PREROUTING', web)], filter: [forwardAccept('-I FORWARD 1', web)]})),
  'inbound-hook-rules-lost': {
    async inject() {
      if (existsSync(LIBVIRT_HOOK)) throw new Error(`${LIBVIRT_HOOK} exists: the lab will not replace this host's hook`)
      await saveIptables()
      // Written while libvirtd runs: libvirtd looks for hooks when it starts, so it never runs this one; its rules are
      // not in the ruleset, as after a firewall reload that came after the guest started.
      writeFileSync(LIBVIRT_HOOK, wikiHook(await web01Address()), {mode: 0o755})
    },
    async reset() {
      // The rules the hook adds when it runs (as the fix runs it) go, and the base chain its first rule registered.
      rmSync(LIBVIRT_HOOK, {force: true})
      await restoreIptables()
    },
    trace: {check: allAccepted},
  },
  'inbound-firewalld-forward-port': {
    async inject() {
      if (await nftTableExists('inet', 'firewalld')) throw new Error('this host runs firewalld: the lab will not replace its table')
      const uplink = (await uplinkDevices())[0]
      const table = firewalldRuleset(uplink, true)
      await nftApply(table.replace(/\n}\n$/, `\n${firewalldForwardPort(uplink, await web01Address())}\n}\n`))
    },
    async reset() {
      await sh(['nft', 'delete', 'table', 'inet', 'firewalld'])
    },
    trace: {check: allAccepted},
  },
  'inbound-ufw-route': {
    async inject() {
      await saveIptables()
      const web = await web01Address()
      // ufw's before.rules nat section and `ufw route allow proto tcp to WEB port 80` (ufw-user-forward); ufw's jumps
      // after libvirt's, as when libvirtd inserted its own at the top after ufw had loaded.
      const filter = ufwRuleset((await uplinkDevices())[0], false).replace('-A ufw-skip-to-policy-input -j DROP', `${forwardAccept('-A ufw-user-forward', web)}\n-A ufw-skip-to-policy-input -j DROP`)
      await iptablesAdd(`*nat\n${forwardDnat('PREROUTING', web)}\nCOMMIT\n${filter}`)
    },
    reset: restoreIptables,
    trace: {check: allAccepted},
  },
}

/**
 * Real connections to the published port: from the lab internet's namespace with the address kvmdoctor's outside
 * stand-in has (203.0.113.10: a route there takes it as the source), and from the host itself. Answered means
 * the guest's HTTP server's answer came back through the forward.
 */
export async function measureInbound(): Promise<InboundRecord> {
  const request = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 ${PUBLISHED.hostAddress} ${PUBLISHED.port}`
  const measure = async (from: InboundMeasure['from'], client: string, argv: string[]): Promise<InboundMeasure> => {
    const r = await sh(argv, {reject: false, timeout: 20_000})
    const output = `${r.stdout}${r.stderr}`.trim().slice(0, 300) || `exit ${r.exitCode}`
    return {from, client, answered: r.stdout.includes(GUEST_MARK), output}
  }
  await sh(['ip', '-n', INET.netns, 'route', 'replace', `${PUBLISHED.hostAddress}/32`, 'dev', INET.nsDev, 'src', INET.server])
  let outside: InboundMeasure
  try {
    outside = await measure('outside', INET.server, ['ip', 'netns', 'exec', INET.netns, 'sh', '-c', request])
  } finally {
    await sh(['ip', '-n', INET.netns, 'route', 'del', `${PUBLISHED.hostAddress}/32`], {reject: false})
  }
  const host = await measure('host', PUBLISHED.hostAddress, ['sh', '-c', request])
  return {port: PUBLISHED.port, measures: [outside, host]}
}

// ---------- Open vSwitch and shaping (issue 29) ----------
/** The VLAN of the OVS LAN: libvirt tags the guests' ports with it (<vlan>), the LAN's port is an access port in it. */
const OVS_VLAN = 10
const ovsGuest = (n: number): Guest => ({name: `kdlab-ovs0${n}`, mac: `52:54:00:6b:64:7${n}`, mode: 'dhcp', bridge: OVS_BRIDGE, ovs: {vlan: OVS_VLAN}, probe: '10.77.0.2'})

/** A guest plugged into the lab's OVS bridge, leased by the LAN's dhcpd behind it; then the fault, given the guest's tap. */
function onOvs(g: Guest, fault?: (tap: string) => Promise<void>): LiveScenario {
  return {
    async inject() {
      await startLan({ovs: {vlan: OVS_VLAN}})
      const addrs = await startGuest(g)
      if (!addrs.some((a) => a.startsWith('10.77.0.'))) throw new Error(`OVS guest got ${addrs.join(' ') || 'no address'} instead of a LAN lease`)
      await fault?.(await tapOf(g.name))
    },
    async reset() {
      await removeGuest(g.name)
      await stopLan()
    },
  }
}

/** libvirt's <bandwidth> inbound average, kilobytes (1000 bytes) per second: what the shaped guest may receive. */
export const BANDWIDTH_KBPS = 64
// On Open vSwitch: libvirt's own tc recipe for a Linux bridge's tap needs sch_sfq and cls_fw, which this lab's kernel
// lacks; for an OVS port libvirt asks OVS instead (a linux-htb QoS), which shapes the tap with htb alone.
const BW: Guest = {...ovsGuest(7), bulk: `${LAN_ROUTER}:${BULK.port}`}

/**
 * A full queue on a guest's path: web01's tap shaped by hand (htb: everything in a 100 Mbit/s class, but UDP from the
 * host's 192.168.122.1 to port 9 in a 64 kbit/s class whose pfifo holds 10 packets) while the host floods web01's
 * discard port with 1400-byte datagrams: that queue overflows and drops all along kvmdoctor's look. web01's own
 * measures (DHCP and DNS answered by the host, ping and TCP by the lab internet) take the other class. (A ping flood
 * does not overflow it: the ICMP socket is paced down to the class's rate.) The flood ends before the guests measure:
 * the kernel's trace would otherwise hold every one of its packets.
 */
let flood: ReturnType<typeof execa> | undefined
let queueFullRoot: string | undefined
const QUEUE_FULL_FILTER = ['protocol', 'ip', 'prio', '1', 'u32', 'match', 'ip', 'src', `${GATEWAY}/32`, 'match', 'ip', 'protocol', '17', '0xff', 'match', 'ip', 'dport', '9', '0xffff', 'flowid', '1:2']
async function stopFlood(): Promise<void> {
  if (!flood) return
  flood.kill('SIGTERM')
  await flood.catch(() => undefined)
  flood = undefined
}

const OVS_AND_SHAPING: Record<string, LiveScenario> = {
  'ovs-healthy': onOvs(ovsGuest(1)),
  'ovs-secure-no-controller': onOvs(ovsGuest(2), async () => {
    // The controller is gone (nothing listens on the host's loopback: no connection attempt leaves the host), and
    // with it the flows it had installed.
    await ovsVsctl('set-fail-mode', OVS_BRIDGE, 'secure', '--', 'set-controller', OVS_BRIDGE, 'tcp:127.0.0.1:6653')
    await sh(['ovs-ofctl', '--timeout=10', 'del-flows', OVS_BRIDGE])
  }),
  'ovs-port-missing': onOvs(ovsGuest(3), async (tap) => {
    await ovsVsctl('del-port', OVS_BRIDGE, tap)
  }),
  'ovs-vlan-mismatch': onOvs(ovsGuest(4), async (tap) => {
    await ovsVsctl('set', 'port', tap, 'tag=20')
  }),
  'ovs-flow-drop': onOvs(ovsGuest(5), async (tap) => {
    await sh(['ovs-ofctl', '--timeout=10', 'add-flow', OVS_BRIDGE, `priority=200,in_port=${tap},ip,actions=drop`])
  }),
  'ovs-interface-error': onOvs(ovsGuest(6), async (tap) => {
    // The device goes while its port stays, and ovs-vswitchd restarts: it cannot open it again (error, ofport -1).
    // (A running ovs-vswitchd only sees the link go down.) The restart recreates the bridge's internal port.
    await sh(['ip', 'link', 'del', tap])
    await restartOvsSwitch()
    await lanAddress(OVS_BRIDGE)
    await waitFor('OVS to report the interface in error', async () => (await sh(['ovs-vsctl', '--timeout=5', 'get', 'interface', tap, 'error'], {reject: false})).stdout.includes('"'), 20_000)
  }),
  'tc-tap-queue-drops': {
    async inject() {
      const tap = await tapOf(WEB01.name)
      const web = guestAddresses(WEB01.name)?.find((a) => a.startsWith('192.168.122.'))?.split('/')[0]
      if (!web) throw new Error('web01 reports no address on the default network')
      // libvirt gives its taps a noqueue root qdisc: replaced, and put back by the reset.
      queueFullRoot = (JSON.parse((await sh(['tc', '-j', 'qdisc', 'show', 'dev', tap, 'root'])).stdout) as {kind: string}[])[0]?.kind
      await sh(['tc', 'qdisc', 'replace', 'dev', tap, 'root', 'handle', '1:', 'htb', 'default', '1'])
      await sh(['tc', 'class', 'add', 'dev', tap, 'parent', '1:', 'classid', '1:1', 'htb', 'rate', '100mbit'])
      await sh(['tc', 'class', 'add', 'dev', tap, 'parent', '1:', 'classid', '1:2', 'htb', 'rate', '64kbit'])
      await sh(['tc', 'qdisc', 'add', 'dev', tap, 'parent', '1:2', 'handle', '2:', 'pfifo', 'limit', '10'])
      await sh(['tc', 'filter', 'add', 'dev', tap, 'parent', '1:', ...QUEUE_FULL_FILTER])
      // bash's /dev/udp: one datagram per write, as fast as the lowest priority lets it.
      flood = execa('nice', ['-n', '19', 'bash', '-c', `exec 3>/dev/udp/${web}/9; p=$(printf '%1400s' x); while :; do printf '%s' "$p" >&3 2>/dev/null; done`], {reject: false, stdin: 'ignore', env: {LC_ALL: 'C'}})
      await waitFor('the queue to drop', async () => {
        const q = JSON.parse((await sh(['tc', '-j', '-s', 'qdisc', 'show', 'dev', tap])).stdout) as {handle: string; drops?: number}[]
        return (q.find((x) => x.handle === '2:')?.drops ?? 0) > 100
      }, 20_000)
    },
    afterDiagnose: stopFlood,
    async reset() {
      await stopFlood()
      const tap = await tapOf(WEB01.name)
      await sh(['tc', 'qdisc', 'del', 'dev', tap, 'root'], {reject: false})
      if (queueFullRoot === 'noqueue') await sh(['tc', 'qdisc', 'add', 'dev', tap, 'root', 'handle', '0:', 'noqueue'])
    },
  },
  'guest-bandwidth-inbound': {
    async inject() {
      await startLan({ovs: {vlan: OVS_VLAN}, bulk: true})
      await startGuest(BW)
      // The transfer without the limit first: the limit must make it clearly slower, or the scenario shows nothing.
      const free = await bulkAfter(BW.name, bulkSeq(BW.name))
      const limit = BANDWIDTH_KBPS * 1000
      if (free.bytes <= BULK.bytes) throw new Error(`${BW.name} received ${free.bytes} bytes of the ${BULK.bytes}-byte bulk file without a limit`)
      if (bytesPerSecond(free) < 3 * limit) throw new Error(`${BW.name} receives only ${bytesPerSecond(free)} bytes/s without a limit: ${limit} would not show`)
      console.info(`guest-bandwidth-inbound: ${BW.name} received ${free.bytes} bytes in ${free.centis / 100} s without a limit (${bytesPerSecond(free)} bytes/s)`)
      // average and peak: on an OVS port libvirt makes average a floor (the QoS queue's min-rate) and peak the cap (max-rate).
      await sh(['virsh', 'domiftune', BW.name, await tapOf(BW.name), '--inbound', `${BANDWIDTH_KBPS},${BANDWIDTH_KBPS}`, '--live'])
    },
    async reset() {
      await removeGuest(BW.name)
      await stopLan()
    },
  },
}

// ---------- red team 2: faults of the bridge's own layer (ports, VLANs, ARP, neighbours) ----------
const WRONG_MAC = '52:54:00:6b:64:ee'
const FDB_PORT = {host: 'kdlab-fdb0', peer: 'kdlab-fdb1'}
const RED2: Record<string, LiveScenario> = {
  'tap-unicast-flood-off': {
    // macTableManager='libvirt' half done by hand: the port neither learns nor floods unknown unicast, and the MAC it
    // had learned is gone: only broadcasts still reach the guest.
    async inject() {
      const tap = await tapOf(WEB01.name)
      await sh(['bridge', 'link', 'set', 'dev', tap, 'learning', 'off', 'flood', 'off'])
      await sh(['bridge', 'fdb', 'del', WEB01_MAC, 'dev', tap, 'master'], {reject: false})
    },
    async reset() {
      await sh(['bridge', 'link', 'set', 'dev', await tapOf(WEB01.name), 'learning', 'on', 'flood', 'on'])
    },
  },
  'bridge-arp-off': {
    async inject() {
      await sh(['ip', 'link', 'set', BRIDGE, 'arp', 'off'])
    },
    async reset() {
      await sh(['ip', 'link', 'set', BRIDGE, 'arp', 'on'])
      await sh(['ip', 'neigh', 'flush', 'dev', BRIDGE])
    },
  },
  'nft-arp-input-drop': {
    // arptables-nft's way (table arp filter): ARP arriving on the bridge dropped. The host's entries for the guests are
    // flushed so it must ask again: its requests leave, the answers die in the arp input hook.
    async inject() {
      if (await nftTableExists('arp', 'kdlab_arp')) throw new Error('table arp kdlab_arp exists before the scenario')
      await nftApply(`table arp kdlab_arp {\n  chain in {\n    type filter hook input priority 0; policy accept;\n    iifname "${BRIDGE}" drop\n  }\n}\n`)
      await sh(['ip', 'neigh', 'flush', 'dev', BRIDGE])
    },
    async reset() {
      await sh(['nft', 'delete', 'table', 'arp', 'kdlab_arp'])
      await sh(['ip', 'neigh', 'flush', 'dev', BRIDGE])
    },
  },
  'neigh-permanent-wrong': {
    async inject() {
      const leased = await leasedAddress(WEB01.mac)
      if (!leased) throw new Error(`${WEB01.name} holds no lease`)
      saved = [leased]
      await sh(['ip', 'neigh', 'replace', leased, 'lladdr', WRONG_MAC, 'dev', BRIDGE, 'nud', 'permanent'])
    },
    async reset() {
      await sh(['ip', 'neigh', 'del', saved[0], 'dev', BRIDGE], {reject: false})
    },
  },
  'fdb-static-wrong-port': {
    // A static fdb entry left for web01's MAC on another port of virbr0 (macTableManager='libvirt' after the guest's
    // interface moved): the bridge sends everything for web01 there.
    async inject() {
      await sh(['ip', 'link', 'add', FDB_PORT.host, 'type', 'veth', 'peer', 'name', FDB_PORT.peer])
      await sh(['ip', 'link', 'set', FDB_PORT.peer, 'up'])
      await sh(['ip', 'link', 'set', FDB_PORT.host, 'master', BRIDGE, 'up'])
      await sh(['bridge', 'fdb', 'replace', WEB01_MAC, 'dev', FDB_PORT.host, 'master', 'static'])
    },
    async reset() {
      await sh(['bridge', 'fdb', 'del', WEB01_MAC, 'dev', FDB_PORT.host, 'master', 'static'], {reject: false})
      await sh(['ip', 'link', 'del', FDB_PORT.host])
    },
  },
  'fdb-sticky-wrong-port': {
    // The same entry made sticky: the bridge no longer moves it when web01's frames arrive on its own port.
    async inject() {
      await sh(['ip', 'link', 'add', FDB_PORT.host, 'type', 'veth', 'peer', 'name', FDB_PORT.peer])
      await sh(['ip', 'link', 'set', FDB_PORT.peer, 'up'])
      await sh(['ip', 'link', 'set', FDB_PORT.host, 'master', BRIDGE, 'up'])
      await sh(['bridge', 'fdb', 'replace', WEB01_MAC, 'dev', FDB_PORT.host, 'master', 'static', 'sticky'])
    },
    async reset() {
      await sh(['bridge', 'fdb', 'del', WEB01_MAC, 'dev', FDB_PORT.host, 'master'], {reject: false})
      await sh(['ip', 'link', 'del', FDB_PORT.host])
    },
  },
  'nft-bridge-input-drop': nftTable(
    'bridge',
    'kdlab_br',
    `  chain in {
    type filter hook input priority 0; policy accept;
    ether saddr ${WEB01_MAC} drop
  }`,
  ),
  'healthy-harmless-extras': {
    // What a tidy admin adds and nothing suffers from: an MSS clamp, a rate-limited LOG, counting bridge and arp
    // tables, a port that does not learn (but floods), an isolated port with no other guest, a roomy pfifo on the bridge.
    async inject() {
      await saveIptables()
      await iptablesAdd('*mangle\n-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu\nCOMMIT\n*filter\n-I INPUT 1 -m limit --limit 1/min -j LOG --log-prefix "kdlab-in "\nCOMMIT\n')
      await nftApply(`table bridge kdlab_count {\n  chain pre {\n    type filter hook prerouting priority -200; policy accept;\n    counter\n  }\n}\ntable arp kdlab_count {\n  chain in {\n    type filter hook input priority 0; policy accept;\n    counter\n  }\n}\n`)
      const tap = await tapOf(WEB01.name)
      await sh(['bridge', 'link', 'set', 'dev', tap, 'learning', 'off', 'isolated', 'on'])
      await sh(['tc', 'qdisc', 'add', 'dev', BRIDGE, 'root', 'pfifo', 'limit', '1000'])
    },
    async reset() {
      await sh(['tc', 'qdisc', 'del', 'dev', BRIDGE, 'root'], {reject: false})
      await sh(['bridge', 'link', 'set', 'dev', await tapOf(WEB01.name), 'learning', 'on', 'isolated', 'off'])
      await sh(['nft', 'delete', 'table', 'bridge', 'kdlab_count'])
      await sh(['nft', 'delete', 'table', 'arp', 'kdlab_count'])
      await restoreIptables()
    },
    trace: {check: allAccepted},
  },
}

// ---------- red team 5: faults nobody staged (libvirt's nwfilter, ebtables) ----------
const NWF01: Guest = {name: 'kdlab-nwf01', mac: '52:54:00:6b:64:91', mode: 'dhcp', filterref: {filter: 'clean-traffic'}}
/** clean-traffic pinned to an address the guest does not get (its IP parameter left from before its lease changed). */
const NWF02: Guest = {name: 'kdlab-nwf02', mac: '52:54:00:6b:64:92', mode: 'dhcp', filterref: {filter: 'clean-traffic', params: {IP: '192.168.122.250'}}}

/**
 * ebtables (ebtables-nft here) and libvirt's nwfilter keep their rules in `table bridge filter` and `bridge nat`,
 * which neither removes once made: the reset deletes those the scenario made.
 */
function withBridgeTables(live: LiveScenario): LiveScenario {
  const tables = ['filter', 'nat']
  let existed: boolean[] = []
  return {
    async inject() {
      existed = await Promise.all(tables.map((t) => nftTableExists('bridge', t)))
      await live.inject()
    },
    async reset() {
      await live.reset()
      for (const [i, t] of tables.entries()) if (!existed[i] && (await nftTableExists('bridge', t))) await sh(['nft', 'delete', 'table', 'bridge', t])
    },
  }
}

const RED5: Record<string, LiveScenario> = {
  'nwfilter-clean-traffic': withBridgeTables({
    async inject() {
      await startGuest(NWF01)
    },
    async reset() {
      await removeGuest(NWF01.name)
    },
  }),
  'nwfilter-ip-stale': withBridgeTables({
    async inject() {
      await startGuest(NWF02)
    },
    async reset() {
      await removeGuest(NWF02.name)
    },
  }),
  'bridge-prefix-narrowed': {
    // The bridge's address re-added as a /30 (dnsmasq's range carries its own netmask and still answers): the host
    // routes the guests' addresses elsewhere. The unreachable fallback (as gateway-address-removed's) keeps what it
    // sends them on this host rather than out of the real uplink.
    async inject() {
      await sh(['ip', 'route', 'add', 'unreachable', '192.168.122.0/24', 'metric', '4000'])
      await sh(['ip', 'address', 'del', `${GATEWAY}/24`, 'dev', BRIDGE])
      await sh(['ip', 'address', 'add', `${GATEWAY}/30`, 'broadcast', '+', 'dev', BRIDGE])
    },
    async reset() {
      // The fix proof's fix adds the /24 back itself.
      await sh(['ip', 'address', 'add', `${GATEWAY}/24`, 'broadcast', '192.168.122.255', 'dev', BRIDGE], {reject: false})
      await sh(['ip', 'address', 'del', `${GATEWAY}/30`, 'dev', BRIDGE])
      await sh(['ip', 'route', 'del', 'unreachable', '192.168.122.0/24', 'metric', '4000'])
    },
  },
  'bridge-arp-sysctls-harmless': (() => {
    const keys = ['proxy_arp', 'arp_filter', 'arp_ignore', 'arp_announce'].map((k) => `net.ipv4.conf.${BRIDGE}.${k}`)
    const values = ['1', '1', '2', '2']
    let before: string[] = []
    return {
      // proxy_arp answers only for addresses routed out of another device; arp_filter, arp_ignore 2 and
      // arp_announce 2 still let the host answer and ask its guests on their own subnet.
      async inject() {
        before = await Promise.all(keys.map(async (k) => (await sh(['sysctl', '-n', k])).stdout.trim()))
        for (const [i, k] of keys.entries()) await sh(['sysctl', '-qw', `${k}=${values[i]}`])
        await sh(['ip', 'neigh', 'flush', 'dev', BRIDGE])
      },
      async reset() {
        for (const [i, k] of keys.entries()) await sh(['sysctl', '-qw', `${k}=${before[i] ?? '0'}`])
      },
    }
  })(),
  'ebtables-input-dns-drop': withBridgeTables({
    async inject() {
      await sh(['ebtables', '-A', 'INPUT', '-i', await tapOf(WEB01.name), '-p', 'IPv4', '--ip-proto', 'udp', '--ip-dport', '53', '-j', 'DROP'])
    },
    async reset() {
      // The fix proof deletes the rule itself.
      await sh(['ebtables', '-D', 'INPUT', '-i', await tapOf(WEB01.name), '-p', 'IPv4', '--ip-proto', 'udp', '--ip-dport', '53', '-j', 'DROP'], {reject: false})
    },
  }),
}

// ---------- red team 10: bridge-port faults on real guests ----------
const RED10: Record<string, LiveScenario> = {
  'tap-proxy-arp-on': {
    // The bridge port's own proxy_arp (not the sysctl): br_flood floods nothing to the port, so the host's broadcast ARP
    // requests for web01 never reach it. The host's entries are flushed so it must ask; web01 is paused while kvmdoctor
    // looks (its next DHCP answer or ARP request would write the entry again before the read, or not: a race).
    async inject() {
      // `bridge link set` has no proxy_arp (iproute2 6.1): the port's flag is set through ip's bridge_slave options.
      await sh(['ip', 'link', 'set', 'dev', await tapOf(WEB01.name), 'type', 'bridge_slave', 'proxy_arp', 'on'])
      await sh(['virsh', 'suspend', WEB01.name])
      await sh(['ip', 'neigh', 'flush', 'dev', BRIDGE])
    },
    async afterDiagnose() {
      await sh(['virsh', 'resume', WEB01.name])
    },
    async reset() {
      await sh(['virsh', 'resume', WEB01.name], {reject: false})
      await sh(['ip', 'link', 'set', 'dev', await tapOf(WEB01.name), 'type', 'bridge_slave', 'proxy_arp', 'off'])
    },
  },
  'tap-locked-authorized': {
    // 802.1X on web01's port done right: locked, not learning, and web01's MAC authorized by a static fdb entry on it
    // (what an authenticator adds): the bridge takes web01's frames.
    async inject() {
      const tap = await tapOf(WEB01.name)
      await sh(['bridge', 'link', 'set', 'dev', tap, 'learning', 'off', 'locked', 'on'])
      await sh(['bridge', 'fdb', 'replace', WEB01_MAC, 'dev', tap, 'master', 'static'])
    },
    async reset() {
      const tap = await tapOf(WEB01.name)
      await sh(['bridge', 'fdb', 'del', WEB01_MAC, 'dev', tap, 'master'], {reject: false})
      await sh(['bridge', 'link', 'set', 'dev', tap, 'locked', 'off', 'learning', 'on'])
    },
  },
  'bridged-ports-isolated': {
    // Port isolation on a bridged LAN: the LAN's port and the guest's tap both isolated, so the bridge forwards nothing
    // between them (an isolated port talks only to ports that are not). The guest leased before its tap was isolated.
    async inject() {
      saved = [await setSysctl('net.bridge.bridge-nf-call-iptables', '0')]
      await startLan()
      const addrs = await startGuest(LAN05)
      if (!addrs.some((a) => a.startsWith('10.77.0.'))) throw new Error(`bridged guest got ${addrs.join(' ') || 'no address'} instead of a LAN lease`)
      await sh(['bridge', 'link', 'set', 'dev', 'kdlab-lanp', 'isolated', 'on'])
      await sh(['bridge', 'link', 'set', 'dev', await tapOf(LAN05.name), 'isolated', 'on'])
    },
    async reset() {
      await removeGuest(LAN05.name)
      await stopLan()
      await sh(['sysctl', '-qw', `net.bridge.bridge-nf-call-iptables=${saved[0] ?? '1'}`])
    },
  },
}

// ---------- red team 13: per-device sysctls and the bridge's address ----------
const MTU01: Guest = {name: 'kdlab-mtu01', mac: '52:54:00:6b:64:a1', mode: 'dhcp', mtu: 1400}
/** A network of its own whose <dnsmasq:options> change what its DHCP gives the guests (its router, its DNS server). */
const OPTIONS_NET = 'kdlab-opts'
const OPTIONS_GUEST: Guest = {name: 'kdlab-opts01', mac: '52:54:00:6b:64:31', mode: 'dhcp', network: OPTIONS_NET, probe: '192.168.152.1'}
/** A guest no <host> entry names, which may end up without a lease. */
const OPTIONS_STRANGER: Guest = {name: 'kdlab-opts02', mac: '52:54:00:6b:64:33', mode: 'dhcp-or-apipa', network: OPTIONS_NET, probe: '192.168.152.1'}
function optionsNetworkScenario(options: string[], more: {hosts?: string; guests?: Guest[]} = {}): LiveScenario {
  const guests = more.guests ?? [OPTIONS_GUEST]
  return {
    async inject() {
      const lines = options.map((o) => `<dnsmasq:option value='${o}'/>`).join('')
      await defineNetwork(OPTIONS_NET, `<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'><name>${OPTIONS_NET}</name><forward mode='nat'/><bridge name='kdlab-opts' stp='on' delay='0'/>${LAB_NET_DNS}
        <ip address='192.168.152.1' netmask='255.255.255.0'><dhcp><range start='192.168.152.10' end='192.168.152.50'/>${more.hosts ?? ''}</dhcp></ip><dnsmasq:options>${lines}</dnsmasq:options></network>`)
      for (const g of guests) await startGuest(g)
    },
    async reset() {
      for (const g of guests) await removeGuest(g.name)
      await removeNetwork(OPTIONS_NET)
    },
  }
}

const NETWORK_OPTIONS: Record<string, LiveScenario> = {
  'dnsmasq-option-no-router': optionsNetworkScenario(['dhcp-option=3']),
  'dnsmasq-option-dns-elsewhere': optionsNetworkScenario(['dhcp-option=option:dns-server,192.0.2.53']),
  'dnsmasq-option-ignore-unknown': optionsNetworkScenario(['dhcp-ignore=tag:!known'], {hosts: `<host mac='${OPTIONS_GUEST.mac}' ip='192.168.152.20'/>`, guests: [OPTIONS_GUEST, OPTIONS_STRANGER]}),
}

const RED13: Record<string, LiveScenario> = {
  'ip-forward-per-device': {
    // Writing ip_forward sets every device's forwarding (and conf/default's); a device's own key is then set alone.
    async inject() {
      saved = [await setSysctl('net.ipv4.ip_forward', '0')]
      for (const dev of [BRIDGE, INET.hostDev]) await sh(['sysctl', '-qw', `net.ipv4.conf.${dev}.forwarding=1`])
    },
    async reset() {
      // Puts every device's forwarding back with it (they were all 1 under libvirt's ip_forward=1).
      await sh(['sysctl', '-qw', `net.ipv4.ip_forward=${saved[0] ?? '1'}`])
    },
  },
  'ip-forward-per-device-uplink-off': {
    async inject() {
      saved = [await setSysctl('net.ipv4.ip_forward', '0')]
      await sh(['sysctl', '-qw', `net.ipv4.conf.${BRIDGE}.forwarding=1`])
    },
    async reset() {
      await sh(['sysctl', '-qw', `net.ipv4.ip_forward=${saved[0] ?? '1'}`])
    },
  },
  'uplink-arp-off': {
    async inject() {
      await sh(['ip', 'link', 'set', INET.hostDev, 'arp', 'off'])
    },
    async reset() {
      await sh(['ip', 'link', 'set', INET.hostDev, 'arp', 'on'])
    },
  },
  'bridge-arp-ignore-never': {
    async inject() {
      saved = [await setSysctl(`net.ipv4.conf.${BRIDGE}.arp_ignore`, '8')]
    },
    async reset() {
      await sh(['sysctl', '-qw', `net.ipv4.conf.${BRIDGE}.arp_ignore=${saved[0] ?? '0'}`])
    },
  },
  'tap-mtu-guest-matched': {
    // The bridge follows its smallest port (1400) until its MTU is set by hand: then it stays 1500 and the host sizes
    // what it routes to the guests by it.
    async inject() {
      // Set by hand first (a change of value marks it so), the bridge keeps 1500 when the 1400 tap joins: it never
      // routes at 1400, so no ICMP "fragmentation needed" lowers the lab internet's path MTU (flushed anyway).
      for (const mtu of ['1499', '1500']) await sh(['ip', 'link', 'set', BRIDGE, 'mtu', mtu])
      await startGuest(MTU01)
      await sh(['ip', 'netns', 'exec', INET.netns, 'ip', 'route', 'flush', 'cache'])
    },
    async reset() {
      await removeGuest(MTU01.name)
      await sh(['ip', 'link', 'set', BRIDGE, 'mtu', '1500'])
    },
  },
  'bridge-prefix-widened': {
    async inject() {
      await sh(['ip', 'address', 'del', `${GATEWAY}/24`, 'dev', BRIDGE])
      await sh(['ip', 'address', 'add', `${GATEWAY}/16`, 'broadcast', '+', 'dev', BRIDGE])
    },
    async reset() {
      await sh(['ip', 'address', 'add', `${GATEWAY}/24`, 'broadcast', '192.168.122.255', 'dev', BRIDGE], {reject: false})
      await sh(['ip', 'address', 'del', `${GATEWAY}/16`, 'dev', BRIDGE], {reject: false})
    },
  },
}

// ---------- red team 15: libvirt network shapes nobody staged, and nwfilter's iptables rules ----------
/** A libvirt network of the lab (its own bridge and /24, DHCP over .2-.254) with the given <forward> and <dns>. */
function labNetXml(name: string, third: number, forward: string, dns: string): string {
  return `<network><name>${name}</name>${forward}<bridge name='${name}' stp='on' delay='0'/>${dns}
  <ip address='192.168.${third}.1' netmask='255.255.255.0'><dhcp><range start='192.168.${third}.2' end='192.168.${third}.254'/></dhcp></ip></network>`
}
const ISO = 'kdlab-iso'
const ISO01: Guest = {name: 'kdlab-iso01', mac: '52:54:00:6b:64:b1', mode: 'dhcp', network: ISO, probe: '192.168.153.1'}
const ROUTED = 'kdlab-rt'
const ROUTE_MODE = "<forward mode='route'/>"
const ROUTED01: Guest = {name: 'kdlab-rt01', mac: '52:54:00:6b:64:b2', mode: 'dhcp', network: ROUTED, probe: '192.168.154.1'}
/** The lab internet's route back to the routed network (what its upstream router would hold). */
const ROUTED_RETURN = ['192.168.154.0/24', 'via', INET.hostAddr]
/** A veth pair's end (this kernel has no dummy devices): up, no address, no route through it. */
const PINNED_DEV = 'kdlab-pin0'
const OPEN_NAT = ['-s', '192.168.154.0/24', '!', '-d', '192.168.154.0/24', '-j', 'MASQUERADE']
const PORTS = 'kdlab-ports'
const PORTS01: Guest = {name: 'kdlab-ports01', mac: '52:54:00:6b:64:b8', mode: 'dhcp', network: PORTS, probe: '192.168.156.1'}
const NODNS = 'kdlab-nodns'
const NODNS01: Guest = {name: 'kdlab-nodns01', mac: '52:54:00:6b:64:b3', mode: 'dhcp', network: NODNS, probe: '192.168.155.1'}
/** An nwfilter of the admin's own: one rule dropping what the guest sends (libvirt puts a layer-3 rule in iptables). */
const OWN_FILTER = 'kdlab-own-drop'
const NWF03: Guest = {name: 'kdlab-nwf03', mac: '52:54:00:6b:64:b4', mode: 'dhcp', filterref: {filter: OWN_FILTER}}
const NWF04: Guest = {name: 'kdlab-nwf04', mac: '52:54:00:6b:64:b5', mode: 'dhcp', filterref: {filter: OWN_FILTER}}
const NWF05: Guest = {name: 'kdlab-nwf05', mac: '52:54:00:6b:64:b6', mode: 'dhcp', filterref: {filter: OWN_FILTER}}
const NWF06: Guest = {name: 'kdlab-nwf06', mac: '52:54:00:6b:64:b7', mode: 'dhcp', filterref: {filter: OWN_FILTER}}

/** A guest on a network of its own, both removed by the reset; `more` adds to the fault, `less` takes it away first. */
function onLabNetwork(name: string, third: number, forward: string, dns: string, g: Guest, more?: {inject(): Promise<void>; reset(): Promise<void>}): LiveScenario {
  return {
    async inject() {
      await defineNetwork(name, labNetXml(name, third, forward, dns))
      await sh(['virsh', 'net-autostart', name])
      const addrs = await startGuest(g)
      if (!addrs.some((a) => a.startsWith(`192.168.${third}.`))) throw new Error(`${g.name} reported ${addrs.join(' ')}, not 192.168.${third}.0/24`)
      await more?.inject()
    },
    async reset() {
      await more?.reset()
      await removeGuest(g.name)
      await removeNetwork(name)
    },
  }
}

/**
 * nwfilter's top-level iptables chains (libvirt-in, libvirt-out, libvirt-in-post, libvirt-host-in) and the jumps to
 * them from FORWARD and INPUT: libvirt makes them with a filter's first layer-3 rule and never deletes them.
 */
async function dropNwfilterIptablesChains(bin: 'iptables' | 'ip6tables'): Promise<void> {
  const rules = (await sh([`${bin}-save`, '-t', 'filter'])).stdout.split('\n')
  for (const line of rules.filter((l) => /^-A (FORWARD|INPUT) .*-j libvirt-(in|out|in-post|host-in)$/.test(l))) {
    await sh([bin, '-t', 'filter', '-D', ...line.slice(3).split(/\s+/)])
  }
  for (const chain of ['libvirt-in', 'libvirt-out', 'libvirt-in-post', 'libvirt-host-in']) {
    if ((await sh([bin, '-t', 'filter', '-S', chain], {reject: false})).exitCode !== 0) continue
    await sh([bin, '-t', 'filter', '-F', chain])
    await sh([bin, '-t', 'filter', '-X', chain])
  }
}

/** One nwfilter rule dropping what `match` matches in `direction` (out of the guest, or into it). */
const nwfilterDrop = (match: string, direction: 'out' | 'in' = 'out') => `<rule action='drop' direction='${direction}' priority='500'>${match}</rule>`

/** A guest under a filter of the admin's own (`rules`: its <rule> elements); the filter, and nwfilter's iptables chains, removed after. */
function nwfilterOwnRule(g: Guest, rules: string): LiveScenario {
  return withBridgeTables({
    async inject() {
      for (const bin of ['iptables', 'ip6tables'] as const) {
        if ((await sh([bin, '-t', 'filter', '-S', 'libvirt-out'], {reject: false})).exitCode === 0) throw new Error(`${bin} holds nwfilter's chains before the scenario`)
      }
      const file = join(CACHE, `${OWN_FILTER}.xml`)
      writeFileSync(file, `<filter name='${OWN_FILTER}' chain='root'>${rules}</filter>`)
      await sh(['virsh', 'nwfilter-define', file])
      await startGuest(g)
    },
    async reset() {
      await removeGuest(g.name)
      await sh(['virsh', 'nwfilter-undefine', OWN_FILTER], {reject: false})
      for (const bin of ['iptables', 'ip6tables'] as const) await dropNwfilterIptablesChains(bin)
    },
  })
}

const RED15: Record<string, LiveScenario> = {
  'network-isolated': onLabNetwork(ISO, 153, '', LAB_NET_DNS, ISO01),
  'network-routed-no-return': onLabNetwork(ROUTED, 154, ROUTE_MODE, LAB_NET_DNS, ROUTED01),
  'network-routed-return': onLabNetwork(ROUTED, 154, ROUTE_MODE, LAB_NET_DNS, ROUTED01, {
    async inject() {
      await sh(['ip', 'netns', 'exec', INET.netns, 'ip', 'route', 'add', ...ROUTED_RETURN])
    },
    async reset() {
      await sh(['ip', 'netns', 'exec', INET.netns, 'ip', 'route', 'del', ...ROUTED_RETURN], {reject: false})
    },
  }),
  'network-open-forward-off': onLabNetwork(ROUTED, 154, "<forward mode='open'/>", LAB_NET_DNS, ROUTED01, {
    // ip_forward 0 with forwarding set back on for virbr0 and the uplink alone (as ip-forward-per-device): the open
    // network's bridge keeps its own forwarding at 0. Its return route is there, as network-routed-return's.
    async inject() {
      await sh(['ip', 'netns', 'exec', INET.netns, 'ip', 'route', 'add', ...ROUTED_RETURN])
      saved = [await setSysctl('net.ipv4.ip_forward', '0')]
      for (const dev of [BRIDGE, INET.hostDev]) await sh(['sysctl', '-qw', `net.ipv4.conf.${dev}.forwarding=1`])
    },
    async reset() {
      await sh(['sysctl', '-qw', `net.ipv4.ip_forward=${saved[0] ?? '1'}`])
      await sh(['ip', 'netns', 'exec', INET.netns, 'ip', 'route', 'del', ...ROUTED_RETURN], {reject: false})
    },
  }),
  // The admin NATs the open network's guests themselves (what mode open leaves to them): no return route needed.
  'network-open-admin-nat': onLabNetwork(ROUTED, 154, "<forward mode='open'/>", LAB_NET_DNS, ROUTED01, {
    async inject() {
      await sh(['iptables', '-t', 'nat', '-A', 'POSTROUTING', ...OPEN_NAT])
    },
    async reset() {
      await sh(['iptables', '-t', 'nat', '-D', 'POSTROUTING', ...OPEN_NAT], {reject: false})
    },
  }),
  // libvirt's own MASQUERADE with --to-ports (<nat><port start end>): a narrow port range, nothing wrong.
  'network-nat-port-range': onLabNetwork(PORTS, 156, "<forward mode='nat'><nat><port start='40000' end='40009'/></nat></forward>", LAB_NET_DNS, PORTS01),
  // Pinned to a device the route to the internet does not use: libvirt forwards the subnet only out of that device.
  'network-routed-pinned-other-dev': (() => {
    const net = onLabNetwork(ROUTED, 154, `<forward mode='route' dev='${PINNED_DEV}'/>`, LAB_NET_DNS, ROUTED01, {
      async inject() {
        await sh(['ip', 'netns', 'exec', INET.netns, 'ip', 'route', 'add', ...ROUTED_RETURN])
      },
      async reset() {
        await sh(['ip', 'netns', 'exec', INET.netns, 'ip', 'route', 'del', ...ROUTED_RETURN], {reject: false})
      },
    })
    return {
      async inject() {
        await sh(['ip', 'link', 'add', PINNED_DEV, 'type', 'veth', 'peer', 'name', 'kdlab-pin1'])
        for (const dev of [PINNED_DEV, 'kdlab-pin1']) await sh(['ip', 'link', 'set', dev, 'up'])
        await net.inject()
      },
      async reset() {
        await net.reset()
        await sh(['ip', 'link', 'del', PINNED_DEV], {reject: false})
      },
    }
  })(),
  'network-dns-disabled': onLabNetwork(NODNS, 155, "<forward mode='nat'/>", "<dns enable='no'/>", NODNS01),
  'nwfilter-tcp-out-drop': nwfilterOwnRule(NWF03, nwfilterDrop("<tcp dstportstart='80'/>")),
  'nwfilter-dns-out-drop': nwfilterOwnRule(NWF04, nwfilterDrop("<udp dstportstart='53'/>")),
  'nwfilter-tcp-in-drop': nwfilterOwnRule(NWF05, nwfilterDrop("<tcp srcportstart='80'/>", 'in')),
  // A whitelist: DHCP, DNS and HTTP out (libvirt's state matching lets their answers in), everything else of IP dropped.
  'nwfilter-allow-list-no-icmp': nwfilterOwnRule(
    NWF06,
    ["<udp dstportstart='67'/>", "<udp dstportstart='53'/>", "<tcp dstportstart='80'/>"].map((m) => `<rule action='accept' direction='out' priority='100'>${m}</rule>`).join('') +
      "<rule action='drop' direction='inout' priority='500'><all/></rule>",
  ),
}

const RED17: Record<string, LiveScenario> = {
  'dnsmasq-stopped': {
    async inject() {
      saved = await libvirtDnsmasqPids()
      if (saved.length === 0) throw new Error("libvirt's dnsmasq is not running before the scenario")
      await sh(['kill', '-STOP', ...saved])
    },
    async reset() {
      await sh(['kill', '-CONT', ...saved], {reject: false})
    },
  },
  'dnsmasq-frozen': dnsmasqFrozen('v2'),
  'dnsmasq-frozen-v1': dnsmasqFrozen('v1'),
  'dhcpd-sigstopped': {
    async inject() {
      await LIVE['bridged-healthy'].inject()
      await sh(['pkill', '-STOP', '-F', DHCPD_PID])
    },
    async reset() {
      await sh(['pkill', '-CONT', '-F', DHCPD_PID], {reject: false})
      await LIVE['bridged-healthy'].reset()
    },
  },
}

export const LIVE: Record<string, LiveScenario> = {
  healthy: {
    async inject() {},
    async reset() {},
  },
  'ip-forward-off': {
    async inject() {
      saved = [(await sh(['sysctl', '-n', 'net.ipv4.ip_forward'])).stdout.trim()]
      await sh(['sysctl', '-w', 'net.ipv4.ip_forward=0'])
    },
    async reset() {
      await sh(['sysctl', '-w', `net.ipv4.ip_forward=${saved[0] ?? '1'}`])
    },
  },
  'network-inactive': {
    async inject() {
      await sh(['virsh', 'net-destroy', NETWORK])
    },
    reset: restartNetwork,
  },
  'dnsmasq-killed': {
    async inject() {
      const pids = await libvirtDnsmasqPids()
      if (pids.length === 0) throw new Error("libvirt's dnsmasq is not running before the scenario")
      await sh(['kill', ...pids])
      await waitFor('dnsmasq to exit', async () => (await libvirtDnsmasqPids()).length === 0, 10_000)
      const addrs = await startGuest(APIPA01)
      if (!addrs.some((a) => a.startsWith('169.254.'))) throw new Error(`apipa guest reported ${addrs.join(' ')}, not 169.254/16`)
      await waitFor('the host to see the APIPA guest', () => neighbourSeen('169.254.'), 30_000)
    },
    async reset() {
      await removeGuest(APIPA01.name)
      await restartNetwork()
    },
  },
  'masquerade-removed': {
    async inject() {
      saved = (await sh(['iptables', '-t', 'nat', '-S', 'LIBVIRT_PRT'])).stdout.split('\n').filter((l) => l.startsWith('-A '))
      for (const rule of saved.filter((r) => r.includes('MASQUERADE'))) await sh(['iptables', '-t', 'nat', '-D', ...rule.slice(3).split(' ')])
    },
    async reset() {
      await sh(['iptables', '-t', 'nat', '-F', 'LIBVIRT_PRT'])
      for (const rule of saved) await sh(['iptables', '-t', 'nat', '-A', ...rule.slice(3).split(' ')])
    },
  },
  'bridge-down': {
    async inject() {
      await sh(['ip', 'link', 'set', BRIDGE, 'down'])
    },
    async reset() {
      await sh(['ip', 'link', 'set', BRIDGE, 'up'])
    },
  },
  'firewall-flushed': {
    async inject() {
      await saveIptables()
      await flushLibvirtChains()
    },
    reset: restoreIptables,
  },
  'docker-forward-drop-nat-ok': {
    async inject() {
      await saveIptables()
      await dockerStyleForwardDrop()
    },
    reset: restoreIptables,
  },
  'bridged-healthy': {
    async inject() {
      // br_netfilter is built into this kernel and defaults to 1: the control runs with it off, as an admin would fix it.
      saved = [await setSysctl('net.bridge.bridge-nf-call-iptables', '0')]
      await startLan()
      const addrs = await startGuest({...LAN01, name: 'kdlab-lan02', mac: '52:54:00:6b:64:11', mode: 'dhcp'})
      if (!addrs.some((a) => a.startsWith('10.77.0.'))) throw new Error(`bridged guest got ${addrs.join(' ') || 'no address'} instead of a LAN lease`)
    },
    async reset() {
      await removeGuest('kdlab-lan02')
      await stopLan()
      await sh(['sysctl', '-qw', `net.bridge.bridge-nf-call-iptables=${saved[0] ?? '1'}`])
    },
  },
  'dhcpd-stopped': {
    async inject() {
      saved = [await setSysctl('net.bridge.bridge-nf-call-iptables', '0')]
      await startLan()
      await sh(['pkill', '-F', DHCPD_PID])
      const addrs = await startGuest({...LAN01, name: 'kdlab-lan03', mac: '52:54:00:6b:64:12'})
      if (!addrs.some((a) => a.startsWith('169.254.'))) throw new Error(`bridged guest reported ${addrs.join(' ')}, not 169.254/16`)
      await waitFor('the host to see the bridged APIPA guest', () => neighbourSeen('169.254.', LAB_BRIDGE), 30_000)
    },
    async reset() {
      await removeGuest('kdlab-lan03')
      await stopLan()
      await sh(['sysctl', '-qw', `net.bridge.bridge-nf-call-iptables=${saved[0] ?? '1'}`])
    },
  },
  'bridged-forward-drop': bridgedForwardDrop('1'),
  // The host-wide switch off, the lab bridge's own on: br_netfilter hands its frames over all the same.
  'bridged-forward-drop-bridge-option': bridgedForwardDrop('0', true),
  'tap-detached': {
    async inject() {
      await sh(['ip', 'link', 'set', await tapOf(WEB01.name), 'nomaster'])
    },
    reset: reattachTaps,
  },
  'mac-duplicate': {
    async inject() {
      await startGuest(DUP01)
    },
    async reset() {
      await removeGuest(DUP01.name)
    },
  },
  'static-ip-collision': {
    async inject() {
      const taken = await leasedAddress(WEB01.mac)
      if (!taken) throw new Error('web01 holds no lease')
      await startGuest({name: 'kdlab-static01', mac: '52:54:00:6b:64:03', mode: 'static', addr: `${taken}/24`})
    },
    async reset() {
      await removeGuest('kdlab-static01')
    },
  },
  'dhcp-range-exhausted': {
    async inject() {
      await defineNetwork(TINY, `<network><name>${TINY}</name><forward mode='nat'/><bridge name='kdlab-tiny' stp='on' delay='0'/>${LAB_NET_DNS}
        <ip address='192.168.150.1' netmask='255.255.255.0'><dhcp><range start='192.168.150.10' end='192.168.150.11'/></dhcp></ip></network>`)
      // One after another, so the first two certainly take the two leases and the third is left without.
      for (const g of TINY_GUESTS) await startGuest(g)
      await waitFor('the host to see the APIPA guest', () => neighbourSeen('169.254.', 'kdlab-tiny'), 30_000)
    },
    async reset() {
      for (const g of TINY_GUESTS) await removeGuest(g.name)
      await removeNetwork(TINY)
    },
  },
  'dns-port-conflict': {
    async inject() {
      await sh(['virsh', 'net-destroy', NETWORK])
      // --no-resolv: it has no upstream server, so nothing a guest asks it can leave the host.
      await sh(['dnsmasq', '--conf-file=/dev/null', '--no-resolv', '--port=53', '--listen-address=0.0.0.0', `--pid-file=${join(CACHE, 'kdlab-rogue-dns.pid')}`, '--user=root'])
      const start = await sh(['virsh', 'net-start', NETWORK], {reject: false})
      if (start.exitCode === 0) throw new Error('the default network started despite the port conflict')
    },
    async reset() {
      await sh(['pkill', '-F', join(CACHE, 'kdlab-rogue-dns.pid')], {reject: false})
      await waitFor('port 53 to be free', async () => !(await sh(['ss', '-H', '-lunp', 'sport', '= :53'])).stdout.includes('dnsmasq'), 10_000)
      await sh(['virsh', 'net-start', NETWORK])
      await reattachTaps()
    },
  },
  'nat-pinned-missing-dev': {
    async inject() {
      await defineNetwork(PINNED, `<network><name>${PINNED}</name><forward mode='nat' dev='kdlab-nodev'/><bridge name='kdlab-pin' stp='on' delay='0'/>${LAB_NET_DNS}
        <ip address='192.168.151.1' netmask='255.255.255.0'><dhcp><range start='192.168.151.10' end='192.168.151.50'/></dhcp></ip></network>`)
    },
    async reset() {
      await removeNetwork(PINNED)
    },
  },
  'stp-forward-delay': {
    async inject() {
      const detail = JSON.parse((await sh(['ip', '-j', '-d', 'link', 'show', BRIDGE])).stdout)[0]
      saved = [String(detail.linkinfo.info_data.forward_delay)]
      await sh(['ip', 'link', 'set', BRIDGE, 'type', 'bridge', 'forward_delay', '1500'])
    },
    async reset() {
      await sh(['ip', 'link', 'set', BRIDGE, 'type', 'bridge', 'forward_delay', saved[0] ?? '200'])
    },
  },
  'mtu-mismatch': {
    async inject() {
      await sh(['ip', 'link', 'add', 'kdlab-mtu0', 'mtu', '1400', 'type', 'veth', 'peer', 'name', 'kdlab-mtu1'])
      await sh(['ip', 'link', 'set', 'kdlab-mtu0', 'master', BRIDGE, 'up'])
      await sh(['ip', 'link', 'set', 'kdlab-mtu1', 'up'])
    },
    async reset() {
      await sh(['ip', 'link', 'del', 'kdlab-mtu0'], {reject: false})
      // The bridge follows its smallest port: give it back the MTU of its taps.
      await sh(['ip', 'link', 'set', BRIDGE, 'mtu', '1500'])
    },
  },
  'conntrack-full': {
    async inject() {
      const count = Number((await sh(['sysctl', '-n', 'net.netfilter.nf_conntrack_count'])).stdout.trim())
      saved = [await setSysctl('net.netfilter.nf_conntrack_max', String(Math.max(count, 1)))]
    },
    async reset() {
      await sh(['sysctl', '-qw', `net.netfilter.nf_conntrack_max=${saved[0]}`])
    },
  },
  'network-not-autostart': {
    async inject() {
      await sh(['virsh', 'autostart', WEB01.name])
    },
    async reset() {
      await sh(['virsh', 'autostart', '--disable', WEB01.name])
    },
  },
  'flushed-and-forward-off': {
    async inject() {
      await saveIptables()
      await flushLibvirtChains()
      saved = [await setSysctl('net.ipv4.ip_forward', '0')]
    },
    async reset() {
      await sh(['sysctl', '-qw', `net.ipv4.ip_forward=${saved[0] ?? '1'}`])
      await restoreIptables()
    },
  },
  'default-route-missing': namespaceHost({uplinks: [{addr: '10.254.1.2/24'}]}),
  'default-route-multiple': namespaceHost({
    uplinks: [
      {addr: '10.254.1.2/24', gateway: '10.254.1.1', metric: 100},
      {addr: '10.254.2.2/24', gateway: '10.254.2.1', metric: 100},
    ],
  }),
  'rp-filter-strict': namespaceHost({
    uplinks: [
      {addr: '10.254.1.2/24', gateway: '10.254.1.1', metric: 100},
      {addr: '10.254.2.2/24', gateway: '10.254.2.1', metric: 200},
    ],
    sysctls: {'net.ipv4.conf.all.rp_filter': '1'},
  }),
  'arp-flux': namespaceHost({
    uplinks: [
      {addr: '10.254.1.2/24', gateway: '10.254.1.1', metric: 100},
      {addr: '10.254.1.3/24'},
    ],
    sysctls: {'net.ipv4.conf.all.arp_ignore': '0', 'net.ipv4.conf.all.arp_announce': '0'},
  }),
  'nft-forward-drop': {
    async inject() {
      await sh(['nft', 'add', 'table', 'inet', 'kdlab_fw'])
      await sh(['nft', 'add', 'chain', 'inet', 'kdlab_fw', 'forward', '{ type filter hook forward priority 10; policy drop; }'])
    },
    async reset() {
      await sh(['nft', 'delete', 'table', 'inet', 'kdlab_fw'], {reject: false})
    },
  },
  'subnet-overlap': {
    async inject() {
      // A veth pair stands in for the tunnel device (this kernel has no dummy driver); nothing is sent.
      await sh(['ip', 'link', 'add', 'kdlab-vpn0', 'type', 'veth', 'peer', 'name', 'kdlab-vpn1'])
      await sh(['ip', 'link', 'set', 'kdlab-vpn1', 'up'])
      await sh(['ip', 'link', 'set', 'kdlab-vpn0', 'up'])
      await sh(['ip', 'route', 'add', '192.168.0.0/16', 'dev', 'kdlab-vpn0'])
    },
    async reset() {
      await sh(['ip', 'link', 'del', 'kdlab-vpn0'], {reject: false})
    },
  },
  'firewall-backend-mismatch': {
    async inject() {
      await sh(['iptables-legacy', '-t', 'nat', '-A', 'POSTROUTING', '-s', '10.250.0.0/24', '-j', 'MASQUERADE'])
    },
    async reset() {
      // The (now empty) legacy nat table stays registered in the kernel: an empty table is no mismatch.
      await sh(['iptables-legacy', '-t', 'nat', '-D', 'POSTROUTING', '-s', '10.250.0.0/24', '-j', 'MASQUERADE'], {reject: false})
    },
  },
  ...DATAPATH,
  ...CATALOGUE_E,
  ...SHAPES,
  ...WIRE,
  ...ROUND_TRIP,
  ...INBOUND,
  ...OVS_AND_SHAPING,
  ...RED2,
  ...RED5,
  ...RED10,
  ...NETWORK_OPTIONS,
  ...RED13,
  ...RED15,
  ...RED17,
}

