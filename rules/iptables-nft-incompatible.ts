import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'iptables-nft-incompatible',
  severity: 'high',
  scope: 'host',
  title: 'iptables cannot read table(s) {incompatibleTables}: nft added rules iptables-nft does not understand',
  requires: ['netfilter'],
  conditions: {all: [{fact: 'entity', path: 'incompatibleTables', operator: 'nonEmpty', value: true}]},
  summary: 'iptables-save prints "Table is incompatible, use \'nft\' tool" for {incompatibleTables}: something added native nftables rules or chains to a table iptables-nft owns. libvirt (iptables backend), Docker and firewalld can then neither add nor remove their rules there: `virsh net-start` fails with "table \'nat\' is incompatible, use \'nft\' tool". kvmdoctor read the table from nft instead.',
  evidence: ['iptables-save: # Table `…\' is incompatible for {incompatibleTables}', 'log: {logNftIncompatible}'],
  fix: ['nft -a list ruleset'],
  // Read from nft, iptables-nft's own matches in those tables are opaque (xt): flows they decide cannot be told.
  explains: [{rule: 'guest-flow-indeterminate', via: 'host', onlyWhere: 'incompatibleTable'}],
  note: ["find the native rules in those tables (nft prints them; iptables-nft's own show as xt matches), move them to a table of their own (nft delete rule ip TABLE CHAIN handle N, then add them under table ip mytable) or write them with iptables; then restart libvirtd (or virtnetworkd)"],
}
