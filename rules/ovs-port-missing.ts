import type {InterfaceView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

/** The port's VLAN as libvirt sets it from the domain's <vlan>: one tag an access port, several a trunk. */
const libvirtVlan = (i: InterfaceView): string[] =>
  i.target === null || i.libvirtVlanTags.length === 0 ? [] : ['--', 'set', 'Port', i.target, i.libvirtVlanTags.length === 1 ? `tag=${i.libvirtVlanTags[0]}` : `trunks=${i.libvirtVlanTags.join(',')}`]

/** The interface's external ids libvirt sets (OpenStack's agents key on iface-id). */
const libvirtIds = (i: InterfaceView): string[] =>
  i.target === null || i.ovsInterfaceId === null ? [] : ['--', 'set', 'Interface', i.target, `external-ids:iface-id=${i.ovsInterfaceId}`, `external-ids:attached-mac=${i.mac}`]

export default defineRule<InterfaceView>({
  id: 'ovs-port-missing',
  kind: 'interface',
  severity: 'critical',
  needs: [probes.libvirt, probes.ovs],
  known: ['ovsState'],
  appliesTo: (i) => i.ovs && i.running && i.target !== null && i.expectedBridge !== null,
  conditions: (c) => c.all(c.ne('ovsPortOn', c.field('expectedBridge'))),
  title: (i) => text`Guest ${i.domain}: tap ${i.target} is not a port of Open vSwitch bridge ${i.expectedBridge}`,
  summary: (i) =>
    i.ovsState === 'running'
      ? text`libvirt plugs ${i.domain}'s interface (${i.mac}) into Open vSwitch bridge ${i.expectedBridge}, but ${i.ovsBridgeExists ? `its tap ${i.target} is ${i.ovsPortOn ? `a port of ${i.ovsPortOn}` : 'on no bridge'}` : 'OVS has no such bridge'}. The guest is cut off; this is what an OVS or host restart that lost the port leaves behind.`
      : text`libvirt plugs ${i.domain}'s interface (${i.mac}) into Open vSwitch bridge ${i.expectedBridge}, but Open vSwitch is ${i.ovsState === 'not-installed' ? 'not installed' : 'not running'}${i.ovsReason ? ` (${i.ovsReason})` : ''}: the tap ${i.target} is on no bridge and the guest is cut off.`,
  evidence: (i) => [line`virsh dumpxml ${i.domain}: interface ${i.mac} target ${i.target}, source ${i.source}, <virtualport type='openvswitch'> interfaceid ${i.ovsInterfaceId}`, line`ovs-vsctl: ${i.target} is a port of ${i.ovsPortOn}; bridge ${i.expectedBridge} exists: ${i.ovsBridgeExists}`],
  fix: (i, host) =>
    i.ovsState === 'not-running'
      ? [host.systemd === true ? cmd`systemctl start openvswitch-switch` : cmd`/usr/share/openvswitch/scripts/ovs-ctl start`]
      : i.ovsState === 'running' && i.ovsBridgeExists
        ? // One transaction, as libvirt plugs a port: off any other bridge, onto its own, in the VLAN(s) its <vlan>
          // names (an untagged re-plug leaves a guest of a VLAN as cut off as before), with libvirt's ids.
          [cmd`ovs-vsctl --if-exists del-port ${i.target} -- add-port ${i.expectedBridge} ${i.target} ${libvirtVlan(i)} ${libvirtIds(i)}`]
        : [],
  check: (i) => [cmd`ovs-vsctl show`, cmd`ovs-vsctl port-to-br ${i.target}`],
  note: (i) => [line`or re-plug the interface: virsh detach-interface ${i.domain} bridge --mac ${i.mac} --live, then attach it again (the guest loses its link meanwhile)`, i.ovsState === 'running' && !i.ovsBridgeExists ? line`create the bridge first (ovs-vsctl add-br ${i.expectedBridge}) with its uplink, as the host's network configuration defines it` : undefined],
  owns: [{kind: 'ovs-port', where: (el) => el.device !== undefined, covers: (i, el) => el.device === i.target, undo: (el) => cmd`ovs-vsctl --may-exist add-port ${el.master} ${el.device}` ?? []}],
})
