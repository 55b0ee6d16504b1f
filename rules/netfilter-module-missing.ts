import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'netfilter-module-missing',
  severity: 'high',
  scope: 'host',
  title: 'Kernel modules the firewall needs are missing: {modulesToLoad}',
  requires: ['modules', 'netfilter', 'libvirt', 'logs'],
  conditions: {
    any: [
      {fact: 'entity', path: 'modulesMissing', operator: 'nonEmpty', value: true},
      {fact: 'entity', path: 'logModuleMissing', operator: 'nonEmpty', value: true},
    ],
  },
  summary: 'The rules libvirt (or the firewall) needs cannot exist without these modules, and the kernel has neither loaded nor built them in: iptables says "Extension MASQUERADE revision 0 not supported, missing kernel module?" and the NAT or bridge filtering they carry is not there.',
  evidence: ['{modulesMissing}', 'log: {logModuleMissing}'],
  fix: ['modprobe {modulesToLoad}'],
  fixLines: (e) => (Array.isArray(e.modulesToLoad) ? (e.modulesToLoad as string[]).map((m) => `modprobe ${m}`) : []),
  note: ['persist: one module name a line in /etc/modules-load.d/kvmdoctor.conf', 'a module modprobe cannot find is not installed for this kernel (Fedora CoreOS and minimal images ship some in kernel-modules-extra); then restart libvirtd (or virtnetworkd) so it adds its rules'],
  // The rules these modules carry are missing because of them.
  explains: [
    {rule: 'libvirt-firewall-rules-missing', via: 'host'},
    {rule: 'nat-masquerade-missing', via: 'host'},
    {rule: 'bridge-netfilter-enabled', via: 'host'},
  ],
  claims: ['nat:{modulesMissingNetworks}'],
}
