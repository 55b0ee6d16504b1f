import type {RuleDefinition} from './types.js'

export const rule: RuleDefinition = {
  id: 'guest-agent-missing',
  severity: 'info',
  scope: 'domain',
  appliesTo: (e) => e.running === true,
  title: 'Guest {name} has no QEMU guest agent channel',
  requires: ['libvirt'],
  conditions: {
    all: [
      {fact: 'entity', path: 'running', operator: 'equal', value: true},
      {fact: 'entity', path: 'guestAgentChannel', operator: 'equal', value: false},
    ],
  },
  summary: "Without org.qemu.guest_agent.0 the host learns {name}'s addresses only from leases and ARP; bridged guests with static addresses stay invisible to virsh domifaddr.",
  evidence: ['virsh dumpxml {name}: no <channel> with target name org.qemu.guest_agent.0'],
  fix: ['virsh edit {name}'],
  note: ["add <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel> under <devices>", 'then install and start qemu-guest-agent inside the guest'],
}
