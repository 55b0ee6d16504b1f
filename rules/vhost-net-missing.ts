import type {HostView} from '../src/derive/index.js'
import {cmd, defineRule, line, probes, text} from './kit.js'

export default defineRule<HostView>({
  id: 'vhost-net-missing',
  kind: 'host',
  severity: 'low',
  needs: [probes.host, probes.libvirt],
  known: ['vhostNet'],
  appliesTo: (h) => h.kvmVirtioGuests.length > 0,
  conditions: (c) => c.all(c.eq('vhostNet', false), c.gt('kvmVirtioGuests.length', 0)),
  title: () => 'vhost_net is not loaded: virtio networking of KVM guests runs in QEMU',
  summary: (h) => text`Without /dev/vhost-net the virtio-net data path of ${h.kvmVirtioGuests} goes through QEMU userspace: more CPU, less throughput.`,
  evidence: (h) => ['/sys/class/misc/vhost-net absent', line`running KVM guests with virtio NICs: ${h.kvmVirtioGuests}`],
  fix: () => [cmd`modprobe vhost_net`, {write: {path: '/etc/modules-load.d/vhost_net.conf', content: 'vhost_net\n', append: false}}],
  note: (h) => [line`running guests pick it up when they are restarted: ${h.kvmVirtioGuests}`],
})
