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
}

export interface Scenario {
  name: string
  description: string
  /** Extra diagnose flags for the live run (the recording keeps them for the replay). */
  args?: string[]
  findings: ExpectedFinding[]
  /** No finding above this severity may appear beyond those expected. */
  noOtherAbove?: Severity
}

export const SCENARIOS: Scenario[] = [
  {name: 'healthy', description: 'default network active, one NAT guest holding a lease (with --active arp-scan)', args: ['--active'], findings: [], noOtherAbove: 'info'},
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
    noOtherAbove: 'info',
  },
  {
    name: 'dnsmasq-killed',
    description: "libvirt's dnsmasq killed, then a guest boots and self-assigns 169.254/16",
    findings: [
      {id: 'dhcp-server-not-running', entity: 'default', rank: 1},
      {id: 'apipa-address', explainedBy: 'dhcp-server-not-running'},
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
    const found = report.findings.find((f) => f.id === want.id && (want.entity === undefined || f.entity.name === want.entity))
    expect(found, `${scenario.name}: expected ${want.id}${want.entity ? ` on ${want.entity}` : ''} in ${report.findings.map((f) => f.id).join(', ') || 'no findings'}`).toBeDefined()
    matched.add(found!)
    if (want.rank !== undefined) expect(found!.rank, `${scenario.name}: rank of ${want.id}`).toBe(want.rank)
    if (want.explainedBy !== undefined) expect(found!.explainedBy?.split('@')[0], `${scenario.name}: ${want.id} explained by`).toBe(want.explainedBy)
  }
  if (scenario.noOtherAbove) {
    const limit = severityWeight(scenario.noOtherAbove)
    const others = report.findings.filter((f) => !matched.has(f) && severityWeight(f.severity) > limit)
    expect(others.map((f) => `${f.id}@${f.entity.name}`), `${scenario.name}: unexpected findings above ${scenario.noOtherAbove}`).toEqual([])
  }
}
