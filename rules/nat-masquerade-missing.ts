import type {NetworkView} from '../src/derive/index.js'
import {natNetwork} from './applies.js'
import {cmd, defineRule, line, probes, restartNetworkDaemon, text} from './kit.js'

export default defineRule<NetworkView>({
  id: 'nat-masquerade-missing',
  kind: 'network',
  severity: 'critical',
  needs: [probes.libvirt, probes.netfilter],
  known: ['sourceNatRules', 'subnet'],
  appliesTo: natNetwork,
  conditions: (c) => c.all(c.eq('sourceNatRules.length', 0)),
  title: (n) => text`No MASQUERADE/SNAT for the NAT network ${n.name} (${n.subnet})`,
  summary: (n) => text`Network ${n.name} forwards with NAT, but neither iptables nor nftables source-NATs ${n.subnet}: guests reach the host, but their packets leave with private source addresses and no reply comes back.`,
  evidence: (n) => [line`network ${n.name}: forward mode nat, subnet ${n.subnet}, bridge ${n.bridge}`, line`no MASQUERADE or SNAT rule reachable from nat POSTROUTING (iptables) or in any nft table covers ${n.subnet}`],
  fix: (_n, h) => [restartNetworkDaemon(h)],
  note: () => ['restarting libvirtd (or virtnetworkd) re-applies the network firewall rules without touching running guests'],
  owns: [
    {
      kind: 'nf-nat-missing',
      covers: (n, el) => el.network === n.name,
      undo: (_el, host) => (host ? restartNetworkDaemon(host) : cmd`systemctl restart libvirtd`) ?? [],
    },
  ],
})
