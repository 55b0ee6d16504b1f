import type {NetworkView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, restartNetwork, text} from './kit.js'

export default defineRule<NetworkView>({
  id: 'subnet-overlap',
  kind: 'network',
  severity: 'high',
  needs: [probes.libvirt, probes.routes],
  // A network that is down and nothing wants up (no autostart, no guest) carries no traffic and starts no conflict: a
  // second definition of the default subnet kept aside is not a fault. Wanted and down, it is libvirt-network-inactive's cause.
  appliesTo: (n) => n.active || n.autostart || n.definedGuests.length > 0,
  conditions: (c) => c.all(c.gt('subnetOverlaps.length', 0)),
  title: (n) => text`Network ${n.name} (${n.subnet}) overlaps a route on another device`,
  summary: (n) => text`${n.subnet} is also reachable via ${n.subnetOverlaps}: replies go the wrong way, and libvirt refuses to start the network ("Network is already in use by interface").`,
  evidence: (n, h) => [line`ip route: ${n.subnetOverlaps}`, line`network ${n.name}: ${n.subnet} on ${n.bridge}`, line`log: ${h.logNetworkInUse}`],
  fix: (n) => [cmd`virsh net-edit ${n.name}`, ...(n.active ? restartNetwork(n) : [cmd`virsh net-start ${n.name}`])],
  note: (n) => [line`in the editor move ${n.name} off ${n.subnet} to a subnet no route uses`],
  explains: [{rule: 'libvirt-network-inactive', via: 'network'}],
})
