/**
 * A synthetic KVM host at any scale, answering exactly what the probes ask.
 * Recording the probes against it (RecordingRunner) yields a snapshot in the
 * very format the lab records, so benchmarks replay the same code path.
 */
import {VIRSH_LISTING_ARGS, VIRSH_LISTINGS} from '../probes/libvirt.js'
import {PS_LISTING, psArgv} from '../probes/processes.js'
import {captureArgv} from '../probes/wire.js'
import type {CommandCapture, DirCapture, FileCapture, Runner} from '../src/lib/runner.js'

/** The packet count (-c) of a capture's argv. */
const argvCount = (argv: string[]) => Number(argv[argv.indexOf('-c') + 1])

export interface HostShape {
  domains: number
  /** iptables rules in total (libvirt, Docker-like and firewalld-like chains). */
  rules: number
  networks: number
  /** Seconds of --listen: every guest's tap answers kvmdoctor's two captures with that much of a busy guest's traffic. */
  listen?: number
}

const mac = (prefix: string, n: number) => `${prefix}:${((n >> 16) & 255).toString(16).padStart(2, '0')}:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`
const netIp = (k: number, host: number) => `10.${100 + Math.floor(k / 256)}.${k % 256}.${host}`

export class SyntheticHost implements Runner {
  readonly capturedAt = new Date('2026-11-28T12:00:00Z')
  private readonly commands = new Map<string, string>()
  private readonly files = new Map<string, string>()
  private readonly dirs = new Map<string, string[]>()

  constructor(readonly shape: HostShape) {
    this.build()
  }

