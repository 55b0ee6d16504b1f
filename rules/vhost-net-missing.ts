import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'vhost-net-missing',
  severity: 'low',
  scope: 'host',
  appliesTo: (e) => Number(e.kvmVirtioGuestCount) > 0,
  title: 'vhost_net is not loaded: virtio networking of KVM guests runs in QEMU',
  requires: ['host', 'libvirt'],
  needs: ['vhostNet'],
  conditions: {
    all: [
      {fact: 'entity', path: 'vhostNet', operator: 'equal', value: false},
      {fact: 'entity', path: 'kvmVirtioGuestCount', operator: 'greaterThan', value: 0},
    ],
  },
  summary: 'Without /dev/vhost-net the virtio-net data path of {kvmVirtioGuests} goes through QEMU userspace: more CPU, less throughput.',
  evidence: ['/sys/class/misc/vhost-net absent', 'running KVM guests with virtio NICs: {kvmVirtioGuests}'],
  fix: ['modprobe vhost_net && echo vhost_net > /etc/modules-load.d/vhost_net.conf'],
  note: ['running guests pick it up when they are restarted: {kvmVirtioGuests}'],
}
