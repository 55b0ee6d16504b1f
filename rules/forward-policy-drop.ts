import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'forward-policy-drop',
  severity: 'critical',
  scope: 'link',
  title: 'FORWARD drops guest traffic of bridge {name}',
  // libvirt tells its NAT bridges (routed traffic) from plain bridges (bridged frames).
  requires: ['iptables', 'links', 'libvirt'],
  conditions: {
    all: [
      {fact: 'entity', path: 'isGuestBridge', operator: 'equal', value: true},
      {fact: 'entity', path: 'forwardPolicy', operator: 'equal', value: 'DROP'},
      {fact: 'entity', path: 'forwardDrops', operator: 'equal', value: true},
    ],
  },
  summary: 'The filter FORWARD policy is DROP and nothing accepts new traffic from {name} before it ({forwardDecidedBy}); {guestPortCount} guest(s) on it cannot get DHCP from the LAN or reach anything routed. Docker sets this policy when it enables forwarding.',
  evidence: ['decided by: {forwardDecidedBy}', 'bridge-nf-call-iptables = {bridgeNfCallIptables}', 'DOCKER-USER chain present: {host.dockerUserChain}'],
  fix: [
    'iptables -I DOCKER-USER -i {name} -j ACCEPT   # without Docker: iptables -I FORWARD -i {name} -j ACCEPT',
    'iptables -I DOCKER-USER -o {name} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    'or, with Docker >= 28: {"ip-forward-no-drop": true} in /etc/docker/daemon.json',
  ],
  explains: [{rule: 'apipa-address', via: 'bridge'}],
}
