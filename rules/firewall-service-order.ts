import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'firewall-service-order',
  severity: 'high',
  scope: 'network',
  title: 'A firewall service (re)applied its rules after libvirt: network {name} lost its own',
  requires: ['libvirt', 'netfilter', 'services'],
  needs: ['libvirtRulesPresent'],
  conditions: {
    all: [
      {fact: 'entity', path: 'active', operator: 'equal', value: true},
      {fact: 'entity', path: 'routed', operator: 'equal', value: true},
      // Missing, or partial: the NAT of a NAT network gone while some rules remain.
      {
        any: [
          {fact: 'entity', path: 'libvirtRulesPresent', operator: 'equal', value: false},
          {all: [{fact: 'entity', path: 'forwardMode', operator: 'equal', value: 'nat'}, {fact: 'entity', path: 'masquerade', operator: 'equal', value: false}]},
        ],
      },
      {fact: 'host', path: 'firewallAfterLibvirt', operator: 'nonEmpty', value: true},
    ],
  },
  summary: "Network {name} is active but its firewall rules are gone, and a firewall service started or reloaded after the libvirt daemon last applied them: a firewall that flushes on (re)load (firewalld's iptables backend, iptables/netfilter-persistent restoring a saved set, ufw) removes libvirt's rules, and libvirt does not re-add them by itself.",
  evidence: ['libvirt daemon: {host.libvirtStarted}', 'after it: {host.firewallAfterLibvirt}', 'libvirt rules naming {bridge}: {libvirtRules}', 'NAT rules for {subnet}: {masqueradeRules}'],
  fix: ['systemctl restart libvirtd'],
  note: ['or virtnetworkd on hosts with the modular daemons: either re-applies the rules of every active network', 'to keep the order: `systemctl edit libvirtd` (or virtnetworkd) and add After=firewalld.service (or the firewall unit you use) under [Unit]'],
  explains: [
    {rule: 'libvirt-firewall-rules-missing', via: 'network'},
    {rule: 'nat-masquerade-missing', via: 'network'},
    {rule: 'dhcp-checksum-rule-missing', via: 'network'},
    {rule: 'apipa-address', via: 'network'},
  ],
  claims: ['nat:{name}'],
}
