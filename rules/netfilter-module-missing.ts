import type {HostView} from '../src/derive/index.js'
import {cmd, defineRule, line, moduleAvailable, probes, text} from './kit.js'

/** One kernel module netfilter needs here, and why. */
interface NeededModule {
  /** Module names any one of which provides the feature (kernels renamed and merged some). */
  anyOf: string[]
  why: string
}

interface Modules {
  /** Needed modules the kernel has neither loaded nor built in: "nf_nat: network default has no MASQUERADE". */
  modulesMissing: string[]
  /** What modprobe loads: the first name of each missing one, and the names the logs ask for. */
  modulesToLoad: string[]
}

/**
 * What the host's setup needs: NAT networks without a source-NAT rule need nf_nat and the masquerade
 * target of libvirt's backend; iptables rules matching bridge ports need br_netfilter. A network whose
 * MASQUERADE exists proves its modules loaded, so it needs nothing.
 */
function needed(h: HostView): NeededModule[] {
  const list: NeededModule[] = []
  for (const name of h.natNetworksWithoutSourceNat) {
    list.push({anyOf: ['nf_nat'], why: `network ${name} has no MASQUERADE`})
    list.push(
      h.firewallBackend === 'nftables'
        ? {anyOf: ['nft_masq', 'nft_nat'], why: `network ${name} has no MASQUERADE (libvirt's nftables backend masquerades with nft_masq)`}
        : {anyOf: ['xt_MASQUERADE', 'xt_nat'], why: `network ${name} has no MASQUERADE (the iptables MASQUERADE target)`},
    )
  }
  if (h.physdevRules) list.push({anyOf: ['br_netfilter'], why: 'iptables rules match bridge ports (-m physdev): without br_netfilter bridged frames never reach them'})
  return list
}

export default defineRule<HostView, Modules>({
  id: 'netfilter-module-missing',
  kind: 'host',
  severity: 'high',
  needs: [probes.modules, probes.netfilter, probes.libvirt, probes.logs],
  derive: (h) => {
    const modules = h.kernelModules
    const seen = new Set<string>()
    // Unknown ones are left out: no guess.
    const missing = modules
      ? needed(h).filter((m) => {
          const key = m.anyOf.join('|')
          if (seen.has(key)) return false
          seen.add(key)
          return m.anyOf.every((name) => moduleAvailable(modules, name) === false)
        })
      : []
    return {modulesMissing: missing.map((m) => `${m.anyOf.join(' or ')}: ${m.why}`), modulesToLoad: [...new Set([...missing.map((m) => m.anyOf[0]), ...h.modulesNamedInLog])]}
  },
  conditions: (c) => c.any(c.nonEmpty('modulesMissing'), c.nonEmpty('logModuleMissing')),
  title: (h) => text`Kernel modules the firewall needs are missing: ${h.modulesToLoad}`,
  summary: () =>
    'The rules libvirt (or the firewall) needs cannot exist without these modules, and the kernel has neither loaded nor built them in: iptables says "Extension MASQUERADE revision 0 not supported, missing kernel module?" and the NAT or bridge filtering they carry is not there.',
  evidence: (h) => [...h.modulesMissing, line`log: ${h.logModuleMissing}`],
  fix: (h) => h.modulesToLoad.map((m) => cmd`modprobe ${m}`),
  note: () => [
    'persist: one module name a line in /etc/modules-load.d/kvmdoctor.conf',
    'a module modprobe cannot find is not installed for this kernel (Fedora CoreOS and minimal images ship some in kernel-modules-extra); then restart libvirtd (or virtnetworkd) so it adds its rules',
  ],
  // The rules these modules carry are missing because of them.
  explains: [
    {rule: 'libvirt-firewall-rules-missing', via: 'host'},
    {rule: 'nat-masquerade-missing', via: 'host'},
    {rule: 'bridge-netfilter-enabled', via: 'host'},
  ],
})
