import {bridge} from './applies.js'
import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'stp-forward-delay',
  severity: 'medium',
  scope: 'link',
  appliesTo: bridge,
  title: 'Bridge {name} holds new ports for 2 x {forwardDelaySeconds} s (STP)',
  requires: ['links'],
  conditions: {
    all: [
      {fact: 'entity', path: 'isGuestBridge', operator: 'equal', value: true},
      {fact: 'entity', path: 'stpState', operator: 'greaterThan', value: 0},
      // libvirt's stp='on' delay='0' comes out as the kernel's 2 s minimum (200 cs): only more than that is a finding.
      {fact: 'entity', path: 'forwardDelayCs', operator: 'greaterThan', value: 200},
    ],
  },
  summary: 'STP is on with forward_delay {forwardDelaySeconds} s: a guest\'s port listens and learns for {forwardDelaySeconds} s each before forwarding, so PXE and DHCP at boot time out.',
  evidence: ['ip -d link show {name}: stp_state {stpState}, forward_delay {forwardDelayCs} cs', 'ports not yet forwarding: {portsInTransition}'],
  fix: ['ip link set {name} type bridge forward_delay 0'],
  note: ["or turn STP off (ip link set {name} type bridge stp_state 0); persist with <bridge name='{name}' stp='on' delay='0'/> in the network XML"],
  explains: [{rule: 'apipa-address', via: 'bridge'}],
  claims: ['stp:{name}'],
}