  private build(): void {
    const {domains, networks} = this.shape
    const perNet = Math.ceil(domains / networks)
    const guests = Array.from({length: domains}, (_, i) => ({name: `guest${String(i).padStart(4, '0')}`, net: i % networks, n: i, mac: mac('52:54:00', i + 1), tap: `vnet${i}`, ip: ''}))
    // Up to 250 hosts per /24: large hosts get a /16 per network.
    for (const g of guests) {
      const slot = Math.floor(g.n / networks)
      g.ip = perNet <= 250 ? netIp(g.net, 2 + slot) : `10.${100 + g.net}.${Math.floor((2 + slot) / 250)}.${(2 + slot) % 250 + 2}`
    }
    const prefix = perNet <= 250 ? 24 : 16
    const gateway = (k: number) => (prefix === 24 ? netIp(k, 1) : `10.${100 + k}.0.1`)
    const subnet = (k: number) => (prefix === 24 ? netIp(k, 0) : `10.${100 + k}.0.0`)

    this.files.set('/proc/sys/kernel/hostname', 'bench-host\n')
    this.files.set('/proc/sys/kernel/osrelease', '6.1.0-56-amd64\n')
    this.files.set('/sys/class/misc/vhost-net/dev', '10:238\n')
    const links: object[] = [
      {ifindex: 1, ifname: 'lo', flags: ['LOOPBACK', 'UP', 'LOWER_UP'], mtu: 65536, operstate: 'UNKNOWN', link_type: 'loopback', address: '00:00:00:00:00:00', addr_info: [{family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host'}]},
      {ifindex: 2, ifname: 'eth0', flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], mtu: 1500, operstate: 'UP', link_type: 'ether', address: '02:00:00:00:00:01', addr_info: [{family: 'inet', local: '198.51.100.10', prefixlen: 24, scope: 'global'}]},
    ]
    for (let k = 0; k < networks; k++) {
      links.push({ifindex: 10 + k, ifname: `virbr${k}`, flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], mtu: 1500, operstate: 'UP', link_type: 'ether', address: mac('52:54:01', k), linkinfo: {info_kind: 'bridge', info_data: {forward_delay: 200, stp_state: 1}}, addr_info: [{family: 'inet', local: gateway(k), prefixlen: prefix, scope: 'global'}]})
    }
    for (const g of guests) {
      links.push({ifindex: 1000 + g.n, ifname: g.tap, flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], mtu: 1500, master: `virbr${g.net}`, operstate: 'UNKNOWN', link_type: 'ether', address: mac('fe:54:00', g.n + 1), linkinfo: {info_kind: 'tun', info_data: {type: 'tap'}, info_slave_kind: 'bridge', info_slave_data: {state: 'forwarding'}}, addr_info: []})
    }
    this.cmd(['ip', '-j', '-d', 'addr', 'show'], JSON.stringify(links))
    const routes: object[] = [{dst: 'default', gateway: '198.51.100.1', dev: 'eth0', flags: []}, {dst: '198.51.100.0/24', dev: 'eth0', protocol: 'kernel', scope: 'link', prefsrc: '198.51.100.10', flags: []}]
    for (let k = 0; k < networks; k++) routes.push({dst: `${subnet(k)}/${prefix}`, dev: `virbr${k}`, protocol: 'kernel', scope: 'link', prefsrc: gateway(k), flags: []})
    routes.push({type: 'local', dst: '198.51.100.10', dev: 'eth0', table: 'local', protocol: 'kernel', scope: 'host', prefsrc: '198.51.100.10', flags: []})
    for (let k = 0; k < networks; k++) routes.push({type: 'local', dst: gateway(k), dev: `virbr${k}`, table: 'local', protocol: 'kernel', scope: 'host', prefsrc: gateway(k), flags: []})
    this.cmd(['ip', '-j', 'route', 'show', 'table', 'all'], JSON.stringify(routes))
    this.cmd(['ip', '-6', '-j', 'route', 'show', 'table', 'all'], '[]')
    const defaultRules = [{priority: 0, src: 'all', table: 'local'}, {priority: 32766, src: 'all', table: 'main'}, {priority: 32767, src: 'all', table: 'default'}]
    this.cmd(['ip', '-j', 'rule', 'show'], JSON.stringify(defaultRules))
    this.cmd(['ip', '-6', '-j', 'rule', 'show'], JSON.stringify(defaultRules.filter((r) => r.table !== 'default')))
    // No IPsec policy, the kernel's defaults (as this kernel prints them); ebtables is the nft variant (no legacy tables to read).
    this.cmd(['ip', 'xfrm', 'policy', 'list'], '')
    this.cmd(['ip', 'xfrm', 'policy', 'getdefault'], 'Default policies:\n in:  accept\n fwd: accept\n out: accept\n')
    this.cmd(['ebtables', '--version'], 'ebtables 1.8.9 (nf_tables)\n')
    // Traffic control: default qdiscs, and every tenth guest shaped the way libvirt's <bandwidth> does it
    // (htb root with one class and an sfq leaf for what it receives, an ingress policer for what it sends).
    const qdiscs: object[] = [{kind: 'noqueue', handle: '0:', dev: 'lo', root: true, options: {}}, {kind: 'pfifo_fast', handle: '0:', dev: 'eth0', root: true, options: {}}]
    for (let k = 0; k < networks; k++) qdiscs.push({kind: 'noqueue', handle: '0:', dev: `virbr${k}`, root: true, options: {}})
    const stats = {bytes: 0, packets: 0, drops: 0, overlimits: 0, requeues: 0, backlog: 0, qlen: 0}
    for (const g of guests) {
      if (g.n % 10 !== 0) {
        qdiscs.push({kind: 'noqueue', handle: '0:', dev: g.tap, root: true, options: {}, ...stats})
        continue
      }
      qdiscs.push({kind: 'htb', handle: '1:', dev: g.tap, root: true, options: {r2q: 10, default: '0x1', direct_packets_stat: 0, direct_qlen: 1000}, ...stats})
      qdiscs.push({kind: 'sfq', handle: '2:', dev: g.tap, parent: '1:1', options: {limit: 127, quantum: 1514, depth: 127, divisor: 1024, perturb: 10}, ...stats})
      qdiscs.push({kind: 'ingress', handle: 'ffff:', dev: g.tap, parent: 'ffff:fff1', options: {}, ...stats})
      this.cmd(['tc', '-s', 'class', 'show', 'dev', g.tap], 'class htb 1:1 root leaf 2: prio 0 rate 8Mbit ceil 16Mbit burst 1Mb cburst 1600b \n Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0) \n backlog 0b 0p requeues 0\n')
      this.cmd(['tc', '-j', '-s', 'filter', 'show', 'dev', g.tap, 'parent', '1:'], '[]')
      this.cmd(['tc', '-j', '-s', 'filter', 'show', 'dev', g.tap, 'ingress'], JSON.stringify([{parent: 'ffff:', protocol: 'all', pref: 49152, kind: 'u32', chain: 0}, {parent: 'ffff:', protocol: 'all', pref: 49152, kind: 'u32', chain: 0, options: {fh: '800::800', order: 2048, key_ht: '800', bkt: '0', flowid: ':1', not_in_hw: true, match: {value: '0', mask: '0', offmask: '', off: 0}, actions: [{order: 1, kind: 'police', index: g.n + 1, control_action: {type: 'drop'}, overhead: 0, rate: 1000000, burst: 262144, mtu: 65536, ref: 1, bind: 1}]}}]))
    }
    this.cmd(['tc', '-j', '-s', 'qdisc', 'show'], JSON.stringify(qdiscs))
    this.cmd(['tc', '-j', '-s', 'qdisc', 'list'], JSON.stringify(qdiscs))
    this.cmd(['ip', '-j', 'neigh', 'show'], JSON.stringify(guests.map((g) => ({dst: g.ip, dev: `virbr${g.net}`, lladdr: g.mac, state: ['REACHABLE']}))))

    const sys: Record<string, string> = {'net/ipv4/ip_forward': '1', 'net/bridge/bridge-nf-call-iptables': '0', 'net/bridge/bridge-nf-call-ip6tables': '0', 'net/netfilter/nf_conntrack_count': '4000', 'net/netfilter/nf_conntrack_max': '262144'}
    for (const iface of ['all', 'default', 'eth0', ...Array.from({length: networks}, (_, k) => `virbr${k}`)]) {
      sys[`net/ipv4/conf/${iface}/rp_filter`] = '0'
      sys[`net/ipv4/conf/${iface}/arp_ignore`] = '0'
      sys[`net/ipv4/conf/${iface}/arp_announce`] = '0'
      sys[`net/ipv4/conf/${iface}/forwarding`] = '1'
    }
    for (const [k, v] of Object.entries(sys)) this.files.set(`/proc/sys/${k}`, `${v}\n`)

    this.cmd(['iptables-save', '-c'], this.iptablesSave(prefix, subnet))
    this.cmd(['ip6tables-save', '-c'], '# Generated by ip6tables-save v1.8.9 (nf_tables) on Sat Nov 28 10:00:00 2026\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n')
    this.cmd(['nft', '-j', 'list', 'ruleset'], JSON.stringify({nftables: this.nftRuleset()}))

    const uri = ['virsh', '-r', '-c', 'qemu:///system']
    this.cmd([...uri, 'net-list', '--all'], ` Name      State    Autostart   Persistent\n--------------------------------------------\n${Array.from({length: networks}, (_, k) => ` net${k}   active   yes         yes\n`).join('')}\n`)
    for (let k = 0; k < networks; k++) {
      this.cmd([...uri, 'net-dumpxml', `net${k}`], `<network><name>net${k}</name><forward mode='nat'/><bridge name='virbr${k}' stp='on' delay='0'/><ip address='${gateway(k)}' prefix='${prefix}'><dhcp><range start='${prefix === 24 ? netIp(k, 2) : `10.${100 + k}.0.2`}' end='${prefix === 24 ? netIp(k, 254) : `10.${100 + k}.255.254`}'/></dhcp></ip></network>`)
    }
    const width = Math.max(...guests.map((g) => g.name.length), 4)
    this.cmd([...uri, 'list', '--all'], ` Id   ${'Name'.padEnd(width)}   State\n${'-'.repeat(width + 16)}\n${guests.map((g) => ` ${String(g.n + 1).padEnd(4)} ${g.name.padEnd(width)}   running\n`).join('')}\n`)
    this.cmd([...uri, 'list', '--all', '--autostart', '--name'], guests.map((g) => g.name).join('\n') + '\n')
    // virsh given the three listings as one argument prints them one after the other (the libvirt probe asks so).
    this.cmd([...uri, VIRSH_LISTINGS], VIRSH_LISTING_ARGS.map((l) => this.commands.get([...uri, ...l].join('\u0000'))).join(''))
    this.cmd([...uri, 'version'], 'Compiled against library: libvirt 9.0.0\nUsing library: libvirt 9.0.0\n')
    for (const g of guests) {
      this.files.set(`/run/libvirt/qemu/${g.name}.xml`, `<domstatus state='running'><domain type='kvm' id='${g.n + 1}'><name>${g.name}</name><devices><interface type='network'><mac address='${g.mac}'/><source network='net${g.net}'/><actual type='network'><source bridge='virbr${g.net}'/></actual><target dev='${g.tap}'/><model type='virtio'/></interface><channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel></devices></domain></domstatus>`)
    }
    this.dirs.set('/var/lib/libvirt/dnsmasq', Array.from({length: networks}, (_, k) => [`net${k}.conf`, `virbr${k}.status`]).flat().sort())
    const expiry = Math.floor(this.capturedAt.getTime() / 1000) + 3600
    for (let k = 0; k < networks; k++) {
      this.files.set(`/var/lib/libvirt/dnsmasq/virbr${k}.status`, JSON.stringify(guests.filter((g) => g.net === k).map((g) => ({'ip-address': g.ip, 'mac-address': g.mac, hostname: g.name, 'client-id': `01:${g.mac}`, 'expiry-time': expiry})), null, 2))
    }
    const ps = ['1 /sbin/init', '500 /usr/sbin/libvirtd']
    for (let k = 0; k < networks; k++) ps.push(`${600 + k} /usr/sbin/dnsmasq --conf-file=/var/lib/libvirt/dnsmasq/net${k}.conf --leasefile-ro --dhcp-script=/usr/lib/libvirt/libvirt_leaseshelper`)
    for (const g of guests) ps.push(`${10000 + g.n} /usr/bin/qemu-system-x86_64 -name guest=${g.name},debug-threads=on -m 2048`)
    this.cmd(['ps', '-eo', 'pid=,args='], ps.join('\n') + '\n')
    // What live probing asks (one ps for processes and services): the same processes, each sleeping, up for an hour.
    this.cmd(psArgv(PS_LISTING), ps.map((p) => p.replace(' ', ' S 3600 ')).join('\n') + '\n')
    this.cmd(['ss', '-H', '-lunpt'], Array.from({length: networks}, (_, k) => `udp UNCONN 0 0 ${gateway(k)}:53 0.0.0.0:* users:(("dnsmasq",pid=${600 + k},fd=5))\nudp UNCONN 0 0 0.0.0.0%virbr${k}:67 0.0.0.0:* users:(("dnsmasq",pid=${600 + k},fd=3))\n`).join(''))
    if (this.shape.listen) for (const g of guests) this.captures(g, gateway(g.net), mac('52:54:01', g.net), this.shape.listen)
    // Guest agents answer for every guest.
    for (const g of guests) this.cmd(['virsh', '-c', 'qemu:///system', 'domifaddr', g.name, '--source', 'agent'], ` Name       MAC address          Protocol     Address\n-------------------------------------------------------------------------------\n eth0       ${g.mac}    ipv4         ${g.ip}/${prefix}\n\n`)
  }

