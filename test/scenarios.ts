/**
 * What kvmdoctor must conclude in each lab scenario. The live lab suite checks
 * these against the real host and records fixtures/<name>; the replay suite
 * checks the very same expectations against those recordings.
 */
import {expect} from 'vitest'
import {type Severity, severityWeight} from '../src/core/severity.js'

export interface ExpectedFinding {
  id: string
  /** Entity name the finding is about. */
  entity?: string
  /** 1 = must be the top finding. */
  rank?: number
  /** Rule id of the root cause this finding must be listed under. */
  explainedBy?: string
  /** Must be listed as a root cause (explained by nothing). */
  root?: boolean
}

export interface Scenario {
  name: string
  description: string
  /** Extra diagnose flags for the live run (the recording keeps them for the replay). */
  args?: string[]
  findings: ExpectedFinding[]
  /** Verdicts `kvmdoctor ip` must give these guests. */
  ip?: {domain: string; verdict: string}[]
  /** No finding above this severity may appear beyond those expected. */
  noOtherAbove?: Severity
}

export const SCENARIOS: Scenario[] = [
  {name: 'healthy', description: 'default network active, one NAT guest holding a lease (with --active arp-scan)', args: ['--active'], findings: [], noOtherAbove: 'info', ip: [{domain: 'kdlab-web01', verdict: 'ok'}]},
  {
    name: 'ip-forward-off',
    description: 'sysctl -w net.ipv4.ip_forward=0',
    findings: [{id: 'ip-forward-disabled', entity: undefined, rank: 1}],
    noOtherAbove: 'info',
  },
  {
    name: 'network-inactive',
    description: 'virsh net-destroy default with a guest running on it',
    findings: [
      {id: 'libvirt-network-inactive', entity: 'default', rank: 1},
      {id: 'tap-not-attached', explainedBy: 'libvirt-network-inactive'},
    ],
    // the lease is still on file, but with its bridge gone nothing confirms the guest uses it
    ip: [{domain: 'kdlab-web01', verdict: 'stale'}],
    noOtherAbove: 'info',
  },
  {
    name: 'dnsmasq-killed',
    description: "libvirt's dnsmasq killed, then a guest boots and self-assigns 169.254/16",
    findings: [
      {id: 'dhcp-server-not-running', entity: 'default', rank: 1},
      {id: 'apipa-address', explainedBy: 'dhcp-server-not-running'},
    ],
    ip: [
      {domain: 'kdlab-web01', verdict: 'ok'},
      {domain: 'kdlab-apipa01', verdict: 'APIPA'},
    ],
    noOtherAbove: 'info',
  },
  {
    name: 'masquerade-removed',
    description: "libvirt's MASQUERADE rules deleted from LIBVIRT_PRT",
    findings: [{id: 'nat-masquerade-missing', entity: 'default', rank: 1}],
    noOtherAbove: 'info',
  },
  {
    name: 'bridge-down',
    description: 'ip link set virbr0 down',
    findings: [{id: 'link-down', entity: 'virbr0', rank: 1}],
    noOtherAbove: 'info',
  },
  {
    name: 'firewall-flushed',
    description: "libvirt's LIBVIRT_* chains flushed (iptables -F on each)",
    findings: [
      {id: 'libvirt-firewall-rules-missing', entity: 'default', rank: 1},
      {id: 'nat-masquerade-missing', explainedBy: 'libvirt-firewall-rules-missing'},
      {id: 'dhcp-checksum-rule-missing', explainedBy: 'libvirt-firewall-rules-missing'},
    ],
    noOtherAbove: 'info',
  },
  {
    name: 'docker-forward-drop-nat-ok',
    description: 'FORWARD policy DROP with a Docker-style DOCKER-USER chain: NAT guests stay fine (libvirt accepts first)',
    findings: [],
    noOtherAbove: 'info',
  },
  {
    name: 'bridged-healthy',
    description: 'a guest bridged to a lab LAN (router + ISC dhcpd in a namespace) takes its lease from the LAN, bridge-nf-call-iptables=0: the control for bridged-forward-drop (with --active arp-scan)',
    args: ['--active'],
    findings: [],
    // the LAN's dhcpd lease (read from the host's dhcpd.leases), confirmed by arp-scan
    ip: [{domain: 'kdlab-lan02', verdict: 'ok'}],
    noOtherAbove: 'info',
  },
  {
    name: 'dhcpd-stopped',
    description: "the LAN's ISC dhcpd (configured in /etc/dhcp/dhcpd.conf) is not running: a bridged guest self-assigns 169.254/16",
    findings: [
      {id: 'dhcp-server-not-running', entity: 'isc-dhcp-server', rank: 1},
      {id: 'apipa-address', explainedBy: 'dhcp-server-not-running'},
    ],
    ip: [{domain: 'kdlab-lan03', verdict: 'APIPA'}],
    noOtherAbove: 'info',
  },
  {
    name: 'bridged-forward-drop',
    description: 'bridged guest on a lab bridge, bridge-nf-call-iptables=1 and FORWARD DROP: DHCP from the LAN namespace is dropped, guest self-assigns 169.254/16',
    findings: [
      {id: 'bridge-netfilter-enabled', entity: 'kdlab-br0', rank: 1},
      {id: 'forward-policy-drop', entity: 'kdlab-br0', explainedBy: 'bridge-netfilter-enabled'},
      {id: 'apipa-address', explainedBy: 'forward-policy-drop'},
    ],
    noOtherAbove: 'info',
  },
  {
    name: 'tap-detached',
    description: "a running guest's tap taken off virbr0 (ip link set vnetN nomaster)",
    findings: [{id: 'tap-not-attached', rank: 1}],
    noOtherAbove: 'info',
  },
  {
    name: 'mac-duplicate',
    description: 'a second guest defined with the MAC of the first, both running',
    findings: [
      {id: 'mac-duplicate', entity: 'kdlab-dup01/', rank: 1},
      {id: 'mac-duplicate', entity: 'kdlab-web01/'},
    ],
    ip: [
      {domain: 'kdlab-web01', verdict: 'conflict'},
      {domain: 'kdlab-dup01', verdict: 'conflict'},
    ],
    noOtherAbove: 'info',
  },
  {
    name: 'static-ip-collision',
    description: "a guest with a static address inside the DHCP range, equal to web01's lease (with --active arp-scan)",
    args: ['--active'],
    findings: [{id: 'ip-address-conflict', rank: 1}],
    ip: [
      {domain: 'kdlab-web01', verdict: 'conflict'},
      {domain: 'kdlab-static01', verdict: 'conflict'},
    ],
    noOtherAbove: 'info',
  },
  {
    name: 'dhcp-range-exhausted',
    description: 'a network whose DHCP range has 2 addresses, and 3 guests on it',
    findings: [
      {id: 'dhcp-range-exhausted', entity: 'kdlab-tiny', rank: 1},
      {id: 'apipa-address', explainedBy: 'dhcp-range-exhausted'},
    ],
    noOtherAbove: 'info',
  },
  {
    name: 'dns-port-conflict',
    description: 'another dnsmasq bound to 0.0.0.0:53 before the default network starts',
    findings: [
      {id: 'dns-port-conflict', entity: 'default', rank: 1},
      {id: 'libvirt-network-inactive', explainedBy: 'dns-port-conflict'},
      {id: 'tap-not-attached', explainedBy: 'libvirt-network-inactive'},
    ],
    noOtherAbove: 'info',
  },
  {
    name: 'nat-pinned-missing-dev',
    description: "a NAT network defined with <forward mode='nat' dev='kdlab-nodev'/>",
    findings: [{id: 'nat-masquerade-wrong-interface', entity: 'kdlab-pinned', rank: 1}],
    noOtherAbove: 'info',
  },
  {
    name: 'stp-forward-delay',
    description: 'ip link set virbr0 type bridge forward_delay 1500 (STP on)',
    findings: [{id: 'stp-forward-delay', entity: 'virbr0', rank: 1}],
    noOtherAbove: 'info',
  },
  {
    name: 'mtu-mismatch',
    description: 'a port with MTU 1400 on virbr0 beside 1500 taps',
    findings: [{id: 'mtu-mismatch', entity: 'virbr0', rank: 1}],
    noOtherAbove: 'info',
  },
  {
    name: 'conntrack-full',
    description: 'net.netfilter.nf_conntrack_max set to the current count',
    findings: [{id: 'conntrack-table-full', rank: 1}],
    noOtherAbove: 'info',
  },
  {
    name: 'network-not-autostart',
    description: 'web01 set to autostart on the default network, which is not',
    findings: [{id: 'libvirt-network-not-autostart', entity: 'default', rank: 1}],
    noOtherAbove: 'info',
  },
  {
    name: 'flushed-and-forward-off',
    description: 'two independent faults: firewall chains flushed and ip_forward=0',
    findings: [
      {id: 'libvirt-firewall-rules-missing', entity: 'default', root: true},
      {id: 'ip-forward-disabled', root: true},
      {id: 'nat-masquerade-missing', explainedBy: 'libvirt-firewall-rules-missing'},
      {id: 'dhcp-checksum-rule-missing', explainedBy: 'libvirt-firewall-rules-missing'},
    ],
    noOtherAbove: 'info',
  },
  {
    name: 'nft-forward-drop',
    description: 'an extra nftables table with a forward base chain, policy drop, beside libvirt\'s iptables rules',
    findings: [{id: 'nft-forward-drop', entity: 'default', rank: 1}],
    noOtherAbove: 'info',
  },
  {
    name: 'subnet-overlap',
    description: 'a VPN-like route 192.168.0.0/16 on another device, over the default network',
    findings: [{id: 'subnet-overlap', entity: 'default', rank: 1}],
    noOtherAbove: 'info',
  },
  {
    name: 'firewall-backend-mismatch',
    description: 'a MASQUERADE rule in iptables-legacy beside libvirt\'s iptables-nft rules',
    findings: [{id: 'firewall-backend-mismatch', rank: 1}],
    noOtherAbove: 'info',
  },
  {
    name: 'default-route-multiple',
    description: 'a namespace host with two default routes of the same metric',
    findings: [{id: 'default-route-multiple', rank: 1}],
    noOtherAbove: 'info',
  },
  {
    name: 'rp-filter-strict',
    description: 'a namespace host with two uplinks and rp_filter=1',
    findings: [{id: 'rp-filter-strict', rank: 1}],
    noOtherAbove: 'info',
  },
  {
    name: 'arp-flux',
    description: 'a namespace host with two interfaces in one subnet, arp_ignore=0 and arp_announce=0',
    findings: [{id: 'arp-flux', rank: 1}],
    noOtherAbove: 'info',
  },
  {
    name: 'default-route-missing',
    description: 'kvmdoctor run inside a network namespace host without a default route',
    findings: [{id: 'default-route-missing', rank: 1}],
    noOtherAbove: 'info',
  },
]

