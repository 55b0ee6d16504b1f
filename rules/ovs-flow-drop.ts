import type {ElementView} from '../src/derive/index.js'
import {DATAPATH} from './datapath.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

export default defineRule<ElementView>({
  id: 'ovs-flow-drop',
  kind: 'element',
  severity: 'high',
  // The OVS hop is decided by the Open vSwitch facts alone: netfilter read in part (a sosreport lists no ipset, nor
  // the legacy tables beside iptables-nft) leaves a flow's drop of a guest's frames as it is.
  needs: [...DATAPATH.filter((p) => p !== probes.netfilter), probes.ovs],
  // Only Open vSwitch flows: the netfilter and link elements are other rules' to judge.
  appliesTo: (e) => e.elementKind === 'ovs-flow',
  conditions: (c) => c.all(c.eq('verdict', 'fail')),
  title: (e) => text`Open vSwitch drops guest traffic: ${e.name}`,
  summary: (e) => text`${e.affectedGuests} guest(s) on ${e.bridges}: ${e.detail}. The highest-priority flow that matches their frames drops them.`,
  evidence: (e) => [line`decided by: ${e.name}`, ...e.flows],
  // A drop flow scoped to a guest's own port exists for what that guest sends: removing it changes nothing else. One
  // scoped to an uplink (in_port of the LAN's port) filters what reaches every port of the bridge, and a broader one
  // (or a table miss) is the controller's or an admin's policy: corrected where it is made, never deleted here.
  fix: (e) => [e.element.ovsFlow?.guestPort !== undefined ? cmd`ovs-ofctl --strict del-flows ${e.element.ovsFlow.bridge} ${e.element.ovsFlow.match}` : undefined],
  check: (e) => [cmd`ovs-ofctl dump-flows ${e.element.ovsFlow?.bridge ?? e.element.device}`, cmd`kvmdoctor trace ${e.context.domain}`],
  note: (e) => [
    e.element.ovsFlow && e.element.ovsFlow.guestPort === undefined && /(^|,)in_port=/.test(e.element.ovsFlow.match)
      ? line`it filters what enters by a port that is no guest's (an uplink): deleting it opens every port of ${e.element.ovsFlow.bridge} to that traffic; narrow it where it is made`
      : undefined,
    'a flow a controller installed comes back: correct it in the controller; a bridge left with no flow at all drops everything in OpenFlow 1.3 (ovs-ofctl add-flow BR "priority=0,actions=NORMAL" restores the default)',
  ],
  owns: [{kind: 'ovs-flow', where: (el) => el.ovsFlow?.drops === true, undo: (el) => (el.ovsFlow?.guestPort !== undefined ? (cmd`ovs-ofctl --strict del-flows ${el.ovsFlow.bridge} ${el.ovsFlow.match}` ?? []) : [])}],
})
