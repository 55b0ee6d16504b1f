import type {NetworkView} from '../src/derive/index.js'
import {chainOwner, netfilterElement} from './datapath.js'
import {cmd, defineRule, line, probes, restartNetwork, text} from './kit.js'

/** libvirt pins a NAT or routed network's forwarding to `dev=`: its LIBVIRT_FWO/FWI accept only that device. */
const pinnable = (n: NetworkView) => n.active && (n.forwardMode === 'nat' || n.forwardMode === 'route')
const what = (n: NetworkView) => (n.forwardMode === 'nat' ? 'NAT' : 'Routed')

export default defineRule<NetworkView>({
  id: 'nat-masquerade-wrong-interface',
  kind: 'network',
  severity: 'high',
  needs: [probes.libvirt, probes.links, probes.routes],
  known: ['forwardDevState'],
  appliesTo: (n) => pinnable(n) && n.forwardDevState !== 'none',
  conditions: (c) => c.all(c.eq('forwardDevIsDefaultRoute', false)),
  title: (n) => text`${what(n)} network ${n.name} is pinned to ${n.forwardDev}, which is ${n.forwardDevState} and not the default route's device`,
  summary: (n) =>
    text`<forward mode='${n.forwardMode}' dev='${n.forwardDev}'/> makes libvirt ${n.forwardMode === 'nat' ? 'masquerade and forward' : 'forward'} only out of ${n.forwardDev}, but traffic leaves through ${n.defaultRouteDevs}: guests resolve names (the host's dnsmasq answers) yet get 'port unreachable' from the gateway for everything else.`,
  evidence: (n) => [line`virsh net-dumpxml ${n.name}: <forward mode='${n.forwardMode}' dev='${n.forwardDev}'/>`, line`ip link: ${n.forwardDev} is ${n.forwardDevState}`, line`default route via: ${n.defaultRouteDevs}`],
  fix: (n) => [cmd`virsh net-edit ${n.name}`, ...restartNetwork(n)],
  note: (n) => [line`in the editor drop dev='${n.forwardDev}' from <forward>, or set it to ${n.defaultRouteDevs}`],
  // The guests' traffic out of another device meets libvirt's own reject in LIBVIRT_FWO: the pinning is why.
  explains: [
    {rule: 'nat-masquerade-missing', via: 'network'},
    {rule: 'iptables-forward-drop', via: 'network', onlyWhere: (e) => e.kind === 'element' && netfilterElement(e) && chainOwner(e.element) === 'libvirt', onlyWhereText: "a drop in libvirt's own chain"},
  ],
})
