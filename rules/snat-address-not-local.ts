import type {ElementView} from '../src/derive/index.js'
import {DATAPATH, listChainOf, netfilterUndo} from './datapath.js'
import {defineRule, line, text} from './kit.js'

export default defineRule<ElementView>({
  id: 'snat-address-not-local',
  kind: 'element',
  severity: 'high',
  needs: DATAPATH,
  appliesTo: (e) => e.elementKind === 'snat-address',
  // The datapath met a source NAT whose address is neither the host's nor routed to it: where the replies go is the network's decision.
  conditions: (c) => c.all(c.eq('elementKind', 'snat-address')),
  title: (e) => text`Guest traffic is source-NATed to ${e.address}, an address this host does not own`,
  summary: (e) =>
    text`Packets of ${e.affectedGuests} guest(s) on ${e.bridges} leave with source ${e.address}, which is not an address of this host and no local route covers it: their replies go wherever the network delivers ${e.address} (a former address of this host after a move, a failover address now elsewhere), so the guests wait for answers that never arrive here.`,
  evidence: (e) => [line`translated by: ${e.name}`, line`this host owns no address or local route covering ${e.address}`, ...e.flows],
  // libvirt writes an SNAT only from the network's <nat><address start=...> setting: that is where it is changed.
  fix: (e) => (e.libvirtOwned ? [] : netfilterUndo(e.element)),
  note: (e) => [
    'deleting the rule leaves the network to its other source NAT (libvirt masquerades to the address of the device a guest leaves by); if the address moved to this host under another name, rewrite the rule with that address instead',
    line`if the rule is libvirt's own (a network with <nat><address start=...>), change that address with \`virsh net-edit ${e.context.network}\` and restart the network`,
    line`if the upstream really routes ${e.address} to this host (a routed public block), add it as a local route (ip route add local ${e.address} dev lo) so kvmdoctor can see it`,
  ],
  // The NAT statement, deleted as any netfilter rule is (its undo in the trace).
  owns: [{kind: 'snat-address', undo: netfilterUndo, lists: listChainOf}],
})
