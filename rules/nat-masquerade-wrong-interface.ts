import type {NetworkView} from '../src/derive/index.js'
import {natNetwork} from './applies.js'
import {cmd, defineRule, line, probes, restartNetwork, text} from './kit.js'

export default defineRule<NetworkView>({
  id: 'nat-masquerade-wrong-interface',
  kind: 'network',
  severity: 'high',
  needs: [probes.libvirt, probes.links, probes.routes],
  known: ['forwardDevState'],
  appliesTo: (n) => natNetwork(n) && n.forwardDevState !== 'none',
  conditions: (c) => c.all(c.eq('active', true), c.eq('forwardMode', 'nat'), c.ne('forwardDevState', 'none'), c.eq('forwardDevIsDefaultRoute', false)),
  title: (n) => text`NAT network ${n.name} is pinned to ${n.forwardDev}, which is ${n.forwardDevState} and not the default route's device`,
  summary: (n) =>
    text`<forward mode='nat' dev='${n.forwardDev}'/> makes libvirt masquerade and forward only out of ${n.forwardDev}, but traffic leaves through ${n.defaultRouteDevs}: guests resolve names (the host's dnsmasq answers) yet get 'port unreachable' from the gateway for everything else.`,
  evidence: (n) => [line`virsh net-dumpxml ${n.name}: <forward mode='nat' dev='${n.forwardDev}'/>`, line`ip link: ${n.forwardDev} is ${n.forwardDevState}`, line`default route via: ${n.defaultRouteDevs}`],
  fix: (n) => [cmd`virsh net-edit ${n.name}`, ...restartNetwork(n)],
  note: (n) => [line`in the editor drop dev='${n.forwardDev}' from <forward>, or set it to ${n.defaultRouteDevs}`],
  explains: [{rule: 'nat-masquerade-missing', via: 'network'}],
})