interface ReportFinding {
  id: string
  severity: Severity
  rank: number
  entity: {kind: string; name: string}
  explainedBy?: string
}

/** Asserts a JSON report (or a Diagnosis) meets the scenario's expectations. */
export function checkScenario(scenario: Scenario, report: {findings: ReportFinding[]}): void {
  const matched = new Set<ReportFinding>()
  for (const want of scenario.findings) {
    // An entity ending in '/' matches by prefix (guest interfaces are named DOMAIN/TAP, and taps vary).
    const entityMatches = (name: string) => want.entity === undefined || (want.entity.endsWith('/') ? name.startsWith(want.entity) : name === want.entity)
    const found = report.findings.find((f) => f.id === want.id && !matched.has(f) && entityMatches(f.entity.name))
    expect(found, `${scenario.name}: expected ${want.id}${want.entity ? ` on ${want.entity}` : ''} in ${report.findings.map((f) => f.id).join(', ') || 'no findings'}`).toBeDefined()
    matched.add(found!)
    if (want.rank !== undefined) expect(found!.rank, `${scenario.name}: rank of ${want.id}`).toBe(want.rank)
    if (want.explainedBy !== undefined) expect(found!.explainedBy?.split('@')[0], `${scenario.name}: ${want.id} explained by`).toBe(want.explainedBy)
    if (want.root) expect(found!.explainedBy, `${scenario.name}: ${want.id} must be a root cause`).toBeUndefined()
  }
  if (scenario.noOtherAbove) {
    const limit = severityWeight(scenario.noOtherAbove)
    const others = report.findings.filter((f) => !matched.has(f) && severityWeight(f.severity) > limit)
    expect(others.map((f) => `${f.id}@${f.entity.name}`), `${scenario.name}: unexpected findings above ${scenario.noOtherAbove}`).toEqual([])
  }
}
