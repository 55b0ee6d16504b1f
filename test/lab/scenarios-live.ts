/** How each scenario of test/scenarios.ts is produced on the real lab host, and undone. */
import {copyFileSync, existsSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {BRIDGE, CACHE, type Guest, NETWORK, defineNetwork, leasedAddress, reattachTaps, removeGuest, removeNetwork, restartNetwork, sh, startGuest, waitFor} from './lab.js'

export interface LiveScenario {
  inject(): Promise<void>
  reset(): Promise<void>
  /** Run kvmdoctor inside this network namespace. */
  netns?: string
}

const WEB01_MAC = '52:54:00:6b:64:01'
export const WEB01: Guest = {name: 'kdlab-web01', mac: WEB01_MAC, mode: 'dhcp'}
const APIPA01: Guest = {name: 'kdlab-apipa01', mac: '52:54:00:6b:64:02', mode: 'dhcp-or-apipa'}

async function libvirtDnsmasqPids(): Promise<string[]> {
  const ps = await sh(['ps', '-eo', 'pid=,args='])
  return ps.stdout.split('\n').filter((l) => l.includes(`--conf-file=/var/lib/libvirt/dnsmasq/${NETWORK}.conf`)).map((l) => l.trim().split(/\s+/)[0])
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
const LAB_BRIDGE = 'kdlab-br0'
const IPTABLES_SAVED = join(CACHE, 'kdlab-iptables.saved')

/** Snapshot of the whole IPv4 firewall, restored exactly by the reset. */
async function saveIptables(): Promise<void> {
  writeFileSync(IPTABLES_SAVED, (await sh(['iptables-save'])).stdout)
}
async function restoreIptables(): Promise<void> {
  await sh(['iptables-restore', IPTABLES_SAVED])
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

async function startLan(): Promise<void> {
  await stopLan()
  if (existsSync(DHCPD_LEASES)) throw new Error(`${DHCPD_LEASES} exists: the lab will not touch a lease file it did not create`)
  await sh(['ip', 'link', 'add', LAB_BRIDGE, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0'])
  await sh(['ip', 'addr', 'add', '10.77.0.2/24', 'dev', LAB_BRIDGE])
  await sh(['ip', 'link', 'set', LAB_BRIDGE, 'up'])
  await sh(['ip', 'netns', 'add', LAN_NS])
  await sh(['ip', 'link', 'add', 'kdlab-lanp', 'type', 'veth', 'peer', 'name', 'kdlab-lan0', 'netns', LAN_NS])
  await sh(['ip', 'link', 'set', 'kdlab-lanp', 'master', LAB_BRIDGE, 'up'])
  await sh(['ip', '-n', LAN_NS, 'addr', 'add', '10.77.0.1/24', 'dev', 'kdlab-lan0'])
  await sh(['ip', '-n', LAN_NS, 'link', 'set', 'kdlab-lan0', 'up'])
  const conf = DHCPD_CONF
  if (existsSync(DHCPD_CONF) && !existsSync(DHCPD_CONF_SAVED)) copyFileSync(DHCPD_CONF, DHCPD_CONF_SAVED)
  writeFileSync(conf, 'authoritative;\ndefault-lease-time 3600;\nmax-lease-time 7200;\nsubnet 10.77.0.0 netmask 255.255.255.0 {\n  range 10.77.0.100 10.77.0.150;\n  option routers 10.77.0.1;\n}\n')
  writeFileSync(DHCPD_LEASES, '')
  await sh(['ip', 'netns', 'exec', LAN_NS, 'dhcpd', '-4', '-q', '-cf', conf, '-lf', DHCPD_LEASES, '-pf', DHCPD_PID, 'kdlab-lan0'])
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
  await sh(['ip', 'netns', 'del', LAN_NS], {reject: false})
  await sh(['ip', 'link', 'del', 'kdlab-lanp'], {reject: false})
  await sh(['ip', 'link', 'del', LAB_BRIDGE], {reject: false})
}

async function tapOf(guest: string): Promise<string> {
  const xml = (await sh(['virsh', 'dumpxml', guest])).stdout
  const tap = /<target dev='([^']+)'/.exec(xml)?.[1]
  if (!tap) throw new Error(`${guest} has no tap`)
  return tap
}

const LAN01: Guest = {name: 'kdlab-lan01', mac: '52:54:00:6b:64:10', mode: 'dhcp-or-apipa', bridge: LAB_BRIDGE, probe: '10.77.0.2'}
const DUP01: Guest = {name: 'kdlab-dup01', mac: WEB01_MAC, mode: 'dhcp'}
const TINY = 'kdlab-tiny'
const TINY_GUESTS: Guest[] = [1, 2, 3].map((n) => ({name: `kdlab-tiny0${n}`, mac: `52:54:00:6b:64:2${n}`, mode: 'dhcp-or-apipa', network: TINY, probe: '192.168.150.1'}))
const PINNED = 'kdlab-pinned'

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
  'bridged-forward-drop': {
    async inject() {
      await saveIptables()
      saved = [await setSysctl('net.bridge.bridge-nf-call-iptables', '1')]
      await dockerStyleForwardDrop()
      await startLan()
      const addrs = await startGuest(LAN01)
      if (!addrs.some((a) => a.startsWith('169.254.'))) throw new Error(`bridged guest reported ${addrs.join(' ')}, not 169.254/16`)
      await waitFor('the host to see the bridged APIPA guest', () => neighbourSeen('169.254.', LAB_BRIDGE), 30_000)
    },
    async reset() {
      await removeGuest(LAN01.name)
      await stopLan()
      await sh(['sysctl', '-qw', `net.bridge.bridge-nf-call-iptables=${saved[0] ?? '0'}`])
      await restoreIptables()
    },
  },
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
      await defineNetwork(TINY, `<network><name>${TINY}</name><forward mode='nat'/><bridge name='kdlab-tiny' stp='on' delay='0'/>
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
      await sh(['dnsmasq', '--conf-file=/dev/null', '--port=53', '--listen-address=0.0.0.0', `--pid-file=${join(CACHE, 'kdlab-rogue-dns.pid')}`, '--user=root'])
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
      await defineNetwork(PINNED, `<network><name>${PINNED}</name><forward mode='nat' dev='kdlab-nodev'/><bridge name='kdlab-pin' stp='on' delay='0'/>
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
}