  /**
   * What kvmdoctor's two captures of a busy guest's tap hear in `seconds` (probes/wire.ts captureArgv): each
   * second its ARP for the gateway and the answer, DNS queries and answers, pings, a TCP exchange, now and
   * then a DHCP renewal and a router solicitation; the quiet capture reaches its packet cap. One guest in
   * ten asks for a gateway nobody holds instead, and one in ten sends DNS to a server that never answers.
   */
  private captures(g: {n: number; mac: string; ip: string; tap: string}, gw: string, gwMac: string, seconds: number): void {
    const at = (s: number) => {
      const t = 12 * 3600 + s
      const hh = String(Math.floor(t / 3600)).padStart(2, '0')
      const mm = String(Math.floor((t % 3600) / 60)).padStart(2, '0')
      return `${hh}:${mm}:${(t % 60).toFixed(6).padStart(9, '0')}`
    }
    const wrongGw = g.n % 10 === 3
    const target = wrongGw ? gw.replace(/\.\d+$/, '.254') : gw
    const dns = g.n % 10 === 7 ? '192.0.2.53' : gw
    const decoded: string[] = []
    const quiet: string[] = []
    for (let s = 0; s < seconds; s++) {
      decoded.push(`${at(s + 0.01)} ${g.mac} > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Ethernet (len 6), IPv4 (len 4), Request who-has ${target} tell ${g.ip}, length 28`)
      if (!wrongGw) decoded.push(`${at(s + 0.0101)} ${gwMac} > ${g.mac}, ethertype ARP (0x0806), length 42: Ethernet (len 6), IPv4 (len 4), Reply ${gw} is-at ${gwMac}, length 28`)
      if (s % 4 === 0) decoded.push(`${at(s + 0.2)} ${g.mac} > 33:33:00:00:00:02, ethertype IPv6 (0x86dd), length 70: (hlim 255, next-header ICMPv6 (58) payload length: 16) fe80::5054:ff:fe00:${(g.n + 1).toString(16)} > ff02::2: [icmp6 sum ok] ICMP6, router solicitation, length 16`)
      if (s % 5 === 0) {
        const xid = `0x${(g.n * 100 + s).toString(16).padStart(8, '0')}`
        decoded.push(
          `${at(s + 0.3)} ${g.mac} > ff:ff:ff:ff:ff:ff, ethertype IPv4 (0x0800), length 342: (tos 0x0, ttl 64, id 0, offset 0, flags [none], proto UDP (17), length 328)`,
          `    0.0.0.0.68 > 255.255.255.255.67: [udp sum ok] BOOTP/DHCP, Request from ${g.mac}, length 300, xid ${xid}, Flags [none] (0x0000)`,
          `\t  Client-Ethernet-Address ${g.mac}`,
          '\t  Vendor-rfc1048 Extensions',
          '\t    Magic Cookie 0x63825363',
          '\t    DHCP-Message (53), length 1: Request',
          `\t    Requested-IP (50), length 4: ${g.ip}`,
          `\t    Server-ID (54), length 4: ${gw}`,
          `\t    Client-ID (61), length 7: ether ${g.mac}`,
          `${at(s + 0.31)} ${gwMac} > ${g.mac}, ethertype IPv4 (0x0800), length 342: (tos 0xc0, ttl 64, id 25326, offset 0, flags [none], proto UDP (17), length 328)`,
          `    ${gw}.67 > ${g.ip}.68: [udp sum ok] BOOTP/DHCP, Reply, length 300, xid ${xid}, Flags [none] (0x0000)`,
          `\t  Your-IP ${g.ip}`,
          `\t  Client-Ethernet-Address ${g.mac}`,
          '\t  Vendor-rfc1048 Extensions',
          '\t    Magic Cookie 0x63825363',
          '\t    DHCP-Message (53), length 1: ACK',
          `\t    Server-ID (54), length 4: ${gw}`,
          `\t    Default-Gateway (3), length 4: ${gw}`,
          `\t    Domain-Name-Server (6), length 4: ${gw}`,
        )
      }
      if (wrongGw) continue
      const port = 40000 + s
      quiet.push(
        `${at(s + 0.02)} ${g.mac} > ${gwMac}, IPv4, length 70: ${g.ip}.${port} > ${dns}.53: UDP, length 28`,
        ...(dns === gw ? [`${at(s + 0.021)} ${gwMac} > ${g.mac}, IPv4, length 86: ${gw}.53 > ${g.ip}.${port}: UDP, length 44`] : []),
        `${at(s + 0.03)} ${g.mac} > ${gwMac}, IPv4, length 98: ${g.ip} > 203.0.113.10: ICMP echo request, id ${g.n}, seq ${s}, length 64`,
        `${at(s + 0.031)} ${gwMac} > ${g.mac}, IPv4, length 98: 203.0.113.10 > ${g.ip}: ICMP echo reply, id ${g.n}, seq ${s}, length 64`,
      )
      for (let k = 0; k < 20; k++) quiet.push(`${at(s + 0.04 + k * 0.001)} ${g.mac} > ${gwMac}, IPv4, length 66: ${g.ip}.${port + 1000} > 203.0.113.10.443: tcp ${k * 100}`)
    }
    const argv = captureArgv(g.tap, g.mac)
    // The decoded capture stays under its packet count; tcpdump stops the quiet one at its count.
    this.cmd(argv.decoded, decoded.join('\n') + '\n')
    this.cmd(argv.quiet, quiet.slice(0, argvCount(argv.quiet)).join('\n') + '\n')
  }

