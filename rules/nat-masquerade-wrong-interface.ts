import {natNetwork} from './applies.js'
import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'nat-masquerade-wrong-interface',
  severity: 'high',
  scope: 'network',
  appliesTo: (e) => natNetwork(e) && e.forwardDevState !== 'none',
  title: "NAT network {name} is pinned to {forwardDev}, which is {forwardDevState} and not the default route's device",
  requires: ['libvirt', 'links', 'routes'],
  needs: ['forwardDevState'],
  conditions: {
    all: [
      {fact: 'entity', path: 'active', operator: 'equal', value: true},
      {fact: 'entity', path: 'forwardMode', operator: 'equal', value: 'nat'},
      {fact: 'entity', path: 'forwardDevState', operator: 'notEqual', value: 'none'},
      {fact: 'entity', path: 'forwardDevIsDefaultRoute', operator: 'equal', value: false},
    ],
  },
  summary: "<forward mode='nat' dev='{forwardDev}'/> makes libvirt masquerade and forward only out of {forwardDev}, but traffic leaves through {defaultRouteDevs}: guests resolve names (the host's dnsmasq answers) yet get 'port unreachable' from the gateway for everything else.",
  evidence: ["virsh net-dumpxml {name}: <forward mode='nat' dev='{forwardDev}'/>", 'ip link: {forwardDev} is {forwardDevState}', 'default route via: {defaultRouteDevs}'],
  fix: ['virsh net-edit {name}', 'virsh net-destroy {name} && virsh net-start {name}', 'systemctl restart libvirtd'],
  note: ["in the editor drop dev='{forwardDev}' from <forward>, or set it to {defaultRouteDevs}; restarting libvirtd re-attaches the running guests"],
  explains: [{rule: 'nat-masquerade-missing', via: 'network'}],
}
