import type {LinkView} from '../src/derive/index.js'
import {bridge} from './applies.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

export default defineRule<LinkView>({
  id: 'stp-forward-delay',
  kind: 'link',
  severity: 'medium',
  needs: [probes.links],
  appliesTo: bridge,
  conditions: (c) =>
    c.all(
      c.eq('isGuestBridge', true),
      c.gt('stpState', 0),
      // libvirt's stp='on' delay='0' comes out as the kernel's 2 s minimum (200 cs): only more than that is a finding.
      c.gt('forwardDelayCs', 200),
    ),
  title: (l) => text`Bridge ${l.name} holds new ports for 2 x ${l.forwardDelaySeconds} s (STP)`,
  summary: (l) => text`STP is on with forward_delay ${l.forwardDelaySeconds} s: a guest's port listens and learns for ${l.forwardDelaySeconds} s each before forwarding, so PXE and DHCP at boot time out.`,
  evidence: (l) => [line`ip -d link show ${l.name}: stp_state ${l.stpState}, forward_delay ${l.forwardDelayCs} cs`, line`ports not yet forwarding: ${l.portsInTransition}`],
  // With STP on the kernel refuses less than 2 s (200 cs, ERANGE): its minimum is what libvirt's delay='0' gets.
  fix: (l) => [cmd`ip link set ${l.name} type bridge forward_delay 200`],
  note: (l) => [line`or turn STP off (ip link set ${l.name} type bridge stp_state 0); persist with <bridge name='${l.name}' stp='on' delay='0'/> in the network XML`],
  explains: [{rule: 'apipa-address', via: 'bridge'}],
  owns: [{kind: 'stp', covers: (l, el) => el.device === l.name, undo: (el) => cmd`ip link set ${el.device} type bridge forward_delay 200` ?? []}],
})