  /** libvirt's chains per network, Docker-like per-container rules, firewalld-like zone chains up to the rule count. */
  private iptablesSave(prefix: number, subnet: (k: number) => string): string {
    const filter: string[] = [':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':LIBVIRT_FWI - [0:0]', ':LIBVIRT_FWO - [0:0]', ':LIBVIRT_FWX - [0:0]', ':LIBVIRT_INP - [0:0]', ':DOCKER - [0:0]', ':DOCKER-USER - [0:0]', ':IN_public_allow - [0:0]']
    const rules: string[] = ['-A FORWARD -j DOCKER-USER', '-A FORWARD -j LIBVIRT_FWX', '-A FORWARD -j LIBVIRT_FWI', '-A FORWARD -j LIBVIRT_FWO', '-A INPUT -j LIBVIRT_INP', '-A INPUT -j IN_public_allow']
    const nat: string[] = [':PREROUTING ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', ':LIBVIRT_PRT - [0:0]', '-A POSTROUTING -j LIBVIRT_PRT']
    const mangle: string[] = [':POSTROUTING ACCEPT [0:0]', ':LIBVIRT_PRT - [0:0]', '-A POSTROUTING -j LIBVIRT_PRT']
    for (let k = 0; k < this.shape.networks; k++) {
      const s = `${subnet(k)}/${prefix}`
      rules.push(`-A LIBVIRT_FWI -d ${s} -o virbr${k} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`, `-A LIBVIRT_FWI -o virbr${k} -j REJECT --reject-with icmp-port-unreachable`, `-A LIBVIRT_FWO -s ${s} -i virbr${k} -j ACCEPT`, `-A LIBVIRT_FWO -i virbr${k} -j REJECT --reject-with icmp-port-unreachable`, `-A LIBVIRT_FWX -i virbr${k} -o virbr${k} -j ACCEPT`, `-A LIBVIRT_INP -i virbr${k} -p udp -m udp --dport 53 -j ACCEPT`, `-A LIBVIRT_INP -i virbr${k} -p udp -m udp --dport 67 -j ACCEPT`)
      nat.push(`-A LIBVIRT_PRT -s ${s} ! -d ${s} -p tcp -j MASQUERADE --to-ports 1024-65535`, `-A LIBVIRT_PRT -s ${s} ! -d ${s} -j MASQUERADE`)
      mangle.push(`-A LIBVIRT_PRT -o virbr${k} -p udp -m udp --dport 68 -j CHECKSUM --checksum-fill`)
    }
    let n = 0
    while (rules.length + nat.length + mangle.length < this.shape.rules) {
      n++
      // Docker publishes ports per container; firewalld allows services per zone.
      if (n % 2) rules.push(`-A DOCKER -d 172.17.${(n >> 8) & 255}.${n & 255}/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport ${1024 + (n % 60000)} -j ACCEPT`)
      else rules.push(`-A IN_public_allow -p tcp -m tcp --dport ${1024 + (n % 60000)} -m conntrack --ctstate NEW,UNTRACKED -m comment --comment "service ${n}" -j ACCEPT`)
    }
    return ['# Generated by iptables-save v1.8.9 (nf_tables)', '*mangle', ...mangle, 'COMMIT', '*filter', ...filter, ...rules, 'COMMIT', '*nat', ...nat, 'COMMIT', ''].join('\n')
  }

  /** A firewalld-like inet table (zones, forward policy accept) with a tenth of the rule count. */
  private nftRuleset(): object[] {
    const items: object[] = [{metainfo: {version: '1.0.6', release_name: 'Lester Gooch #5', json_schema_version: 1}}, {table: {family: 'inet', name: 'firewalld', handle: 1}}]
    const chains = ['filter_INPUT', 'filter_FORWARD', 'filter_IN_public_allow', 'filter_FWD_public']
    items.push({chain: {family: 'inet', table: 'firewalld', name: 'filter_INPUT', handle: 2, type: 'filter', hook: 'input', prio: 10, policy: 'accept'}})
    items.push({chain: {family: 'inet', table: 'firewalld', name: 'filter_FORWARD', handle: 3, type: 'filter', hook: 'forward', prio: 10, policy: 'accept'}})
    for (const name of chains.slice(2)) items.push({chain: {family: 'inet', table: 'firewalld', name, handle: items.length}})
    items.push({rule: {family: 'inet', table: 'firewalld', chain: 'filter_FORWARD', handle: 100, expr: [{match: {op: '==', left: {ct: {key: 'state'}}, right: ['established', 'related']}}, {accept: null}]}})
    items.push({rule: {family: 'inet', table: 'firewalld', chain: 'filter_INPUT', handle: 101, expr: [{jump: {target: 'filter_IN_public_allow'}}]}})
    for (let n = 0; n < this.shape.rules / 10; n++) {
      items.push({rule: {family: 'inet', table: 'firewalld', chain: n % 2 ? 'filter_IN_public_allow' : 'filter_FWD_public', handle: 200 + n, expr: [{match: {op: '==', left: {payload: {protocol: 'tcp', field: 'dport'}}, right: 1024 + n}}, {match: {op: '==', left: {payload: {protocol: 'ip', field: 'saddr'}}, right: {prefix: {addr: `172.${16 + (n % 16)}.${(n >> 4) & 255}.0`, len: 24}}}}, {counter: {packets: 0, bytes: 0}}, {accept: null}]}})
    }
    return items
  }

  private cmd(argv: string[], output: string): void {
    this.commands.set(argv.join('\u0000'), output)
  }

  async run(argv: string[]): Promise<CommandCapture> {
    const output = this.commands.get(argv.join('\u0000'))
    const base = {kind: 'command' as const, argv, stderr: '', durationMs: 0, timedOut: false, truncated: false}
    return output === undefined ? {...base, output: '', exitCode: null, error: `${argv[0]}: command not found`, errorCode: 'not-found'} : {...base, output, exitCode: 0}
  }

  async readFile(path: string): Promise<FileCapture> {
    const output = this.files.get(path)
    return output === undefined ? {kind: 'file', path, output: '', durationMs: 0, truncated: false, error: `${path}: no such file or directory`, errorCode: 'not-found'} : {kind: 'file', path, output, durationMs: 0, truncated: false}
  }

  async listDir(path: string): Promise<DirCapture> {
    const names = this.dirs.get(path)
    return names === undefined ? {kind: 'dir', path, output: '', durationMs: 0, truncated: false, error: `${path}: no such file or directory`, errorCode: 'not-found'} : {kind: 'dir', path, output: names.join('\n'), durationMs: 0, truncated: false}
  }
}
