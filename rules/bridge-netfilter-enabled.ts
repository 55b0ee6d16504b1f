import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'bridge-netfilter-enabled',
  severity: 'low',
  escalate: {when: 'forwardDrops', severity: 'high'},
  scope: 'link',
  appliesTo: (e) => e.plainBridge === true && Number(e.guestPortCount) > 0,
  title: 'Bridged guest frames on {name} pass through iptables (bridge-nf-call-iptables = 1)',
  // libvirt tells its NAT bridges (routed traffic) from plain bridges (bridged frames).
  requires: ['sysctl', 'links', 'libvirt'],
  needs: ['bridgeNfCallIptables'],
  conditions: {
    all: [
      {fact: 'entity', path: 'plainBridge', operator: 'equal', value: true},
      {fact: 'entity', path: 'guestPortCount', operator: 'greaterThan', value: 0},
      {fact: 'entity', path: 'bridgeNfCallIptables', operator: 'equal', value: 1},
    ],
  },
  summary: 'br_netfilter hands every frame bridged on {name} to the iptables FORWARD chain, where the verdict for them is {forwardVerdict} ({forwardDecidedBy}). Guests bridged to the LAN then depend on the host firewall.',
  evidence: ['net.bridge.bridge-nf-call-iptables = 1', 'FORWARD verdict for bridged frames: {forwardVerdict} ({forwardDecidedBy})'],
  fix: [
    'sysctl -w net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0',
    "printf 'net.bridge.bridge-nf-call-iptables = 0\\nnet.bridge.bridge-nf-call-ip6tables = 0\\n' >> /etc/sysctl.d/90-kvmdoctor.conf",
  ],
  note: ['on Kubernetes nodes keep it at 1 and accept bridged frames instead: iptables -I FORWARD -m physdev --physdev-is-bridged -j ACCEPT'],
  explains: [
    {rule: 'forward-policy-drop', via: 'bridge'},
    {rule: 'apipa-address', via: 'bridge'},
    {rule: 'dhcp-no-offer', via: 'bridge'},
  ],
}
