import type {NetworkView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, reattachTaps, restartNetwork, text, virshQuoted} from './kit.js'

/** Whether killing the processes ss names frees the ports: each listener's process known, none of them init. */
const freedByKill = (n: NetworkView) => n.portHoldersKnown && n.portHolderPids.length > 0 && !n.portHolderPids.includes(1)

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
  // The port first: started before it is free, the network fails again. A port whose holder cannot be ended by a kill
  // (ss named no process, or init holds it for a socket unit) gets no steps: the network restarted while it is held
  // would fail to start again, its running guests left on no bridge.
  fix: (n) =>
    !freedByKill(n)
      ? []
      : [
          cmd`kill ${n.portHolderPids}`,
          // kill only signals: the port is free once the process is gone (tail --pid waits for that).
          ...n.portHolderPids.map((pid) => cmd`timeout 10 tail --pid=${pid} -f /dev/null`),
          // A running network is restarted as every restart is: the guests it cuts off named, their taps put back.
          ...(n.active ? restartNetwork(n) : [cmd`virsh net-start ${n.name}`, ...reattachTaps(n)]),
        ],
  note: (n) => [
    n.portHolderPids.includes(1) ? 'init (pid 1) holds the port for a socket unit: stop that unit (systemctl list-sockets names it), then start the network' : undefined,
    n.portHoldersKnown ? undefined : 'ss could not name the process that holds the port (run kvmdoctor as root): free the port first, then start the network',
    line`first free the ports: stop that process, or for another dnsmasq add bind-interfaces and except-interface=${n.bridge} to its config and restart it`,
    line`or disable DNS on the network: <dns enable='no'/> (virsh net-edit ${virshQuoted(['net-edit'], n.name)})`,
  ],
  explains: [
    {rule: 'libvirt-network-inactive', via: 'network'},
    {rule: 'dhcp-server-not-running', via: 'network'},
  ],
})
