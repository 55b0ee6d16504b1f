import type {HostView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

export default defineRule<HostView>({
  id: 'iptables-nft-incompatible',
  kind: 'host',
  severity: 'high',
  needs: [probes.netfilter],
  conditions: (c) => c.all(c.nonEmpty('incompatibleTables')),
  title: (h) => text`iptables cannot read table(s) ${h.incompatibleTables}: nft added rules iptables-nft does not understand`,
  summary: (h) =>
    text`iptables-save prints "Table is incompatible, use 'nft' tool" for ${h.incompatibleTables}: something added native nftables rules or chains to a table iptables-nft owns. libvirt (iptables backend), Docker and firewalld can then neither add nor remove their rules there: \`virsh net-start\` fails with "table 'nat' is incompatible, use 'nft' tool". kvmdoctor read the table from nft instead.`,
  evidence: (h) => [line`iptables-save: # Table \`…' is incompatible for ${h.incompatibleTables}`, line`log: ${h.logNftIncompatible}`],
  fix: () => [],
  check: () => [cmd`nft -a list ruleset`],
  // Read from nft, iptables-nft's own matches in those tables are opaque (xt): flows they decide cannot be told.
  explains: [{rule: 'guest-flow-indeterminate', via: 'host', onlyWhere: (e) => e.kind === 'element' && e.incompatibleTable, onlyWhereText: 'incompatibleTable'}],
  note: () => [
    "find the native rules in those tables (nft prints them; iptables-nft's own show as xt matches), move them to a table of their own (nft delete rule ip TABLE CHAIN handle N, then add them under table ip mytable) or write them with iptables; then restart libvirtd (or virtnetworkd)",
  ],
})
