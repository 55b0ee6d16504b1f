import type {NetworkView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, reattachTaps, text, virshQuoted} from './kit.js'

export default defineRule<NetworkView>({
  id: 'dns-port-conflict',
  kind: 'network',
  severity: 'critical',
  needs: [probes.libvirt, probes.processes, probes.listeners],
  known: ['portConflicts'],
  conditions: (c) => c.all(c.gt('portConflicts.length', 0)),
  title: (n) => text`Another process holds the DNS/DHCP ports libvirt's dnsmasq needs for ${n.name}`,
  summary: (n) => text`${n.portConflicts} listens where libvirt's dnsmasq for ${n.name} must: the network fails to start ('Address already in use'), or starts without DNS/DHCP.`,
  evidence: (n, h) => [line`ss -H -lunpt: ${n.portConflicts}`, line`log: ${h.logAddressInUse}`],
  // The port first: started before it is free, the network fails again.
  fix: (n) => [
    cmd`kill ${n.portHolderPids.length > 0 ? n.portHolderPids : undefined}`,
    // kill only signals: the port is free once the process is gone (tail --pid waits for that).
    ...n.portHolderPids.map((pid) => cmd`timeout 10 tail --pid=${pid} -f /dev/null`),
    n.active ? cmd`virsh net-destroy ${n.name}` : undefined, cmd`virsh net-start ${n.name}`, ...reattachTaps(n)],
  note: (n) => [
    line`first free the ports: stop that process, or for another dnsmasq add bind-interfaces and except-interface=${n.bridge} to its config and restart it`,
    line`or disable DNS on the network: <dns enable='no'/> (virsh net-edit ${virshQuoted(['net-edit'], n.name)})`,
  ],
  explains: [
    {rule: 'libvirt-network-inactive', via: 'network'},
    {rule: 'dhcp-server-not-running', via: 'network'},
  ],
})
