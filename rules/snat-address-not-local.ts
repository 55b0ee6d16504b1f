import {DATAPATH_REQUIRES, undoOf} from './datapath.js'
import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'snat-address-not-local',
  severity: 'high',
  scope: 'element',
  appliesTo: (e) => e.elementKind === 'snat-address',
  title: 'Guest traffic is source-NATed to {address}, an address this host does not own',
  requires: DATAPATH_REQUIRES,
  // The datapath met a source NAT whose address is neither the host's nor routed to it: where the replies go is the network's decision.
  conditions: {all: [{fact: 'entity', path: 'elementKind', operator: 'equal', value: 'snat-address'}]},
  summary: 'Packets of {affectedGuests} guest(s) on {bridges} leave with source {address}, which is not an address of this host and no local route covers it: their replies go wherever the network delivers {address} (a former address of this host after a move, a failover address now elsewhere), so the guests wait for answers that never arrive here.',
  evidence: ['translated by: {name}', 'this host owns no address or local route covering {address}', '{flows}'],
  fix: ['{undo}'],
  fixLines(e) {
    // libvirt writes an SNAT only from the network's <nat><address start=...> setting: that is where it is changed.
    if (e.libvirtOwned === true) return []
    return undoOf(e)
  },
  note: [
    'deleting the rule leaves the network to its other source NAT (libvirt masquerades to the address of the device a guest leaves by); if the address moved to this host under another name, rewrite the rule with that address instead',
    'if the rule is libvirt\'s own (a network with <nat><address start=...>), change that address with `virsh net-edit {context.network}` and restart the network',
    'if the upstream really routes {address} to this host (a routed public block), add it as a local route (ip route add local {address} dev lo) so kvmdoctor can see it',
  ],
}
