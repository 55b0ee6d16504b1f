import {describe, expect, it} from 'vitest'
import {type ArpScanFacts, parseArpScan} from '../../probes/arpscan.js'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {type LeaseFacts, parseDhcpdLeases, parseDhcpdSubnets, parseLibvirtStatus} from '../../probes/leases.js'
import {dnsmasqInstances, parsePs} from '../../probes/processes.js'
import {parseSs} from '../../probes/listeners.js'
import {notableLines} from '../../probes/logs.js'
import {parseSysctlValue} from '../../probes/sysctl.js'
import {ParseError} from '../../probes/types.js'
import {ROOT, factsOf, sample} from '../helpers.js'

describe('parseLibvirtStatus', () => {
  const file = '/var/lib/libvirt/dnsmasq/virbr0.status'
  it('reads leases and judges expiry at the capture time', () => {
    const before = new Date(1795862930 * 1000 - 1000)
    const [lease] = parseLibvirtStatus(sample('dnsmasq-virbr0.status.json'), file, before)
    expect(lease).toEqual({source: 'libvirt', file, bridge: 'virbr0', ip: '192.168.122.192', mac: '52:54:00:ae:17:88', hostname: 'web01', clientId: '01:52:54:00:ae:17:88', expiry: 1795862930, expired: false})
    const after = new Date(1795862930 * 1000 + 1000)
    expect(parseLibvirtStatus(sample('dnsmasq-virbr0.status.json'), file, after)[0].expired).toBe(true)
  })
  it('an empty status file holds no leases', () => {
    expect(parseLibvirtStatus('', file, new Date())).toEqual([])
    expect(parseLibvirtStatus('[]', file, new Date())).toEqual([])
  })
  it('rejects garbage', () => {
    expect(() => parseLibvirtStatus('{"ip-address": 1}', file, new Date())).toThrow(ParseError)
    expect(() => parseLibvirtStatus('[{"mac-address": "x"}]', file, new Date())).toThrow(/no ip-address/)
  })
})

describe('parseDhcpdLeases', () => {
  // ISC dhcpd's lease file format (dhcpd.leases(5)); later blocks for an address supersede earlier ones.
  const text = `# The format of this file is documented in the dhcpd.leases(5) manual page.
lease 10.77.0.100 {
  starts 6 2026/11/28 09:00:00;
  ends 6 2026/11/28 21:00:00;
  binding state active;
  hardware ethernet 52:54:00:49:d0:5a;
  client-hostname "lan01";
}
lease 10.77.0.101 {
  starts 6 2026/11/28 08:00:00;
  ends 6 2026/11/28 08:30:00;
  binding state free;
  hardware ethernet 52:54:00:49:d0:5b;
}
lease 10.77.0.100 {
  starts 6 2026/11/28 09:30:00;
  ends never;
  binding state active;
  hardware ethernet 52:54:00:49:d0:5a;
}
`
  it('keeps the last block per address and marks free or ended leases expired', () => {
    const leases = parseDhcpdLeases(text, '/var/lib/dhcp/dhcpd.leases', new Date('2026-11-28T10:00:00Z'))
    expect(leases).toHaveLength(2)
    expect(leases.find((l) => l.ip === '10.77.0.100')).toMatchObject({mac: '52:54:00:49:d0:5a', expiry: null, expired: false})
    expect(leases.find((l) => l.ip === '10.77.0.101')).toMatchObject({expired: true})
  })
  it("reads the lease file ISC dhcpd wrote in the lab (bridged-healthy: the LAN's dhcpd)", async () => {
    const facts = await factsOf('bridged-healthy')
    const leases = facts.results.leases.ok ? (facts.results.leases.data as LeaseFacts).leases.filter((l) => l.source === 'dhcpd') : []
    expect(leases).toEqual([{source: 'dhcpd', file: '/var/lib/dhcp/dhcpd.leases', ip: expect.stringMatching(/^10\.77\.0\.1\d\d$/), mac: '52:54:00:6b:64:11', hostname: undefined, expiry: expect.any(Number), expired: false}])
    expect(leases[0].expiry! * 1000).toBeGreaterThan(facts.capturedAt.getTime())
  })
  it('garbage yields no leases rather than an exception', () => {
    expect(parseDhcpdLeases('\u0000\u0001 not a lease file', 'x', new Date())).toEqual([])
  })
})

describe('parseDhcpdSubnets (dhcpd.conf)', () => {
  it("finds no subnet in Debian's default dhcpd.conf (all examples commented out)", () => {
    expect(parseDhcpdSubnets(readFileSync(join(ROOT, 'test/data/dhcpd.conf.debian-default'), 'utf8'))).toEqual([])
  })
  it('reads the subnets the lab LAN declares', async () => {
    const facts = await factsOf('bridged-healthy')
    expect(facts.results.leases.ok && (facts.results.leases.data as LeaseFacts).dhcpdSubnets).toEqual(['10.77.0.0/24'])
    expect(parseDhcpdSubnets('subnet 10.0.0.0 netmask 255.255.0.0 { }\n# subnet 10.9.0.0 netmask 255.255.255.0 {}\nsubnet 192.168.5.0 netmask 255.255.255.128 {')).toEqual(['10.0.0.0/16', '192.168.5.0/25'])
  })
})

