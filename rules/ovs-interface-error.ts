import type {InterfaceView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, quoted, text, virshQuoted} from './kit.js'

export default defineRule<InterfaceView>({
  id: 'ovs-interface-error',
  kind: 'interface',
  severity: 'high',
  needs: [probes.libvirt, probes.ovs],
  // A port that is missing is ovs-port-missing's; a link libvirt holds down is the guest's own (domif-setlink).
  appliesTo: (i) => i.ovs && i.running && i.ovsPortOn !== null && i.linkState !== 'down',
  conditions: (c) => c.any(c.ne('ovsInterfaceError', null), c.eq('ovsOfport', -1), c.eq('ovsLinkState', 'down')),
  title: (i) => text`Guest ${i.domain}: Open vSwitch interface ${i.target} ${i.ovsInterfaceError !== null ? 'is in error' : i.ovsOfport === -1 ? 'could not be opened' : 'has its link down'}`,
  summary: (i) =>
    text`${i.domain}'s tap ${i.target} is a port of ${i.ovsPortOn}, but OVS reports ${i.ovsInterfaceError !== null ? `the error "${i.ovsInterfaceError}"` : i.ovsOfport === -1 ? 'ofport -1 (it could not open the device)' : `link_state down (admin_state ${i.ovsAdminState})`}: no frame passes between the guest and the bridge.`,
  evidence: (i) => [line`ovs-vsctl list interface ${i.target}: error ${i.ovsInterfaceError}, ofport ${i.ovsOfport}, link_state ${i.ovsLinkState}, admin_state ${i.ovsAdminState}`],
  // A link down with no error: the tap set up again. An error (the device gone, a wrong type) needs the interface re-plugged.
  fix: (i) => (i.ovsInterfaceError === null && i.ovsOfport !== -1 && i.ovsAdminState === 'down' ? [cmd`ip link set ${i.target} up`] : []),
  check: (i) => [cmd`ovs-vsctl list interface ${i.target}`, cmd`ip link show ${i.target}`],
  note: (i) => [line`an interface in error is re-plugged: virsh detach-interface ${virshQuoted(['detach-interface'], i.domain)} bridge --mac ${quoted(i.mac)} --live, then attach it again; link_state down with admin_state up is the guest's NIC not brought up inside the guest`],
  owns: [
    {kind: 'ovs-interface', covers: (i, el) => el.device === i.target, undo: () => []},
    // The tap itself gone ("could not open network device ... (No such device)"): the datapath stops at the missing
    // device before it reaches OVS; this finding stands for it.
    {kind: 'link', where: (el) => el.state === 'missing', covers: (i, el) => el.device === i.target, undo: () => []},
  ],
})
