import type {LinkView} from '../src/derive/index.js'
import {bridgedAccept, iptablesPlace, iptablesTool} from './datapath.js'
import {appendLines, cmd, defineRule, line, probes, SYSCTL_DROP_IN, text} from './kit.js'

interface ForwardPath {
  /** What the FORWARD chain does with the frames bridged on it (null: the datapath was not followed). */
  forwardVerdict: 'drop' | 'accept' | null
  forwardDecidedBy: string | null
}

/** The bridge's own nf_call_iptables is what hands its frames over: the host-wide sysctl is off. */
const ownSwitch = (l: LinkView) => l.bridgeNfCallOwn === true
const switchOf = (l: LinkView) => (ownSwitch(l) ? `${l.name}: nf_call_iptables 1 (net.bridge.bridge-nf-call-iptables = 0)` : 'net.bridge.bridge-nf-call-iptables = 1')

/** The bridged frames accepted just before the iptables filter drop that stops them (none for a drop elsewhere: nft's, another table's). */
function dropPlaceAccept(l: LinkView) {
  const drop = l.forwardDropElement
  if (!drop || drop.nftSyntax === true || drop.nfTable !== 'filter' || !drop.backend?.startsWith('iptables')) return undefined
  return bridgedAccept(iptablesTool(drop), 'filter', iptablesPlace(drop, drop.chain), l.name)
}

export default defineRule<LinkView, ForwardPath>({
  id: 'bridge-netfilter-enabled',
  kind: 'link',
  severity: 'low',
  escalate: {to: 'high', when: (l) => l.forwardDrop !== null},
  // libvirt tells its NAT bridges (routed traffic) from plain bridges (bridged frames).
  needs: [probes.sysctl, probes.links, probes.libvirt],
  known: ['bridgeNfCallIptables'],
  appliesTo: (l) => l.plainBridge && l.guestPortCount > 0,
  derive: (l) => ({
    forwardVerdict: !l.datapathFollowed || l.linkKind !== 'bridge' ? null : l.forwardDrop !== null ? 'drop' : 'accept',
    forwardDecidedBy: l.forwardDrop ?? (l.datapathFollowed ? 'nothing on the forward path drops it' : null),
  }),
  // Frames a rule accepts on purpose (the admin's physdev accept, this finding's own DOCKER-USER accepts) are
  // the host's choice, not a risk left open: once its fix is in, the finding clears (one judgement per fault).
  conditions: (c) => c.all(c.eq('bridgeNfCallIptables', 1), c.eq('forwardAcceptedBy', null)),
  title: (l) => text`Bridged guest frames on ${l.name} pass through iptables (${ownSwitch(l) ? `its own nf_call_iptables 1` : 'bridge-nf-call-iptables = 1'})`,
  summary: (l) =>
    text`br_netfilter hands every frame bridged on ${l.name} to the iptables FORWARD chain, where the verdict for them is ${l.forwardVerdict} (${l.forwardDecidedBy}). Guests bridged to the LAN then depend on the host firewall.`,
  evidence: (l) => [line`${switchOf(l)}`, line`FORWARD verdict for bridged frames: ${l.forwardVerdict} (${l.forwardDecidedBy})`],
  // Docker and Kubernetes depend on br_netfilter: with them the bridged frames are accepted where
  // the admin's accepts go (DOCKER-USER), the same lines the drop's own finding prints; without Docker, just before
  // the drop (the rules before it, libvirt's nwfilter jumps among them, keep deciding). Rules that match bridge ports
  // (-m physdev: libvirt's nwfilter, the admin's) see bridged frames only through br_netfilter: it is not switched off
  // under them, which would stop every one of them filtering.
  fix: (l, h) =>
    h.dockerUserChain || l.forwardDrop !== null
      ? [h.dockerUserChain ? bridgedAccept('iptables', 'filter', ['-I', 'DOCKER-USER'], l.name) : dropPlaceAccept(l)]
      : h.physdevRules
        ? []
        : ownSwitch(l)
          ? [cmd`ip link set ${l.name} type bridge nf_call_iptables 0 nf_call_ip6tables 0`]
          : [cmd`sysctl -w net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0`, appendLines(SYSCTL_DROP_IN, ['net.bridge.bridge-nf-call-iptables = 0', 'net.bridge.bridge-nf-call-ip6tables = 0'])],
  note: (l, h) => [
    'on Kubernetes nodes keep bridge-nf-call-iptables at 1 and accept the bridged frames instead',
    ...(h.physdevRules && !h.dockerUserChain && l.forwardDrop === null ? ['iptables rules match bridge ports (-m physdev, as libvirt\'s nwfilter makes for a guest\'s <filterref>): they see bridged frames only through br_netfilter, so it stays on; accept the frames you mean to pass instead'] : []),
    ...(ownSwitch(l) ? [line`the switch is ${l.name}'s own (nf_call_iptables 1), not the host-wide sysctl: whatever creates the bridge sets it (its network configuration), and it comes back with the bridge unless turned off there`] : []),
  ],
  fileToChange: (l) => (ownSwitch(l) ? undefined : 'etc/sysctl.d/90-kvmdoctor.conf'),
  explains: [
    {rule: 'iptables-forward-drop', via: 'bridge'},
    {rule: 'apipa-address', via: 'bridge'},
    {rule: 'dhcp-no-offer', via: 'bridge'},
  ],
})