describe('processes and listeners', () => {
  it('finds libvirt dnsmasq instances by their conf file, and other dnsmasq instances', () => {
    const instances = dnsmasqInstances(parsePs(sample('ps-dnsmasq.txt')))
    expect(instances.map((d) => d.libvirtNetwork)).toEqual(['default', 'default', undefined])
    expect(instances[2].confFile).toBe('/dev/null')
    expect(instances[0].pid).toBe(17640)
  })
  it('parses ss -H -lunpt: address, interface scope, port, process', () => {
    const ls = parseSs(sample('ss-H-lunpt.txt'))
    expect(ls[0]).toEqual({proto: 'udp', address: '192.168.122.1', port: 53, process: 'dnsmasq', pid: 17640})
    expect(ls[1]).toMatchObject({address: '0.0.0.0', iface: 'virbr0', port: 67})
    expect(ls[3]).toEqual({proto: 'tcp', address: '0.0.0.0', port: 2024})
    expect(parseSs('udp UNCONN 0 0 [::]:53 [::]:* users:(("named",pid=9,fd=3))')[0]).toMatchObject({address: '::', port: 53, process: 'named'})
  })
  it('rejects garbage', () => {
    expect(() => parseSs('State Recv-Q Send-Q')).toThrow(ParseError)
    expect(() => parsePs('hello')).toThrow(ParseError)
  })
})

describe('parseSysctlValue', () => {
  it('reads numbers and the first of several values', () => {
    expect(parseSysctlValue('1\n')).toBe(1)
    expect(parseSysctlValue('4096\t87380\t6291456\n')).toBe(4096)
    expect(parseSysctlValue('')).toBeUndefined()
    expect(parseSysctlValue('abc')).toBeUndefined()
  })
})

describe('parseArpScan', () => {
  it('reads real arp-scan output recorded on the lab bridge', async () => {
    const facts = await factsOf('healthy')
    const scan = facts.results['arp-scan']
    expect(scan.ok).toBe(true)
    const data = scan.ok ? (scan.data as ArpScanFacts) : undefined
    expect(data?.scanned).toEqual(['virbr0'])
    expect(data?.replies).toEqual([{iface: 'virbr0', ip: expect.stringMatching(/^192\.168\.122\./), mac: '52:54:00:6b:64:01', vendor: 'QEMU'}])
  })

  it("scans an Open vSwitch bridge's internal port too (ovs-healthy: kdlab-ovs0 on the userspace datapath, a tap), where the OVS guest answers", async () => {
    const facts = await factsOf('ovs-healthy')
    const scan = facts.results['arp-scan']
    const data = scan.ok ? (scan.data as ArpScanFacts) : undefined
    expect(data?.scanned).toEqual(['kdlab-ovs0', 'virbr0'])
    expect(data?.replies).toContainEqual({iface: 'kdlab-ovs0', ip: '10.77.0.100', mac: '52:54:00:6b:64:71', vendor: 'QEMU'})
  })

  it('reads replies and DUP markers', () => {
    const text = 'Interface: virbr0, type: EN10MB, MAC: 52:54:00:30:30:fe, IPv4: 192.168.122.1\nStarting arp-scan 1.10.0 with 256 hosts\n192.168.122.190\t52:54:00:6b:64:01\tQEMU\n192.168.122.190\t52:54:00:6b:64:03\tQEMU (DUP: 2)\n\n2 packets received by filter\n'
    expect(parseArpScan(text, 'virbr0')).toEqual([
      {iface: 'virbr0', ip: '192.168.122.190', mac: '52:54:00:6b:64:01', vendor: 'QEMU'},
      {iface: 'virbr0', ip: '192.168.122.190', mac: '52:54:00:6b:64:03', vendor: 'QEMU', dup: 2},
    ])
  })
})

describe('notableLines (logs probe)', () => {
  it('picks the log lines that prove known patterns', () => {
    const text = [
      '2026-11-28 10:00:00.000+0000: 812: error : virNetworkStartNetwork: failed to create listening socket for 192.168.122.1: Address already in use',
      'Nov 28 10:00:01 host kernel: nf_conntrack: table full, dropping packet',
      'Nov 28 10:00:02 host dnsmasq-dhcp[812]: DHCPDISCOVER(virbr0) 52:54:00:6b:64:23 no address available',
      'Nov 28 10:00:03 host libvirtd[1]: internal error: Network is already in use by interface eth1',
      'Nov 28 10:00:04 host something: unrelated',
    ].join('\n')
    expect(notableLines(text, 'journalctl').map((n) => n.id)).toEqual(['address-in-use', 'conntrack-full', 'dhcp-no-address-available', 'network-in-use'])
  })
})
