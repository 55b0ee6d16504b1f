import type {InterfaceView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

interface Vlan {
  /** libvirt's XML names VLANs and the port's tag is none of them. */
  tagDiffersFromXml: boolean
  /** The bridge has uplinks and none carries the port's VLAN. */
  noUplinkCarries: boolean
  /** The trunk uplinks whose list lacks the port's VLAN. */
  trunksLacking: string[]
}

/** libvirt's XML names VLANs and the port's tag is none of them. */
const tagDiffersFromXml = (i: InterfaceView) => i.libvirtVlanTags.length > 0 && (i.ovsTag === null || !i.libvirtVlanTags.includes(i.ovsTag))

export default defineRule<InterfaceView, Vlan>({
  id: 'ovs-vlan-mismatch',
  kind: 'interface',
  severity: 'high',
  needs: [probes.libvirt, probes.ovs],
  // Whether the uplinks carry the port's VLAN decides only where its tag is the one libvirt names.
  knownWhere: (i) => (tagDiffersFromXml(i) ? [] : ['ovsVlanLeaves']),
  appliesTo: (i) => i.ovs && i.running && i.ovsPortOn !== null,
  derive: (i) => ({
    tagDiffersFromXml: tagDiffersFromXml(i),
    noUplinkCarries: i.ovsVlanLeaves === false,
    trunksLacking: i.ovsUplinks.filter((u) => u.carries === false && u.trunk && u.trunks.length > 0).map((u) => u.name),
  }),
  conditions: (c) => c.any(c.eq('tagDiffersFromXml', true), c.eq('noUplinkCarries', true)),
  title: (i) => text`Guest ${i.domain}: Open vSwitch port ${i.target} is in ${i.ovsTag === null ? 'no VLAN' : `VLAN ${i.ovsTag}`}${i.tagDiffersFromXml ? `, libvirt names VLAN ${i.libvirtVlanTags.join(',')}` : ', which no uplink carries'}`,
  summary: (i) =>
    text`${i.domain}'s tap ${i.target} on ${i.ovsPortOn} has tag ${i.ovsTag ?? 'none'}${i.tagDiffersFromXml ? ` while its domain XML asks for VLAN ${i.libvirtVlanTags.join(',')}` : ''}${i.noUplinkCarries ? `; the bridge's uplinks (${i.ovsUplinks.map((u) => `${u.name} ${u.vlans}`).join('; ')}) do not carry it` : ''}: its frames never reach its peers or its gateway.`,
  evidence: (i) => [line`ovs-vsctl list port ${i.target}: tag ${i.ovsTag}`, line`virsh dumpxml ${i.domain}: <vlan> tags ${i.libvirtVlanTags}`, ...i.ovsUplinks.map((u) => line`ovs-vsctl list port ${u.name}: ${u.vlans}`)],
  fix: (i) => [
    i.tagDiffersFromXml && i.libvirtVlanTags.length === 1 ? cmd`ovs-vsctl set Port ${i.target} ${`tag=${i.libvirtVlanTags[0]}`}` : undefined,
    // The uplink's trunk list gains the guest's VLAN: nothing else it carries changes.
    ...(!i.tagDiffersFromXml && i.ovsTag !== null ? i.trunksLacking.map((u) => cmd`ovs-vsctl add Port ${u} trunks ${i.ovsTag}`) : []),
  ],
  check: (i) => [cmd`ovs-vsctl show`, cmd`ovs-vsctl list port ${i.target}`],
  owns: [{kind: 'ovs-vlan', covers: (i, el) => el.device === i.target, undo: () => []}],
})
