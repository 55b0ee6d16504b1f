import type {RuleDefinition} from './types.js'
import {widenRange} from './dhcp-range-exhausted.js'

/**
 * Rules behind the expectations file (kvmdoctor.yaml): what a deploy needs to
 * hold. src/core/expectations.ts decides them against the declared values and
 * hands them to the engine as external checks: the engine never runs these
 * conditions (an empty `all` would always hold in json-rules-engine).
 */
const decidedOutside = {all: []}

export const EXPECTATION_RULES: RuleDefinition[] = [
  {
    id: 'expect-network-active',
    severity: 'critical',
    scope: 'network',
    title: 'Expected network {name} is {state}',
    requires: ['libvirt'],
    conditions: decidedOutside,
    summary: 'kvmdoctor.yaml requires network {name} to be active; it is {state}.',
    evidence: ['virsh net-list --all: {name} {state}'],
    fix: ['virsh net-start {name}'],
    note: ['if it is not defined on this host, define it from its XML first (virsh net-define)'],
  },
  {
    id: 'expect-network-autostart',
    severity: 'medium',
    scope: 'network',
    title: 'Expected network {name} to autostart',
    requires: ['libvirt'],
    conditions: decidedOutside,
    summary: 'kvmdoctor.yaml requires network {name} to start at boot; autostart is off.',
    evidence: ['virsh net-list --all: {name} autostart no'],
    fix: ['virsh net-autostart {name}'],
  },
  {
    id: 'expect-dhcp-free-leases',
    severity: 'high',
    scope: 'network',
    title: 'Network {name} has {free} free DHCP addresses, {min} expected',
    requires: ['libvirt', 'leases'],
    conditions: decidedOutside,
    summary: 'kvmdoctor.yaml requires at least {min} free addresses in the DHCP range of {name} ({dhcpRanges}); {leasesInRange} of {dhcpRangeSize} are leased.',
    evidence: ['range {dhcpRanges}: {dhcpRangeSize} addresses, {leasesInRange} unexpired leases'],
    fix: ['virsh net-update {name} delete ip-dhcp-range "{dhcpRangeWidened.from}" --live --config', 'virsh net-update {name} add ip-dhcp-range "{dhcpRangeWidened.to}" --live --config'],
    fixLines: widenRange,
    note: ['widens {dhcpRanges} to twice its size (libvirt cannot modify a range in place: it is deleted and added again)'],
  },
  {
    id: 'expect-guest-address',
    severity: 'high',
    scope: 'domain',
    title: 'Guest {name} holds no address in {subnet}',
    requires: ['libvirt'],
    conditions: decidedOutside,
    summary: 'kvmdoctor.yaml requires {name} to hold an IPv4 address in {subnet}; it holds {addressesText} (state {state}).',
    evidence: ['addresses seen for {name} (leases, neighbour table, arp-scan): {addressesText}'],
    fix: ['kvmdoctor trace {name}'],
    fixLines: (e) => (e.running === false ? [`virsh start ${e.name}`] : [`kvmdoctor trace ${e.name}`]),
    note: ['the other findings of this report say why it has no address'],
  },
  {
    id: 'expect-forwarding',
    severity: 'critical',
    scope: 'host',
    title: 'IPv4 forwarding is off, kvmdoctor.yaml requires it',
    requires: ['sysctl'],
    conditions: decidedOutside,
    summary: 'kvmdoctor.yaml requires net.ipv4.ip_forward = 1; it is {ipForward}.',
    evidence: ['net.ipv4.ip_forward = {ipForward}'],
    fix: ['sysctl -w net.ipv4.ip_forward=1', "echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/90-kvmdoctor.conf"],
  },
]
