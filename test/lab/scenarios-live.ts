/** How each scenario of test/scenarios.ts is produced on the real lab host, and undone. */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {BRIDGE, CACHE, type Guest, NETWORK, removeGuest, restartNetwork, sh, startGuest, waitFor} from './lab.js'

export interface LiveScenario {
  inject(): Promise<void>
  reset(): Promise<void>
  /** Run kvmdoctor inside this network namespace. */
  netns?: string
}

export const WEB01: Guest = {name: 'kdlab-web01', mac: '52:54:00:6b:64:01', mode: 'dhcp'}
const APIPA01: Guest = {name: 'kdlab-apipa01', mac: '52:54:00:6b:64:02', mode: 'dhcp-or-apipa'}

async function libvirtDnsmasqPids(): Promise<string[]> {
  const ps = await sh(['ps', '-eo', 'pid=,args='])
  return ps.stdout.split('\n').filter((l) => l.includes(`--conf-file=/var/lib/libvirt/dnsmasq/${NETWORK}.conf`)).map((l) => l.trim().split(/\s+/)[0])
}

async function neighbourSeen(prefix: string): Promise<boolean> {
  const out = (await sh(['ip', '-j', 'neigh', 'show', 'dev', BRIDGE])).stdout
  return (JSON.parse(out) as {dst: string; lladdr?: string}[]).some((n) => n.dst.startsWith(prefix) && n.lladdr)
}

let saved: string[] = []
const NETNS = 'kdlab-nohost'

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
  'default-route-missing': {
    netns: NETNS,
    async inject() {
      await sh(['ip', 'netns', 'del', NETNS], {reject: false})
      await sh(['ip', 'netns', 'add', NETNS])
      await sh(['ip', 'link', 'add', 'kdlab-nh0', 'type', 'veth', 'peer', 'name', 'kdlab-nh1', 'netns', NETNS])
      await sh(['ip', '-n', NETNS, 'addr', 'add', '10.254.254.2/30', 'dev', 'kdlab-nh1'])
      await sh(['ip', '-n', NETNS, 'link', 'set', 'kdlab-nh1', 'up'])
      await sh(['ip', '-n', NETNS, 'link', 'set', 'lo', 'up'])
      // Give the namespace the host's firewall and forwarding so only the route differs.
      const rules = join(CACHE, 'kdlab-nohost.iptables')
      writeFileSync(rules, (await sh(['iptables-save'])).stdout)
      await sh(['ip', 'netns', 'exec', NETNS, 'iptables-restore', rules])
      await sh(['ip', 'netns', 'exec', NETNS, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'])
    },
    async reset() {
      await sh(['ip', 'netns', 'del', NETNS], {reject: false})
      await sh(['ip', 'link', 'del', 'kdlab-nh0'], {reject: false})
    },
  },
}
