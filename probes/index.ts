import {apipaProbe} from './apipa.js'
import {arpScanProbe} from './arpscan.js'
import {bridgeVlanProbe} from './bridge-vlan.js'
import {fdbProbe} from './fdb.js'
import {firewalldProbe} from './firewalld.js'
import {guestAgentProbe} from './guest-agent.js'
import {hostProbe} from './host.js'
import {ipRulesProbe} from './ip-rules.js'
import {netfilterProbe} from './netfilter.js'
import {leasesProbe} from './leases.js'
import {libvirtProbe} from './libvirt.js'
import {libvirtHooksProbe} from './libvirt-hooks.js'
import {linksProbe} from './links.js'
import {logsProbe} from './logs.js'
import {neighboursProbe} from './neighbours.js'
import {listenersProbe} from './listeners.js'
import {processesProbe} from './processes.js'
import {modulesProbe} from './modules.js'
import {servicesProbe} from './services.js'
import {routes6Probe, routesProbe} from './routes.js'
import {sysctlProbe} from './sysctl.js'
import {ovsProbe} from './ovs.js'
import {tcProbe} from './tc.js'
import type {Probe} from './types.js'
import {wireProbe} from './wire.js'

/** What `diagnose` runs. The guest agent (one virsh call per guest) is left to `kvmdoctor ip`. */
export const ALL_PROBES: Probe[] = [
  hostProbe,
  linksProbe,
  routesProbe,
  routes6Probe,
  ipRulesProbe,
  neighboursProbe,
  fdbProbe,
  bridgeVlanProbe,
  sysctlProbe,
  netfilterProbe,
  tcProbe,
  ovsProbe,
  libvirtProbe,
  libvirtHooksProbe,
  leasesProbe,
  processesProbe,
  listenersProbe,
  servicesProbe,
  modulesProbe,
  firewalldProbe,
  logsProbe,
  arpScanProbe,
  wireProbe,
  apipaProbe,
] as Probe[]

/** Every probe by name: what rules name as the sources they need (`needs: [probes.libvirt]`). */
export const PROBES = {
  host: hostProbe,
  links: linksProbe,
  routes: routesProbe,
  routes6: routes6Probe,
  ipRules: ipRulesProbe,
  neighbours: neighboursProbe,
  fdb: fdbProbe,
  bridgeVlan: bridgeVlanProbe,
  sysctl: sysctlProbe,
  netfilter: netfilterProbe,
  tc: tcProbe,
  ovs: ovsProbe,
  libvirt: libvirtProbe,
  libvirtHooks: libvirtHooksProbe,
  leases: leasesProbe,
  processes: processesProbe,
  listeners: listenersProbe,
  services: servicesProbe,
  modules: modulesProbe,
  firewalld: firewalldProbe,
  logs: logsProbe,
  arpScan: arpScanProbe,
  wire: wireProbe,
  apipa: apipaProbe,
  guestAgent: guestAgentProbe,
} as const
