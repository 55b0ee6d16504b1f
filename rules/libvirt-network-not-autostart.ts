import type {NetworkView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

export default defineRule<NetworkView>({
  id: 'libvirt-network-not-autostart',
  kind: 'network',
  severity: 'medium',
  needs: [probes.libvirt],
  // Which guests start at boot unread: a network that does not autostart but has guests is not checked, not passed.
  appliesTo: (n) => n.autostartGuests.length > 0 || (n.guestAutostartRead === null && !n.autostart && n.definedGuests.length > 0),
  known: ['guestAutostartRead'],
  conditions: (c) => c.all(c.eq('active', true), c.eq('autostart', false)),
  title: (n) => text`Network ${n.name} is not autostarted, but autostart guests use it`,
  summary: (n) => text`After the next reboot ${n.name} stays down and its autostart guests (${n.autostartGuests}) fail to start.`,
  evidence: (n) => [line`virsh net-list --all: ${n.name} autostart no`, line`autostart guests on it: ${n.autostartGuests}`],
  fix: (n) => [cmd`virsh net-autostart ${n.name}`],
})
