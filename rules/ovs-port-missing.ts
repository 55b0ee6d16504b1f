import type {InterfaceView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, quoted, text, virshQuoted} from './kit.js'

/** The port's VLAN as libvirt sets it from the domain's <vlan>: one tag an access port, several a trunk. */
const libvirtVlan = (port: string, tags: number[]): string[] => (tags.length === 0 ? [] : ['--', 'set', 'Port', port, tags.length === 1 ? `tag=${tags[0]}` : `trunks=${tags.join(',')}`])

/** The interface's external ids libvirt sets (OpenStack's agents key on iface-id). */
const libvirtIds = (port: string, ifaceId: string | null | undefined, mac: string | null | undefined): string[] =>
  !ifaceId ? [] : ['--', 'set', 'Interface', port, `external-ids:iface-id=${ifaceId}`, `external-ids:attached-mac=${mac ?? ''}`]

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
          [cmd`ovs-vsctl --if-exists del-port ${i.target} -- add-port ${i.expectedBridge} ${i.target} ${i.target === null ? [] : libvirtVlan(i.target, i.libvirtVlanTags)} ${i.target === null ? [] : libvirtIds(i.target, i.ovsInterfaceId, i.mac)}`]
        : [],
  check: (i) => [cmd`ovs-vsctl show`, cmd`ovs-vsctl port-to-br ${i.target}`],
  note: (i) => [line`or re-plug the interface: virsh detach-interface ${virshQuoted(['detach-interface'], i.domain)} bridge --mac ${quoted(i.mac)} --live, then attach it again (the guest loses its link meanwhile)`, i.ovsState === 'running' && !i.ovsBridgeExists ? line`create the bridge first (ovs-vsctl add-br ${quoted(i.expectedBridge)}) with its uplink, as the host's network configuration defines it` : undefined],
  // Put back as libvirt plugs it; a port whose plugging is not known (not a guest's tap) is not re-added blind: an
  // untagged port is a trunk of every VLAN.
  owns: [{kind: 'ovs-port', where: (el) => el.device !== undefined, covers: (i, el) => el.device === i.target, undo: (el) => (el.ovsPlug && el.device ? (cmd`ovs-vsctl --may-exist add-port ${el.master} ${el.device} ${libvirtVlan(el.device, el.ovsPlug.vlanTags)} ${libvirtIds(el.device, el.ovsPlug.ifaceId, el.ovsPlug.mac)}` ?? []) : [])}],
})
